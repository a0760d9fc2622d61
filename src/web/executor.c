/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * executor.c -- running a handler's slow part off the loop, on libuv's thread
 * pool (uv_queue_work), and answering from the loop when it is done.
 *
 * Invariant: the request stays suspended (its connection parses nothing more)
 * from web_executor_run() until the done callback has answered.
 */
#include <stdlib.h>

#include "web/internal.h"

struct executor_job {
    uv_work_t work;
    struct web_ctx *ctx;
    web_work_fn work_fn;
    web_done_fn done_fn;
    void *data;
};

static void on_work(uv_work_t *req)
{
    struct executor_job *job = pt_container_of(req, struct executor_job, work);
    job->work_fn(job->data);
}

static void on_after_work(uv_work_t *req, int status)
{
    struct executor_job *job = pt_container_of(req, struct executor_job, work);
    struct web_ctx *ctx = job->ctx;
    int rc;
    if (status == UV_ECANCELED)
        rc = web_error(ctx, 503, "unavailable", "the server is shutting down");
    else
        rc = job->done_fn(ctx, job->data);
    free(job);
    web__ctx_finish(ctx, rc);
}

int web_executor_run(struct web_ctx *ctx, web_work_fn work, web_done_fn done, void *data)
{
    struct executor_job *job = pt_xcalloc(1, sizeof(*job));
    job->ctx = ctx;
    job->work_fn = work;
    job->done_fn = done;
    job->data = data;
    int rc = uv_queue_work(http_request_loop(ctx->req), &job->work, on_work, on_after_work);
    if (rc < 0) {
        free(job);
        return web_error(ctx, 503, "unavailable", "the work queue is not available");
    }
    return WEB_SUSPENDED;
}
