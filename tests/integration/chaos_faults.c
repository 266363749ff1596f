/* chaos_faults.c -- the chaos suite's faults: rhaid instances started,
 * killed -9, restarted and frozen; executors killed -9; redis-server
 * killed -9 and restarted, or frozen; the data dir made read-only; and
 * the schedule that spreads them over a run. Processes are only ever
 * signalled by the pids this suite started or their children. */
#include "chaos.h"

/* All instances share one data dir: a context is one SQLite file, and
 * its ledger can only answer a redelivered task if every instance that
 * may run it opens the same file. */
char data_dir[300];
char data_flag[16] = "--data-dir";
static const char *const rhaid_args[] = {
    "--heartbeat-ms", "200", "--heartbeat-ttl-ms", "1000", "--max-attempts", "10",
    "--log-level", "notice", data_flag, data_dir, NULL
};
/* With read-only windows: executors are recycled often, so that fresh
 * ones open their contexts while the dir is read-only, as after an
 * instance restart or an executor crash. (A file already open for writing
 * stays writable whatever its mode: chmod revokes nothing.) */
static const char *const rhaid_ro_args[] = {
    "--heartbeat-ms", "200", "--heartbeat-ttl-ms", "1000", "--max-attempts", "10",
    "--log-level", "notice", data_flag, data_dir, "--max-tasks-per-executor", "10", NULL
};

static unsigned rnd(chaos *ch)
{
    ch->rng = ch->rng * 1103515245u + 12345u;
    return (ch->rng >> 8) & 0xffffff;
}

int64_t elapsed(const chaos *ch)
{
    return rh_mono_ms() - ch->t0;
}

/* ======================== faults ======================== */

void instance_start(chaos *ch, int i)
{
    const char *const *extra = ch->cfg->readonly ? rhaid_ro_args : rhaid_args;

    if (ch->as_user)
        ch->inst[i].pid = th_rhaid_start_as(&ch->redis, WORKER, ch->cfg->concurrency, ch->uid,
                                            ch->gid, extra);
    else
        ch->inst[i].pid = th_rhaid_start(&ch->redis, WORKER, ch->cfg->concurrency, extra);
    if (ch->inst[i].pid <= 0)           /* retried on the next pass */
        ch->inst[i].restart_at = rh_mono_ms() + 500;
}

static int instances_up(const chaos *ch)
{
    int n = 0;
    for (int i = 0; i < ch->cfg->instances; i++)
        n += ch->inst[i].pid > 0;
    return n;
}

static void kill_instance(chaos *ch)
{
    int up = instances_up(ch), pick;
    if (up < 2)
        return;                         /* keep one serving: progress continues */
    pick = (int)(rnd(ch) % (unsigned)up);
    for (int i = 0; i < ch->cfg->instances; i++) {
        if (ch->inst[i].pid <= 0 || pick-- > 0)
            continue;
        kill(ch->inst[i].pid, SIGKILL);     /* works on a frozen one too */
        th_wait(ch->inst[i].pid, 5000);
        ch->inst[i].pid = -1;
        ch->inst[i].cont_at = 0;
        ch->inst[i].restart_at = rh_mono_ms() + 300 + rnd(ch) % 1200;
        ch->res->kills++;
        return;
    }
}

/* kill -9 every executor of our instances: children found in /proc. */
static void kill_executors(chaos *ch)
{
    DIR *d = opendir("/proc");
    struct dirent *de;

    if (d == NULL)
        return;
    while ((de = readdir(d)) != NULL) {
        char path[300], buf[512], *p;
        FILE *f;
        int pid, ppid;
        if (!isdigit((unsigned char)de->d_name[0]))
            continue;
        snprintf(path, sizeof path, "/proc/%s/stat", de->d_name);
        if ((f = fopen(path, "r")) == NULL)
            continue;
        p = fgets(buf, sizeof buf, f);
        fclose(f);
        /* pid (comm) state ppid ...: comm may hold spaces, skip to ')' */
        if (p == NULL || (p = strrchr(buf, ')')) == NULL || sscanf(p + 2, "%*c %d", &ppid) != 1)
            continue;
        pid = atoi(de->d_name);
        for (int i = 0; i < ch->cfg->instances; i++)
            if (ch->inst[i].pid > 0 && ppid == ch->inst[i].pid) {
                kill(pid, SIGKILL);
                ch->res->executors_killed++;
            }
    }
    closedir(d);
    ch->res->exec_kills++;
}

/* Freeze a running instance past the heartbeat TTL (a VM pause, a
 * debugger, swap): the others recover its tasks while it still holds
 * them, and it finishes them when it wakes up. */
static void stop_instance(chaos *ch)
{
    int up = instances_up(ch), pick;
    if (up < 2)
        return;
    pick = (int)(rnd(ch) % (unsigned)up);
    for (int i = 0; i < ch->cfg->instances; i++) {
        if (ch->inst[i].pid <= 0 || pick-- > 0)
            continue;
        if (ch->inst[i].cont_at)
            return;                     /* already frozen */
        kill(ch->inst[i].pid, SIGSTOP);
        ch->inst[i].cont_at = rh_mono_ms() + 2500;
        ch->res->inst_stops++;
        return;
    }
}

static void redis_restart(chaos *ch)
{
    if (ch->c) {
        redisFree(ch->c);
        ch->c = NULL;
    }
    kill(ch->redis.pid, SIGKILL);       /* no shutdown: only the AOF saves us */
    assert_int_equal(th_redis_restart(&ch->redis), 0);
    ch->res->redis_restarts++;
}

static void redis_stop(chaos *ch)
{
    if (ch->c) {
        redisFree(ch->c);
        ch->c = NULL;
    }
    kill(ch->redis.pid, SIGSTOP);
    ch->cont_at = rh_mono_ms() + 2500;  /* heartbeat TTL is 1000 ms */
    ch->res->redis_stops++;
}

/* Take the write bits off the data dir and every file in it, or give the
 * owner's back. The dir goes first, so no file appears unseen; a file
 * that vanishes meanwhile (a -wal removed at close) is skipped. */
static void data_dir_writable(int on)
{
    static mode_t dir_mode;             /* the dir's own, given back */
    struct stat dsb;
    DIR *d;
    struct dirent *de;

    if (!on) {
        assert_int_equal(stat(data_dir, &dsb), 0);
        dir_mode = dsb.st_mode & 07777;
        assert_int_equal(chmod(data_dir, dir_mode & 07555), 0);
    }
    assert_non_null(d = opendir(data_dir));
    while ((de = readdir(d)) != NULL) {
        char path[600];
        struct stat sb;
        snprintf(path, sizeof path, "%s/%s", data_dir, de->d_name);
        if (de->d_name[0] == '.' || stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
            continue;
        if (chmod(path, on ? (sb.st_mode & 07777) | S_IWUSR : sb.st_mode & 07555) != 0)
            assert_int_equal(errno, ENOENT);
    }
    closedir(d);
    if (on)
        assert_int_equal(chmod(data_dir, dir_mode), 0);
}

/* 1 when the instances' user can still create a file in the data dir or
 * open a context for writing: the fault would test nothing. */
static int data_dir_probe_writable(const chaos *ch)
{
    pid_t pid = fork();
    int st;

    assert_true(pid >= 0);
    if (pid == 0) {
        char path[600];
        int fd;
        if (ch->as_user && (setgroups(0, NULL) != 0 || setresgid(ch->gid, ch->gid, ch->gid) != 0 ||
                            setresuid(ch->uid, ch->uid, ch->uid) != 0))
            _exit(2);
        snprintf(path, sizeof path, "%s/probe", data_dir);
        if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644)) >= 0) {
            unlink(path);
            _exit(1);
        }
        snprintf(path, sizeof path, "%s/chaos-0.db", data_dir);
        _exit(open(path, O_WRONLY) >= 0 ? 1 : 0);
    }
    assert_int_equal(waitpid(pid, &st, 0), pid);
    return !WIFEXITED(st) || WEXITSTATUS(st) != 0;
}

static void readonly_begin(chaos *ch)
{
    int w = ch->res->ro_windows;

    if (w >= MAX_RO)
        return;
    if (ch->ro_until) {                 /* already read-only: right after this one */
        ch->ro_pending++;
        return;
    }
    ch->ro_from[w] = rh_now_ms();
    data_dir_writable(0);
    ch->res->ro_probe_writable += data_dir_probe_writable(ch);
    ch->ro_until = rh_mono_ms() + ch->cfg->readonly_ms;
}

void readonly_end(chaos *ch)
{
    if (ch->ro_until == 0)
        return;
    data_dir_writable(1);
    /* stamped after the chmod: a task claimed later opens a writable dir */
    ch->ro_to[ch->res->ro_windows++] = rh_now_ms();
    ch->ro_until = 0;
}

/* kill -9 of the postgres server (its postmaster: the backends follow it),
 * started again 1 to 3 s later by faults() ($RHAI_TEST_PG_START, from
 * tools/with-postgres.sh). Executors lose their connections mid-task:
 * their tasks fail as store outages and run again. */
static void pg_kill(chaos *ch)
{
    const char *dir = getenv("RHAI_TEST_PG_DIR");
    char path[400];
    FILE *f;
    int pid = 0;

    if (dir == NULL)
        return;
    if (ch->pg_start_at) {              /* still down: this kill follows the start */
        ch->pg_pending++;
        return;
    }
    ch->pg_kill_at = 0;
    snprintf(path, sizeof path, "%s/data/postmaster.pid", dir);
    if ((f = fopen(path, "r")) == NULL)
        return;
    if (fscanf(f, "%d", &pid) != 1)
        pid = 0;
    fclose(f);
    if (pid <= 1)
        return;
    kill(pid, SIGKILL);
    ch->pg_start_at = rh_mono_ms() + 1000 + rnd(ch) % 2000;
    ch->res->pg_restarts++;
}

static void pg_start(chaos *ch);

/* Start postgres again; retried on the next pass while its old backends
 * still hold the shared memory the new postmaster refuses to share. */
int pg_restart_due(chaos *ch)
{
    if (ch->pg_start_at && rh_mono_ms() >= ch->pg_start_at)
        pg_start(ch);
    return ch->pg_start_at != 0;
}

/* A kill deferred while the server was down, once it has served a while. */
static void pg_kill_due(chaos *ch)
{
    if (ch->pg_kill_at && ch->pg_start_at == 0 && rh_mono_ms() >= ch->pg_kill_at)
        pg_kill(ch);
}

static void pg_start(chaos *ch)
{
    const char *cmd = getenv("RHAI_TEST_PG_START");

    if (cmd && th_sh("%s 2>/dev/null", cmd) == 0) {
        ch->pg_start_at = 0;
        if (ch->pg_pending > 0) {       /* a kill due meanwhile: 1 s of service first */
            ch->pg_pending--;
            ch->pg_kill_at = rh_mono_ms() + 1000;
        }
    } else
        ch->pg_start_at = rh_mono_ms() + 300;
}

/* Run the faults that are due; restart instances whose time has come. */
void faults(chaos *ch)
{
    int64_t now = rh_mono_ms();

    if (ch->cont_at && now >= ch->cont_at) {
        kill(ch->redis.pid, SIGCONT);
        ch->cont_at = 0;
    }
    for (int i = 0; i < ch->cfg->instances; i++)
        if (ch->inst[i].cont_at && now >= ch->inst[i].cont_at) {
            kill(ch->inst[i].pid, SIGCONT);
            ch->inst[i].cont_at = 0;
        }
    if (ch->ro_until && now >= ch->ro_until) {
        readonly_end(ch);
        if (ch->ro_pending > 0) {
            ch->ro_pending--;
            readonly_begin(ch);
        }
    }
    (void)pg_restart_due(ch);
    pg_kill_due(ch);
    if (ch->cont_at)
        return;                         /* nothing else while Redis is frozen */
    for (int i = 0; i < ch->cfg->instances; i++)
        if (ch->inst[i].pid <= 0 && now >= ch->inst[i].restart_at)
            instance_start(ch, i);
    while (ch->next_ev < ch->nev && elapsed(ch) >= ch->ev[ch->next_ev].at) {
        switch (ch->ev[ch->next_ev++].kind) {
        case EV_KILL:          kill_instance(ch);  break;
        case EV_EXEC_KILL:     kill_executors(ch); break;
        case EV_REDIS_RESTART: redis_restart(ch);  break;
        case EV_REDIS_STOP:    redis_stop(ch);     return;
        case EV_INST_STOP:     stop_instance(ch);  break;
        case EV_READONLY:      readonly_begin(ch); break;
        case EV_PG_RESTART:    pg_kill(ch);        break;
        }
    }
}

int frozen(const chaos *ch)
{
    if (ch->pg_start_at || ch->pg_kill_at || ch->pg_pending)
        return 1;                       /* postgres is down, or a kill is still due */
    if (ch->ro_until || ch->ro_pending)
        return 1;                       /* a read-only window is not over */
    for (int i = 0; i < ch->cfg->instances; i++)
        if (ch->inst[i].cont_at)
            return 1;
    return 0;
}

/* Instances that exited without being killed by us: a crash of rhaid. */
void reap_unexpected(chaos *ch)
{
    for (int i = 0; i < ch->cfg->instances; i++) {
        int st;
        if (ch->inst[i].pid > 0 && waitpid(ch->inst[i].pid, &st, WNOHANG) == ch->inst[i].pid) {
            fprintf(stderr, "chaos: rhaid pid %d exited by itself (status 0x%x), logs in %s\n",
                    (int)ch->inst[i].pid, st, ch->redis.dir);
            ch->res->unexpected_exits++;
            ch->inst[i].pid = -1;
            ch->inst[i].restart_at = rh_mono_ms();
        }
    }
}

/* Fault times spread over the submission window, kinds shuffled. */
void schedule(chaos *ch, int64_t window_ms)
{
    const chaos_cfg *cfg = ch->cfg;
    int n = cfg->kills + cfg->exec_kills + cfg->redis_restarts + cfg->redis_stops +
            cfg->inst_stops + cfg->readonly + cfg->pg_restarts, k = 0;

    ch->ev = rh_calloc((size_t)n + 1, sizeof *ch->ev);
    assert_non_null(ch->ev);
    for (int i = 0; i < cfg->kills; i++)
        ch->ev[k++].kind = EV_KILL;
    for (int i = 0; i < cfg->exec_kills; i++)
        ch->ev[k++].kind = EV_EXEC_KILL;
    for (int i = 0; i < cfg->redis_restarts; i++)
        ch->ev[k++].kind = EV_REDIS_RESTART;
    for (int i = 0; i < cfg->redis_stops; i++)
        ch->ev[k++].kind = EV_REDIS_STOP;
    for (int i = 0; i < cfg->inst_stops; i++)
        ch->ev[k++].kind = EV_INST_STOP;
    for (int i = 0; i < cfg->readonly; i++)
        ch->ev[k++].kind = EV_READONLY;
    for (int i = 0; i < cfg->pg_restarts; i++)
        ch->ev[k++].kind = EV_PG_RESTART;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)(rnd(ch) % (unsigned)(i + 1));
        ev_kind t = ch->ev[i].kind;
        ch->ev[i].kind = ch->ev[j].kind;
        ch->ev[j].kind = t;
    }
    /* slot i of n, jittered inside the slot; the first at 10% of the window */
    for (int i = 0; i < n; i++) {
        int64_t slot = window_ms * 9 / 10 / n;
        int64_t jitter = slot > 1 ? (int64_t)(rnd(ch) % (unsigned)slot) : 0;
        ch->ev[i].at = window_ms / 10 + slot * i + jitter;
    }
    ch->nev = n;
}

/* Why read-only windows cannot be run here (NULL: they can). As root, the
 * instances must run as an unprivileged user for file modes to bite; on
 * success ch->uid/gid name it. */
const char *readonly_unsupported(chaos *ch)
{
    const struct passwd *pw;

    if (geteuid() != 0)
        return NULL;
    if (access(TH_SETPRIV, X_OK) != 0)
        return "running as root without /usr/bin/setpriv to start rhaid as nobody";
    if ((pw = getpwnam("nobody")) == NULL)
        return "running as root and no user 'nobody' to run rhaid as";
    ch->as_user = 1;
    ch->uid = pw->pw_uid;
    ch->gid = pw->pw_gid;
    return NULL;
}

