/* fuzz_schema.c -- the DSL schema checker (dsl_schema_check) over an
 * arbitrary schema document: what `rhaictl dsl validate FILE` and the
 * build-time generator read.
 *
 * Input: [selector] then the document's JSON text. The built-in schemas
 * (dsl/schema/<domain>.json, loaded once) are checked together with the
 * input, which replaces the domain the selector names (0..7) or is added
 * as one more (8..255), as rhaictl checks one file against the others.
 * Invariants: the built-in set alone passes; any input gives 0 or -1 with
 * a message, never a crash; and the checker does not modify the
 * documents it is given. */
#include "fuzz.h"
#include "dsl/dsl_schema.h"

#ifndef FZ_SCHEMA_DIR
#error "FZ_SCHEMA_DIR: the dsl/schema directory"
#endif

static const char *const domains[] = {
    "business", "finance", "content", "workflow", "calendar", "contacts", "circle", "access",
};
#define NDOMAINS (sizeof domains / sizeof domains[0])
static json_t *builtin[NDOMAINS];

static void load_builtin(void)
{
    char err[512];
    for (size_t i = 0; i < NDOMAINS; i++) {
        char path[1024];
        json_error_t jerr;
        snprintf(path, sizeof path, "%s/%s.json", FZ_SCHEMA_DIR, domains[i]);
        builtin[i] = json_load_file(path, 0, &jerr);
        if (builtin[i] == NULL)
            fprintf(stderr, "fuzz_schema: %s: %s\n", path, jerr.text);
        FZ_CHECK(builtin[i] != NULL);
    }
    FZ_CHECK(dsl_schema_check(builtin, NDOMAINS, err, sizeof err) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_in in = { data, size };
    unsigned sel = fz_byte(&in);
    json_t *doc, *docs[NDOMAINS + 1], *copy;
    size_t n = NDOMAINS;
    char err[512];
    int rc;

    if (builtin[0] == NULL)
        load_builtin();
    doc = json_loadb((const char *)in.p, in.n, 0, NULL);
    if (doc == NULL)
        return 0;                       /* rhaictl refuses non-JSON before checking */
    memcpy(docs, builtin, sizeof builtin);
    if (sel < NDOMAINS)
        docs[sel] = doc;
    else
        docs[n++] = doc;
    copy = json_deep_copy(doc);
    FZ_CHECK(copy != NULL);
    err[0] = '\0';
    rc = dsl_schema_check(docs, n, err, sizeof err);
    FZ_CHECK(rc == 0 || rc == -1);
    FZ_CHECK(rc == 0 || err[0] != '\0');
    FZ_CHECK(json_equal(copy, doc));
    json_decref(copy);
    json_decref(doc);
    return 0;
}
