/* test_rcluster.c -- the pure parts of src/common/rcluster.c: key slots,
 * MOVED/ASK errors, slot maps from canned CLUSTER SHARDS / SLOTS replies.
 *
 * The keyslot table was taken from `redis-cli cluster keyslot` of Redis
 * 7.0 (tests/integration/test_rcluster_live.c checks many more keys against a
 * live cluster). Canned replies are RESP text parsed by hiredis's reader,
 * exactly as a connection would hand them over. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include <hiredis/hiredis.h>

#include "common/common.h"
#include "common/rcluster.h"

/* RESP text -> a reply (freeReplyObject). */
static redisReply *resp(const char *text)
{
    redisReader *rd = redisReaderCreate();
    void *rep = NULL;

    assert_non_null(rd);
    assert_int_equal(redisReaderFeed(rd, text, strlen(text)), REDIS_OK);
    assert_int_equal(redisReaderGetReply(rd, &rep), REDIS_OK);
    assert_non_null(rep);
    redisReaderFree(rd);
    return rep;
}

static void test_crc16_matches_the_xmodem_check_value(void **state)
{
    (void)state;
    assert_int_equal(rh_crc16("123456789", 9), 0x31c3);
    assert_int_equal(rh_crc16("", 0), 0);
}

static void test_keyslot_matches_redis_for_plain_and_tagged_keys(void **state)
{
    static const struct { const char *key; int slot; } tab[] = {
        { "foo", 12182 },
        { "bar", 5061 },
        { "{user1000}.following", 3443 },
        { "", 0 },
        { "{}", 15257 },            /* empty tag: the whole key */
        { "{}x", 10595 },
        { "x{", 3596 },             /* unmatched '{': the whole key */
        { "}{a", 12925 },           /* '}' before '{' does not close it */
        { "a{b}{c}", 3300 },        /* the first tag only: "b" */
        { "123456789", 12739 },
        { "{a}", 15495 },
        { "a{}b{c}", 7353 },        /* first '{' has an empty tag: whole */
        { "{{a}}", 10276 },         /* tag "{a" */
    };
    (void)state;
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++) {
        int got = rh_keyslot(tab[i].key, strlen(tab[i].key));
        if (got != tab[i].slot)
            fail_msg("keyslot(\"%s\") = %d, Redis says %d", tab[i].key, got, tab[i].slot);
    }
    /* the same tag, the same slot; the tag alone hashes like the key "a" */
    assert_int_equal(rh_keyslot("{a}.x", 5), rh_keyslot("a", 1));
    assert_int_equal(rh_keyslot("rhai:task:{w1}", 14), rh_keyslot("rhai:queue:{w1}", 15));
    assert_int_equal(rh_keyslot("b", 1), rh_keyslot("a{b}{c}", 7));
}

static void test_keyslot_is_binary_safe(void **state)
{
    (void)state;
    /* a NUL inside the tag counts; only len bytes are read */
    assert_int_equal(rh_keyslot("{a\0b}x", 6), rh_crc16("a\0b", 3) & 16383);
    assert_int_equal(rh_keyslot("{ab}", 2), rh_keyslot("{a", 2));
}

static void test_redirect_parse_reads_moved_and_ask(void **state)
{
    rh_redirect r;
    const char *m = "MOVED 3999 127.0.0.1:6381", *a = "ASK 0 ::1:7000";
    (void)state;
    assert_int_equal(rh_redirect_parse(m, strlen(m), &r, NULL), 0);
    assert_int_equal(r.ask, 0);
    assert_int_equal(r.slot, 3999);
    assert_string_equal(r.host, "127.0.0.1");
    assert_int_equal(r.port, 6381);
    assert_int_equal(rh_redirect_parse(a, strlen(a), &r, NULL), 0);
    assert_int_equal(r.ask, 1);
    assert_int_equal(r.slot, 0);
    assert_string_equal(r.host, "::1");     /* the port follows the last ':' */
    assert_int_equal(r.port, 7000);
    assert_int_equal(rh_redirect_parse("MOVED 16383 :7001", 17, &r, NULL), 0);
    assert_string_equal(r.host, "");        /* the replying node itself */
}

static void test_redirect_parse_leaves_other_errors_alone(void **state)
{
    rh_redirect r = { .slot = -7 };
    rhai_error err = { 0, "untouched" };
    (void)state;
    assert_int_equal(rh_redirect_parse("CROSSSLOT Keys", 14, &r, &err), RHAI_EINVAL);
    assert_int_equal(rh_redirect_parse("MOVE", 4, &r, &err), RHAI_EINVAL);
    assert_int_equal(rh_redirect_parse("ASKING", 6, &r, &err), RHAI_EINVAL);
    assert_int_equal(r.slot, -7);
    assert_string_equal(err.msg, "untouched");
}

static void test_redirect_parse_refuses_malformed_redirects(void **state)
{
    static const char *bad[] = {
        "MOVED ", "MOVED 3999", "MOVED 16384 h:1", "MOVED -1 h:1", "MOVED 12a h:1",
        "MOVED 1 h", "MOVED 1 h:", "MOVED 1 h:0", "MOVED 1 h:65536", "MOVED 1 h:1x",
        "ASK 1 h :1", "ASK 0000001 h:1", "MOVED  1 h:1",
    };
    rh_redirect r;
    rhai_error err;
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&err, 0, sizeof err);
        if (rh_redirect_parse(bad[i], strlen(bad[i]), &r, &err) != RHAI_EPROTO)
            fail_msg("\"%s\" was not refused", bad[i]);
        assert_int_equal(err.code, RHAI_EPROTO);
        assert_non_null(strstr(err.msg, "redirect"));
    }
}

/* CLUSTER SHARDS of Redis 7.0 (RESP2): two shards, the second master
 * failed over: its old master is still listed as a failed master. */
static const char SHARDS[] =
    "*2\r\n"
    "*4\r\n$5\r\nslots\r\n*4\r\n:0\r\n:5460\r\n:10923\r\n:10923\r\n"
    "$5\r\nnodes\r\n*2\r\n"
    "*14\r\n$2\r\nid\r\n$2\r\naa\r\n$4\r\nport\r\n:7000\r\n$8\r\ntls-port\r\n:8000\r\n"
    "$2\r\nip\r\n$9\r\n127.0.0.1\r\n$8\r\nendpoint\r\n$9\r\n127.0.0.1\r\n"
    "$4\r\nrole\r\n$6\r\nmaster\r\n$6\r\nhealth\r\n$6\r\nonline\r\n"
    "*12\r\n$2\r\nid\r\n$2\r\nbb\r\n$4\r\nport\r\n:7003\r\n"
    "$2\r\nip\r\n$9\r\n127.0.0.1\r\n$8\r\nendpoint\r\n$1\r\n?\r\n"
    "$4\r\nrole\r\n$7\r\nreplica\r\n$6\r\nhealth\r\n$7\r\nloading\r\n"
    "*4\r\n$5\r\nslots\r\n*2\r\n:5461\r\n:10922\r\n"
    "$5\r\nnodes\r\n*2\r\n"
    "*10\r\n$4\r\nport\r\n:7001\r\n$2\r\nip\r\n$0\r\n\r\n$8\r\nendpoint\r\n$0\r\n\r\n"
    "$4\r\nrole\r\n$6\r\nmaster\r\n$6\r\nhealth\r\n$4\r\nfail\r\n"
    "*10\r\n$4\r\nport\r\n:7004\r\n$2\r\nip\r\n$9\r\n127.0.0.2\r\n$8\r\nendpoint\r\n"
    "$9\r\n127.0.0.2\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$6\r\nhealth\r\n$6\r\nonline\r\n";

static void test_slot_map_from_shards_takes_the_online_master(void **state)
{
    redisReply *r = resp(SHARDS);
    rh_slot_map *m = rh_malloc(sizeof *m);
    (void)state;
    rh_slot_map_init(m);
    assert_int_equal(rh_slot_map_from_shards(m, r, "10.0.0.9", 0, NULL), 0);
    assert_true(rh_slot_map_check(m));
    assert_int_equal(m->nnodes, 4);
    assert_int_equal(rh_slot_map_covered(m), 5461 + 1 + 5462);
    assert_string_equal(m->nodes[m->owner[0]].host, "127.0.0.1");
    assert_int_equal(m->nodes[m->owner[0]].port, 7000);
    assert_int_equal(m->owner[10923], m->owner[0]);
    assert_int_equal(m->owner[10922 + 2], -1);
    /* "?" endpoint: the ip; empty endpoint and ip: the host asked */
    assert_true(rh_slot_map_find(m, "127.0.0.1", 7003) >= 0);
    assert_true(rh_slot_map_find(m, "10.0.0.9", 7001) >= 0);
    /* shard 2: the failed master loses to the online one */
    assert_string_equal(m->nodes[m->owner[6000]].host, "127.0.0.2");
    assert_int_equal(m->nodes[m->owner[6000]].port, 7004);
    /* over TLS the tls-port is the address */
    assert_int_equal(rh_slot_map_from_shards(m, r, "h", 1, NULL), 0);
    assert_int_equal(m->nodes[m->owner[0]].port, 8000);
    rh_slot_map_clear(m);
    rh_free(m);
    freeReplyObject(r);
}

static void test_slot_map_from_slots_takes_the_first_node_as_master(void **state)
{
    redisReply *r = resp("*2\r\n"
                         "*4\r\n:0\r\n:8191\r\n*3\r\n$9\r\n127.0.0.1\r\n:7000\r\n$2\r\naa\r\n"
                         "*2\r\n$9\r\n127.0.0.1\r\n:7003\r\n"
                         "*3\r\n:8192\r\n:16383\r\n*2\r\n$0\r\n\r\n:7001\r\n");
    rh_slot_map *m = rh_malloc(sizeof *m);
    (void)state;
    rh_slot_map_init(m);
    assert_int_equal(rh_slot_map_from_slots(m, r, "seed", NULL), 0);
    assert_true(rh_slot_map_check(m));
    assert_int_equal(m->nnodes, 3);
    assert_int_equal(rh_slot_map_covered(m), 16384);
    assert_int_equal(m->nodes[m->owner[8191]].port, 7000);
    assert_false(m->nodes[rh_slot_map_find(m, "127.0.0.1", 7003)].master);
    assert_string_equal(m->nodes[m->owner[8192]].host, "seed");
    rh_slot_map_clear(m);
    rh_free(m);
    freeReplyObject(r);
}

static void test_slot_map_refuses_replies_of_another_shape(void **state)
{
    static const char *bad_shards[] = {
        "$2\r\nno\r\n",
        "*1\r\n:1\r\n",
        "*1\r\n*3\r\n$5\r\nslots\r\n*0\r\n$5\r\nnodes\r\n",
        "*1\r\n*4\r\n$5\r\nslots\r\n*2\r\n:0\r\n:16384\r\n$5\r\nnodes\r\n*1\r\n"
        "*6\r\n$4\r\nport\r\n:1\r\n$2\r\nip\r\n$1\r\nh\r\n$4\r\nrole\r\n$6\r\nmaster\r\n",
        "*1\r\n*4\r\n$5\r\nslots\r\n*2\r\n:0\r\n:1\r\n$5\r\nnodes\r\n*1\r\n"
        "*6\r\n$4\r\nport\r\n:1\r\n$2\r\nip\r\n$1\r\nh\r\n$4\r\nrole\r\n$7\r\nreplica\r\n",
        "*1\r\n*4\r\n$5\r\nslots\r\n*2\r\n:0\r\n:1\r\n$5\r\nnodes\r\n*1\r\n"
        "*6\r\n$4\r\nport\r\n:0\r\n$2\r\nip\r\n$1\r\nh\r\n$4\r\nrole\r\n$6\r\nmaster\r\n",
    };
    static const char *bad_slots[] = {
        ":1\r\n",
        "*1\r\n*2\r\n:0\r\n:1\r\n",
        "*1\r\n*3\r\n:5\r\n:1\r\n*2\r\n$1\r\nh\r\n:1\r\n",
        "*1\r\n*3\r\n:0\r\n:1\r\n*1\r\n$1\r\nh\r\n",
        "*1\r\n*3\r\n:0\r\n:1\r\n*2\r\n$1\r\nh\r\n:70000\r\n",
    };
    rh_slot_map *m = rh_malloc(sizeof *m);
    rhai_error err;
    (void)state;
    rh_slot_map_init(m);
    for (size_t i = 0; i < sizeof bad_shards / sizeof bad_shards[0]; i++) {
        redisReply *r = resp(bad_shards[i]);
        memset(&err, 0, sizeof err);
        if (rh_slot_map_from_shards(m, r, "h", 0, &err) != RHAI_EPROTO)
            fail_msg("shards reply %zu was not refused", i);
        assert_non_null(strstr(err.msg, "CLUSTER SHARDS") ? err.msg : strstr(err.msg, "map"));
        assert_int_equal(m->nnodes, 0);
        assert_int_equal(rh_slot_map_covered(m), 0);
        freeReplyObject(r);
    }
    for (size_t i = 0; i < sizeof bad_slots / sizeof bad_slots[0]; i++) {
        redisReply *r = resp(bad_slots[i]);
        if (rh_slot_map_from_slots(m, r, "h", &err) != RHAI_EPROTO)
            fail_msg("slots reply %zu was not refused", i);
        assert_int_equal(m->nnodes, 0);
        freeReplyObject(r);
    }
    rh_free(m);
}

static void test_slot_map_single_gives_every_slot_to_one_node(void **state)
{
    rh_slot_map *m = rh_malloc(sizeof *m);
    (void)state;
    rh_slot_map_init(m);
    assert_int_equal(rh_slot_map_single(m, "localhost", 6379, NULL), 0);
    assert_true(rh_slot_map_check(m));
    assert_int_equal(rh_slot_map_covered(m), 16384);
    assert_int_equal(m->single, 1);
    assert_int_equal(rh_slot_map_single(m, "", 6379, NULL), RHAI_EINVAL);
    assert_int_equal(m->nnodes, 0);
    rh_slot_map_clear(m);
    rh_free(m);
}

static void test_slot_map_set_owner_believes_a_moved_redirect(void **state)
{
    rh_slot_map *m = rh_malloc(sizeof *m);
    redisReply *r = resp(SHARDS);
    (void)state;
    rh_slot_map_init(m);
    assert_int_equal(rh_slot_map_from_shards(m, r, "h", 0, NULL), 0);
    /* a node the map does not know yet becomes a master with the slot */
    assert_int_equal(rh_slot_map_set_owner(m, 100, "10.1.1.1", 7100, NULL), 0);
    assert_true(rh_slot_map_check(m));
    assert_string_equal(m->nodes[m->owner[100]].host, "10.1.1.1");
    assert_int_equal(m->owner[101], m->owner[0]);     /* the others unchanged */
    /* a known replica is promoted */
    assert_int_equal(rh_slot_map_set_owner(m, 101, "127.0.0.1", 7003, NULL), 0);
    assert_true(m->nodes[m->owner[101]].master);
    assert_true(rh_slot_map_check(m));
    assert_int_equal(rh_slot_map_set_owner(m, 16384, "h", 1, NULL), RHAI_EINVAL);
    assert_int_equal(rh_slot_map_set_owner(m, 1, "h", 0, NULL), RHAI_EINVAL);
    rh_slot_map_clear(m);
    rh_free(m);
    freeReplyObject(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc16_matches_the_xmodem_check_value),
        cmocka_unit_test(test_keyslot_matches_redis_for_plain_and_tagged_keys),
        cmocka_unit_test(test_keyslot_is_binary_safe),
        cmocka_unit_test(test_redirect_parse_reads_moved_and_ask),
        cmocka_unit_test(test_redirect_parse_leaves_other_errors_alone),
        cmocka_unit_test(test_redirect_parse_refuses_malformed_redirects),
        cmocka_unit_test(test_slot_map_from_shards_takes_the_online_master),
        cmocka_unit_test(test_slot_map_from_slots_takes_the_first_node_as_master),
        cmocka_unit_test(test_slot_map_refuses_replies_of_another_shape),
        cmocka_unit_test(test_slot_map_single_gives_every_slot_to_one_node),
        cmocka_unit_test(test_slot_map_set_owner_believes_a_moved_redirect),
    };
    return cmocka_run_group_tests_name("rcluster", tests, NULL, NULL);
}
