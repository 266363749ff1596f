/* engine_int.h -- helpers shared by the files of src/engine, not exported.
 *
 * engine.c runs scripts, message.c encodes the executor messages,
 * executor.c and isolated.c move those messages over pipes. What more than
 * one of them needs (blocking pipe I/O, process hardening, UTF-8 repair
 * and validation, limit defaults) lives here under the eng__ prefix. */
#ifndef ENG_ENGINE_INT_H
#define ENG_ENGINE_INT_H

#include <stddef.h>
#include <sys/types.h>

#include "engine.h"

/* The chunk name mujs puts in syntax errors and stack traces
 * ("script:3: ...", "\n\tat script:3"); eng_run looks for it. */
#define ENG_CHUNK_NAME "script"

/* A limit of 0 means "the default": a zeroed eng_limits is safe. */
void eng__limits_resolve(const eng_limits *in, eng_limits *out);

/* utf8.c: replace every byte that is not part of a well-formed UTF-8 sequence by
 * '?', in place, so that the string can go into a JSON document (jansson
 * refuses invalid UTF-8). mujs stores lone surrogates as 3-byte sequences
 * and U+0000 as C0 80, both of which are invalid UTF-8. NULL is a no-op. */
void eng__utf8_repair(char *s);

/* utf8.c: 1 when the n bytes at s are well-formed UTF-8 (RFC 3629: no
 * overlongs, no surrogates, nothing above U+10FFFF), else 0. NUL bytes
 * are valid UTF-8: callers that refuse them check for them. */
int eng__utf8_valid(const char *s, size_t n);

/* Write all 'n' bytes to 'fd', retrying on EINTR and partial writes.
 * 0, or RHAI_EIO with errno set. Blocking; for the executor side only. */
int eng__write_all(int fd, const void *p, size_t n);

/* Read whatever is available (blocking) from 'fd' and append it to 'b'.
 * Returns the byte count, 0 on EOF, RHAI_EIO or RHAI_ENOMEM. Retries EINTR. */
ssize_t eng__read_some(int fd, rh_buf *b);

/* Hardening common to every process that runs scripts: no core dumps,
 * no new privileges through exec. Best effort: failures are ignored
 * because neither is needed for correctness. */
void eng__harden_process(void);

/* ---- arena.c: the js heap ------------------------------------------------
 * A fixed mapping that a state is built in, so that a byte copy of it is
 * the whole state: see arena.c. Not thread-safe (one state at a time). */
typedef struct eng_arena eng_arena;

/* Map 'size' bytes (reserved, touched on use). NULL when mmap fails. */
eng_arena *eng__arena_new(size_t size);
void eng__arena_free(eng_arena *a);
/* The js_Alloc: actx is the arena. Refuses (NULL, and refused set) past
 * the limit while armed, or when the mapping is full. */
void *eng__arena_alloc(void *actx, void *ptr, int size);
void eng__arena_arm(eng_arena *a, size_t limit);
void eng__arena_disarm(eng_arena *a);
int eng__arena_refused(const eng_arena *a);
size_t eng__arena_used(const eng_arena *a);
/* Bytes mujs asked for in the block at ptr (a payload of this arena). */
size_t eng__arena_block_size(const void *ptr);
/* Pace mujs's collector by bytes: 'count' and 'thresh' are its allocation
 * counter and threshold inside the state (engine.c finds them). */
void eng__arena_gc_watch(eng_arena *a, unsigned *count, unsigned *thresh);
/* Copy the arena as it is now (0 or RHAI_ENOMEM); restore copies it back,
 * allocator state included, and trims pages touched past the copy. */
int eng__arena_snapshot(eng_arena *a);
void eng__arena_restore(eng_arena *a);

/* 1 when the library state's collector is paced by bytes (arena.c). */
int eng__gc_paced(void);
/* gcpace.c: find mujs's allocation counter and threshold in J (a state
 * built in arena a) and hand them to eng__arena_gc_watch. 0, or -1 when
 * they cannot be found for sure (pacing stays off). Collects twice. */
struct js_State;
int eng__gc_find(struct js_State *J, eng_arena *a);

/* Encode one result as a frame onto 'b'. When the result itself cannot be
 * encoded, an error result for the same id is encoded instead: kind
 * 'memory' when it is too big for a frame, 'internal' otherwise (a string
 * that is not UTF-8); without the id when the id is what cannot be
 * encoded. 0 or RHAI_ENOMEM. */
int eng__frame_result(rh_buf *b, const char *id, const eng_output *o);

/* The id of a task payload that eng_msg_decode_task refused, so that the
 * executor can tell the parent which task was invalid: a new copy (rh_free)
 * of the first id field, when the kind and version bytes are right and
 * every field header up to and including that field is whole, and its value
 * is UTF-8 without NUL bytes. NULL otherwise, or out of memory. */
char *eng__msg_task_id(const char *payload, size_t len);

/* ---- shared by engine.c and session.c ------------------------------------ */

/* The hooks eng_set_hooks installed (borrowed; members may be NULL). */
const eng_hooks *eng__hooks(void);
/* Describe the thrown value on top of J's stack into buf, as every task
 * error reads ("TypeError: x is undefined (line 3)"), and pick its kind.
 * May throw: call under a js_try. */
rh_error_kind eng__error_describe(struct js_State *J, char *buf, size_t n);
/* 1 when JSON.stringify text 's' is JSON that jansson can read. */
int eng__result_readable(const char *s);
/* Append n bytes of print() output to logs, at most max in all: past it
 * (cut at a UTF-8 boundary), or when memory runs out (*oom set), a
 * "[truncated]" line ends the logs, *cut_flag is set and later output is
 * dropped. eng_run's tasks and eng_session's runs share it. */
void eng__logs_add(rh_buf *logs, size_t max, int *cut_flag, int *oom, const char *s,
                   size_t n);
/* print(a, b, ...) of the script on J into logs (as eng__logs_add; NULL:
 * the arguments are still converted, their text dropped). */
void eng__print(struct js_State *J, rh_buf *logs, size_t max, int *cut_flag, int *oom);
/* A report of mujs (a parser warning, "script:1: warning: MSG") as a log
 * line "warning: script:1: MSG" (as eng__logs_add). */
void eng__report(rh_buf *logs, size_t max, int *cut_flag, int *oom, const char *msg);

#endif
