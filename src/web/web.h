/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * web.h -- the web framework on top of the http layer: the application object
 * (routes, middleware chain, session key, static assets), the per-request
 * context handed to handlers, and the helpers handlers use to read input and
 * build answers. Only the framework writes error bodies: handlers return a
 * status after recording the details with web_error().
 *
 * Everything here runs on the loop thread unless a comment says otherwise.
 */
#ifndef PT_WEB_H
#define PT_WEB_H

#include "base/base.h"
#include "http/http.h"
#include "web/form.h"
#include "web/json.h"
#include "web/router.h"
#include "web/session.h"

struct web_app;
struct web_ctx;

/*
 * What a handler or middleware returns (STYLE.md §3): WEB_DONE when the answer
 * has been sent, WEB_SUSPENDED when it will be sent later from a callback,
 * WEB_NEXT for "not mine", or an HTTP error status (400..599) after recording
 * the details with web_error() -- the framework then renders the JSON body.
 */
enum web_result {
    WEB_DONE = 0,
    WEB_NEXT = 1,
    WEB_SUSPENDED = 2,
};

typedef int (*web_handler_fn)(struct web_ctx *ctx);

/* A middleware calls web_next(ctx) to run the rest of the chain, or answers itself. */
typedef int (*web_middleware_fn)(struct web_ctx *ctx);

struct web_error_info {
    const char *code;        /* "invalid_parameter", "not_found", ... */
    const char *message;     /* human sentence (arena) */
    const char *parameter;   /* offending parameter, or NULL */
    bool has_range;
    double min;              /* allowed range of the parameter, when has_range */
    double max;
    const char *unit;        /* unit of the range ("degrees"), or NULL */
    const char *extra_key;   /* one more member, e.g. "known", or NULL */
    struct pt_str extra_json; /* its pre-serialized JSON value */
};

struct web_ctx {
    struct http_request *req;   /* borrowed; gone after the answer */
    struct web_app *app;
    struct pt_arena *arena;     /* the request's arena */
    void *app_data;             /* the application's data (web_app_new) */
    struct web_route_match match;
    int status;                 /* status of the answer, once sent */
    struct pt_buf headers;      /* extra header lines of the answer */
    struct pt_buf body;         /* body of the answer being built */
    struct web_error_info error;
    /* private */
    size_t mw_index;
    bool query_parsed;
    int query_rc;
    struct web_form query;
    bool session_loaded;
    struct pt_str session;      /* decrypted session payload, or empty */
    bool sent;
    uint64_t start_mono_ms;
};

struct web_app_config {
    const char *static_dir;     /* serve /static/ from this directory instead of the embedded copy; NULL = embedded */
    struct web_session_key session_key;
    int64_t session_max_age_s;  /* cookie lifetime */
    bool access_log;
    void *data;                 /* borrowed; handed to handlers as ctx->app_data */
};

/* Create an application. cfg is copied. Never fails (aborts on heap exhaustion). */
struct web_app *web_app_new(const struct web_app_config *cfg);

/* Free the application (routes, static table). NULL does nothing. */
void web_app_free(struct web_app *app);

/*
 * Add a route (see web_router_add for the pattern syntax). Returns 0 or
 * PT_E_INVALID for a bad pattern. Call before serving.
 */
int web_app_route(struct web_app *app, const char *method, const char *pattern, const char *name,
                  web_handler_fn handler);

/* Append a middleware to the chain (runs in order of addition, before routing). */
void web_app_use(struct web_app *app, web_middleware_fn mw);

/* The http layer's request callback: set cfg.on_request to this and cfg.data to the app. */
void web_app_handle(struct http_request *req);

/* Answers sent by the framework with a status in class (1..5 for 1xx..5xx). */
uint64_t web_app_responses(const struct web_app *app, int status_class);

/* The route table, for URL reversal (borrowed). */
const struct web_router *web_app_router(const struct web_app *app);

/* Run the rest of the middleware chain and then the route's handler. */
int web_next(struct web_ctx *ctx);

/* Built-in middlewares. */
int web_mw_access_log(struct web_ctx *ctx);
int web_mw_static(struct web_ctx *ctx); /* serves GET/HEAD /static/... */

/* ----------------------------------------------------------------- input */

/* A path parameter by name (decoded), or an empty slice with .ptr NULL. */
struct pt_str web_param(const struct web_ctx *ctx, const char *name);

/*
 * The parsed query string (parsed once). Returns 0, or an error status (400)
 * with ctx->error filled for a malformed query. OUT: *out, borrowed.
 */
int web_query(struct web_ctx *ctx, const struct web_form **out);

/*
 * Decode a form-like request body into key/value pairs: urlencoded,
 * multipart/form-data (text fields) or a flat JSON object (numbers and strings
 * kept as text, true/false/null as those words). Returns 0, or an error status
 * (400 malformed, 415 other media types) with ctx->error filled.
 */
int web_body_form(struct web_ctx *ctx, struct web_form *out);

/* A request header by case-insensitive name, or PT_STR_NULL. */
struct pt_str web_header(const struct web_ctx *ctx, const char *name);

/* ---------------------------------------------------------------- session */

/* The decrypted session payload, or an empty slice (no, expired or tampered cookie). */
struct pt_str web_session_get(struct web_ctx *ctx);

/* Replace the session payload: adds a Set-Cookie header to the answer. Returns 0 or PT_E_RANGE. */
int web_session_put(struct web_ctx *ctx, struct pt_str payload);

#define WEB_SESSION_COOKIE "pt_session"

/* ---------------------------------------------------------------- output */

/* Append a header line ("Name: value", without CRLF) to the answer. */
void web_header_add(struct web_ctx *ctx, const char *fmt, ...) PT_PRINTF(2, 3);

/* Send ctx->body with the given status and content type. Returns WEB_DONE. */
int web_send(struct web_ctx *ctx, int status, const char *content_type);

/* Send a borrowed body (not copied into ctx->body first). Returns WEB_DONE. */
int web_send_static(struct web_ctx *ctx, int status, const char *content_type, struct pt_str body);

/* Start a JSON writer over ctx->body. */
void web_json_begin(struct web_ctx *ctx, struct web_json *json);

/* Finish the writer and send it as application/json. Returns WEB_DONE or 500. */
int web_send_json(struct web_ctx *ctx, int status, struct web_json *json);

/*
 * Record an error for the framework to render and return status, so a handler
 * writes `return web_error(ctx, 404, "not_found", "no body named %s", name);`.
 */
int web_error(struct web_ctx *ctx, int status, const char *code, const char *fmt, ...)
    PT_PRINTF(4, 5);

/* As web_error, naming a parameter and its allowed range. */
int web_error_param(struct web_ctx *ctx, int status, const char *parameter, double min,
                    double max, const char *unit, const char *fmt, ...) PT_PRINTF(7, 8);

/*
 * Answer with one of the page's assets by its name relative to web/
 * ("index.html"), with ETag/If-None-Match and Cache-Control. Returns WEB_DONE,
 * or 404 for a name outside the asset set.
 */
int web_static_serve(struct web_ctx *ctx, struct pt_str name);

/* ----------------------------------------------------------- executor */

/* Runs on a worker thread: must not touch the loop, ctx or anything not thread-safe. */
typedef void (*web_work_fn)(void *data);

/* Runs on the loop after the work: answer (WEB_DONE) or return an error status. */
typedef int (*web_done_fn)(struct web_ctx *ctx, void *data);

/*
 * Run work(data) on libuv's thread pool, then done(ctx, data) on the loop.
 * data is owned by the caller (allocate it from ctx->arena: it lives until the
 * answer). Returns WEB_SUSPENDED for the handler to return; or 503 with
 * ctx->error filled if the work could not be queued (then neither runs).
 */
int web_executor_run(struct web_ctx *ctx, web_work_fn work, web_done_fn done, void *data);

/* ---------------------------------------------------------------- SSE */

/*
 * Answer with a Server-Sent Events stream (text/event-stream, no-cache,
 * X-Accel-Buffering: no, chunked). The request is over when this returns:
 * ctx must not be used afterwards except to return its result. Returns
 * WEB_DONE and *out, or a negative error (the connection is then closed).
 */
int web_sse_start(struct web_ctx *ctx, const struct http_stream_handlers *handlers, void *data,
                  struct http_stream **out);

/*
 * Append one event: an optional "event:" line, one "data:" line per line of
 * data, and the blank line. Returns 0 or PT_E_NOMEM.
 */
int web_sse_format(struct pt_buf *out, const char *event, struct pt_str data);

/* MIME type for a file name by extension ("application/octet-stream" if unknown). */
const char *web_mime_type(const char *path);

#endif /* PT_WEB_H */
