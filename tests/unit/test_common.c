/* test_common.c -- unit tests of src/common: frames, URLs, keys, names,
 * the task model and its reply JSON, buffers and the allocator hook. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <pthread.h>
#include <signal.h>
#include <cmocka.h>

#include "common/common.h"

/* ---- frames ---- */

static int buf_setup(void **state)
{
    rh_buf *b = rh_malloc(sizeof *b);
    rh_buf_init(b);
    *state = b;
    return 0;
}

static int buf_teardown(void **state)
{
    rh_buf *b = *state;
    rh_buf_free(b);
    rh_free(b);
    return 0;
}

static void test_frame_round_trip_of_two_frames(void **state)
{
    rh_buf *b = *state;
    char *p;
    size_t n;

    assert_int_equal(rh_frame_encode(b, "hello", 5), 0);
    assert_int_equal(rh_frame_encode(b, "", 0), 0);
    assert_int_equal(rh_buf_len(b), 4 + 5 + 4);
    assert_int_equal(rh_frame_decode(b, &p, &n), 0);
    assert_int_equal(n, 5);
    assert_string_equal(p, "hello");
    rh_free(p);
    assert_int_equal(rh_frame_decode(b, &p, &n), 0);
    assert_int_equal(n, 0);
    assert_string_equal(p, "");
    rh_free(p);
    assert_int_equal(rh_buf_len(b), 0);
}

static void test_frame_decode_waits_for_a_partial_frame(void **state)
{
    rh_buf *b = *state;
    rh_buf whole;
    char *p = NULL;
    size_t n;

    rh_buf_init(&whole);
    assert_int_equal(rh_frame_encode(&whole, "abcdef", 6), 0);
    for (size_t i = 0; i < whole.len - 1; i++) {
        assert_int_equal(rh_buf_append(b, whole.data + i, 1), 0);
        assert_int_equal(rh_frame_decode(b, &p, &n), RHAI_EAGAIN);
        assert_int_equal(rh_buf_len(b), i + 1);          /* nothing consumed */
    }
    assert_int_equal(rh_buf_append(b, whole.data + whole.len - 1, 1), 0);
    assert_int_equal(rh_frame_decode(b, &p, &n), 0);
    assert_memory_equal(p, "abcdef", 6);
    rh_free(p);
    rh_buf_free(&whole);
}

static void test_frame_decode_rejects_oversized_length(void **state)
{
    static const uint8_t huge[4] = { 0xff, 0xff, 0xff, 0xff };
    rh_buf *b = *state;
    char *p;
    size_t n;

    assert_int_equal(rh_buf_append(b, huge, sizeof huge), 0);
    assert_int_equal(rh_frame_decode(b, &p, &n), RHAI_EPROTO);
    assert_int_equal(rh_buf_len(b), sizeof huge);
}

static void test_frame_encode_rejects_oversized_payload(void **state)
{
    rh_buf *b = *state;
    assert_int_equal(rh_frame_encode(b, "", (size_t)RH_FRAME_MAX + 1), RHAI_ETOOBIG);
    assert_int_equal(rh_buf_len(b), 0);
}

/* ---- URLs ---- */

static void test_url_defaults_to_local_redis(void **state)
{
    rh_url u;
    (void)state;
    assert_int_equal(rh_url_parse(NULL, &u, NULL), 0);
    assert_string_equal(u.host, "127.0.0.1");
    assert_int_equal(u.port, 6379);
    assert_int_equal(u.db, 0);
    assert_int_equal(u.is_unix, 0);
}

static void test_url_parses_every_part(void **state)
{
    rh_url u;
    (void)state;
    assert_int_equal(rh_url_parse("redis://alice:s3cret@example.org:6380/5", &u, NULL), 0);
    assert_string_equal(u.user, "alice");
    assert_string_equal(u.pass, "s3cret");
    assert_string_equal(u.host, "example.org");
    assert_int_equal(u.port, 6380);
    assert_int_equal(u.db, 5);

    assert_int_equal(rh_url_parse("redis://:pw@localhost", &u, NULL), 0);
    assert_string_equal(u.user, "");
    assert_string_equal(u.pass, "pw");
    assert_int_equal(u.port, 6379);

    assert_int_equal(rh_url_parse("redis://[::1]:7000/2", &u, NULL), 0);
    assert_string_equal(u.host, "::1");
    assert_int_equal(u.port, 7000);
    assert_int_equal(u.db, 2);

    assert_int_equal(rh_url_parse("unix:///run/redis.sock?db=3", &u, NULL), 0);
    assert_int_equal(u.is_unix, 1);
    assert_string_equal(u.path, "/run/redis.sock");
    assert_int_equal(u.db, 3);
}

/* Passwords as generators make them ('/', '+', '=' of base64; '@', ':'):
 * the credentials end at the last '@', and no piece of a password is taken
 * for the host or port, whose errors are printed (it was: "cannot resolve
 * 'ss@127.0.0.1'", "bad port 'ab'"). */
static void test_url_password_may_hold_at_colon_and_slash(void **state)
{
    static const struct { const char *url, *user, *pass, *host; int port, db; } ok[] = {
        { "redis://u:p@ss@127.0.0.1:7000/1", "u", "p@ss", "127.0.0.1", 7000, 1 },
        { "redis://default:ab/cd+e=@h:7001/2", "default", "ab/cd+e=", "h", 7001, 2 },
        { "redis://:a/b@c:d@h", "", "a/b@c:d", "h", 6379, 0 },
        { "redis://u:x@[::1]:7002", "u", "x", "::1", 7002, 0 },
        { "redis://u:p%40ss@h", "u", "p%40ss", "h", 6379, 0 },   /* as written */
    };
    rh_url u;
    rhai_error err;
    char buf[600];
    (void)state;
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        if (rh_url_parse(ok[i].url, &u, &err) != 0)
            fail_msg("%s: %s", ok[i].url, err.msg);
        assert_string_equal(u.user, ok[i].user);
        assert_string_equal(u.pass, ok[i].pass);
        assert_string_equal(u.host, ok[i].host);
        assert_int_equal(u.port, ok[i].port);
        assert_int_equal(u.db, ok[i].db);
        rh_url_format_safe(&u, buf, sizeof buf);
        assert_null(strstr(buf, ok[i].pass));
    }
    /* TLS file paths after '?' may hold '@' */
    assert_int_equal(rh_url_parse_ex("rediss://:pw@h:6380?ca=/etc/a@b/ca.pem", RH_URL_TLS, &u,
                                     &err), 0);
    assert_string_equal(u.pass, "pw");
    assert_string_equal(u.host, "h");
    assert_string_equal(u.tls_ca, "/etc/a@b/ca.pem");
    /* a bad port after a password: the message holds no piece of it */
    assert_int_equal(rh_url_parse("redis://u:se/cret@h:x1", &u, &err), RHAI_EINVAL);
    assert_null(strstr(err.msg, "se"));
    assert_non_null(strstr(err.msg, "bad port 'x1'"));
    /* a '?' in the password starts the options: the part before it would
     * be read as host and port; refused without printing it */
    assert_int_equal(rh_url_parse_ex("rediss://u:zq?xy@h", RH_URL_TLS, &u, &err), RHAI_EINVAL);
    assert_null(strstr(err.msg, "zq"));
    assert_non_null(strstr(err.msg, "a password holding '?'"));
}

static void test_url_rejects_malformed_input_with_a_message(void **state)
{
    static const char *bad[] = {
        "http://x", "redis://", "redis://host:0", "redis://host:65536",
        "redis://host:12ab", "redis://host/x", "redis://[::1", "unix://relative",
        "unix:///s?db=x", "rediss://host", "redis://host:6379/-1",
    };
    rh_url u;
    rhai_error err;
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&err, 0, sizeof err);
        assert_int_equal(rh_url_parse(bad[i], &u, &err), RHAI_EINVAL);
        assert_int_equal(err.code, RHAI_EINVAL);
        assert_true(strlen(err.msg) > 0);
    }
}

static void test_url_safe_format_hides_the_password(void **state)
{
    rh_url u;
    char buf[300];
    (void)state;
    assert_int_equal(rh_url_parse("redis://bob:topsecret@h:1/2", &u, NULL), 0);
    rh_url_format_safe(&u, buf, sizeof buf);
    assert_null(strstr(buf, "topsecret"));
    assert_non_null(strstr(buf, "h:1/2"));
}

/* ---- names and keys ---- */

static void test_names_accept_the_documented_alphabet_only(void **state)
{
    char longname[RH_NAME_MAX + 2];
    (void)state;
    assert_true(rh_name_valid("worker-1.a_b:c@d"));
    assert_false(rh_name_valid(""));
    assert_false(rh_name_valid(NULL));
    assert_false(rh_name_valid("a b"));
    assert_false(rh_name_valid("a{b}"));
    assert_false(rh_name_valid("../x/y"));
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_false(rh_name_valid(longname));
    longname[RH_NAME_MAX] = '\0';
    assert_true(rh_name_valid(longname));
}

/* Issue 16 item 9: ".acme", "a..b" or 101-128 characters passed the
 * protocol's check but not the store's, and ended as internal after
 * retries. One rule now, and the protocol's check of a task applies it. */
static void test_context_ids_have_one_rule_that_task_validation_applies(void **state)
{
    static const char *const bad[] = { "", ".acme", "..", "a..b", "../x", "a/b", "a b",
                                       "a{b}", "x\n" };
    char id[RH_CONTEXT_MAX + 2];
    rh_task t;
    rhai_error err;
    (void)state;

    memset(id, 'c', sizeof id - 1);
    id[sizeof id - 1] = '\0';                  /* 101 characters */
    rh_task_init(&t);
    t.id = rh_strdup("t1");
    t.script = rh_strdup("1");
    t.script_len = 1;
    for (size_t i = 0; i <= sizeof bad / sizeof bad[0]; i++) {
        const char *ctx = i < sizeof bad / sizeof bad[0] ? bad[i] : id;
        assert_false(rh_context_id_valid(ctx));
        rh_free(t.context_id);
        t.context_id = rh_strdup(ctx);
        memset(&err, 0, sizeof err);
        assert_int_equal(rh_task_validate(&t, 100, 100, &err), RHAI_EINVAL);
        assert_non_null(strstr(err.msg, "context_id"));
    }
    assert_false(rh_context_id_valid(NULL));
    id[RH_CONTEXT_MAX] = '\0';                 /* 100: the longest */
    assert_true(rh_context_id_valid(id));
    assert_true(rh_context_id_valid("acme:eu-1@prod.v2"));
    assert_true(rh_context_id_valid("a.b"));
    rh_free(t.context_id);
    t.context_id = rh_strdup(id);
    assert_int_equal(rh_task_validate(&t, 100, 100, &err), 0);
    rh_task_clear(&t);
}

static void test_generated_ids_are_valid_distinct_uuids(void **state)
{
    char a[37], b[37];
    (void)state;
    assert_int_equal(rh_id_generate(a), 0);
    assert_int_equal(rh_id_generate(b), 0);
    assert_int_equal(strlen(a), 36);
    assert_true(rh_name_valid(a));
    assert_string_not_equal(a, b);
    assert_int_equal(a[14], '4');
}

static void test_keys_follow_the_protocol(void **state)
{
    char k[RH_KEY_MAX];
    (void)state;
    assert_string_equal(rh_key_task(k, "rhai", "w", "t1"), "rhai:task:{w}:t1");
    assert_string_equal(rh_key_task_v1(k, "rhai", "t1"), "rhai:task:{t1}");
    assert_string_equal(rh_key_reply_v1(k, "rhai", "t1"), "rhai:reply:{t1}");
    assert_string_equal(rh_key_seen(k, "rhai", "w", "t1"), "rhai:seen:{w}:t1");
    assert_string_equal(rh_key_taskw(k, "rhai", "t1"), "rhai:taskw:{t1}");
    assert_string_equal(rh_key_instances(k, "rhai", "w"), "rhai:instances:{w}");
    assert_string_equal(rh_key_tasks(k, "rhai", "w"), "rhai:tasks:{w}");
    assert_string_equal(rh_key_failed(k, "rhai", "w", 7), "rhai:failed:{w}:7");
    assert_string_equal(rh_key_reply_client(k, "rhai", "w", "u"), "rhai:reply:{w}:client:u");
    assert_string_equal(rh_key_member(k, "w", "i1"), "{w}:i1");
    assert_string_equal(rh_key_queue(k, "rhai", "w"), "rhai:queue:{w}");
    assert_string_equal(rh_key_processing(k, "rhai", "w", "i1"), "rhai:processing:{w}:i1");
    assert_string_equal(rh_key_reply(k, "p", "w", "t1"), "p:reply:{w}:t1");
    assert_string_equal(rh_key_worker(k, "rhai", "w", "i1"), "rhai:worker:{w}:i1");
    assert_string_equal(rh_key_workers(k, "rhai"), "rhai:workers");
    assert_string_equal(rh_key_events(k, "rhai"), "rhai:events");
}

/* Key layout v2: a reply_to must be a list of the task's worker id's slot;
 * a registry member names its worker id. */
static void test_a_reply_to_must_live_in_the_slot_of_the_tasks_worker_id(void **state)
{
    char w[RH_NAME_MAX + 1];
    (void)state;
    assert_true(rh_reply_to_valid("rhai", "w", "rhai:reply:{w}:x"));
    assert_true(rh_reply_to_valid("rhai", "w", "rhai:reply:{w}:client:u"));
    assert_false(rh_reply_to_valid("rhai", "w", "rhai:reply:{w}:"));       /* no name */
    assert_false(rh_reply_to_valid("rhai", "w", "rhai:reply:{v}:x"));      /* another slot */
    assert_false(rh_reply_to_valid("rhai", "w", "rhai:reply:client:x"));   /* v1's */
    assert_false(rh_reply_to_valid("rhai", "w", "app:reply:{w}:x"));
    assert_false(rh_reply_to_valid("rhai", "w", NULL));
    assert_true(rh_reply_to_valid_v1("rhai", "rhai:reply:client:x"));
    assert_false(rh_reply_to_valid_v1("rhai", "rhai:reply:"));
    assert_int_equal(rh_member_worker("{w-1}:host-1-ab", w), 0);
    assert_string_equal(w, "w-1");
    assert_int_equal(rh_member_worker("w-1:host", w), RHAI_EINVAL);
    assert_int_equal(rh_member_worker("{}:host", w), RHAI_EINVAL);
    assert_int_equal(rh_member_worker("{w}host", w), RHAI_EINVAL);
}

/* Events' keys carry the context or the worker id as hash tag, and a
 * subscriber task's id is derived from (event, subscription): the same
 * pair always gives the same valid id, even when the pair is too long to
 * be spelled out, and two pairs never share one. */
static void test_event_keys_and_subscriber_ids_are_deterministic(void **state)
{
    char k[RH_KEY_MAX], a[RH_NAME_MAX + 1], b[RH_NAME_MAX + 1], ev[200];
    (void)state;
    assert_string_equal(rh_key_evstream(k, "rhai", "acme"), "rhai:stream:{acme}");
    assert_string_equal(rh_key_evseen(k, "rhai", "acme"), "rhai:evseen:{acme}");
    assert_string_equal(rh_key_evsubs(k, "rhai", "mail"), "rhai:evsubs:{mail}");
    assert_string_equal(rh_key_trace(k, "rhai", "acme", "t1"), "rhai:trace:{acme}:t1");
    assert_int_equal(rh_event_task_id(a, "t1.1", "notify"), 0);
    assert_string_equal(a, "ev:t1.1:notify");
    assert_int_equal(rh_event_task_id(b, "t1.1", "notify2"), 0);
    assert_string_not_equal(a, b);
    assert_int_equal(rh_event_task_id(a, "", "x"), RHAI_EINVAL);
    assert_int_equal(rh_event_task_id(a, "t1.1", "a{b}"), RHAI_EINVAL);
    memset(ev, 'e', 120);
    ev[120] = '\0';                   /* 120 + 64: longer than a name */
    assert_int_equal(rh_event_task_id(a, ev, "sub-one-with-a-long-name-aaaaaaaaaaaaaaaaaaaaaaaaa"), 0);
    assert_true(rh_name_valid(a));
    assert_int_equal(rh_event_task_id(b, ev, "sub-one-with-a-long-name-aaaaaaaaaaaaaaaaaaaaaaaaa"), 0);
    assert_string_equal(a, b);
    assert_int_equal(rh_event_task_id(b, ev, "sub-one-with-a-long-name-aaaaaaaaaaaaaaaaaaaaaaaab"), 0);
    assert_true(rh_name_valid(b));
    assert_string_not_equal(a, b);
}

/* ---- task model ---- */

static void set(rh_task *t, const char *f, const char *v)
{
    assert_int_equal(rh_task_set_field(t, f, v, strlen(v)), 0);
}

static void test_task_fields_parse_from_hash_pairs(void **state)
{
    rh_task t;
    (void)state;
    rh_task_init(&t);
    set(&t, "id", "t1");
    set(&t, "script", "1+1");
    set(&t, "timeout_ms", "1500");
    set(&t, "attempts", "2");
    set(&t, "status", "running");
    set(&t, "error_kind", "memory");
    set(&t, "no_such_field", "ignored");
    assert_string_equal(t.id, "t1");
    assert_int_equal(t.script_len, 3);
    assert_int_equal(t.timeout_ms, 1500);
    assert_int_equal(t.attempts, 2);
    assert_int_equal(t.status, RHAI_STATUS_RUNNING);
    assert_int_equal(t.error_kind, RH_EK_MEMORY);
    assert_int_equal(rh_task_set_field(&t, "timeout_ms", "12x", 3), RHAI_EINVAL);
    assert_int_equal(rh_task_set_field(&t, "attempts", "-1", 2), RHAI_EINVAL);
    rh_task_clear(&t);
    assert_null(t.id);
}

static void test_task_validate_names_each_problem(void **state)
{
    rh_task t;
    rhai_error err;
    (void)state;
    rh_task_init(&t);
    set(&t, "id", "t1");
    assert_int_equal(rh_task_validate(&t, 100, 100, &err), RHAI_EINVAL);
    assert_non_null(strstr(err.msg, "no script"));
    set(&t, "script", "1+1");
    assert_int_equal(rh_task_validate(&t, 100, 100, &err), 0);
    assert_int_equal(rh_task_validate(&t, 2, 100, &err), RHAI_ETOOBIG);
    assert_non_null(strstr(err.msg, "max_script"));
    set(&t, "args", "{not json");
    assert_int_equal(rh_task_validate(&t, 100, 100, &err), RHAI_EINVAL);
    assert_non_null(strstr(err.msg, "args is not JSON"));
    set(&t, "args", "[1,2]");
    assert_int_equal(rh_task_validate(&t, 100, 100, &err), 0);
    assert_int_equal(rh_task_validate(&t, 100, 4, &err), RHAI_ETOOBIG);
    assert_string_equal(err.msg, "args is 5 bytes, limit 4 (max_args)");
    assert_int_equal(rh_task_validate(&t, 100, 5, &err), 0);
    set(&t, "context_id", "../etc");
    assert_int_equal(rh_task_validate(&t, 100, 100, &err), RHAI_EINVAL);
    assert_non_null(strstr(err.msg, "context_id"));
    set(&t, "context_id", "acme");
    /* events: parent, trace, depth and the event go together, within limits */
    set(&t, "depth", "1");
    assert_int_equal(rh_task_validate(&t, 100, 100, &err), RHAI_EINVAL);
    assert_non_null(strstr(err.msg, "parent_id and depth"));
    set(&t, "parent_id", "root");
    set(&t, "trace_id", "root");
    assert_int_equal(rh_task_validate(&t, 100, 100, &err), 0);
    set(&t, "trace_id", "a b");
    assert_int_equal(rh_task_validate(&t, 100, 100, &err), RHAI_EINVAL);
    assert_non_null(strstr(err.msg, "trace_id"));
    set(&t, "trace_id", "root");
    set(&t, "depth", "65");
    assert_int_equal(rh_task_validate(&t, 100, 100, &err), RHAI_EINVAL);
    assert_non_null(strstr(err.msg, "depth"));
    set(&t, "depth", "2");
    set(&t, "event", "[1]");
    assert_int_equal(rh_task_validate(&t, 100, 100, &err), RHAI_EINVAL);
    assert_non_null(strstr(err.msg, "event is not a JSON object"));
    set(&t, "event", "{\"id\":\"root.1\",\"name\":\"a\"}");
    assert_int_equal(rh_task_validate(&t, 100, 100, &err), 0);
    assert_int_equal(t.depth, 2);
    {
        char *big = rh_malloc(RH_LIM_EVENT + 16);
        memset(big, ' ', RH_LIM_EVENT + 8);
        memcpy(big, "{}", 2);
        big[RH_LIM_EVENT + 8] = '\0';
        set(&t, "event", big);
        assert_int_equal(rh_task_validate(&t, 100, 100, &err), RHAI_ETOOBIG);
        rh_free(big);
    }
    rh_task_clear(&t);
}

static void test_reply_json_round_trips(void **state)
{
    rh_task t, back;
    char *json;
    (void)state;
    rh_task_init(&t);
    rh_task_init(&back);
    set(&t, "id", "t9");
    set(&t, "output", "{\"a\":[1,2,\"x\"]}");
    set(&t, "worker_id", "w");
    set(&t, "instance", "h-1");
    set(&t, "logs", "line1\nline2");
    t.status = RHAI_STATUS_DONE;
    t.attempts = 1;
    t.created_at = 1764000000000;
    t.finished_at = 1764000000123;
    json = rh_task_reply_json(&t);
    assert_non_null(json);
    assert_non_null(strstr(json, "\"output\":{\"a\":[1,2,\"x\"]}"));
    assert_non_null(strstr(json, "\"error_kind\":null"));
    assert_int_equal(rh_task_from_reply(&back, json, strlen(json), NULL), 0);
    assert_string_equal(back.id, "t9");
    assert_int_equal(back.status, RHAI_STATUS_DONE);
    assert_string_equal(back.output, "{\"a\":[1,2,\"x\"]}");
    assert_string_equal(back.logs, "line1\nline2");
    assert_int_equal(back.created_at, 1764000000000);
    assert_int_equal(back.finished_at, 1764000000123);
    assert_null(back.error);
    rh_free(json);

    t.status = RHAI_STATUS_ERROR;
    t.error_kind = RH_EK_TIMEOUT;
    set(&t, "error", "timeout after 5 ms");
    json = rh_task_reply_json(&t);
    assert_int_equal(rh_task_from_reply(&back, json, strlen(json), NULL), 0);
    assert_int_equal(back.error_kind, RH_EK_TIMEOUT);
    assert_string_equal(back.error, "timeout after 5 ms");
    rh_free(json);
    rh_task_clear(&t);
    rh_task_clear(&back);
}

/* A task read back from its hash holds error "" when it succeeded: the
 * reply says null there, as docs/protocol.md does (issue 22). */
static void test_reply_error_is_null_for_a_task_hash_without_one(void **state)
{
    rh_task t;
    char *json;
    (void)state;
    rh_task_init(&t);
    set(&t, "id", "h1");
    set(&t, "status", "done");
    set(&t, "error", "");
    set(&t, "output", "1");
    json = rh_task_reply_json(&t);
    assert_non_null(strstr(json, "\"error\":null,\"error_kind\":null,"));
    rh_free(json);
    rh_task_clear(&t);
}

static void test_reply_keeps_numbers_exactly_as_the_script_wrote_them(void **state)
{
    rh_task t, back;
    char *json;
    (void)state;
    rh_task_init(&t);
    rh_task_init(&back);
    set(&t, "id", "big");
    set(&t, "output", "[12345678901234567890,0.30000000000000004]");
    t.status = RHAI_STATUS_DONE;
    json = rh_task_reply_json(&t);
    assert_non_null(strstr(json, "\"output\":[12345678901234567890,0.30000000000000004],"));
    assert_int_equal(rh_task_from_reply(&back, json, strlen(json), NULL), 0);
    assert_int_equal(back.output[0], '[');              /* an array, not a string */
    rh_free(json);
    set(&t, "output", "not json {");                    /* never spliced raw */
    json = rh_task_reply_json(&t);
    assert_non_null(strstr(json, "\"output\":null,"));
    rh_free(json);
    rh_task_clear(&t);
    rh_task_clear(&back);
}

static json_t *str_ref(const char *s)
{
    json_t *v = s ? json_string(s) : NULL;
    return v ? v : json_null();
}

/* The reply as jansson would build it: strings json_string (null when
 * absent or not UTF-8), the output parsed. */
static json_t *reply_reference(const rh_task *t)
{
    json_t *out = t->output ? json_loads(t->output, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL)
                            : NULL;
#define STR(s) str_ref(s)
    json_t *o = json_pack("{s:o, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:I, s:I, s:I, s:I}",
                          "id", STR(t->id), "status", rh_status_str(t->status),
                          "output", out ? out : json_null(),
                          "error", STR(t->error && *t->error ? t->error : NULL),
                          "error_kind", t->error_kind == RH_EK_NONE ? json_null()
                                        : json_string(rh_kind_str(t->error_kind)),
                          "logs", STR(t->logs ? t->logs : ""), "worker_id", STR(t->worker_id),
                          "instance", STR(t->instance), "attempts", (json_int_t)t->attempts,
                          "created_at", (json_int_t)t->created_at,
                          "started_at", (json_int_t)t->started_at,
                          "finished_at", (json_int_t)t->finished_at);
#undef STR
    return o;
}

/* rh_task_reply_json writes plain strings itself and lets jansson escape
 * the others: for strings of every kind (quotes, backslashes, control
 * characters, non-ASCII, invalid UTF-8, empty, absent) the text parses to
 * the object jansson builds. Byte for byte too for the compact form, key
 * order included. */
static void test_reply_json_is_what_jansson_would_write(void **state)
{
    static const char *const strs[] = {
        NULL, "", "plain text 123", "quote \" inside", "back\\slash", "line\nbreak\ttab",
        "\x01\x1f control", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "\xff\xfe not utf8",
        "</script>", "del \x7f char", "{\"json\":\"inside\"}",
    };
    static const char *const outs[] = { "42", "\"s\"", "{\"a\":[1,2]}", "not json", NULL };
    size_t ns = sizeof strs / sizeof strs[0];
    (void)state;

    for (size_t i = 0; i < ns; i++) {
        rh_task t;
        json_t *ref, *got;
        char *text, *want;

        rh_task_init(&t);
        t.id = (char *)"t-1";
        t.error = (char *)strs[i];
        t.logs = (char *)strs[(i + 3) % ns];
        t.worker_id = (char *)strs[(i + 5) % ns];
        t.instance = (char *)strs[(i + 7) % ns];
        t.output = (char *)outs[i % 5];
        t.status = i % 2 ? RHAI_STATUS_ERROR : RHAI_STATUS_DONE;
        t.error_kind = i % 2 ? RH_EK_SCRIPT : RH_EK_NONE;
        t.attempts = (int)i;
        t.created_at = 1764000000000 + (int64_t)i;
        t.started_at = -1;
        t.finished_at = INT64_MAX;
        text = rh_task_reply_json(&t);
        assert_non_null(text);
        ref = reply_reference(&t);
        got = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
        if (got == NULL || !json_equal(got, ref))
            fail_msg("case %zu: %s", i, text);
        want = json_dumps(ref, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (t.output == NULL || strcmp(t.output, "not json") == 0 ||
            strcmp(t.output, "42") == 0)    /* spliced outputs keep their own spacing */
            assert_string_equal(text, want);
        free(want);
        json_decref(got);
        json_decref(ref);
        rh_free(text);
    }
}

static void test_reply_parse_rejects_non_replies(void **state)
{
    rh_task t;
    rhai_error err;
    static const char *bad[] = { "", "[]", "42", "{\"id\":\"x\"}", "{\"status\":\"done\"}",
                                 "{\"id\":1,\"status\":\"done\"}", "{\"id\":\"x\",\"status\":\"zzz\"}" };
    (void)state;
    rh_task_init(&t);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(rh_task_from_reply(&t, bad[i], strlen(bad[i]), &err), RHAI_EPROTO);
    rh_task_clear(&t);
}

/* Out of memory anywhere in reading a good reply is RHAI_ENOMEM, not a
 * "mistyped field" (EPROTO): the async client reads a reply it could not
 * parse for want of memory again from the hash, and drops a bad one. */
static void test_reply_parse_out_of_memory_is_enomem(void **state)
{
    static const char json[] = "{\"id\":\"t1\",\"status\":\"done\",\"output\":null,"
                               "\"error\":\"\",\"logs\":\"a\",\"worker_id\":\"w\","
                               "\"instance\":\"i\",\"attempts\":1}";
    int clean = 0;
    (void)state;
    for (unsigned long n = 1; n <= 40; n++) {
        rh_task t;
        rhai_error err = { 0, "" };
        int rc;
        rh_task_init(&t);
        rh_alloc_fail_after(n);
        rc = rh_task_from_reply(&t, json, strlen(json), &err);
        rh_alloc_fail_after(0);
        if (rc != 0 && rc != RHAI_ENOMEM)
            fail_msg("n=%lu: %d %s", n, rc, err.msg);
        if (rc == 0) {
            assert_string_equal(t.output, "null");
            assert_string_equal(t.instance, "i");
        }
        clean = rc == 0 ? clean + 1 : 0;
        rh_task_clear(&t);
    }
    assert_true(clean >= 10);
}

static void test_status_and_kind_names_round_trip(void **state)
{
    (void)state;
    for (int s = RHAI_STATUS_QUEUED; s <= RHAI_STATUS_CANCELLED; s++)
        assert_int_equal(rh_status_parse(rh_status_str((rhai_status)s)), s);
    for (int k = RH_EK_SCRIPT; k <= RH_EK_INTERNAL; k++)
        assert_int_equal(rh_kind_parse(rh_kind_str((rh_error_kind)k)), k);
    assert_int_equal(rh_status_parse("nope"), RHAI_STATUS_UNKNOWN);
    assert_true(rh_status_final(RHAI_STATUS_CANCELLED));
    assert_false(rh_status_final(RHAI_STATUS_RUNNING));
}

/* ---- signatures ---- */

static void test_signatures_verify_and_catch_every_tampering(void **state)
{
    char pk[RH_SIGN_PK_HEX + 1], sk[RH_SIGN_SK_HEX + 1], pk2[RH_SIGN_PK_HEX + 1];
    char sk2[RH_SIGN_SK_HEX + 1], sig[RH_SIGN_SIG_HEX + 1], derived[RH_SIGN_PK_HEX + 1];
    rh_sign_fields f = { "t1", "w", "ctx", NULL, "1+1", 3, "{\"a\":1}", 1764000000000, "rhai" };
    rh_sign_fields g;
    rhai_error err;
    (void)state;

    assert_int_equal(rh_sign_keygen(pk, sk), 0);
    assert_int_equal(rh_sign_keygen(pk2, sk2), 0);
    assert_int_equal(strlen(pk), 64);
    assert_int_equal(strlen(sk), 128);
    assert_int_equal(rh_sign_public_key(sk, derived), 0);
    assert_string_equal(derived, pk);
    f.caller_id = pk;
    assert_int_equal(rh_sign_task(sk, &f, sig), 0);
    assert_int_equal(strlen(sig), 128);
    assert_int_equal(rh_sign_verify(sig, &f, &err), 0);

    g = f; g.script = "1+2";                   /* tampered script */
    assert_int_equal(rh_sign_verify(sig, &g, &err), RHAI_EINVAL);
    assert_non_null(strstr(err.msg, "does not match"));
    g = f; g.args = "{\"a\":2}";               /* tampered args */
    assert_int_equal(rh_sign_verify(sig, &g, &err), RHAI_EINVAL);
    g = f; g.id = "t2";                        /* another id */
    assert_int_equal(rh_sign_verify(sig, &g, &err), RHAI_EINVAL);
    g = f; g.created_at++;                     /* another time */
    assert_int_equal(rh_sign_verify(sig, &g, &err), RHAI_EINVAL);
    g = f; g.context_id = "other";
    assert_int_equal(rh_sign_verify(sig, &g, &err), RHAI_EINVAL);
    g = f; g.prefix = "rhai-staging";          /* another deployment */
    assert_int_equal(rh_sign_verify(sig, &g, &err), RHAI_EINVAL);
    assert_non_null(strstr(err.msg, "does not match"));
    g = f; g.prefix = NULL;                    /* no deployment: refused, not guessed */
    assert_int_equal(rh_sign_verify(sig, &g, &err), RHAI_EINVAL);
    g = f; g.caller_id = pk2;                  /* claims another key */
    assert_int_equal(rh_sign_verify(sig, &g, &err), RHAI_EINVAL);
    g = f; g.caller_id = "anonymous";          /* not a key at all */
    assert_int_equal(rh_sign_verify(sig, &g, &err), RHAI_EINVAL);
    assert_non_null(strstr(err.msg, "public key"));
    assert_int_equal(rh_sign_verify("abc", &f, &err), RHAI_EINVAL);
    assert_non_null(strstr(err.msg, "128 hex"));
    assert_int_equal(rh_sign_public_key("zz", derived), RHAI_EINVAL);
}

/* ---- errors, buffers, allocator ---- */

static void test_every_error_code_has_a_name_and_text(void **state)
{
    (void)state;
    for (int c = RHAI_ETLS; c <= 0; c++) {          /* RHAI_ETLS: the last one */
        assert_string_not_equal(rhai_strerror(c), "unknown error");
        assert_string_not_equal(rhai_err_name(c), "RHAI_E?");
    }
    assert_string_equal(rhai_strerror(-999), "unknown error");
}

static void test_alloc_fail_hook_fails_the_nth_allocation(void **state)
{
    void *a, *b;
    (void)state;
    rh_alloc_fail_after(2);
    a = rh_malloc(8);
    b = rh_malloc(8);
    assert_non_null(a);
    assert_null(b);
    rh_free(a);
    assert_null(rh_calloc(SIZE_MAX / 2, 4));           /* overflow checked */
}

static void test_alloc_counts_live_bytes(void **state)
{
    size_t before = rh_alloc_live_bytes();
    char *p = rh_malloc(1000);
    (void)state;
    assert_int_equal(rh_alloc_live_bytes(), before + 1000);
    p = rh_realloc(p, 10);
    assert_int_equal(rh_alloc_live_bytes(), before + 10);
    rh_free(p);
    assert_int_equal(rh_alloc_live_bytes(), before);
}

static void test_buf_appendf_and_consume(void **state)
{
    rh_buf *b = *state;
    assert_int_equal(rh_buf_appendf(b, "%s-%d", "ab", 42), 0);
    assert_string_equal(b->data, "ab-42");
    rh_buf_consume(b, 3);
    assert_string_equal(b->data, "42");
    rh_buf_consume(b, 100);
    assert_int_equal(rh_buf_len(b), 0);
}

/* ---- SIGPIPE guard ---- */

static int pipe_pending(void)
{
    sigset_t p;
    assert_int_equal(sigpending(&p), 0);
    return sigismember(&p, SIGPIPE);
}

static int pipe_blocked(void)
{
    sigset_t m;
    assert_int_equal(pthread_sigmask(SIG_BLOCK, NULL, &m), 0);
    return sigismember(&m, SIGPIPE);
}

/* A SIGPIPE raised between begin and end (as write(2) raises one on a dead
 * socket) never reaches its default action, which would end this test
 * process, and the thread's mask comes back as it was; one raised while
 * the caller itself blocks SIGPIPE stays pending for the caller. */
static void test_nopipe_swallows_a_sigpipe_raised_inside(void **state)
{
    rh_nopipe g;
    sigset_t pipe;
    (void)state;

    signal(SIGPIPE, SIG_DFL);
    assert_false(pipe_blocked());
    rh_nopipe_begin(&g);
    assert_true(pipe_blocked());
    assert_int_equal(pthread_kill(pthread_self(), SIGPIPE), 0);
    assert_true(pipe_pending());
    errno = EPIPE;
    rh_nopipe_end(&g);
    assert_int_equal(errno, EPIPE);         /* kept for the caller */
    assert_false(pipe_blocked());
    assert_false(pipe_pending());

    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    assert_int_equal(pthread_sigmask(SIG_BLOCK, &pipe, NULL), 0);
    rh_nopipe_begin(&g);
    assert_int_equal(pthread_kill(pthread_self(), SIGPIPE), 0);
    rh_nopipe_end(&g);
    assert_true(pipe_blocked());
    assert_true(pipe_pending());            /* the caller's, left to it */
    {
        const struct timespec zero = { 0, 0 };
        assert_int_equal(sigtimedwait(&pipe, NULL, &zero), SIGPIPE);
    }
    assert_int_equal(pthread_sigmask(SIG_UNBLOCK, &pipe, NULL), 0);
}

/* ---- logging ---- */

static void test_log_quote_escapes_quotes_newlines_controls_and_bad_utf8(void **state)
{
    char out[256];
    (void)state;

    assert_string_equal(rh_log_quote(out, sizeof out, "say \"hi\"\\ now", 200),
                        "say \\\"hi\\\"\\\\ now");
    assert_string_equal(rh_log_quote(out, sizeof out, "a\nb\tc\rd\x01" "e\x7f", 200),
                        "a\\nb\\tc\\rd\\x01e\\x7f");
    assert_string_equal(rh_log_quote(out, sizeof out, "caf\xc3\xa9 \xff\xfe ok", 200),
                        "caf\xc3\xa9 \\xff\\xfe ok");
    assert_string_equal(rh_log_quote(out, sizeof out, "\xed\xa0\x80", 200), /* surrogate */
                        "\\xed\\xa0\\x80");
    assert_string_equal(rh_log_quote(out, sizeof out, NULL, 200), "");
}

static void test_log_quote_cuts_at_its_bound_on_a_character_boundary(void **state)
{
    char out[64], big[600];
    (void)state;

    assert_string_equal(rh_log_quote(out, sizeof out, "abcdef", 4), "abcd...");
    /* the 2-byte é would straddle byte 4: cut before it */
    assert_string_equal(rh_log_quote(out, sizeof out, "abc\xc3\xa9z", 4), "abc...");
    memset(big, '"', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    rh_log_quote(out, sizeof out, big, 200);       /* the buffer bounds it */
    assert_true(strlen(out) < sizeof out);
    assert_string_equal(out + strlen(out) - 5, "\\\"...");
}

/* Each line rendered as JSON parses with jansson and carries the fields. */
static void test_json_log_lines_parse_whatever_their_fields_hold(void **state)
{
    static const char *const nasty[] = {
        "plain", "with \"quotes\" and \\backslash", "line\nbreak\r\n", "tab\tand\x01\x02\x1f",
        "bad utf8 \xff\xc3(\x80 end", "trail\\", "", "caf\xc3\xa9 \xe2\x82\xac",
    };
    char q[512], body[1024], line[8192];
    json_error_t jerr;
    (void)state;

    for (size_t i = 0; i < sizeof nasty / sizeof nasty[0]; i++) {
        json_t *o;
        rh_log_quote(q, sizeof q, nasty[i], 200);
        snprintf(body, sizeof body, "event=task_end task=t-%zu ms=12 kind=script "
                 "error=\"%s\" the task failed", i, q);
        rh_log_render(RH_LOG_FMT_JSON, RH_LOG_INFO, body, line, sizeof line);
        assert_int_equal(line[strlen(line) - 1], '\n');
        assert_null(strchr(line, '\n') == line + strlen(line) - 1 ? NULL : line);
        o = json_loads(line, 0, &jerr);
        if (o == NULL)
            fail_msg("line %zu does not parse: %s: %s", i, jerr.text, line);
        assert_string_equal(json_string_value(json_object_get(o, "level")), "info");
        assert_string_equal(json_string_value(json_object_get(o, "event")), "task_end");
        assert_int_equal(json_integer_value(json_object_get(o, "ms")), 12);
        assert_string_equal(json_string_value(json_object_get(o, "msg")), "the task failed");
        assert_non_null(json_string_value(json_object_get(o, "ts")));
        if (i < 4 || i == 5 || i == 6 || i == 7)   /* valid UTF-8: comes back intact */
            assert_string_equal(json_string_value(json_object_get(o, "error")), nasty[i]);
        else
            assert_string_equal(json_string_value(json_object_get(o, "error")),
                                "bad utf8 \xef\xbf\xbd\xef\xbf\xbd(\xef\xbf\xbd end");
        json_decref(o);
    }
    /* a line written without rh_log_quote still gives valid JSON: an
     * unbalanced quote ends the fields and the rest is the message */
    rh_log_render(RH_LOG_FMT_JSON, RH_LOG_WARN,
                  "event=x reason=\"he said \"hi\" there\xff\x01", line, sizeof line);
    {
        json_t *o = json_loads(line, 0, &jerr);
        assert_non_null(o);
        assert_string_equal(json_string_value(json_object_get(o, "event")), "x");
        assert_non_null(strstr(json_string_value(json_object_get(o, "msg")), "he said"));
        json_decref(o);
    }
    /* key=value keeps the body as written */
    rh_log_render(RH_LOG_FMT_KV, RH_LOG_ERROR, "event=y a b", line, sizeof line);
    assert_non_null(strstr(line, "level=error event=y a b\n"));
    assert_int_equal(rh_log_format_parse("JSON"), RH_LOG_FMT_JSON);
    assert_int_equal(rh_log_format_parse("kv"), RH_LOG_FMT_KV);
    assert_int_equal(rh_log_format_parse("xml"), -1);
}

static void test_log_limit_passes_one_line_per_key_and_window_and_counts_the_rest(void **state)
{
    rh_log_limit l;
    uint64_t sup = 99;
    (void)state;

    memset(&l, 0, sizeof l);
    assert_int_equal(rh_log_limit_pass(&l, "auth WRONGPASS", 1000, 30000, &sup), 1);
    assert_int_equal(sup, 0);
    for (int i = 0; i < 7; i++)
        assert_int_equal(rh_log_limit_pass(&l, "auth WRONGPASS", 1000 + i * 1000, 30000, &sup), 0);
    /* another reason is logged at once */
    assert_int_equal(rh_log_limit_pass(&l, "select ERR DB index", 5000, 30000, &sup), 1);
    assert_int_equal(sup, 0);
    /* the window passed: logged, with what was held back */
    assert_int_equal(rh_log_limit_pass(&l, "auth WRONGPASS", 31000, 30000, &sup), 1);
    assert_int_equal(sup, 7);
    assert_int_equal(rh_log_limit_pass(&l, "auth WRONGPASS", 32000, 30000, &sup), 0);
    /* more keys than slots: the quietest is forgotten, nothing breaks */
    for (int i = 0; i < 3 * RH_LOG_LIMIT_SLOTS; i++) {
        char key[32];
        snprintf(key, sizeof key, "k%d", i);
        assert_int_equal(rh_log_limit_pass(&l, key, 40000 + i, 30000, NULL), 1);
    }
    rh_log_limit_reset(&l);
    assert_int_equal(rh_log_limit_pass(&l, "auth WRONGPASS", 50000, 30000, &sup), 1);
    assert_int_equal(sup, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_frame_round_trip_of_two_frames, buf_setup, buf_teardown),
        cmocka_unit_test_setup_teardown(test_frame_decode_waits_for_a_partial_frame, buf_setup, buf_teardown),
        cmocka_unit_test_setup_teardown(test_frame_decode_rejects_oversized_length, buf_setup, buf_teardown),
        cmocka_unit_test_setup_teardown(test_frame_encode_rejects_oversized_payload, buf_setup, buf_teardown),
        cmocka_unit_test(test_url_defaults_to_local_redis),
        cmocka_unit_test(test_url_parses_every_part),
        cmocka_unit_test(test_url_password_may_hold_at_colon_and_slash),
        cmocka_unit_test(test_url_rejects_malformed_input_with_a_message),
        cmocka_unit_test(test_url_safe_format_hides_the_password),
        cmocka_unit_test(test_names_accept_the_documented_alphabet_only),
        cmocka_unit_test(test_context_ids_have_one_rule_that_task_validation_applies),
        cmocka_unit_test(test_generated_ids_are_valid_distinct_uuids),
        cmocka_unit_test(test_keys_follow_the_protocol),
        cmocka_unit_test(test_a_reply_to_must_live_in_the_slot_of_the_tasks_worker_id),
        cmocka_unit_test(test_event_keys_and_subscriber_ids_are_deterministic),
        cmocka_unit_test(test_task_fields_parse_from_hash_pairs),
        cmocka_unit_test(test_task_validate_names_each_problem),
        cmocka_unit_test(test_reply_json_round_trips),
        cmocka_unit_test(test_reply_error_is_null_for_a_task_hash_without_one),
        cmocka_unit_test(test_reply_keeps_numbers_exactly_as_the_script_wrote_them),
        cmocka_unit_test(test_reply_json_is_what_jansson_would_write),
        cmocka_unit_test(test_reply_parse_rejects_non_replies),
        cmocka_unit_test(test_reply_parse_out_of_memory_is_enomem),
        cmocka_unit_test(test_status_and_kind_names_round_trip),
        cmocka_unit_test(test_signatures_verify_and_catch_every_tampering),
        cmocka_unit_test(test_every_error_code_has_a_name_and_text),
        cmocka_unit_test(test_alloc_fail_hook_fails_the_nth_allocation),
        cmocka_unit_test(test_alloc_counts_live_bytes),
        cmocka_unit_test_setup_teardown(test_buf_appendf_and_consume, buf_setup, buf_teardown),
        cmocka_unit_test(test_nopipe_swallows_a_sigpipe_raised_inside),
        cmocka_unit_test(test_log_quote_escapes_quotes_newlines_controls_and_bad_utf8),
        cmocka_unit_test(test_log_quote_cuts_at_its_bound_on_a_character_boundary),
        cmocka_unit_test(test_json_log_lines_parse_whatever_their_fields_hold),
        cmocka_unit_test(test_log_limit_passes_one_line_per_key_and_window_and_counts_the_rest),
    };
    return cmocka_run_group_tests_name("common", tests, NULL, NULL);
}
