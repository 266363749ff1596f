/* repl_carry.c -- how remote mode keeps state between entries.
 *
 * A worker runs every task in a fresh state, so nothing of entry 1 is
 * there for entry 2. Re-sending earlier entries would run their effects
 * again; instead the REPL carries what can be carried without running
 * anything twice: the source of top-level function declarations (found
 * by repl_scan.c) and a snapshot of the JSON-serialisable globals, taken
 * by the entry's own task after the entry ran and answered with its
 * value. The next entry's script defines those first, then runs. A
 * function that closes over something that is not a global (a closure
 * made by an IIFE, a function stored in a variable) is not carried.
 * (mujs makes a top-level `var` non-enumerable: the globals are found with
 * Object.getOwnPropertyNames, not for-in.) */
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "repl.h"

#define REPL_FNS_MAX 256        /* declarations found in one entry */
/* Append a string literal to an rh_buf. */
#define BUF_LIT(b, lit) rh_buf_append((b), (lit), sizeof(lit) - 1)

void ctl_repl_carry_free(ctl_repl_carry *c)
{
    for (size_t i = 0; i < c->nfns; i++) {
        rh_free(c->fns[i].name);
        rh_free(c->fns[i].src);
    }
    rh_free(c->fns);
    json_decref(c->globals);
    memset(c, 0, sizeof *c);
}

/* Set name's source (replacing an earlier one). 0 / -1. */
static int carry_set(ctl_repl_carry *c, const char *name, const char *src, size_t n)
{
    char *copy = rh_strndup(src, n);
    ctl_repl_fn *fns;

    if (copy == NULL)
        return -1;
    for (size_t i = 0; i < c->nfns; i++)
        if (strcmp(c->fns[i].name, name) == 0) {
            rh_free(c->fns[i].src);
            c->fns[i].src = copy;
            return 0;
        }
    if ((fns = rh_realloc(c->fns, (c->nfns + 1) * sizeof *fns)) == NULL) {
        rh_free(copy);
        return -1;
    }
    c->fns = fns;
    if ((fns[c->nfns].name = rh_strdup(name)) == NULL) {
        rh_free(copy);
        return -1;
    }
    fns[c->nfns++].src = copy;
    return 0;
}

int ctl_repl_carry_functions(ctl_repl_carry *c, const char *src, size_t n)
{
    ctl_repl_decl *d = rh_calloc(REPL_FNS_MAX, sizeof *d);
    size_t k;
    int rc = 0;

    if (d == NULL)
        return -1;
    k = ctl_repl_functions(src, n, d, REPL_FNS_MAX);
    for (size_t i = 0; i < k && rc == 0; i++)
        rc = carry_set(c, d[i].name, src + d[i].start, d[i].end - d[i].start);
    rh_free(d);
    return rc;
}

int ctl_repl_js_string(rh_buf *b, const char *s, size_t n)
{
    int rc = rh_buf_append(b, "\"", 1);

    for (size_t i = 0; i < n && rc == 0; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            rc = rh_buf_appendf(b, "\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            rc = rh_buf_appendf(b, "\\u%04x", c);
        else if (c == 0xe2 && i + 2 < n && (unsigned char)s[i + 1] == 0x80 &&
                 ((unsigned char)s[i + 2] == 0xa8 || (unsigned char)s[i + 2] == 0xa9)) {
            /* U+2028 and U+2029 end a line inside a JavaScript string */
            rc = rh_buf_appendf(b, "\\u%04x", (unsigned char)s[i + 2] == 0xa8 ? 0x2028 : 0x2029);
            i += 2;
        } else {
            rc = rh_buf_append(b, s + i, 1);
        }
    }
    return rc ? rc : rh_buf_append(b, "\"", 1);
}

/* The script's fixed parts. R holds the names the task's globals had
 * before anything of the REPL ran (the engine's, the DSL's), the entry's
 * value, and fix(), which makes an error from eval'd text read as one of
 * the entry: "(eval):N" in mujs's messages and traces becomes
 * "script:N", the engine's own chunk name, so the error says "(line N)"
 * of the entry (or of the carried function it happened in). */
static const char script_head[] =
    "var __rhai_repl = { base: {}, v: undefined };\n"
    "(function (G, R) {\n"
    "  var names = Object.getOwnPropertyNames(G), i;\n"
    "  for (i = 0; i < names.length; i++)\n"
    "    if (G[names[i]] !== undefined) R.base[names[i]] = 1;\n"
    "  R.fix = function (e) {\n"
    "    var m;\n"
    "    if (e === null || typeof e !== 'object') return e;\n"
    "    try {\n"
    "      if (typeof e.message === 'string')\n"
    "        e.message = e.message.replace(/^\\(eval\\):(\\d+):/, 'script:$1:');\n"
    "      if (typeof e.stackTrace === 'string') {\n"
    "        m = /\\(eval\\):(\\d+)/.exec(e.stackTrace);\n"
    "        e.stackTrace = m ? '\\n\\tat script:' + m[1] : '';\n"
    "      }\n"
    "    } catch (x) {}\n"
    "    return e;\n"
    "  };\n"
    "})(this, __rhai_repl);\n";

static const char script_tail[] =
    "(function (G, R) {\n"
    "  var g = {}, names = Object.getOwnPropertyNames(G), i, k, v, t;\n"
    "  for (i = 0; i < names.length; i++) {\n"
    "    k = names[i];\n"
    "    if (R.base[k] || k === '__rhai_repl') continue;\n"
    "    v = G[k];\n"
    "    if (v === undefined || typeof v === 'function') continue;\n"
    "    try { t = JSON.stringify(v); } catch (e) { continue; }\n"
    "    if (typeof t === 'string') g[k] = JSON.parse(t);\n"
    "  }\n"
    "  t = JSON.stringify(R.v);\n"
    "  return [typeof t === 'string' ? t : 'null', g];\n"
    "})(this, __rhai_repl)\n";

char *ctl_repl_remote_script(const ctl_repl_carry *c, const char *entry, size_t n)
{
    rh_buf b;
    int rc;

    rh_buf_init(&b);
    rc = rh_buf_append(&b, script_head, sizeof script_head - 1);
    if (rc == 0 && c->globals && json_object_size(c->globals) > 0) {
        char *g = json_dumps(c->globals, JSON_COMPACT | JSON_ENSURE_ASCII);
        if (g == NULL)
            rc = RHAI_ENOMEM;
        rc = rc ? rc : BUF_LIT(&b, "(function (G, g) { for (var k in g) G[k] = g[k]; })"
                                     "(this, JSON.parse(");
        rc = rc ? rc : ctl_repl_js_string(&b, g, strlen(g));
        rc = rc ? rc : BUF_LIT(&b, "));\n");
        free(g);
    }
    for (size_t i = 0; i < c->nfns && rc == 0; i++) {
        /* A declaration the scanner cut wrong cannot make every later
         * entry fail: it is dropped, and a call names it undefined. */
        rc = BUF_LIT(&b, "try { eval(");
        rc = rc ? rc : ctl_repl_js_string(&b, c->fns[i].src, strlen(c->fns[i].src));
        rc = rc ? rc : BUF_LIT(&b, "); } catch (e) {}\n");
    }
    rc = rc ? rc : BUF_LIT(&b, "try { __rhai_repl.v = eval(");
    rc = rc ? rc : ctl_repl_js_string(&b, entry, n);
    rc = rc ? rc : BUF_LIT(&b, "); } catch (e) { throw __rhai_repl.fix(e); }\n");
    rc = rc ? rc : rh_buf_append(&b, script_tail, sizeof script_tail - 1);
    if (rc != 0) {
        rh_buf_free(&b);
        return NULL;
    }
    return b.data;
}

int ctl_repl_remote_output(ctl_repl_carry *c, const char *output, char **value)
{
    json_t *doc, *v, *g;

    *value = NULL;
    if (output == NULL)
        return -1;
    doc = json_loads(output, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL,
                     NULL);
    if (doc == NULL || !json_is_array(doc) || json_array_size(doc) != 2 ||
        !json_is_string(v = json_array_get(doc, 0)) ||
        !json_is_object(g = json_array_get(doc, 1)) ||
        (*value = rh_strdup(json_string_value(v))) == NULL) {
        json_decref(doc);
        return -1;
    }
    json_decref(c->globals);
    c->globals = json_incref(g);
    json_decref(doc);
    return 0;
}
