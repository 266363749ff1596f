/* series.c -- overview series (not yet). */
#include "web.h"

int web_series_start(void)
{
    return 0;
}

void web_series_stop(void)
{
}

json_t *web_series_json(void)
{
    return json_pack("{s:[], s:[], s:[], s:[], s:[]}", "t", "done", "failed", "p50_ms", "p99_ms");
}
