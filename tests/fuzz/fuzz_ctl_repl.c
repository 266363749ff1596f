/* fuzz_ctl_repl.c -- rhaictl repl's scanner (src/ctl/repl_scan.c) over
 * arbitrary bytes (what a user types, or a .load file), and its reading
 * of a remote entry's output (src/ctl/repl_carry.c: the task's output
 * comes back from Redis, written by whatever answered the task).
 *
 * Invariants: every declaration found lies inside the text, starts with
 * "function", ends with '}' and has a name; the JavaScript literal of the
 * text holds no raw line terminator; an output is accepted only as
 * [string, object], and then the globals are that object. */
#include "fuzz.h"
#include "common/common.h"
#include "ctl/repl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    ctl_repl_decl d[16];
    ctl_repl_carry c;
    char *text = fz_strndup(data, size);
    char *value = NULL;
    size_t n;
    rh_buf b;

    (void)ctl_repl_complete(s, size);
    n = ctl_repl_functions(s, size, d, 16);
    FZ_CHECK(n <= 16);
    for (size_t i = 0; i < n; i++) {
        FZ_CHECK(d[i].start < d[i].end && d[i].end <= size);
        FZ_CHECK(d[i].end - d[i].start >= 8 && memcmp(s + d[i].start, "function", 8) == 0);
        FZ_CHECK(s[d[i].end - 1] == '}');
        FZ_CHECK(d[i].name[0] != '\0');
    }
    rh_buf_init(&b);
    if (ctl_repl_js_string(&b, s, size) == 0) {
        FZ_CHECK(b.len >= 2 && b.data[0] == '"' && b.data[b.len - 1] == '"');
        FZ_CHECK(memchr(b.data, '\n', b.len) == NULL && memchr(b.data, '\r', b.len) == NULL);
    }
    rh_buf_free(&b);
    memset(&c, 0, sizeof c);
    if (ctl_repl_remote_output(&c, text, &value) == 0) {
        FZ_CHECK(value != NULL && json_is_object(c.globals));
    } else {
        FZ_CHECK(value == NULL && c.globals == NULL);
    }
    rh_free(value);
    ctl_repl_carry_free(&c);
    free(text);
    return 0;
}
