#!/usr/bin/env python3
# script_lab.py PORT [N] [BATCH] [DIR] -- each step of a task's life in
# Redis, alone, on an idle redis-server at 127.0.0.1:PORT: N tasks
# submitted as the client does (HSET, LPUSH, the taskw hint SET, pipelined),
# taken by rhaid's take script BATCH at a time, started by its start
# script and finished by its finish script BATCH at a time, as rhaid
# batches them (the scripts read from DIR/take.lua, start.lua, finish.lua:
# rhai_bench_scripts_dump writes them; edit copies to try a variant).
# FOLD=1: no start step, each finish carries its task's start, as with
# rhaid's start_defer_ms when the task ends first. Prints per step Redis's time in EVALSHA (INFO commandstats) and its CPU
# (/proc ticks of redis-server) per task. FLUSHALLs the server.
# Run by tools/bench-scripts.sh; figures in docs/performance.md.
import socket, sys, os, time, uuid
port = int(sys.argv[1]); N = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
B = int(sys.argv[3]) if len(sys.argv) > 3 else 8
LUA = sys.argv[4] if len(sys.argv) > 4 else 'lua'
FOLD = os.environ.get('FOLD') == '1'     # starts written by the finish (start_defer_ms)
s = socket.create_connection(('127.0.0.1', port)); f = s.makefile('rb')
def enc(*a):
    out = [b'*%d\r\n' % len(a)]
    for x in a:
        x = x if isinstance(x, bytes) else str(x).encode()
        out.append(b'$%d\r\n%s\r\n' % (len(x), x))
    return b''.join(out)
def rd():
    l = f.readline()[:-2]; t, v = l[:1], l[1:]
    if t == b'*':
        n = int(v); return None if n < 0 else [rd() for _ in range(n)]
    if t == b'$':
        n = int(v)
        if n < 0: return None
        return f.read(n + 2)[:-2].decode('latin1')
    if t == b':': return int(v)
    if t == b'-': return Exception(v.decode())
    return v.decode()
def pipe(cmds):
    s.sendall(b''.join(enc(*c) for c in cmds)); r = [rd() for _ in cmds]
    for x in r:
        if isinstance(x, Exception): raise x
    return r
def call(*a): return pipe([a])[0]
pid = int([l for l in call('INFO', 'server').split('\r\n') if l.startswith('process_id')][0].split(':')[1])
def ticks():
    st = open(f'/proc/{pid}/stat').read().split(')')[1].split(); return int(st[11]) + int(st[12])
sha = {n[:-4]: call('SCRIPT', 'LOAD', open(f'{LUA}/{n}').read()) for n in os.listdir(LUA) if n.endswith('.lua')}
W, P, INST = 'ab', 'rhai', 'vm-1-x'
Q, PROC, PAUSE = f'rhai:queue:{{{W}}}', f'rhai:processing:{{{W}}}:{INST}', f'rhai:paused:{{{W}}}'
def tk(i): return f'rhai:task:{{{W}}}:{i}'
def phase(name, fn):
    call('CONFIG', 'RESETSTAT'); t0 = ticks(); w0 = time.time(); fn(); t1 = ticks()
    st = call('INFO', 'commandstats'); ev = [l for l in st.split('\r\n') if l.startswith('cmdstat_evalsha')]
    us = int(ev[0].split('usec=')[1].split(',')[0]) if ev else 0
    print(f'{name:10s} evalsha {us/N:6.2f} us/task   redis cpu {(t1-t0)*1e6/os.sysconf("SC_CLK_TCK")/N:6.1f} us/task   wall {time.time()-w0:.1f}s')
ids = [str(uuid.uuid4()) for _ in range(N)]
call('FLUSHALL')
def submit():
    now = int(time.time() * 1000)
    for j in range(0, N, 128):
        cmds = []
        for i in ids[j:j+128]:
            cmds.append(('HSET', tk(i), 'id', i, 'script', '40+2', 'worker_id', W, 'context_id', 'default', 'caller_id', 'anonymous', 'args', '{}', 'timeout_ms', '30000', 'created_at', now, 'status', 'queued', 'attempts', '0'))
            cmds.append(('LPUSH', Q, i))
            cmds.append(('SET', f'rhai:taskw:{{{i}}}', W, 'PX', '604800000'))
        pipe(cmds)
phase('submit', submit)
taken = []
def take():
    while True:
        r = pipe([('EVALSHA', sha['take'], 3, Q, PROC, PAUSE, P, INST, 1048576, 1048576, B)] * 8)
        for x in r:
            for e in x:
                if e[0] in ('run', b'run'): taken.append(e[1])
        if not r[-1]: break
phase('take', take)
assert len(taken) == N, len(taken)
def started(i, now):
    return '{"event":"started","id":"%s","worker_id":"ab","instance":"%s","at":%d}' % (i, INST, now)
def start():
    now = int(time.time() * 1000)
    cmds = []
    for j in range(0, N, B):
        grp = taken[j:j+B]; argv = [INST, 'rhai:events']
        for i in grp: argv += [started(i, now), now]
        cmds.append(('EVALSHA', sha['start'], len(grp), *[tk(i) for i in grp], *argv))
        if len(cmds) == 16: pipe(cmds); cmds = []
    if cmds: pipe(cmds)
if not FOLD: phase('start', start)
def finish():
    now = int(time.time() * 1000); minute = now // 60000
    cmds = []
    for j in range(0, N, B):
        grp = taken[j:j+B]; keys = [PROC, f'rhai:tasks:{{{W}}}', f'rhai:delayed:{{{W}}}']; argv = [86400000, 'rhai:events', 10000]
        for i in grp:
            keys += [tk(i), f'rhai:reply:{{{W}}}:{i}', f'rhai:failed:{{{W}}}:{minute}', f'rhai:seen:{{{W}}}:{i}']
            rec = [i, '{"id":"%s","status":"done","output":42,"error":null,"error_kind":null,"logs":"","worker_id":"ab","instance":"%s","attempts":1,"created_at":%d,"started_at":%d,"finished_at":%d}' % (i, INST, now, now, now),
                   '{"event":"finished","id":"%s","worker_id":"ab","instance":"%s","status":"done","error_kind":null,"at":%d,"run_ms":0,"latency_ms":1}' % (i, INST, now),
                   now, 0, 0, 0, '', started(i, now) if FOLD else '',
                   'status', 'done', 'finished_at', now, 'instance', INST, 'output', '42', 'error', '', 'error_kind', '', 'logs', '']
            if FOLD: rec += ['started_at', now, 'attempts', 1]
            argv += [len(rec)] + rec
        keys.append(f'rhai:dead:{{{W}}}')
        cmds.append(('EVALSHA', sha['finish'], len(keys), *keys, *argv))
        if len(cmds) == 16: pipe(cmds); cmds = []
    if cmds: pipe(cmds)
phase('finish', finish)
st = call('HGET', tk(taken[-1]), 'status'); assert st == 'done', st
print('replies', call('LLEN', f'rhai:reply:{{{W}}}:{taken[0]}'))
