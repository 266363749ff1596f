/* scripts_dump.c -- write rhaid's per-task Lua scripts (take, start,
 * finish, as compiled into rhai_daemon) to DIR/NAME.lua, for
 * tools/bench/script_lab.py (run by tools/bench-scripts.sh). */
#include <stdio.h>

#include "daemon/daemon.h"

static int put(const char *dir, const char *name, const char *text)
{
    char path[1024];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s.lua", dir, name);
    if ((f = fopen(path, "w")) == NULL || fputs(text, f) == EOF || fclose(f) != 0) {
        perror(path);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    return put(argv[1], "take", wk_lua_take) | put(argv[1], "start", wk_lua_start) |
           put(argv[1], "finish", wk_lua_finish);
}
