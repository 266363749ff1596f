/* executor_entry.h -- the executor process's main, shared by rhaid
 * (--executor) and rhai-executor; see executor_entry.c. */
#ifndef WK_EXECUTOR_ENTRY_H
#define WK_EXECUTOR_ENTRY_H

/* argv as the pool passes it (argv[1] is "--executor"); the exit code. */
int wk_executor_entry(int argc, char **argv);

/* The executable the pool starts executors from. */
#define WK_EXECUTOR_NAME "rhai-executor"

#endif
