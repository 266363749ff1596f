/* executor_main.c -- rhai-executor: one executor process, started by
 * rhaid's pool (never by hand). See executor_entry.c. */
#include "executor_entry.h"

int main(int argc, char **argv)
{
    return wk_executor_entry(argc, argv);
}
