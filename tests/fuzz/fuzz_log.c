/* fuzz_log.c -- log lines over arbitrary text: a failed task's message is
 * the script's own, quoted into a key=value field with rh_log_quote and
 * turned into JSON by rh_log_render (log_format = json).
 *
 * Invariants: the quoted text is NUL-terminated inside its buffer, holds
 * no raw '"', newline or control byte, and never ends inside an escape;
 * every rendered JSON line, of the quoted field or of the raw bytes, is
 * one line that parses with jansson as an object with a "msg" string,
 * and a quoted field comes back as the field's value, whole or cut. */
#include "fuzz.h"
#include "common/common.h"

static void check_json(const char *body)
{
    static char line[16384];
    json_error_t jerr;
    json_t *o;
    size_t n = rh_log_render(RH_LOG_FMT_JSON, RH_LOG_INFO, body, line, sizeof line);

    FZ_CHECK(n == strlen(line) && n > 0 && line[n - 1] == '\n');
    FZ_CHECK(strchr(line, '\n') == line + n - 1);
    o = json_loads(line, 0, &jerr);
    FZ_CHECK(o != NULL && json_is_object(o));
    FZ_CHECK(json_is_string(json_object_get(o, "msg")));
    json_decref(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fz_strndup(data, size);
    char q[900], body[1200];
    size_t len;

    rh_log_quote(q, sizeof q, s, 200);
    len = strlen(q);
    FZ_CHECK(len < sizeof q);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)q[i];
        FZ_CHECK(c >= 0x20 && c != 0x7f);
        if (c == '\\') {                 /* an escape is whole */
            FZ_CHECK(i + 1 < len);
            if (q[i + 1] == 'x')
                FZ_CHECK(i + 3 < len);
            i += q[i + 1] == 'x' ? 3 : 1;
        } else {
            FZ_CHECK(c != '"');
        }
    }
    snprintf(body, sizeof body, "event=fz task=t error=\"%s\" tail", q);
    check_json(body);
    check_json(s);                       /* a line written without quoting */
    free(s);
    return 0;
}
