/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * sse.c -- Server-Sent Events on top of http streams: the response head that
 * keeps proxies from buffering, the text/event-stream framing, the newest-wins
 * delivery of shared events and the goodbye at shutdown. Loop thread only.
 *
 * Ownership: a web_sse is created by web_sse_start and freed after its
 * on_close handler, from the http stream's close callback.
 */
#include <stdlib.h>

#include "web/internal.h"

#define BYE_EVENT "event: bye\ndata: {\"reason\":\"server shutting down\"}\n\n"

static void on_stream_close(struct http_stream *s)
{
    struct web_sse *sse = http_stream_data(s);
    if (sse->handlers.on_close != NULL)
        sse->handlers.on_close(sse);
    web__stream_slot_give(sse->app, sse->client);
    free(sse);
}

static void on_stream_shutdown(struct http_stream *s)
{
    struct web_sse *sse = http_stream_data(s);
    if (sse->handlers.on_shutdown != NULL) {
        sse->handlers.on_shutdown(sse);
        return;
    }
    http_stream_write(s, PT_STR(BYE_EVENT));
    http_stream_close(s);
}

int web_sse_start(struct web_ctx *ctx, const struct web_sse_handlers *handlers, void *data,
                  struct web_sse **out)
{
    *out = NULL;
    bool head_only = ctx->req->is_head;
    struct web_client *client = NULL;
    if (!head_only && (client = web__stream_slot_take(ctx)) == NULL)
        return 429;
    web_header_add(ctx, ctx->session_used ? "Cache-Control: no-cache, private"
                                          : "Cache-Control: no-cache");
    web__add_vary_headers(ctx);
    web_header_add(ctx, "X-Accel-Buffering: no");
    struct web_sse *sse = NULL;
    if (!head_only) {
        sse = pt_xcalloc(1, sizeof(*sse));
        sse->app = ctx->app;
        sse->client = client;
        sse->handlers = *handlers;
        sse->data = data;
    }
    static const struct http_stream_handlers stream_handlers = {
        .on_read = NULL,
        .on_close = on_stream_close,
        .on_shutdown = on_stream_shutdown,
    };
    struct web_app *app = ctx->app;
    ctx->sent = true;
    ctx->status = 200;
    app->stats.responses[2]++;
    struct http_stream *s = NULL;
    int rc = http_stream_start(ctx->req, 200, "text/event-stream; charset=utf-8",
                               pt_buf_str(&ctx->headers), true, &stream_handlers, sse, &s);
    if (rc < 0 || s == NULL) {
        if (sse != NULL) {
            web__stream_slot_give(app, client);
            free(sse);
        }
        return WEB_DONE; /* answered (HEAD) or the connection is gone */
    }
    sse->stream = s;
    /* Reconnect after 2 s if the stream breaks (the page's own fallback polls). */
    http_stream_write(s, PT_STR("retry: 2000\n\n"));
    *out = sse;
    return WEB_DONE;
}

void *web_sse_data(const struct web_sse *sse)
{
    return sse->data;
}

int web_sse_format(struct pt_buf *out, const char *event, struct pt_str data)
{
    int rc = 0;
    /* Room for the usual one-line data at once (lines add 7 bytes each as they come). */
    size_t event_len = event != NULL ? strlen(event) : 0;
    if (pt_buf_reserve(out, event_len + data.len + 16) < 0)
        return PT_E_NOMEM;
    if (event != NULL) {
        pt_buf_append(out, "event: ", 7);
        pt_buf_append(out, event, event_len);
        pt_buf_append(out, "\n", 1);
    }
    /* Each line of the data becomes its own "data:" field (the spec joins them). */
    size_t i = 0;
    do {
        const char *nl = data.len > i ? memchr(data.ptr + i, '\n', data.len - i) : NULL;
        size_t j = nl != NULL ? (size_t)(nl - data.ptr) : PT_MAX(i, data.len);
        if (rc == 0)
            rc = pt_buf_append(out, "data: ", 6);
        if (rc == 0)
            rc = pt_buf_append(out, data.ptr + i, j - i);
        if (rc == 0)
            rc = pt_buf_append(out, "\n", 1);
        i = j + 1;
    } while (i < data.len);
    if (rc == 0)
        rc = pt_buf_append(out, "\n", 1);
    return rc;
}

int web_sse_send(struct web_sse *sse, const char *event, struct pt_str data)
{
    struct pt_buf ev;
    pt_buf_init(&ev, 1 << 20);
    int rc = web_sse_format(&ev, event, data);
    if (rc == 0)
        rc = http_stream_write(sse->stream, pt_buf_str(&ev));
    pt_buf_deinit(&ev);
    return rc;
}

int web_sse_comment(struct web_sse *sse, struct pt_str text)
{
    char line[256];
    if (text.len > sizeof(line) - 4 || memchr(text.ptr, '\n', text.len) != NULL)
        return PT_E_INVALID;
    line[0] = ':';
    line[1] = ' ';
    memcpy(line + 2, text.ptr, text.len);
    line[text.len + 2] = '\n';
    line[text.len + 3] = '\n';
    return http_stream_write(sse->stream, pt_str_make(line, text.len + 4));
}

struct pt_shared *web_sse_event_new(const char *event, struct pt_str data)
{
    size_t event_len = event != NULL ? strlen(event) : 0;
    if (data.len > 0 && data.len < (1 << 24) && memchr(data.ptr, '\n', data.len) == NULL) {
        /* One line (JSON): "event: E\ndata: D\n\n" written straight into the message. */
        size_t head = event != NULL ? 7 + event_len + 1 : 0;
        struct pt_shared *m = pt_shared_alloc(head + 6 + data.len + 2);
        char *p = m->data;
        if (event != NULL) {
            memcpy(p, "event: ", 7);
            memcpy(p + 7, event, event_len);
            p[7 + event_len] = '\n';
            p += head;
        }
        memcpy(p, "data: ", 6);
        memcpy(p + 6, data.ptr, data.len);
        memcpy(p + 6 + data.len, "\n\n", 2);
        return m;
    }
    struct pt_buf ev;
    pt_buf_init(&ev, 1 << 24);
    struct pt_shared *m = NULL;
    if (web_sse_format(&ev, event, data) == 0)
        m = pt_shared_new(ev.data, ev.len);
    pt_buf_deinit(&ev);
    return m;
}

bool web_sse_send_latest(struct web_sse *sse, struct pt_shared *event)
{
    return http_stream_send_latest(sse->stream, event);
}

void web_sse_close(struct web_sse *sse)
{
    http_stream_close(sse->stream);
}
