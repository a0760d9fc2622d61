/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * app.c -- the web framework core: the application object, the middleware
 * chain, routing of each request to its handler, and the one place where
 * error bodies are rendered. Loop thread only.
 *
 * Invariant: every request gets exactly one answer: a handler either sends
 * one (WEB_DONE), promises one (WEB_SUSPENDED), or returns a status that
 * finish() renders.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "web/internal.h"

#define MAX_MIDDLEWARES 8

struct web_app *web_app_new(const struct web_app_config *cfg)
{
    struct web_app *app = pt_xcalloc(1, sizeof(*app));
    app->cfg = *cfg;
    app->router = web_router_new();
    app->middlewares = pt_xcalloc(MAX_MIDDLEWARES, sizeof(*app->middlewares));
    web__static_init(app);
    return app;
}

void web_app_free(struct web_app *app)
{
    if (app == NULL)
        return;
    web_app_cleanup(app);
    for (size_t i = 0; i < WEB_CLIENT_BUCKETS; i++) {
        while (app->clients[i] != NULL) {
            struct web_client *c = app->clients[i];
            app->clients[i] = c->next;
            free(c);
        }
    }
    web_router_free(app->router);
    web__static_deinit(app);
    while (app->num_spare_bodies > 0)
        pt_buf_deinit(&app->spare_bodies[--app->num_spare_bodies]);
    while (app->boxes != NULL) {
        struct web_handler_box *b = app->boxes;
        app->boxes = b->next;
        free(b);
    }
    free(app->middlewares);
    free(app);
}

int web_app_route(struct web_app *app, const char *method, const char *pattern, const char *name,
                  web_handler_fn handler)
{
    /* The router stores an opaque pointer; a function pointer travels in a box. */
    struct web_handler_box *box = pt_xcalloc(1, sizeof(*box));
    box->fn = handler;
    box->next = app->boxes;
    app->boxes = box;
    return web_router_add(app->router, method, pattern, name, box);
}

void web_app_use(struct web_app *app, web_middleware_fn mw)
{
    if (app->num_middlewares >= MAX_MIDDLEWARES) {
        pt_log_error("too many middlewares");
        abort();
    }
    app->middlewares[app->num_middlewares++] = mw;
}

uint64_t web_app_responses(const struct web_app *app, int status_class)
{
    return status_class >= 1 && status_class <= 5 ? app->stats.responses[status_class] : 0;
}

void web_app_stats(const struct web_app *app, struct web_app_stats *out)
{
    *out = app->stats;
}

struct pt_str web_app_default_headers(void)
{
    return PT_STR("X-Content-Type-Options: nosniff\r\n"
                  "Referrer-Policy: no-referrer\r\n");
}

void web_app_on_cleanup(struct web_app *app, void (*fn)(void *data), void *data)
{
    struct web_cleanup *c = pt_xcalloc(1, sizeof(*c));
    c->fn = fn;
    c->data = data;
    c->next = app->cleanups;
    app->cleanups = c;
}

void web_app_cleanup(struct web_app *app)
{
    while (app->cleanups != NULL) {
        struct web_cleanup *c = app->cleanups;
        app->cleanups = c->next;
        c->fn(c->data);
        free(c);
    }
}

const struct web_router *web_app_router(const struct web_app *app)
{
    return app->router;
}

/* ------------------------------------------------------------- errors */

static const char *default_code(int status)
{
    switch (status) {
    case 400:
        return "bad_request";
    case 404:
        return "not_found";
    case 405:
        return "method_not_allowed";
    case 403:
        return "forbidden";
    case 408:
        return "request_timeout";
    case 413:
        return "payload_too_large";
    case 415:
        return "unsupported_media_type";
    case 422:
        return "unprocessable";
    case 429:
        return "too_many_requests";
    case 503:
        return "unavailable";
    default:
        return status >= 500 ? "internal_error" : "error";
    }
}

static void render_error(struct web_ctx *ctx, int status)
{
    struct web_error_info *e = &ctx->error;
    struct web_json j;
    ctx->body.len = 0;
    web_json_init(&j, &ctx->body);
    web_json_object_begin(&j);
    WEB_JSON_KEY(&j, "error");
    web_json_cstring(&j, e->code != NULL ? e->code : default_code(status));
    WEB_JSON_KEY(&j, "message");
    web_json_cstring(&j, e->message != NULL ? e->message : http_status_reason(status));
    if (e->parameter != NULL) {
        WEB_JSON_KEY(&j, "parameter");
        web_json_cstring(&j, e->parameter);
    }
    if (e->has_range) {
        WEB_JSON_KEY(&j, "allowed");
        web_json_object_begin(&j);
        WEB_JSON_KEY(&j, "min");
        web_json_double(&j, e->min);
        WEB_JSON_KEY(&j, "max");
        web_json_double(&j, e->max);
        if (e->unit != NULL) {
            WEB_JSON_KEY(&j, "unit");
            web_json_cstring(&j, e->unit);
        }
        web_json_object_end(&j);
    }
    if (e->extra_key != NULL) {
        web_json_key(&j, e->extra_key);
        web_json_raw(&j, e->extra_json);
    }
    web_json_object_end(&j);
    pt_buf_append(&ctx->body, "\n", 1);
    if (web_json_finish(&j) != 0) {
        ctx->body.len = 0;
        pt_buf_appendf(&ctx->body, "{\"error\": \"internal_error\", \"message\": \"%s\"}\n",
                       http_status_reason(500));
        status = 500;
    }
    web_send(ctx, status, "application/json");
}

static int vrecord(struct web_ctx *ctx, int status, const char *code, const char *fmt,
                   va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    ctx->error.code = code;
    ctx->error.message = pt_arena_strndup(ctx->arena, msg, strlen(msg));
    return status;
}

int web_error(struct web_ctx *ctx, int status, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vrecord(ctx, status, code, fmt, ap);
    va_end(ap);
    return status;
}

int web_error_param(struct web_ctx *ctx, int status, const char *parameter, double min,
                    double max, const char *unit, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vrecord(ctx, status, "invalid_parameter", fmt, ap);
    va_end(ap);
    ctx->error.parameter = parameter;
    ctx->error.has_range = min <= max;
    ctx->error.min = min;
    ctx->error.max = max;
    ctx->error.unit = unit;
    return status;
}

/* ------------------------------------------------------------- output */

void web_header_add(struct web_ctx *ctx, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(line) - 2)
        return;
    if (pt_str_has_prefix(pt_str_make(line, (size_t)n), PT_STR("Cache-Control:")))
        ctx->cache_control_set = true;
    pt_buf_append(&ctx->headers, line, (size_t)n);
    pt_buf_append(&ctx->headers, "\r\n", 2);
}

void web__add_vary_headers(struct web_ctx *ctx)
{
    if (!ctx->session_used)
        return;
    if (!ctx->cache_control_set)
        web_header_add(ctx, "Cache-Control: private");
    web_header_add(ctx, "Vary: Cookie");
}

int web_send_static(struct web_ctx *ctx, int status, const char *content_type, struct pt_str body)
{
    if (ctx->sent)
        return WEB_DONE;
    ctx->sent = true;
    ctx->status = status;
    ctx->app->stats.responses[status / 100 < 6 ? status / 100 : 0]++;
    web__add_vary_headers(ctx);
    if (http_respond(ctx->req, status, content_type, pt_buf_str(&ctx->headers), body) ==
        PT_E_NOMEM)
        pt_log_warn("answer too large for the connection's output limit");
    return WEB_DONE;
}

int web_send(struct web_ctx *ctx, int status, const char *content_type)
{
    return web_send_static(ctx, status, content_type, pt_buf_str(&ctx->body));
}

void web_json_begin(struct web_ctx *ctx, struct web_json *json)
{
    ctx->body.len = 0;
    /* Most answers fit: one allocation instead of a chain of reallocs (a failure shows later). */
    (void)pt_buf_reserve(&ctx->body, 4096);
    web_json_init(json, &ctx->body);
}

int web_send_json(struct web_ctx *ctx, int status, struct web_json *json)
{
    int rc = web_json_finish(json);
    if (rc != 0)
        return web_error(ctx, 500, "internal_error", "the answer could not be serialized");
    pt_buf_append(&ctx->body, "\n", 1);
    return web_send(ctx, status, "application/json");
}

/* ------------------------------------------------------------- dispatch */

/* OPTIONS: 204 with the methods the resource allows (RFC 9110 §9.3.7). */
static int answer_options(struct web_ctx *ctx, const char *allow)
{
    web_header_add(ctx, "Allow: %s, OPTIONS", allow);
    return web_send_static(ctx, 204, NULL, PT_STR_NULL);
}

static int route(struct web_ctx *ctx)
{
    const struct http_request_head *head = &ctx->req->head;
    bool options = pt_str_eq(head->method, PT_STR("OPTIONS"));
    if (options && pt_str_eq(head->path, PT_STR("*")))
        return answer_options(ctx, "GET, HEAD, POST"); /* the server as a whole */
    int rc = web_router_match(ctx->app->router, head->method, head->path, ctx->arena, &ctx->match);
    if (rc == PT_E_NOT_FOUND)
        return web_error(ctx, 404, "not_found", "no resource at this path");
    if (rc == PT_E_METHOD && options)
        return answer_options(ctx, ctx->match.allow);
    if (rc == PT_E_METHOD) {
        web_header_add(ctx, "Allow: %s, OPTIONS", ctx->match.allow);
        return web_error(ctx, 405, "method_not_allowed", "allowed methods: %s, OPTIONS",
                         ctx->match.allow);
    }
    if (rc < 0)
        return web_error(ctx, 400, "bad_path", "the request path is malformed");
    const struct web_handler_box *box = ctx->match.data;
    return box->fn(ctx);
}

int web_next(struct web_ctx *ctx)
{
    struct web_app *app = ctx->app;
    while (ctx->mw_index < app->num_middlewares) {
        web_middleware_fn mw = app->middlewares[ctx->mw_index++];
        int rc = mw(ctx);
        if (rc != WEB_NEXT)
            return rc;
    }
    return route(ctx);
}

static void release_ctx(void *data)
{
    struct web_ctx *ctx = data;
    struct web_app *app = ctx->app;
    pt_buf_deinit(&ctx->headers);
    /* The answer was copied to the connection: its buffer serves the next request. */
    if (ctx->body.cap > 0 && ctx->body.cap <= WEB_SPARE_BODY_MAX &&
        app->num_spare_bodies < WEB_SPARE_BODIES) {
        ctx->body.len = 0;
        app->spare_bodies[app->num_spare_bodies++] = ctx->body;
    } else {
        pt_buf_deinit(&ctx->body);
    }
}

/* Turn a handler's result into an answer when it did not send one itself. */
static void finish(struct web_ctx *ctx, int rc)
{
    /* WEB_DONE: answered, and ctx may already be gone (a stream took the connection). */
    if (rc == WEB_DONE || rc == WEB_SUSPENDED || ctx->sent)
        return;
    if (rc == WEB_NEXT)
        rc = web_error(ctx, 500, "internal_error", "the handler produced no answer");
    if (rc < 400 || rc > 599) {
        pt_log_error("handler returned %d", rc);
        rc = 500;
    }
    render_error(ctx, rc);
}

void web_app_handle(struct http_request *req)
{
    struct web_app *app = req->data;
    struct web_ctx *ctx = pt_arena_alloc(req->arena, sizeof(*ctx));
    memset(ctx, 0, sizeof(*ctx));
    ctx->req = req;
    ctx->app = app;
    ctx->arena = req->arena;
    ctx->app_data = app->cfg.data;
    pt_buf_init(&ctx->headers, 64 * 1024);
    if (app->num_spare_bodies > 0)
        ctx->body = app->spare_bodies[--app->num_spare_bodies]; /* same limit, empty */
    else
        pt_buf_init(&ctx->body, 64 * 1024 * 1024);
    pt_arena_defer(req->arena, release_ctx, ctx);
    finish(ctx, web_next(ctx));
}

/* Finish a suspended request whose handler later produced a status (see internal.h). */
void web__ctx_finish(struct web_ctx *ctx, int rc)
{
    finish(ctx, rc);
}

void web_resume(struct web_ctx *ctx, int rc)
{
    finish(ctx, rc);
}

void web__ctx_abandon(struct web_ctx *ctx)
{
    ctx->sent = true;
    http_respond(ctx->req, 503, NULL, PT_STR_NULL, PT_STR_NULL);
}

/* ------------------------------------------------------------- origin */

/* host[:port] without the default port of the scheme, for comparing authorities. */
static struct pt_str strip_default_port(struct pt_str authority, bool https)
{
    struct pt_str port = https ? PT_STR(":443") : PT_STR(":80");
    if (authority.len > port.len &&
        memcmp(authority.ptr + authority.len - port.len, port.ptr, port.len) == 0)
        authority.len -= port.len;
    return authority;
}

/* Whether a serialized origin ("https://host:port") is this server's own. */
static bool origin_is_own(const struct web_ctx *ctx, struct pt_str origin)
{
    bool https;
    if (pt_str_has_prefix(origin, PT_STR("https://"))) {
        https = true;
        origin = pt_str_make(origin.ptr + 8, origin.len - 8);
    } else if (pt_str_has_prefix(origin, PT_STR("http://"))) {
        https = false;
        origin = pt_str_make(origin.ptr + 7, origin.len - 7);
    } else {
        return false;
    }
    if (ctx->app->cfg.trust_proxy && https != web_request_is_https(ctx))
        return false;
    struct pt_str own = ctx->req->head.authority;
    if (own.len == 0)
        return false;
    /* The scheme of our own authority is unknown without a proxy: the origin's decides. */
    return pt_str_eq_nocase(strip_default_port(origin, https), strip_default_port(own, https));
}

int web_mw_origin(struct web_ctx *ctx)
{
    const struct http_request_head *head = &ctx->req->head;
    bool safe = pt_str_eq(head->method, PT_STR("GET")) || pt_str_eq(head->method, PT_STR("HEAD")) ||
                pt_str_eq(head->method, PT_STR("OPTIONS"));
    if (safe && !head->upgrade)
        return WEB_NEXT;
    struct pt_str origin = web_header(ctx, "Origin");
    struct pt_str site = web_header(ctx, "Sec-Fetch-Site");
    bool cross = site.ptr != NULL && pt_str_eq_nocase(site, PT_STR("cross-site"));
    if (!cross && (origin.ptr == NULL || origin_is_own(ctx, origin)))
        return WEB_NEXT;
    ctx->app->stats.origin_refused++;
    return web_error(ctx, 403, "cross_origin",
                     "requests from another site may not change anything here (Origin %.*s)",
                     (int)PT_MIN(origin.len, 200), origin.ptr != NULL ? origin.ptr : "");
}
