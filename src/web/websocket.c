/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * websocket.c -- WebSocket (RFC 6455) as whole messages for the application:
 * the upgrade answer, frame decoding with the http layer's codec, ping/pong,
 * the closing handshake and the goodbye at shutdown. The application sends and
 * receives messages; frames never leave this file. Loop thread only.
 *
 * Ownership: a web_ws is created by web_ws_accept and freed after its on_close
 * handler, from the http stream's close callback.
 */
#include <stdlib.h>

#include "web/internal.h"

static void on_stream_close(struct http_stream *s)
{
    struct web_ws *ws = http_stream_data(s);
    if (ws->handlers.on_close != NULL)
        ws->handlers.on_close(ws);
    web__stream_slot_give(ws->app, ws->client);
    http_ws_decoder_deinit(&ws->decoder);
    free(ws);
}

void web_ws_close(struct web_ws *ws, uint16_t code, const char *reason)
{
    if (ws->close_sent)
        return;
    ws->close_sent = true;
    struct pt_buf frame;
    pt_buf_init(&frame, 256);
    if (http_ws_append_close(&frame, code, reason) == 0 ||
        http_ws_append_close(&frame, code, NULL) == 0)
        http_stream_write(ws->stream, pt_buf_str(&frame));
    pt_buf_deinit(&frame);
    http_stream_close(ws->stream);
}

static void on_stream_shutdown(struct http_stream *s)
{
    struct web_ws *ws = http_stream_data(s);
    if (ws->handlers.on_shutdown != NULL)
        ws->handlers.on_shutdown(ws);
    else
        web_ws_close(ws, HTTP_WS_CLOSE_GOING_AWAY, "server shutting down");
}

/* Answer a ping; a pong that does not fit the bounded backlog is dropped. */
static void send_pong(struct web_ws *ws, struct pt_str payload)
{
    uint8_t head[HTTP_WS_MAX_HEADER_BYTES];
    size_t n = http_ws_frame_header(HTTP_WS_OP_PONG, payload.len, head);
    char frame[HTTP_WS_MAX_HEADER_BYTES + HTTP_WS_MAX_CONTROL_BYTES];
    memcpy(frame, head, n);
    memcpy(frame + n, payload.ptr, payload.len);
    http_stream_write(ws->stream, pt_str_make(frame, n + payload.len));
}

static ssize_t on_stream_read(struct http_stream *s, struct pt_str data)
{
    struct web_ws *ws = http_stream_data(s);
    size_t used = 0;
    while (!ws->close_sent) {
        struct http_ws_event ev;
        ssize_t n =
            http_ws_decode(&ws->decoder, pt_str_make(data.ptr + used, data.len - used), &ev);
        if (n < 0)
            return n;
        used += (size_t)n;
        switch (ev.type) {
        case HTTP_WS_NONE:
            return (ssize_t)used;
        case HTTP_WS_TEXT:
        case HTTP_WS_BINARY:
            if (ws->handlers.on_message != NULL)
                ws->handlers.on_message(ws, ev.payload, ev.type == HTTP_WS_BINARY);
            break;
        case HTTP_WS_PING:
            send_pong(ws, ev.payload);
            break;
        case HTTP_WS_PONG:
            break;
        case HTTP_WS_CLOSE:
            /* Echo the peer's code (RFC 6455 §5.5.1), then close. */
            web_ws_close(
                ws, ev.close_code == HTTP_WS_CLOSE_NO_STATUS ? HTTP_WS_CLOSE_NORMAL : ev.close_code,
                NULL);
            break;
        case HTTP_WS_ERROR:
            web_ws_close(ws, ev.close_code, ev.payload.ptr);
            break;
        }
    }
    return (ssize_t)data.len; /* closing: the rest is not read */
}

int web_ws_accept(struct web_ctx *ctx, size_t max_message_bytes,
                  const struct web_ws_handlers *handlers, void *data, struct web_ws **out)
{
    *out = NULL;
    const char *why = NULL;
    int rc = http_ws_handshake_check(&ctx->req->head, &why);
    if (rc == PT_E_VERSION) {
        web_header_add(ctx, "Sec-WebSocket-Version: %s", HTTP_WS_VERSION);
        return web_error(ctx, 426, "upgrade_required", "only WebSocket version 13 is supported");
    }
    if (rc < 0)
        return web_error(ctx, 400, "bad_handshake", "%s", why != NULL ? why : "bad handshake");
    struct web_client *client = web__stream_slot_take(ctx);
    if (client == NULL)
        return 429;

    char accept[29];
    http_ws_accept_key(web_header(ctx, "Sec-WebSocket-Key"), accept);
    web_header_add(ctx, "Upgrade: websocket");
    web_header_add(ctx, "Connection: Upgrade");
    web_header_add(ctx, "Sec-WebSocket-Accept: %s", accept);
    web__add_vary_headers(ctx);

    struct web_ws *ws = pt_xcalloc(1, sizeof(*ws));
    ws->app = ctx->app;
    ws->client = client;
    ws->handlers = *handlers;
    ws->data = data;
    http_ws_decoder_init(&ws->decoder, max_message_bytes);
    static const struct http_stream_handlers stream_handlers = {
        .on_read = on_stream_read,
        .on_close = on_stream_close,
        .on_shutdown = on_stream_shutdown,
    };
    struct web_app *app = ctx->app;
    ctx->sent = true;
    ctx->status = 101;
    app->stats.responses[1]++;
    struct http_stream *s = NULL;
    rc = http_stream_start(ctx->req, 101, NULL, pt_buf_str(&ctx->headers), false, &stream_handlers,
                           ws, &s);
    if (rc < 0 || s == NULL) {
        web__stream_slot_give(app, client);
        http_ws_decoder_deinit(&ws->decoder);
        free(ws);
        return WEB_DONE; /* the connection is gone (a HEAD upgrade fails the handshake) */
    }
    ws->stream = s;
    *out = ws;
    return WEB_DONE;
}

void *web_ws_data(const struct web_ws *ws)
{
    return ws->data;
}

uint64_t web_ws_client_id(const struct web_ws *ws)
{
    return ws->client->id;
}

int web_ws_send_text(struct web_ws *ws, struct pt_str text)
{
    if (ws->close_sent)
        return PT_E_CLOSED;
    struct pt_buf frame;
    pt_buf_init(&frame, text.len + HTTP_WS_MAX_HEADER_BYTES);
    int rc = http_ws_append_frame(&frame, HTTP_WS_OP_TEXT, text);
    if (rc == 0)
        rc = http_stream_write(ws->stream, pt_buf_str(&frame));
    pt_buf_deinit(&frame);
    return rc;
}

struct pt_shared *web_ws_text_new(struct pt_str text)
{
    return http_ws_frame_shared_new(HTTP_WS_OP_TEXT, text);
}

bool web_ws_send_latest(struct web_ws *ws, struct pt_shared *frame)
{
    if (ws->close_sent)
        return false;
    return http_stream_send_latest(ws->stream, frame);
}
