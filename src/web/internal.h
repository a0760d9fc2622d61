/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * internal.h -- what only the web layer's own files share: the application
 * structure, the static-asset table, per-client accounting, the executor's
 * queues and the stream objects.
 */
#ifndef PT_WEB_INTERNAL_H
#define PT_WEB_INTERNAL_H

#include "http/ws.h"
#include "web/web.h"

#define WEB_CLIENT_BUCKETS 1024

struct web_handler_box {
    web_handler_fn fn;
    struct web_handler_box *next; /* all boxes, freed with the app */
};

struct web_static_file {
    const char *path;         /* relative to web/, e.g. "js/app.js" */
    const unsigned char *data;
    size_t len;
    const unsigned char *gz;  /* gzip copy, or NULL */
    size_t gz_len;
    const char *mime;
    char etag[24];            /* "\"<16 hex digits>\"" */
    char etag_gz[28];         /* the gzip copy's: "\"<16 hex digits>-gz\"" */
};

/*
 * Pure parts of static.c, fuzzed by tests/fuzz/static_names: whether an
 * Accept-Encoding value admits gzip, and a /static/ name without a leading
 * "<12 hex digits>/" build id (*versioned: it was today's). Both read only
 * within their slices.
 */
bool web__accepts_gzip(struct pt_str accept_encoding);
struct pt_str web__strip_build_id(struct pt_str name, bool *versioned);

struct executor_job;

/* One client (see web_client_id): what it holds. Freed when it holds nothing. */
struct web_client {
    struct web_client *next;      /* bucket chain */
    uint64_t id;
    size_t streams;               /* live streams open */
    size_t jobs;                  /* executor jobs queued or running */
    struct executor_job *queue;   /* its jobs waiting for a thread, FIFO */
    struct executor_job *queue_last;
    struct web_client *ring_prev; /* in the executor's round-robin ring while queue != NULL */
    struct web_client *ring_next;
};

struct web_cleanup {
    void (*fn)(void *data);
    void *data;
    struct web_cleanup *next;     /* the one registered before */
};

/* Answer buffers kept for reuse, and the largest kept (bigger ones are freed). */
#define WEB_SPARE_BODIES 8
#define WEB_SPARE_BODY_MAX (64 * 1024)

struct web_app {
    struct web_app_config cfg;
    struct web_router *router;
    web_middleware_fn *middlewares;
    size_t num_middlewares;
    struct web_handler_box *boxes;
    struct web_static_file *files; /* the embedded asset table with ETags */
    size_t num_files;
    struct web_app_stats stats;
    struct web_client *clients[WEB_CLIENT_BUCKETS];
    struct web_client *ring;       /* clients with queued jobs; the next to start is first */
    struct web_cleanup *cleanups;  /* last registered first */
    /* Answer buffers of finished requests, kept for the next ones (loop thread). */
    struct pt_buf spare_bodies[WEB_SPARE_BODIES];
    size_t num_spare_bodies;
};

/* A Server-Sent Events stream: the framework's side of an http stream. */
struct web_sse {
    struct http_stream *stream;
    struct web_app *app;
    struct web_client *client;
    struct web_sse_handlers handlers;
    void *data;
};

/* A WebSocket: the frame decoder and the closing handshake's state. */
struct web_ws {
    struct http_stream *stream;
    struct web_app *app;
    struct web_client *client;
    struct web_ws_handlers handlers;
    void *data;
    struct http_ws_decoder decoder;
    bool close_sent;
};

void web__static_init(struct web_app *app);
void web__static_deinit(struct web_app *app);

/* Render the result of a suspended handler (an error status) or nothing if it sent. */
void web__ctx_finish(struct web_ctx *ctx, int rc);

/* Release a suspended request whose client has gone away (nothing is sent). */
void web__ctx_abandon(struct web_ctx *ctx);

/* The client entry of an id, created empty if absent. */
struct web_client *web__client_get(struct web_app *app, uint64_t id);

/* Free a client entry that holds nothing (no stream, no job). */
void web__client_release(struct web_app *app, struct web_client *c);

/*
 * Take a stream slot for ctx's client. Returns the client, or NULL after
 * recording a 429 on ctx (and adding Retry-After) when it has its share.
 */
struct web_client *web__stream_slot_take(struct web_ctx *ctx);

/* Give a stream slot back. */
void web__stream_slot_give(struct web_app *app, struct web_client *c);

/* Add the headers of an answer that depends on the session cookie, if it does. */
void web__add_vary_headers(struct web_ctx *ctx);

#endif /* PT_WEB_INTERNAL_H */
