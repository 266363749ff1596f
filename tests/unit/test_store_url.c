/* test_store_url.c -- which backend a store URL names, and that a
 * password in it never reaches a message (store.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "store/store.h"

static const store_schema schema = { NULL, 0, "t" };

static void masked(const char *url, const char *want)
{
    char buf[512];

    store_url_mask(url, buf, sizeof buf);
    assert_string_equal(buf, want);
    assert_null(strstr(buf, "s3cret"));
}

static void test_a_password_in_a_url_or_conninfo_is_masked(void **state)
{
    char small[12];

    (void)state;
    masked("postgres://rhai:s3cret@db.example:5432/rhai", "postgres://rhai:***@db.example:5432/rhai");
    masked("postgresql://rhai:s3cret@db/rhai?sslmode=require&password=s3cret",
           "postgresql://rhai:***@db/rhai?sslmode=require&password=***");
    masked("postgres://rhai@db/rhai?password=s3cret", "postgres://rhai@db/rhai?password=***");
    masked("postgres://rhai@db/rhai", "postgres://rhai@db/rhai");
    masked("postgres://u:p@ss:s3cret@db/x", "postgres://u:***@db/x");
    masked("host=db dbname=rhai password=s3cret user=rhai",
           "host=db dbname=rhai password=*** user=rhai");
    masked("host=db password = 's3cret with \\' quote' user=rhai",
           "host=db password=*** user=rhai");
    masked("sqlite:///var/lib/rhaid", "sqlite:///var/lib/rhaid");
    masked("/var/lib/rhaid", "/var/lib/rhaid");
    store_url_mask("postgres://rhai:s3cret@db/rhai", small, sizeof small);
    assert_int_equal(strlen(small), sizeof small - 1);   /* cut, terminated */
    store_url_mask(NULL, small, sizeof small);
    assert_string_equal(small, "");
}

static void test_a_url_names_its_backend(void **state)
{
    rhai_error err;
    store *s;

    (void)state;
    assert_true(store_url_is_postgres("postgres://h/db"));
    assert_true(store_url_is_postgres("postgresql://h/db"));
    assert_true(store_url_is_postgres("host=/tmp dbname=x"));
    assert_true(store_url_is_postgres("  dbname = x"));
    assert_false(store_url_is_postgres("sqlite:///var/lib/rhaid"));
    assert_false(store_url_is_postgres("/var/lib/rhaid"));
    assert_false(store_url_is_postgres("./data=1"));
    assert_false(store_url_is_postgres(NULL));

    assert_int_equal(store_new("sqlite:///tmp/rhai-url-test", &schema, &s, &err), 0);
    assert_string_equal(store_backend_name(s), "sqlite");
    assert_string_equal(store_where(s), "sqlite:///tmp/rhai-url-test");
    store_free(s);
    assert_int_equal(store_new("/tmp/rhai-url-test", &schema, &s, &err), 0);
    assert_string_equal(store_backend_name(s), "sqlite");
    store_free(s);
    assert_int_equal(store_new("", &schema, &s, &err), RHAI_EINVAL);
    assert_null(s);
    assert_int_equal(store_new(NULL, &schema, &s, &err), RHAI_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_password_in_a_url_or_conninfo_is_masked),
        cmocka_unit_test(test_a_url_names_its_backend),
    };
    return cmocka_run_group_tests_name("store_url", tests, NULL, NULL);
}
