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
    web_router_free(app->router);
    web__static_deinit(app);
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
    return status_class >= 1 && status_class <= 5 ? app->responses[status_class] : 0;
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
    case 408:
        return "request_timeout";
    case 413:
        return "payload_too_large";
    case 415:
        return "unsupported_media_type";
    case 422:
        return "unprocessable";
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
    pt_buf_append(&ctx->headers, line, (size_t)n);
    pt_buf_append(&ctx->headers, "\r\n", 2);
}

int web_send_static(struct web_ctx *ctx, int status, const char *content_type, struct pt_str body)
{
    if (ctx->sent)
        return WEB_DONE;
    ctx->sent = true;
    ctx->status = status;
    ctx->app->responses[status / 100 < 6 ? status / 100 : 0]++;
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

static int route(struct web_ctx *ctx)
{
    const struct http_request_head *head = &ctx->req->head;
    int rc = web_router_match(ctx->app->router, head->method, head->path, ctx->arena, &ctx->match);
    if (rc == PT_E_NOT_FOUND)
        return web_error(ctx, 404, "not_found", "no resource at this path");
    if (rc == PT_E_METHOD) {
        web_header_add(ctx, "Allow: %s", ctx->match.allow);
        return web_error(ctx, 405, "method_not_allowed", "allowed methods: %s", ctx->match.allow);
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
    pt_buf_deinit(&ctx->headers);
    pt_buf_deinit(&ctx->body);
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
    pt_buf_init(&ctx->body, 64 * 1024 * 1024);
    pt_arena_defer(req->arena, release_ctx, ctx);
    finish(ctx, web_next(ctx));
}

/* Finish a suspended request whose handler later produced a status (see internal.h). */
void web__ctx_finish(struct web_ctx *ctx, int rc)
{
    finish(ctx, rc);
}
