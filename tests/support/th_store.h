/* th_store.h -- the store a test runs on: the same test binary runs on
 * sqlite (the default) and on postgres (ctest's NAME_pg variants, run by
 * tools/with-postgres.sh with RHAI_TEST_BACKEND=postgres and
 * RHAI_TEST_PG_URL naming a throwaway server). */
#ifndef TH_STORE_H
#define TH_STORE_H

#include <stddef.h>

/* 1 when this run is on postgres (RHAI_TEST_BACKEND=postgres). */
int th_store_is_pg(void);

/* A fresh, empty store location into url (n bytes): on sqlite 'dir'
 * itself; on postgres a new database on RHAI_TEST_PG_URL's server, as a
 * libpq conninfo. 0, or -1 with a message on stderr (the test fails). */
int th_store_url(const char *dir, char *url, size_t n);

/* Drop what th_store_url made on postgres (nothing on sqlite). */
void th_store_done(const char *url);

/* Skip (cmocka skip()) the calling test unless it runs on sqlite: for the
 * tests about SQLite files themselves. */
#define TH_SQLITE_ONLY() do { if (th_store_is_pg()) { skip(); } } while (0)

#endif
