/* test_metrics_http.c -- rhaid's metrics endpoint as HTTP clients other
 * than Prometheus use it: `curl -I`, load balancer probes sending HEAD,
 * a POST by mistake, a path that is not served. Raw requests over a
 * socket, so the status line and headers are seen as sent. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"

/* Send 'req' to 127.0.0.1:port and read the whole response into out. */
static void http_raw(int port, const char *req, char *out, size_t n)
{
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    size_t len = 0;
    ssize_t k;

    assert_true(fd >= 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
    while (len + 1 < n && (k = read(fd, out + len, n - 1 - len)) > 0)
        len += (size_t)k;
    out[len] = '\0';
    close(fd);
}

/* The body of a response: what follows the blank line. */
static const char *body_of(const char *resp)
{
    const char *p = strstr(resp, "\r\n\r\n");
    assert_non_null(p);
    return p + 4;
}

/* HEAD is GET without a body (RFC 9110 9.3.2): `curl -I` and HEAD probes
 * get the status GET would; another method gets 405 with the Allow header
 * a 405 must carry; an unknown path 404. */
static void test_head_is_served_like_get_and_405_names_the_allowed_methods(void **state)
{
    th_redis r;
    char listen[64], resp[1 << 16];
    const char *extra[3] = { "--metrics-listen", listen, NULL };
    int port = th_free_port();
    pid_t pid;
    (void)state;

    assert_int_equal(th_redis_start(&r, 0), 0);
    snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
    pid = th_rhaid_start(&r, "default", 1, extra);
    assert_true(pid > 0);

    http_raw(port, "GET /metrics HTTP/1.0\r\n\r\n", resp, sizeof resp);
    assert_non_null(strstr(resp, " 200 "));
    assert_non_null(strstr(body_of(resp), "rhai_tasks_total"));

    http_raw(port, "HEAD /metrics HTTP/1.0\r\n\r\n", resp, sizeof resp);
    if (strstr(resp, " 200 ") == NULL)
        fail_msg("HEAD /metrics: %s", resp);
    assert_non_null(strcasestr(resp, "Content-Type: text/plain; version=0.0.4"));
    assert_string_equal(body_of(resp), "");

    http_raw(port, "HEAD /readyz HTTP/1.0\r\n\r\n", resp, sizeof resp);
    assert_non_null(strstr(resp, " 200 "));
    assert_string_equal(body_of(resp), "");

    http_raw(port, "POST /metrics HTTP/1.0\r\nContent-Length: 0\r\n\r\n", resp, sizeof resp);
    assert_non_null(strstr(resp, " 405 "));
    if (strcasestr(resp, "\r\nAllow: GET, HEAD\r\n") == NULL)
        fail_msg("405 without Allow: %s", resp);

    http_raw(port, "GET /nope HTTP/1.0\r\n\r\n", resp, sizeof resp);
    assert_non_null(strstr(resp, " 404 "));
    http_raw(port, "HEAD /nope HTTP/1.0\r\n\r\n", resp, sizeof resp);
    assert_non_null(strstr(resp, " 404 "));

    assert_int_equal(WEXITSTATUS(th_stop(pid, 10000)), 0);
    th_redis_stop(&r);
}

/* /healthz is liveness: a Redis outage is not cured by a restart, so it
 * stays 200 while /readyz says 503 "redis unreachable" (it was 503, and a
 * liveness probe would have restarted every instance during an outage). */
static void test_a_redis_outage_fails_readiness_not_liveness(void **state)
{
    th_redis r;
    char listen[64], resp[1 << 16];
    const char *extra[3] = { "--metrics-listen", listen, NULL };
    int port = th_free_port();
    int unready = 0;
    pid_t pid;
    (void)state;

    assert_int_equal(th_redis_start(&r, 0), 0);
    snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
    pid = th_rhaid_start(&r, "default", 1, extra);
    assert_true(pid > 0);
    th_redis_stop(&r);
    for (int i = 0; i < 200 && !unready; i++) {     /* seen at the next tick */
        http_raw(port, "GET /readyz HTTP/1.0\r\n\r\n", resp, sizeof resp);
        unready = strstr(resp, " 503 ") != NULL;
        if (!unready)
            usleep(50 * 1000);
    }
    assert_true(unready);
    assert_non_null(strstr(body_of(resp), "redis unreachable"));
    http_raw(port, "GET /healthz HTTP/1.0\r\n\r\n", resp, sizeof resp);
    if (strstr(resp, " 200 ") == NULL)
        fail_msg("/healthz during a Redis outage: %s", resp);
    assert_string_equal(body_of(resp), "ok\nstore=up backend=sqlite\n");
    assert_int_equal(WEXITSTATUS(th_stop(pid, 10000)), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_head_is_served_like_get_and_405_names_the_allowed_methods),
        cmocka_unit_test(test_a_redis_outage_fails_readiness_not_liveness),
    };
    return cmocka_run_group_tests_name("metrics_http", tests, NULL, NULL);
}
