/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * executor.c -- running a handler's slow part off the loop, on libuv's thread
 * pool (uv_queue_work), and answering from the loop when it is done.
 *
 * Fairness: jobs wait in one FIFO per client (web_client_id) and are handed to
 * the pool round-robin across clients, at most executor_threads at a time, so
 * a client with many jobs waits behind its own jobs, not in front of everyone
 * else's. Bounds: executor_max_pending jobs in all, executor_max_per_client per
 * client (a connection has at most one: its requests are served in turn).
 *
 * Invariant: the request stays suspended (its connection parses nothing more)
 * from web_executor_run() until the job's answer; the job is freed exactly
 * once, by finish_job(), after which the request is answered or released.
 */
#include <stdlib.h>

#include "web/internal.h"

#define DEFAULT_THREADS 3
#define DEFAULT_MAX_PENDING 256
#define DEFAULT_MAX_PER_CLIENT 8

struct executor_job {
    uv_work_t work;
    struct web_ctx *ctx;
    struct web_client *client;
    web_work_fn work_fn;
    web_done_fn done_fn;
    void *data;
    struct executor_job *next; /* in the client's queue */
    bool running;              /* handed to the thread pool */
    bool aborted;              /* the client went away */
};

static size_t cfg_or(size_t v, size_t dflt)
{
    return v > 0 ? v : dflt;
}

/* ------------------------------------------------------------- the ring */

static void ring_add(struct web_app *app, struct web_client *c)
{
    if (app->ring == NULL) {
        c->ring_prev = c->ring_next = c;
        app->ring = c;
        return;
    }
    /* Just before the first: the last in turn. */
    c->ring_next = app->ring;
    c->ring_prev = app->ring->ring_prev;
    c->ring_prev->ring_next = c;
    app->ring->ring_prev = c;
}

static void ring_remove(struct web_app *app, struct web_client *c)
{
    if (c->ring_next == c) {
        app->ring = NULL;
    } else {
        c->ring_prev->ring_next = c->ring_next;
        c->ring_next->ring_prev = c->ring_prev;
        if (app->ring == c)
            app->ring = c->ring_next;
    }
    c->ring_prev = c->ring_next = NULL;
}

static void enqueue(struct web_app *app, struct executor_job *job)
{
    struct web_client *c = job->client;
    job->next = NULL;
    if (c->queue == NULL) {
        c->queue = c->queue_last = job;
        ring_add(app, c);
    } else {
        c->queue_last->next = job;
        c->queue_last = job;
    }
    app->stats.executor_queued++;
}

/* Take a queued job out of its client's queue (it is there). */
static void dequeue(struct web_app *app, struct executor_job *job)
{
    struct web_client *c = job->client;
    struct executor_job **pp = &c->queue;
    struct executor_job *prev = NULL;
    while (*pp != job) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    *pp = job->next;
    if (c->queue_last == job)
        c->queue_last = prev;
    if (c->queue == NULL)
        ring_remove(app, c);
    app->stats.executor_queued--;
}

/* ------------------------------------------------------------- running */

static void on_work(uv_work_t *req)
{
    struct executor_job *job = pt_container_of(req, struct executor_job, work);
    job->work_fn(job->data);
}

static void pump(struct web_app *app);

/*
 * The job is over: free it, then answer its request with rc, or (abandoned:
 * the client is gone) only release the request.
 */
static void finish_job(struct web_app *app, struct executor_job *job, int rc)
{
    struct web_ctx *ctx = job->ctx;
    bool abandoned = job->aborted;
    job->client->jobs--;
    web__client_release(app, job->client);
    free(job);
    http_request_on_abort(ctx->req, NULL, NULL);
    if (abandoned) {
        app->stats.executor_abandoned++;
        web__ctx_abandon(ctx);
    } else {
        web__ctx_finish(ctx, rc);
    }
}

static void on_after_work(uv_work_t *req, int status)
{
    struct executor_job *job = pt_container_of(req, struct executor_job, work);
    struct web_app *app = job->ctx->app;
    app->stats.executor_running--;
    int rc = 0;
    if (job->aborted) {
        /* nobody reads the answer: done is not called */
    } else if (status == UV_ECANCELED) {
        rc = web_error(job->ctx, 503, "unavailable", "the server is shutting down");
    } else {
        rc = job->done_fn(job->ctx, job->data);
    }
    finish_job(app, job, rc);
    pump(app);
}

/* Hand queued jobs to the pool, one client at a time in turn. */
static void pump(struct web_app *app)
{
    size_t threads = cfg_or(app->cfg.executor_threads, DEFAULT_THREADS);
    while (app->stats.executor_running < threads && app->ring != NULL) {
        struct web_client *c = app->ring;
        struct executor_job *job = c->queue;
        dequeue(app, job);
        if (app->ring == c)
            app->ring = c->ring_next; /* its next job waits for the others' turn */
        uv_loop_t *loop = http_request_loop(job->ctx->req);
        if (uv_queue_work(loop, &job->work, on_work, on_after_work) < 0) {
            finish_job(app, job,
                       web_error(job->ctx, 503, "unavailable", "the work queue is not available"));
            continue;
        }
        job->running = true;
        app->stats.executor_running++;
        app->stats.executor_jobs++;
    }
}

/*
 * The client went away (the http layer's abort callback, from a loop
 * callback): a queued job is dropped now, a running one is cancelled if the
 * pool has not picked it up yet, else its result is ignored.
 */
static void on_abort(struct http_request *req, void *data)
{
    (void)req;
    struct executor_job *job = data;
    struct web_app *app = job->ctx->app;
    job->aborted = true;
    if (!job->running) {
        dequeue(app, job);
        finish_job(app, job, 0);
        return;
    }
    uv_cancel((uv_req_t *)&job->work);
}

int web_executor_run(struct web_ctx *ctx, web_work_fn work, web_done_fn done, void *data)
{
    struct web_app *app = ctx->app;
    size_t pending = app->stats.executor_running + app->stats.executor_queued;
    if (pending >= cfg_or(app->cfg.executor_max_pending, DEFAULT_MAX_PENDING)) {
        app->stats.executor_refused++;
        web_header_add(ctx, "Retry-After: 1");
        return web_error(ctx, 503, "busy",
                         "the server has %zu slow requests in progress; retry shortly", pending);
    }
    struct web_client *c = web__client_get(app, web_client_id(ctx));
    size_t per_client = cfg_or(app->cfg.executor_max_per_client, DEFAULT_MAX_PER_CLIENT);
    if (c->jobs >= per_client) {
        web__client_release(app, c);
        app->stats.executor_refused++;
        web_header_add(ctx, "Retry-After: 1");
        return web_error(ctx, 429, "too_many_requests",
                         "this client already has %zu slow requests in progress (the limit)",
                         per_client);
    }
    struct executor_job *job = pt_xcalloc(1, sizeof(*job));
    job->ctx = ctx;
    job->client = c;
    job->work_fn = work;
    job->done_fn = done;
    job->data = data;
    c->jobs++;
    enqueue(app, job);
    http_request_on_abort(ctx->req, on_abort, job);
    pump(app);
    return WEB_SUSPENDED;
}
