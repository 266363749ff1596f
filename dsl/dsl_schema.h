/* dsl_schema.h -- schema validation shared by the generator and rhaictl.
 *
 * Kept apart from dsl.h because the build-time generator (dslgen) links
 * jansson only: it cannot pull in the engine or the store. */
#ifndef DSL_SCHEMA_H
#define DSL_SCHEMA_H

#include <stddef.h>
#include <jansson.h>

/* 1 when 's' is [a-z][a-z0-9_]*, at most 40 chars. */
int dsl_ident_valid(const char *s);

/* Validate the schema documents 'docs' (one per domain, as parsed from
 * dsl/schema/<domain>.json) together: names valid and unique (domains, models,
 * structs, fields), types known, refs resolvable and declaring on_delete
 * (restrict or cascade), list element types resolvable,
 * enums/defaults/min/max well formed, no unknown keys. 0, or -1 with the
 * first problem in err[n] ("business.sale.items: list of unknown ..."). */
int dsl_schema_check(json_t *const *docs, size_t ndocs, char *err, size_t n);

#endif
