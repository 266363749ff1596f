/* api_write.c -- the write endpoints (not yet: 501). */
#include "web.h"

void web_api_queue_pause(web_req *rq, web_resp *rs)
{
    (void)rq;
    web_error(rs, 501, "not implemented yet");
}

void web_api_queue_resume(web_req *rq, web_resp *rs)
{
    (void)rq;
    web_error(rs, 501, "not implemented yet");
}

void web_api_queue_purge(web_req *rq, web_resp *rs)
{
    (void)rq;
    web_error(rs, 501, "not implemented yet");
}

void web_api_task_cancel(web_req *rq, web_resp *rs)
{
    (void)rq;
    web_error(rs, 501, "not implemented yet");
}

void web_api_task_retry(web_req *rq, web_resp *rs)
{
    (void)rq;
    web_error(rs, 501, "not implemented yet");
}

void web_api_dead_retry(web_req *rq, web_resp *rs)
{
    (void)rq;
    web_error(rs, 501, "not implemented yet");
}

void web_api_dead_delete(web_req *rq, web_resp *rs)
{
    (void)rq;
    web_error(rs, 501, "not implemented yet");
}

void web_api_schedule_action(web_req *rq, web_resp *rs)
{
    (void)rq;
    web_error(rs, 501, "not implemented yet");
}

void web_api_grant(web_req *rq, web_resp *rs)
{
    (void)rq;
    web_error(rs, 501, "not implemented yet");
}

void web_api_revoke(web_req *rq, web_resp *rs)
{
    (void)rq;
    web_error(rs, 501, "not implemented yet");
}

void web_api_run(web_req *rq, web_resp *rs)
{
    (void)rq;
    web_error(rs, 501, "not implemented yet");
}

