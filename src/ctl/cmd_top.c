/* cmd_top.c -- `rhaictl top`: a live full-screen view of the whole system.
 *
 * Every second (--interval) it reloads the instances and queues through the
 * loaders of `workers` and `queues`, and redraws: total throughput (the sum
 * of the instances' tasks_per_s, and a rate measured from the change of
 * their done+failed counters, kept 60 s for a sparkline), latency
 * percentiles of the last 60 s, per worker id queue depth and per instance
 * busy/concurrency bars. Latencies come from the `finished` events
 * (latency_ms, docs/protocol.md) on a second connection subscribed to the
 * events channel; one poll() waits on it and on the keyboard, so `q`
 * answers at once. ncurses draws; the terminal is restored on q, on
 * SIGINT/SIGTERM/SIGHUP and on errors. --json takes one sample instead. */
#include <errno.h>
#include <langinfo.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <curses.h>

#include "ctl.h"

#define TOP_INTERVAL_DEFAULT_MS 1000
#define TOP_INTERVAL_MIN_MS 100
#define TOP_INTERVAL_MAX_MS 60000
#define TOP_WINDOW_MS 60000             /* latency percentiles and sparkline */
#define TOP_SPARK_MAX 60                /* sparkline points (one per refresh) */
#ifndef TOP_LATENCY_MAX
#define TOP_LATENCY_MAX (1u << 17)      /* latency samples kept (ring) */
#endif

static const char top_help[] =
    "Usage: rhaictl top [--interval MS] [--json]\n"
    "\n"
    "A live full-screen view, refreshed every second:\n"
    "  - throughput: the sum of the instances' moving averages (tasks/s), the\n"
    "    rate measured from their done+failed counters since the last refresh,\n"
    "    and a sparkline of that rate over the last 60 s\n"
    "  - latency (submit to finish) p50, p90, p99 of the tasks that finished in\n"
    "    the last 60 s, from the 'finished' events (those seen since top started)\n"
    "  - per worker id: queued, processing, age of the next task, failed in 1 h\n"
    "  - per instance: a busy/concurrency bar, tasks/s, done, failed, heartbeat\n"
    "Keys: q quits (the terminal is restored).\n"
    "\n"
    "Options:\n"
    "  -i, --interval MS   refresh period (default 1000, 100..60000)\n"
    "      --json          no screen: take one sample over one interval and print\n"
    "                      {\"tasks_per_s\", \"measured_per_s\", \"latency_ms\":\n"
    "                      {count, p50, p90, p99}, \"queues\":[...],\n"
    "                      \"instances\":[...]}\n"
    "\n"
    CTL_GLOBAL_HELP
    "\n"
    CTL_EXIT_HELP;

/* ======================== state ======================== */

typedef struct top_sample {
    int64_t at;                         /* monotonic ms when it arrived */
    int64_t latency_ms;
} top_sample;

/* done+failed of one instance at the previous refresh. */
typedef struct top_prev {
    char      member[2 * RH_NAME_MAX + 4];
    long long total;
} top_prev;

typedef struct top_state {
    ctl_redis     data;                 /* reads */
    ctl_redis     sub;                  /* SUBSCRIBE <prefix>:events; rc NULL: down */
    int64_t       interval_ms;
    int           utf8;                 /* the terminal takes block characters */
    /* latency ring: the newest TOP_LATENCY_MAX samples */
    top_sample   *lat;
    size_t        lat_head;             /* next slot to write */
    size_t        lat_n;
    int64_t      *scratch;              /* TOP_LATENCY_MAX, for sorting */
    /* throughput */
    top_prev     *prev;
    size_t        nprev;
    int64_t       prev_at;              /* monotonic ms, 0 before the first */
    double        measured;             /* last measured rate, -1 unknown */
    double        spark[TOP_SPARK_MAX]; /* ring of measured rates */
    size_t        spark_head;
    size_t        spark_n;
    /* the latest snapshot */
    ctl_instance *inst;
    size_t        ninst;
    ctl_queue    *q;
    size_t        nq;
    double        rate_sum;             /* sum of tasks_per_s of live ones */
    int           have_snapshot;
    char          status[320];          /* "" or why the view is stale */
} top_state;

static volatile sig_atomic_t top_stop;

static void top_on_signal(int signo)
{
    (void)signo;
    top_stop = 1;
}

static void top_free(top_state *s)
{
    ctl_redis_close(&s->data);
    ctl_redis_close(&s->sub);
    rh_free(s->lat);
    rh_free(s->scratch);
    rh_free(s->prev);
    rh_free(s->inst);
    rh_free(s->q);
}

/* ======================== events ======================== */

/* Subscribe (again) when the events connection is down. Failures are kept
 * in s->status and retried at the next refresh. */
static void top_subscribe(top_state *s)
{
    char ch[RH_KEY_MAX];
    redisReply *rep;

    if (ctl_redis_up(&s->sub))
        return;
    s->sub.direct = 1;                   /* pub/sub: one connection, any node */
    if (ctl_redis_reopen(&s->sub) != 0) {
        snprintf(s->status, sizeof s->status, "events: %s", s->sub.msg);
        return;
    }
    if ((rep = ctl_redis_command(&s->sub, "SUBSCRIBE %s", rh_key_events(ch, s->sub.prefix)))
        == NULL) {
        snprintf(s->status, sizeof s->status, "events: %s", s->sub.msg);
        ctl_redis_close(&s->sub);
        return;
    }
    freeReplyObject(rep);                /* ["subscribe", channel, 1] */
}

static void top_latency_add(top_state *s, int64_t at, int64_t latency_ms)
{
    s->lat[s->lat_head] = (top_sample){ at, latency_ms };
    s->lat_head = (s->lat_head + 1) % TOP_LATENCY_MAX;
    if (s->lat_n < TOP_LATENCY_MAX)
        s->lat_n++;
}

/* One pub/sub message: keep the latency of a finished event. */
static void top_event(top_state *s, const redisReply *m, int64_t now)
{
    const char *kind = m->type == REDIS_REPLY_ARRAY && m->elements == 3
                       ? ctl_reply_str(m->element[0]) : NULL;
    json_t *ev, *lat;
    const char *name;

    if (kind == NULL || strcmp(kind, "message") != 0 || ctl_reply_str(m->element[2]) == NULL)
        return;
    if ((ev = json_loadb(m->element[2]->str, m->element[2]->len, 0, NULL)) == NULL)
        return;
    name = json_string_value(json_object_get(ev, "event"));
    lat = json_object_get(ev, "latency_ms");
    if (name && strcmp(name, "finished") == 0 && json_is_integer(lat) &&
        json_integer_value(lat) >= 0)
        top_latency_add(s, now, (int64_t)json_integer_value(lat));
    json_decref(ev);
}

/* The events socket is readable: read once (it will not block) and take
 * every complete message. A broken connection is dropped and retried. */
static void top_events_read(top_state *s)
{
    int64_t now = rh_mono_ms();
    rhai_error err = { 0, "" };
    redisReply *rep = NULL;

    if (rh_sconn_read_some(s->sub.raw, &err) != 0) {
        snprintf(s->status, sizeof s->status, "events: %s",
                 err.msg[0] ? err.msg : "connection lost");
        ctl_redis_close(&s->sub);
        return;
    }
    for (;;) {
        if (rh_sconn_take_reply(s->sub.raw, &rep, &err) != 0) {
            snprintf(s->status, sizeof s->status, "events: protocol error");
            ctl_redis_close(&s->sub);
            return;
        }
        if (rep == NULL)
            return;                      /* no complete reply buffered */
        top_event(s, rep, now);
        freeReplyObject(rep);
        rep = NULL;
    }
}

static int top_cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Latencies of the last TOP_WINDOW_MS, sorted into s->scratch. Returns
 * how many. */
static size_t top_latencies(top_state *s, int64_t now)
{
    size_t n = 0;

    for (size_t i = 0; i < s->lat_n; i++) {
        const top_sample *x = &s->lat[(s->lat_head + TOP_LATENCY_MAX - 1 - i) %
                                      TOP_LATENCY_MAX];
        if (now - x->at > TOP_WINDOW_MS)
            break;                       /* the rest are older still */
        s->scratch[n++] = x->latency_ms;
    }
    if (n > 1)
        qsort(s->scratch, n, sizeof *s->scratch, top_cmp_i64);
    return n;
}

/* Nearest-rank percentile of the n sorted values. */
static int64_t top_pct(const int64_t *v, size_t n, int pct)
{
    size_t rank = (size_t)((n * (size_t)pct + 99) / 100);
    return v[rank > 0 ? rank - 1 : 0];
}

/* ======================== refresh ======================== */

/* The measured rate: the growth of done+failed of every live instance since
 * the previous refresh (a restarted instance, whose counters went back,
 * counts from zero next time). */
static void top_measure(top_state *s, int64_t now)
{
    top_prev *cur = s->ninst ? rh_calloc(s->ninst, sizeof *cur) : NULL;
    long long delta = 0;
    size_t k = 0;

    if (s->ninst && cur == NULL)
        return;
    for (size_t i = 0; i < s->ninst; i++) {
        const ctl_instance *in = &s->inst[i];
        if (!in->live || in->done < 0 || in->failed < 0)
            continue;
        snprintf(cur[k].member, sizeof cur[k].member, "{%s}:%s", in->worker_id, in->instance);
        cur[k].total = in->done + in->failed;
        for (size_t j = 0; j < s->nprev; j++)
            if (strcmp(s->prev[j].member, cur[k].member) == 0 &&
                cur[k].total >= s->prev[j].total)
                delta += cur[k].total - s->prev[j].total;
        k++;
    }
    if (s->prev_at > 0 && now > s->prev_at) {
        s->measured = (double)delta * 1000.0 / (double)(now - s->prev_at);
        s->spark[s->spark_head] = s->measured;
        s->spark_head = (s->spark_head + 1) % TOP_SPARK_MAX;
        if (s->spark_n < TOP_SPARK_MAX)
            s->spark_n++;
    }
    rh_free(s->prev);
    s->prev = cur;
    s->nprev = k;
    s->prev_at = now;
}

/* Reload instances and queues. On failure the old snapshot stays on the
 * screen with the reason in s->status. */
static void top_refresh(top_state *s)
{
    ctl_instance *inst = NULL;
    ctl_queue *q = NULL;
    size_t ninst = 0, nq = 0;

    s->status[0] = '\0';
    top_subscribe(s);
    if (!ctl_redis_up(&s->data) && ctl_redis_reopen(&s->data) != 0) {
        snprintf(s->status, sizeof s->status, "%s", s->data.msg);
        return;
    }
    if (ctl_instances_load(&s->data, &inst, &ninst) != 0 ||
        ctl_queues_load(&s->data, inst, ninst, &q, &nq) != 0) {
        snprintf(s->status, sizeof s->status, "%s", s->data.msg);
        ctl_redis_close(&s->data);        /* replies may be pending: start over */
        rh_free(inst);
        return;
    }
    rh_free(s->inst);
    rh_free(s->q);
    s->inst = inst;
    s->ninst = ninst;
    s->q = q;
    s->nq = nq;
    s->rate_sum = 0;
    for (size_t i = 0; i < ninst; i++)
        if (inst[i].live)
            s->rate_sum += inst[i].tasks_per_s;
    s->have_snapshot = 1;
    top_measure(s, rh_mono_ms());
}

/* ======================== drawing ======================== */

/* printw clipped to the screen width, on row y (no wrapping). */
static void top_line(int y, int attr, const char *fmt, ...) RH_PRINTF(3, 4);
static void top_line(int y, int attr, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;

    if (y >= LINES)
        return;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    attron(attr);
    mvaddnstr(y, 0, buf, COLS);
    attroff(attr);
}

/* The sparkline of measured rates, oldest left, scaled to the largest. */
static void top_sparkline(const top_state *s, int y, int x)
{
    static const char *const blocks[] = { "\u2581", "\u2582", "\u2583", "\u2584",
                                          "\u2585", "\u2586", "\u2587", "\u2588" };
    static const char ascii[] = "_.-:=+*#";
    double max = 0;
    int width = COLS - x;

    if (y >= LINES || width <= 0)
        return;
    for (size_t i = 0; i < s->spark_n; i++)
        max = s->spark[i] > max ? s->spark[i] : max;
    move(y, x);
    for (size_t i = 0; i < s->spark_n && (int)i < width; i++) {
        double v = s->spark[(s->spark_head + TOP_SPARK_MAX - s->spark_n + i) % TOP_SPARK_MAX];
        int level = max > 0 ? (int)(v / max * 7.0 + 0.5) : 0;
        level = level < 0 ? 0 : level > 7 ? 7 : level;
        if (s->utf8)
            addstr(blocks[level]);
        else
            addch((chtype)(unsigned char)ascii[level]);
    }
}

/* "[####......]" for busy of conc, 'w' characters between the brackets. */
static void top_bar(char *buf, size_t n, long long busy, long long conc, int w)
{
    int fill = conc > 0 && busy > 0 ? (int)((busy * w + conc - 1) / conc) : 0;

    if (n < (size_t)w + 3)
        return;
    fill = fill > w ? w : fill;
    buf[0] = '[';
    for (int i = 0; i < w; i++)
        buf[1 + i] = i < fill ? '#' : '.';
    buf[1 + w] = ']';
    buf[2 + w] = '\0';
}

static void top_draw(top_state *s)
{
    int64_t now = rh_now_ms();
    size_t nlat = top_latencies(s, rh_mono_ms());
    int y = 0, live = 0, dead = 0, ww = 6, wi = 8;
    char clock[16], p50[32], p90[32], p99[32], age[32], bar[40], beat[32], meas[32];
    char busy[48];
    time_t t = time(NULL);
    struct tm tm;

    erase();
    for (size_t i = 0; i < s->ninst; i++) {
        s->inst[i].live ? live++ : dead++;
        ww = (int)strlen(s->inst[i].worker_id) > ww ? (int)strlen(s->inst[i].worker_id) : ww;
        wi = (int)strlen(s->inst[i].instance) > wi ? (int)strlen(s->inst[i].instance) : wi;
    }
    for (size_t i = 0; i < s->nq; i++)
        ww = (int)strlen(s->q[i].worker_id) > ww ? (int)strlen(s->q[i].worker_id) : ww;
    if (localtime_r(&t, &tm) == NULL || strftime(clock, sizeof clock, "%H:%M:%S", &tm) == 0)
        clock[0] = '\0';

    top_line(y++, A_REVERSE, "rhaictl top  %s  prefix %s  %s  (q quits)%*s", s->data.where,
             s->data.prefix, clock, COLS, "");
    if (s->measured >= 0)
        snprintf(meas, sizeof meas, "%.1f", s->measured);
    else
        snprintf(meas, sizeof meas, "-");
    top_line(y++, A_BOLD, "throughput: %.1f tasks/s (instances' average), %s tasks/s "
             "(measured)   instances: %d live, %d dead", s->rate_sum, meas, live, dead);
    top_line(y, 0, "last 60 s:  ");
    top_sparkline(s, y++, 12);
    if (nlat > 0) {
        ctl_fmt_duration(top_pct(s->scratch, nlat, 50), p50, sizeof p50);
        ctl_fmt_duration(top_pct(s->scratch, nlat, 90), p90, sizeof p90);
        ctl_fmt_duration(top_pct(s->scratch, nlat, 99), p99, sizeof p99);
        top_line(y++, 0, "latency:    p50 %s  p90 %s  p99 %s  (submit to finish, %zu tasks "
                 "in the last 60 s)", p50, p90, p99, nlat);
    } else {
        top_line(y++, 0, "latency:    no task finished in the last 60 s%s",
                 ctl_redis_up(&s->sub) ? "" : " (events not subscribed)");
    }
    y++;
    top_line(y++, A_BOLD, "%-*s  %8s  %10s  %8s  %9s", ww, "WORKER", "QUEUED", "PROCESSING",
             "OLDEST", "FAILED/1H");
    for (size_t i = 0; i < s->nq; i++) {
        const ctl_queue *q = &s->q[i];
        ctl_fmt_duration(q->oldest_created_at > 0 ? now - q->oldest_created_at : -1, age,
                         sizeof age);
        top_line(y++, 0, "%-*s  %8lld  %10lld  %8s  %9lld", ww, q->worker_id, q->queued,
                 q->processing, age, q->failed_1h);
    }
    y++;
    top_line(y++, A_BOLD, "%-*s  %-*s  %-22s  %9s  %7s  %8s  %6s  %5s", ww, "WORKER", wi,
             "INSTANCE", "LOAD", "BUSY", "TASKS/S", "DONE", "FAILED", "BEAT");
    for (size_t i = 0; i < s->ninst; i++) {
        const ctl_instance *in = &s->inst[i];
        if (!in->live) {
            top_line(y++, A_BOLD, "%-*s  %-*s  dead, holds %lld task id%s", ww, in->worker_id,
                     wi, in->instance, in->processing, in->processing == 1 ? "" : "s");
            continue;
        }
        top_bar(bar, sizeof bar, in->busy, in->concurrency, 20);
        snprintf(busy, sizeof busy, "%lld/%lld", in->busy, in->concurrency);
        ctl_fmt_duration(in->heartbeat_at > 0 ? now - in->heartbeat_at : -1, beat,
                         sizeof beat);
        top_line(y++, 0, "%-*s  %-*s  %-22s  %9s  %7.1f  %8lld  %6lld  %5s%s", ww,
                 in->worker_id, wi, in->instance, bar, busy, in->tasks_per_s, in->done,
                 in->failed, beat, in->draining ? "  draining" : "");
    }
    if (s->ninst == 0)
        top_line(y++, 0, "(no worker instances)");
    if (s->status[0])
        top_line(LINES - 1, A_REVERSE, "%s", s->status);
    refresh();
}

/* ======================== loops ======================== */

/* Wait until 'deadline' (monotonic ms), reading events, and return early
 * with 1 when a key is waiting on stdin (only when 'keys'). */
static int top_wait(top_state *s, int64_t deadline, int keys)
{
    struct pollfd pfd[2];
    int64_t now;
    int n, rc;

    while (!top_stop && (now = rh_mono_ms()) < deadline) {
        n = 0;
        if (keys)
            pfd[n++] = (struct pollfd){ STDIN_FILENO, POLLIN, 0 };
        if (s->sub.raw)
            pfd[n++] = (struct pollfd){ rh_sconn_fd(s->sub.raw), POLLIN, 0 };
        rc = poll(pfd, (nfds_t)n, (int)(deadline - now));
        if (rc < 0 && errno == EINTR)
            return keys;                 /* a signal, or SIGWINCH for getch */
        if (rc <= 0)
            continue;
        if (s->sub.raw && (pfd[n - 1].revents & (POLLIN | POLLHUP | POLLERR)))
            top_events_read(s);
        if (keys && (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)))
            return 1;
    }
    return 0;
}

static int top_interactive(top_state *s)
{
    struct sigaction sa;
    SCREEN *scr;
    int64_t next;
    int quit = 0, ch;

    if ((scr = newterm(NULL, stdout, stdin)) == NULL) {
        ctl_errorf("top", "cannot use terminal type '%s'", getenv("TERM") ? getenv("TERM")
                                                                          : "(unset)");
        return CTL_EXIT_FAILED;
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = top_on_signal;      /* no SA_RESTART: poll wakes up */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    cbreak();
    noecho();
    nodelay(stdscr, TRUE);
    keypad(stdscr, TRUE);
    curs_set(0);

    next = rh_mono_ms();
    while (!quit && !top_stop) {
        if (rh_mono_ms() >= next) {
            top_refresh(s);
            top_draw(s);
            next += s->interval_ms;
            if (next < rh_mono_ms())      /* fell behind (slow Redis): no burst */
                next = rh_mono_ms() + s->interval_ms;
        }
        top_wait(s, next, 1);
        while ((ch = getch()) != ERR) {
            if (ch == 'q' || ch == 'Q')
                quit = 1;
            else if (ch == KEY_RESIZE || ch == 12)    /* ^L: redraw */
                top_draw(s);
        }
    }
    endwin();
    delscreen(scr);
    return CTL_EXIT_OK;
}

static json_t *top_json(top_state *s)
{
    size_t nlat = top_latencies(s, rh_mono_ms());
    json_t *doc, *lat, *qs, *is;

    doc = json_object();
    lat = json_object();
    qs = json_array();
    is = json_array();
    if (!doc || !lat || !qs || !is) {
        json_decref(doc);
        json_decref(lat);
        json_decref(qs);
        json_decref(is);
        return NULL;
    }
    json_object_set_new(doc, "tasks_per_s", json_real(s->rate_sum));
    json_object_set_new(doc, "measured_per_s", s->measured >= 0 ? json_real(s->measured)
                                                                : json_null());
    json_object_set_new(lat, "count", json_integer((json_int_t)nlat));
    json_object_set_new(lat, "p50", nlat ? json_integer(top_pct(s->scratch, nlat, 50))
                                         : json_null());
    json_object_set_new(lat, "p90", nlat ? json_integer(top_pct(s->scratch, nlat, 90))
                                         : json_null());
    json_object_set_new(lat, "p99", nlat ? json_integer(top_pct(s->scratch, nlat, 99))
                                         : json_null());
    json_object_set_new(doc, "latency_ms", lat);
    for (size_t i = 0; i < s->nq; i++)
        json_array_append_new(qs, json_pack("{s:s, s:I, s:I}", "worker_id", s->q[i].worker_id,
                                            "queued", (json_int_t)s->q[i].queued,
                                            "processing", (json_int_t)s->q[i].processing));
    json_object_set_new(doc, "queues", qs);
    for (size_t i = 0; i < s->ninst; i++) {
        const ctl_instance *in = &s->inst[i];
        json_array_append_new(is, json_pack("{s:s, s:s, s:s, s:I, s:I, s:f}",
                                            "worker_id", in->worker_id,
                                            "instance", in->instance,
                                            "state", !in->live ? "dead" : in->draining
                                                     ? "draining" : "live",
                                            "busy", (json_int_t)in->busy,
                                            "concurrency", (json_int_t)in->concurrency,
                                            "tasks_per_s", in->tasks_per_s));
    }
    json_object_set_new(doc, "instances", is);
    return doc;
}

/* --json: two snapshots one interval apart, events read in between. */
static int top_sample_once(top_state *s)
{
    top_refresh(s);
    if (!s->have_snapshot) {
        ctl_errorf("top", "%s", s->status);
        return s->data.code ? s->data.code : CTL_EXIT_CONN;
    }
    top_wait(s, rh_mono_ms() + s->interval_ms, 0);
    top_refresh(s);
    if (s->status[0] && !ctl_redis_up(&s->data)) {
        ctl_errorf("top", "%s", s->status);
        return s->data.code ? s->data.code : CTL_EXIT_CONN;
    }
    return ctl_print_json(top_json(s));
}

static int top_exec(ctl_global *g, int argc, char **argv)
{
    static const struct option longopts[] = {
        { "interval", required_argument, NULL, 'i' },
        CTL_GLOBAL_LONGOPTS,
        { NULL, 0, NULL, 0 }
    };
    long long interval = TOP_INTERVAL_DEFAULT_MS;
    top_state s;
    int c, code;

    while ((c = getopt_long(argc, argv, ":i:h", longopts, NULL)) != -1) {
        if (ctl_global_option(g, c, optarg))
            continue;
        switch (c) {
        case 'i':
            if (ctl_parse_int(optarg, TOP_INTERVAL_MIN_MS, TOP_INTERVAL_MAX_MS, 0,
                              &interval) != 0)
                return ctl_usage_error("top", "--interval '%s' is not a number of "
                                       "milliseconds in %d..%d", optarg,
                                       TOP_INTERVAL_MIN_MS, TOP_INTERVAL_MAX_MS);
            break;
        case 'h':
        case CTL_OPT_HELP:
            fputs(top_help, stdout);
            return CTL_EXIT_OK;
        default:
            return ctl_option_error("top", c, argv);
        }
    }
    if (optind < argc)
        return ctl_usage_error("top", "unexpected argument '%s'", argv[optind]);
    if (!g->json && (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)))
        return ctl_usage_error("top", "needs a terminal (--json takes one sample without)");

    memset(&s, 0, sizeof s);
    s.interval_ms = interval;
    s.measured = -1;
    s.lat = rh_calloc(TOP_LATENCY_MAX, sizeof *s.lat);
    s.scratch = rh_calloc(TOP_LATENCY_MAX, sizeof *s.scratch);
    if (s.lat == NULL || s.scratch == NULL) {
        top_free(&s);
        ctl_errorf("top", "out of memory");
        return CTL_EXIT_FAILED;
    }
    /* Connect both before the screen takes over, so that a bad URL or a
     * dead Redis is reported plainly. */
    if ((code = ctl_redis_open(g, "top", &s.data)) != 0 ||
        (code = ctl_redis_open(g, "top", &s.sub)) != 0) {
        top_free(&s);
        return code;
    }
    ctl_redis_close(&s.sub);            /* top_subscribe opens it again */
    s.data.quiet = s.sub.quiet = 1;
    top_subscribe(&s);

    if (g->json) {
        code = top_sample_once(&s);
    } else {
        setlocale(LC_ALL, "");
        s.utf8 = strcmp(nl_langinfo(CODESET), "UTF-8") == 0;
        code = top_interactive(&s);
    }
    top_free(&s);
    return code;
}

const ctl_cmd ctl_cmd_top = {
    "top",
    "[--interval MS]",
    "live full-screen view: throughput, latency, queues, instance load",
    top_exec
};
