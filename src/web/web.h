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
    void *local;                /* the application's per-request data (arena), or NULL */
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
    bool session_used;          /* the answer depends on the cookie (Vary: Cookie) */
    bool cache_control_set;     /* the handler chose the answer's Cache-Control */
    struct pt_str session;      /* decrypted session payload, or empty */
    bool sent;
    uint64_t start_mono_ms;
};

struct web_app_config {
    const char *static_dir;     /* serve /static/ from this directory instead of the embedded copy; NULL = embedded */
    struct web_session_key session_key;
    int64_t session_max_age_s;  /* cookie lifetime */
    bool access_log;
    bool cookie_secure;         /* always mark the session cookie Secure */
    bool trust_proxy;           /* the peer is a proxy: believe its X-Forwarded-For (the
                                   client, for per-client limits) and X-Forwarded-Proto /
                                   Forwarded (https: the cookie is Secure) */
    size_t max_streams_per_client; /* live streams (SSE, WebSocket) per client; 0 = 64 */
    size_t executor_threads;    /* executor jobs running at once; 0 = 3 (libuv's pool has 4:
                                   one stays free for the application's own work) */
    size_t executor_max_pending; /* jobs queued or running in total; 0 = 256; beyond: 503 */
    size_t executor_max_per_client; /* jobs queued or running per client; 0 = 8; beyond: 429 */
    void *data;                 /* borrowed; handed to handlers as ctx->app_data */
};

/* Counters of the framework, for /metrics. */
struct web_app_stats {
    uint64_t responses[6];      /* answers sent, by status class (index status / 100) */
    size_t executor_running;    /* jobs on the thread pool now */
    size_t executor_queued;     /* jobs waiting for a thread now */
    uint64_t executor_jobs;     /* jobs run, all time */
    uint64_t executor_refused;  /* jobs refused (503/429), all time */
    uint64_t executor_abandoned; /* jobs whose client went away before the answer */
    size_t streams;             /* live streams open now */
    uint64_t streams_refused;   /* streams refused over max_streams_per_client */
    uint64_t origin_refused;    /* state-changing requests refused for their Origin (403) */
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

/* The framework's counters. OUT: *out. */
void web_app_stats(const struct web_app *app, struct web_app_stats *out);

/*
 * Header lines every answer carries (nosniff, referrer policy), for the http
 * server's default_headers. Borrowed; lives as long as the program.
 */
struct pt_str web_app_default_headers(void);

/*
 * Register fn(data) to run at web_app_cleanup(), in reverse order of
 * registration (what started last stops first). data is borrowed.
 */
void web_app_on_cleanup(struct web_app *app, void (*fn)(void *data), void *data);

/* Run the cleanup hooks, last registered first; each runs once. */
void web_app_cleanup(struct web_app *app);

/* The route table, for URL reversal (borrowed). */
const struct web_router *web_app_router(const struct web_app *app);

/* Run the rest of the middleware chain and then the route's handler. */
int web_next(struct web_ctx *ctx);

/*
 * Finish a request whose handler or middleware returned WEB_SUSPENDED, from a
 * later loop callback: rc is what the handler would have returned (WEB_DONE
 * after sending, or an error status with ctx->error filled). A middleware may
 * also resume the chain first: web_resume(ctx, web_next(ctx)). If the client
 * went away meanwhile, the answer is dropped and the request released.
 */
void web_resume(struct web_ctx *ctx, int rc);

/* Built-in middlewares. */
int web_mw_access_log(struct web_ctx *ctx);
int web_mw_static(struct web_ctx *ctx); /* serves GET/HEAD /static/... */

/*
 * Refuses with 403 a state-changing request (any method but GET, HEAD and
 * OPTIONS, and any WebSocket upgrade) whose Origin is not this server's own
 * (host and port compared with the Host header; the scheme too with
 * trust_proxy), whose Origin is "null", or whose Sec-Fetch-Site is
 * "cross-site". Requests without those headers (scripts, curl) pass.
 */
int web_mw_origin(struct web_ctx *ctx);

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

/* True when the request reached us over HTTPS (known only through a trusted proxy). */
bool web_request_is_https(const struct web_ctx *ctx);

/*
 * The client for per-client limits: the peer address, or with trust_proxy the
 * last address of X-Forwarded-For (the one the proxy saw) when there is one.
 */
uint64_t web_client_id(const struct web_ctx *ctx);

/* ---------------------------------------------------------------- session */

/*
 * The decrypted session payload, or an empty slice (no, expired or tampered
 * cookie). From then on the answer depends on the cookie: the framework marks
 * it "Cache-Control: private" (unless the handler set Cache-Control) and
 * "Vary: Cookie", so no shared cache hands one visitor's answer to another.
 */
struct pt_str web_session_get(struct web_ctx *ctx);

/*
 * Replace the session payload: adds a Set-Cookie header to the answer
 * (HttpOnly, SameSite=Lax, and Secure when the request came over HTTPS or
 * cookie_secure is set). Returns 0 or PT_E_RANGE.
 */
int web_session_put(struct web_ctx *ctx, struct pt_str payload);

#define WEB_SESSION_COOKIE "pt_session"

/* ---------------------------------------------------------------- output */

/* Append a header line ("Name: value", without CRLF) to the answer. */
void web_header_add(struct web_ctx *ctx, const char *fmt, ...) PT_PRINTF(2, 3);

/* Send ctx->body with the given status and content type. Returns WEB_DONE. */
int web_send(struct web_ctx *ctx, int status, const char *content_type);

/* Send a borrowed body (not copied into ctx->body first). Returns WEB_DONE. */
int web_send_static(struct web_ctx *ctx, int status, const char *content_type, struct pt_str body);

/* Whether the request's Accept-Encoding admits gzip (a "gzip" or "*" not weighted q=0). */
bool web_accepts_gzip(const struct web_ctx *ctx);

/* Append in, gzip-compressed (level 6), to out. Returns 0 or PT_E_NOMEM. */
int web_gzip(struct pt_str in, struct pt_buf *out);

/*
 * As web_send_static, with gz (the same body compressed, borrowed likewise; empty:
 * none) to a client that accepts it; Vary: Accept-Encoding either way.
 */
int web_send_maybe_gzip(struct web_ctx *ctx, int status, const char *content_type,
                        struct pt_str body, struct pt_str gz);

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

/*
 * The asset `name` with `insert` put in before the first `marker` (the page
 * with data of this request in it: not cached, compressed on the fly when the
 * client accepts gzip). Without the marker, or with --static-dir: as
 * web_static_serve.
 */
int web_static_serve_with(struct web_ctx *ctx, struct pt_str name, struct pt_str marker,
                          struct pt_str insert);

/* ----------------------------------------------------------- executor */

/* Runs on a worker thread: must not touch the loop, ctx or anything not thread-safe. */
typedef void (*web_work_fn)(void *data);

/* Runs on the loop after the work: answer (WEB_DONE) or return an error status. */
typedef int (*web_done_fn)(struct web_ctx *ctx, void *data);

/*
 * Run work(data) on libuv's thread pool, then done(ctx, data) on the loop.
 * data is owned by the caller (allocate it from ctx->arena: it lives until the
 * answer). Jobs wait in one queue per client and start round-robin across
 * clients, executor_threads at a time, so one client's many jobs delay its
 * own, not everyone's. If the client goes away first, a job that has not
 * started is dropped and one that has is abandoned: done is not called (the
 * answer would not be read) and data is released with the arena.
 *
 * Returns WEB_SUSPENDED for the handler to return; or, with ctx->error filled
 * and a Retry-After header added (then neither function runs): 503 when
 * executor_max_pending jobs are queued or running, 429 when this client has
 * executor_max_per_client of them. (A connection has at most one: requests on
 * a connection are served one at a time.)
 */
int web_executor_run(struct web_ctx *ctx, web_work_fn work, web_done_fn done, void *data);

/* ---------------------------------------------------------------- streams */

/*
 * The handlers of a live stream (SSE or WebSocket). on_close: the stream is
 * gone (client away, stalled reader, closed by either side, server stopped);
 * runs exactly once, from a loop callback of its own, never from within a
 * web_sse_* / web_ws_* call; the stream is freed when it returns. on_shutdown:
 * the server is stopping; send a last message and close (may be NULL: the
 * framework closes with a goodbye of its own: SSE "event: bye", WebSocket 1001).
 */
struct web_sse;
struct web_ws;

struct web_sse_handlers {
    void (*on_close)(struct web_sse *sse);
    void (*on_shutdown)(struct web_sse *sse);
};

/* ---------------------------------------------------------------- SSE */

/*
 * Answer with a Server-Sent Events stream (text/event-stream, no-cache,
 * X-Accel-Buffering: no, chunked). The request is over when this returns:
 * ctx must not be used afterwards except to return its result.
 *
 * Returns WEB_DONE and *out; for a HEAD request, WEB_DONE with *out NULL (the
 * head was sent, no stream); or an error status with ctx->error filled and
 * nothing sent: 429 (with Retry-After) when the client already holds
 * max_streams_per_client streams. A connection that fails meanwhile gives
 * WEB_DONE with *out NULL.
 */
int web_sse_start(struct web_ctx *ctx, const struct web_sse_handlers *handlers, void *data,
                  struct web_sse **out);

/* The data given to web_sse_start (borrowed). */
void *web_sse_data(const struct web_sse *sse);

/*
 * Send one event that must not be dropped (copied): an optional "event:" line,
 * one "data:" line per line of data, the blank line. event NULL: none. Returns
 * 0, or PT_E_NOMEM when the bounded backlog is full (close the stream), or
 * PT_E_CLOSED.
 */
int web_sse_send(struct web_sse *sse, const char *event, struct pt_str data);

/* Send a comment line (": text"), e.g. a keep-alive. Same returns. */
int web_sse_comment(struct web_sse *sse, struct pt_str text);

/* An event as a shareable message (one reference), for web_sse_send_latest. */
struct pt_shared *web_sse_event_new(const char *event, struct pt_str data);

/*
 * Offer the newest message (reference taken): while the client is slow only
 * the newest waits, older ones are dropped. Returns true if one was dropped.
 */
bool web_sse_send_latest(struct web_sse *sse, struct pt_shared *event);

/* Flush, end the stream and close; on_close follows. */
void web_sse_close(struct web_sse *sse);

/*
 * Append one event to out (the framing of web_sse_send). Returns 0 or
 * PT_E_NOMEM.
 */
int web_sse_format(struct pt_buf *out, const char *event, struct pt_str data);

/* ---------------------------------------------------------------- WebSocket */

struct web_ws_handlers {
    /* A complete message (text is valid UTF-8; binary as received). */
    void (*on_message)(struct web_ws *ws, struct pt_str data, bool binary);
    void (*on_close)(struct web_ws *ws);    /* as for web_sse_handlers */
    void (*on_shutdown)(struct web_ws *ws); /* NULL: close with 1001 "server shutting down" */
};

/*
 * Accept a WebSocket upgrade (RFC 6455): check the handshake, answer 101 and
 * keep the connection, handling frames, fragments, ping/pong and the closing
 * handshake; the application sees whole messages only, each at most
 * max_message_bytes (larger: closed with 1009). The request is over when this
 * returns (as for web_sse_start).
 *
 * Returns WEB_DONE and *out; or an error status with ctx->error filled and
 * nothing sent: 400 for a malformed handshake, 426 (with Sec-WebSocket-Version)
 * for another version, 429 over max_streams_per_client. A connection that fails
 * meanwhile gives WEB_DONE with *out NULL.
 */
int web_ws_accept(struct web_ctx *ctx, size_t max_message_bytes,
                  const struct web_ws_handlers *handlers, void *data, struct web_ws **out);

/* The data given to web_ws_accept (borrowed). */
void *web_ws_data(const struct web_ws *ws);

/* The client of the stream (web_client_id of its upgrade request). */
uint64_t web_ws_client_id(const struct web_ws *ws);

/* Send a text message that must not be dropped (copied). Returns as web_sse_send. */
int web_ws_send_text(struct web_ws *ws, struct pt_str text);

/* A text message as a shareable frame (one reference), for web_ws_send_latest. */
struct pt_shared *web_ws_text_new(struct pt_str text);

/* Offer the newest frame; as web_sse_send_latest. */
bool web_ws_send_latest(struct web_ws *ws, struct pt_shared *frame);

/*
 * Start the closing handshake with code and reason (NUL-terminated, at most
 * 123 bytes; may be NULL), then close; on_close follows. A second call does
 * nothing.
 */
void web_ws_close(struct web_ws *ws, uint16_t code, const char *reason);

/* MIME type for a file name by extension ("application/octet-stream" if unknown). */
const char *web_mime_type(const char *path);

#endif /* PT_WEB_H */
