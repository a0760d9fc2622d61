/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * live_ws.c -- GET /ws: the live sky over a WebSocket (RFC 6455).
 *
 * Protocol (JSON text frames): the client sends
 *   {"type": "observe", "lat": .., "lon": .., "elevation": .., "bodies": [..]?, "interval": n?}
 * at any time; the server pushes {"type": "positions", ...} every interval
 * (the same members as GET /planets) through the live hub, and answers a bad
 * message with {"type": "error", "message": ..., "parameter": ...} while the
 * connection stays usable. Until the first "observe" the observer of the
 * upgrade request (query, session or Greenwich) is used.
 *
 * Loop thread only. The subscriber and its decoder are freed in on_ws_close.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "app/app.h"
#include "http/ws.h"

#define WS_MAX_MESSAGE_BYTES 4096

struct ws_state {
    struct http_ws_decoder decoder;
    bool close_sent;
};

/* Send a {"type":"error"} message; never dropped (it is copied, not "latest"). */
static void send_error(struct http_stream *s, const char *parameter, const char *message)
{
    struct pt_buf json, frame;
    pt_buf_init(&json, 8192);
    pt_buf_init(&frame, 8192);
    struct web_json j;
    web_json_init(&j, &json);
    web_json_object_begin(&j);
    WEB_JSON_KEY(&j, "type");
    web_json_cstring(&j, "error");
    WEB_JSON_KEY(&j, "message");
    web_json_cstring(&j, message);
    if (parameter != NULL) {
        WEB_JSON_KEY(&j, "parameter");
        web_json_cstring(&j, parameter);
    }
    web_json_object_end(&j);
    if (web_json_finish(&j) == 0 &&
        http_ws_append_frame(&frame, HTTP_WS_OP_TEXT, pt_buf_str(&json)) == 0)
        http_stream_write(s, pt_buf_str(&frame));
    pt_buf_deinit(&json);
    pt_buf_deinit(&frame);
}

static void send_close(struct http_stream *s, struct ws_state *ws, uint16_t code,
                       const char *reason)
{
    if (ws->close_sent)
        return;
    ws->close_sent = true;
    struct pt_buf frame;
    pt_buf_init(&frame, 256);
    if (http_ws_append_close(&frame, code, reason) == 0)
        http_stream_write(s, pt_buf_str(&frame));
    pt_buf_deinit(&frame);
    http_stream_close(s);
}

/* A number or a numeric/D:M:S string member as degrees. */
static bool member_angle(json_t *v, double limit, double *out)
{
    if (json_is_number(v))
        *out = json_number_value(v);
    else if (!json_is_string(v) || astro_angle_parse(pt_str_c(json_string_value(v)), out) < 0)
        return false;
    return isfinite(*out) && fabs(*out) <= limit;
}

static bool member_number(json_t *v, double min, double max, double *out)
{
    if (json_is_number(v))
        *out = json_number_value(v);
    else if (!json_is_string(v) || pt_str_to_double(pt_str_c(json_string_value(v)), out) < 0)
        return false;
    return *out >= min && *out <= max;
}

/* ["mars", "venus"] or "mars,venus" into a mask; false on any unknown name. */
static bool member_bodies(json_t *v, unsigned *mask)
{
    if (json_is_string(v))
        return live_bodies_from_list(pt_str_c(json_string_value(v)), mask);
    *mask = 0;
    if (!json_is_array(v) || json_array_size(v) == 0)
        return false;
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item)
    {
        int b = json_is_string(item) ? astro_body_from_name(pt_str_c(json_string_value(item)))
                                     : -1;
        if (b < 0)
            return false;
        *mask |= 1u << b;
    }
    return true;
}

/* Apply an "observe" message; on a bad field answer an error and change nothing. */
static void handle_observe(struct http_stream *s, struct live_sub *sub, json_t *msg)
{
    struct live_sub next;
    memcpy(&next, sub, sizeof(next));
    json_t *lat = json_object_get(msg, "lat");
    json_t *lon = json_object_get(msg, "lon");
    json_t *v;
    if (lat == NULL || lon == NULL)
        return send_error(s, lat == NULL ? "lat" : "lon", "observe needs lat and lon");
    if (!member_angle(lat, 90, &next.key.obs.lat_deg))
        return send_error(s, "lat", "lat must be between -90 and 90 degrees");
    if (!member_angle(lon, 180, &next.key.obs.lon_deg))
        return send_error(s, "lon", "lon must be between -180 and 180 degrees");
    next.key.obs.elev_m = 0;
    if ((v = json_object_get(msg, "elevation")) != NULL &&
        !member_number(v, APP_ELEV_MIN_M, APP_ELEV_MAX_M, &next.key.obs.elev_m))
        return send_error(s, "elevation", "elevation must be between -500 and 10000 metres");
    if ((v = json_object_get(msg, "pressure")) != NULL &&
        !member_number(v, APP_PRESSURE_MIN_HPA, APP_PRESSURE_MAX_HPA,
                       &next.key.obs.pressure_hpa))
        return send_error(s, "pressure", "pressure must be between 0 and 1100 hPa");
    if ((v = json_object_get(msg, "temperature")) != NULL &&
        !member_number(v, APP_TEMP_MIN_C, APP_TEMP_MAX_C, &next.key.obs.temp_c))
        return send_error(s, "temperature", "temperature must be between -90 and 60 degrees C");
    if ((v = json_object_get(msg, "bodies")) != NULL && !member_bodies(v, &next.key.bodies))
        return send_error(s, "bodies", "bodies must list known bodies (sun, moon, mercury, "
                                       "venus, mars, jupiter, saturn, uranus, neptune, pluto)");
    if ((v = json_object_get(msg, "interval")) != NULL) {
        double iv;
        if (!member_number(v, 1, 60, &iv) || iv != floor(iv))
            return send_error(s, "interval", "interval must be a whole number from 1 to 60");
        next.interval_s = (unsigned)iv;
    }
    memcpy(&sub->key, &next.key, sizeof(sub->key)); /* bytes, padding included: it is hashed */
    sub->interval_s = next.interval_s;
    sub->source = "query";
    /* Answer at once with the new observer's positions. */
    int64_t now_s = live_hub_now_s(sub->hub);
    struct pt_shared *m = live_hub_message(sub->hub, sub, now_s);
    if (m != NULL)
        http_stream_send_latest(s, m);
    pt_shared_unref(m);
    sub->next_due_s = now_s + sub->interval_s;
    sub->last_sent_s = now_s;
}

static void handle_text(struct http_stream *s, struct live_sub *sub, struct pt_str text)
{
    json_error_t err;
    json_t *msg = json_loadb(text.ptr, text.len, JSON_REJECT_DUPLICATES, &err);
    if (msg == NULL) {
        char why[200];
        snprintf(why, sizeof(why), "the message is not valid JSON: %s", err.text);
        send_error(s, NULL, why);
        return;
    }
    json_t *type = json_object_get(msg, "type");
    if (!json_is_object(msg) || !json_is_string(type))
        send_error(s, "type", "a message must be an object with a \"type\"");
    else if (strcmp(json_string_value(type), "observe") == 0)
        handle_observe(s, sub, msg);
    else
        send_error(s, "type", "unknown message type (known: observe)");
    json_decref(msg);
}

static ssize_t on_ws_read(struct http_stream *s, struct pt_str data)
{
    struct live_sub *sub = http_stream_data(s);
    struct ws_state *ws = sub->channel_data;
    size_t used = 0;
    for (;;) {
        struct http_ws_event ev;
        ssize_t n = http_ws_decode(&ws->decoder, pt_str_make(data.ptr + used, data.len - used),
                                   &ev);
        if (n < 0)
            return n;
        used += (size_t)n;
        switch (ev.type) {
        case HTTP_WS_NONE:
            return (ssize_t)used;
        case HTTP_WS_TEXT:
            handle_text(s, sub, ev.payload);
            break;
        case HTTP_WS_BINARY:
            send_error(s, NULL, "binary messages are not part of the protocol; send JSON text");
            break;
        case HTTP_WS_PING: {
            struct pt_buf frame;
            pt_buf_init(&frame, 256);
            if (http_ws_append_frame(&frame, HTTP_WS_OP_PONG, ev.payload) == 0)
                http_stream_write(s, pt_buf_str(&frame));
            pt_buf_deinit(&frame);
            break;
        }
        case HTTP_WS_PONG:
            break;
        case HTTP_WS_CLOSE:
            /* Echo the peer's code (RFC 6455 §5.5.1), then close. */
            send_close(s, ws,
                       ev.close_code == HTTP_WS_CLOSE_NO_STATUS ? HTTP_WS_CLOSE_NORMAL
                                                                : ev.close_code,
                       NULL);
            return (ssize_t)data.len;
        case HTTP_WS_ERROR:
            send_close(s, ws, ev.close_code, ev.payload.ptr);
            return (ssize_t)data.len;
        }
        if (ws->close_sent)
            return (ssize_t)data.len;
    }
}

static void on_ws_close(struct http_stream *s)
{
    struct live_sub *sub = http_stream_data(s);
    struct ws_state *ws = sub->channel_data;
    live_hub_remove(sub->hub, sub);
    http_ws_decoder_deinit(&ws->decoder);
    free(ws);
    free(sub);
}

static void on_ws_shutdown(struct http_stream *s)
{
    struct live_sub *sub = http_stream_data(s);
    send_close(s, sub->channel_data, HTTP_WS_CLOSE_GOING_AWAY, "server shutting down");
}

int app_handle_ws(struct web_ctx *ctx)
{
    struct app_state *st = ctx->app_data;
    const char *why = NULL;
    int rc = http_ws_handshake_check(&ctx->req->head, &why);
    if (rc == PT_E_VERSION) {
        web_header_add(ctx, "Sec-WebSocket-Version: %s", HTTP_WS_VERSION);
        return web_error(ctx, 426, "upgrade_required", "only WebSocket version 13 is supported");
    }
    if (rc < 0)
        return web_error(ctx, 400, "bad_handshake", "%s", why != NULL ? why : "bad handshake");
    struct app_observer obs;
    if ((rc = app_observer_from_request(ctx, &obs)) != 0)
        return rc;

    char accept[29];
    http_ws_accept_key(web_header(ctx, "Sec-WebSocket-Key"), accept);
    web_header_add(ctx, "Upgrade: websocket");
    web_header_add(ctx, "Connection: Upgrade");
    web_header_add(ctx, "Sec-WebSocket-Accept: %s", accept);

    struct live_sub *sub = pt_xcalloc(1, sizeof(*sub));
    struct ws_state *ws = pt_xcalloc(1, sizeof(*ws));
    http_ws_decoder_init(&ws->decoder, WS_MAX_MESSAGE_BYTES);
    sub->channel_data = ws;
    sub->st = st;
    sub->key.obs = obs.astro;
    sub->key.bodies = APP_ALL_BODIES;
    sub->key.channel = LIVE_WS;
    sub->source = obs.source;
    sub->interval_s = 1;
    int64_t now_s = live_hub_now_s(st->live);
    sub->next_due_s = now_s + 1;
    sub->last_sent_s = now_s;

    static const struct http_stream_handlers handlers = {
        .on_read = on_ws_read,
        .on_close = on_ws_close,
        .on_shutdown = on_ws_shutdown,
    };
    struct live_hub *hub = st->live;
    live_hub_add(hub, sub);
    /* The sub is linked first: on_ws_close (if the start fails later) unlinks it. */
    ctx->sent = true;
    rc = http_stream_start(ctx->req, 101, NULL, pt_buf_str(&ctx->headers), false, &handlers, sub,
                           &sub->stream);
    if (rc < 0) {
        live_hub_remove(hub, sub);
        http_ws_decoder_deinit(&ws->decoder);
        free(ws);
        free(sub);
        return WEB_DONE;
    }
    struct pt_shared *m = live_hub_message(hub, sub, now_s);
    if (m != NULL)
        http_stream_send_latest(sub->stream, m);
    pt_shared_unref(m);
    return WEB_DONE;
}
