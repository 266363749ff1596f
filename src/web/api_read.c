/* api_read.c -- the read endpoints (not yet: 501). */
#include "web.h"

void web_api_overview(web_req *rq, web_resp *rs)
{
    (void)rq;
    web_error(rs, 501, "not implemented yet");
}

void web_api_queues(web_req *rq, web_resp *rs)
{
    (void)rq;
    web_error(rs, 501, "not implemented yet");
}

void web_api_tasks(web_req *rq, web_resp *rs)
{
    (void)rq;
    web_error(rs, 501, "not implemented yet");
}

void web_api_task(web_req *rq, web_resp *rs)
{
    (void)rq;
    web_error(rs, 501, "not implemented yet");
}

void web_api_dead(web_req *rq, web_resp *rs)
{
    (void)rq;
    web_error(rs, 501, "not implemented yet");
}

void web_api_schedules(web_req *rq, web_resp *rs)
{
    (void)rq;
    web_error(rs, 501, "not implemented yet");
}

void web_api_contexts(web_req *rq, web_resp *rs)
{
    (void)rq;
    web_error(rs, 501, "not implemented yet");
}

void web_api_context(web_req *rq, web_resp *rs)
{
    (void)rq;
    web_error(rs, 501, "not implemented yet");
}

void web_api_context_audit(web_req *rq, web_resp *rs)
{
    (void)rq;
    web_error(rs, 501, "not implemented yet");
}

void web_api_dsl(web_req *rq, web_resp *rs)
{
    (void)rq;
    web_error(rs, 501, "not implemented yet");
}

