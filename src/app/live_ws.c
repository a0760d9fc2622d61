/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * live_ws.c -- GET /ws: the live sky over a WebSocket (RFC 6455).
 *
 * Protocol (JSON text frames): the client sends
 *   {"type": "observe", "lat": .., "lon": .., "elevation": .., "bodies": [..]?, "interval": n?}
 * or {"type": "observe", "site": id, ...} (one of the owner's saved sites, looked
 * up in the store; the stream then follows the site's changes) at any time; the server pushes {"type": "positions", ...} every interval
 * (the same members as GET /planets) through the live hub, and answers a bad
 * message with {"type": "error", "message": ..., "parameter": ...} while the
 * connection stays usable. Until the first "observe" the observer of the
 * upgrade request (query, session or Greenwich) is used.
 *
 * Observe messages are capped per connection and second (live_config's
 * ws_observe_per_s): over the cap one error says so and the rest of that
 * second's observes are ignored. Frames, pings and the closing handshake are
 * the framework's (src/web/websocket.c): this file sees whole messages.
 *
 * Loop thread only. The subscriber is freed in on_ws_close.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "app/app.h"
#include "store/store.h"

#define WS_MAX_MESSAGE_BYTES 4096

/* Send a {"type":"error"} message; never dropped (it is copied, not "latest"). */
static void send_error(struct web_ws *ws, const char *parameter, const char *message)
{
    struct pt_buf json;
    pt_buf_init(&json, 8192);
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
    if (web_json_finish(&j) == 0)
        web_ws_send_text(ws, pt_buf_str(&json));
    pt_buf_deinit(&json);
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

/* An observe by site waiting for the store; detached (sub NULL) when the stream closes first. */
struct site_lookup {
    struct store_req req;
    struct live_sub *sub;
    struct live_key key;          /* what the observe asked for, the observer still to come */
    unsigned interval_s;
};

/* Take the observer, bodies and interval of an accepted observe. */
static void apply_observe(struct live_sub *sub, const struct live_key *key, unsigned interval_s,
                          const char *source, int64_t site_id)
{
    memcpy(&sub->key, key, sizeof(sub->key)); /* bytes, padding included: it is hashed */
    sub->interval_s = interval_s;
    sub->source = source;
    sub->site_id = site_id;
    /* The new observer's positions as soon as they are built (off the loop). */
    int64_t now_s = live_hub_now_s(sub->hub);
    sub->next_due_s = now_s + sub->interval_s;
    sub->last_sent_s = now_s;
    live_hub_want(sub->hub, sub);
}

static void cancel_lookup(struct live_sub *sub)
{
    if (sub->lookup != NULL) {
        sub->lookup->sub = NULL; /* freed when the store answers */
        sub->lookup = NULL;
    }
}

static void on_site_found(struct store_req *req)
{
    struct site_lookup *l = req->data;
    struct live_sub *sub = l->sub;
    if (sub != NULL) {
        sub->lookup = NULL;
        if (req->status == STORE_OK) {
            app_observer_from_site(&req->site, &l->key.obs);
            l->key.horizon_deg = req->site.horizon_deg;
            apply_observe(sub, &l->key, l->interval_s, "site", req->site.id);
        } else if (req->status == STORE_NOT_FOUND || req->status == STORE_UNAUTHORIZED) {
            send_error(sub->ws, "site", "no such site among yours");
        } else {
            send_error(sub->ws, "site", "saved sites are unavailable right now; try again");
        }
    }
    store_req_release(req);
    free(l);
}

/* A site id: a whole number 1..2^53-1, or the same in decimal digits. */
static bool member_site_id(json_t *v, int64_t *id)
{
    if (json_is_integer(v))
        *id = json_integer_value(v);
    else if (json_is_string(v) && json_string_length(v) > 0 && json_string_length(v) <= 16 &&
             strspn(json_string_value(v), "0123456789") == json_string_length(v))
        *id = strtoll(json_string_value(v), NULL, 10);
    else
        return false;
    return *id > 0 && *id < (INT64_C(1) << 53);
}

/* Ask the store for the site of an observe; the observe is applied when it answers. */
static void observe_site(struct live_sub *sub, const struct live_sub *next, int64_t id)
{
    const struct app_state *st = live_hub_state(sub->hub);
    if (sub->auth == NULL) {
        send_error(sub->ws, "site", "no such site among yours (this connection has no owner: "
                                    "a session with saved sites, or a bearer token)");
        return;
    }
    cancel_lookup(sub);
    struct site_lookup *l = pt_xcalloc(1, sizeof(*l));
    l->sub = sub;
    memcpy(&l->key, &next->key, sizeof(l->key));
    l->interval_s = next->interval_s;
    l->req.op = STORE_SITE_GET;
    l->req.auth = *sub->auth;
    l->req.id = id;
    l->req.done = on_site_found;
    l->req.data = l;
    sub->lookup = l;
    store_submit(st->store, &l->req);
}

/* Apply an "observe" message; on a bad field answer an error and change nothing. */
static void handle_observe(struct web_ws *s, struct live_sub *sub, json_t *msg)
{
    struct live_sub next;
    memcpy(&next, sub, sizeof(next));
    json_t *lat = json_object_get(msg, "lat");
    json_t *lon = json_object_get(msg, "lon");
    json_t *site = json_object_get(msg, "site");
    json_t *v;
    int64_t site_id = 0;
    if (site != NULL) {
        if (lat != NULL || lon != NULL || json_object_get(msg, "elevation") != NULL ||
            json_object_get(msg, "pressure") != NULL ||
            json_object_get(msg, "temperature") != NULL)
            return send_error(s, "site", "observe a site, or lat and lon, not both (the site "
                                         "gives the place and the weather)");
        if (!member_site_id(site, &site_id))
            return send_error(s, "site", "site must be the id of one of your saved sites");
    } else if (lat == NULL || lon == NULL)
        return send_error(s, lat == NULL ? "lat" : "lon", "observe needs lat and lon");
    if (site == NULL && !member_angle(lat, 90, &next.key.obs.lat_deg))
        return send_error(s, "lat", "lat must be between -90 and 90 degrees");
    if (site == NULL && !member_angle(lon, 180, &next.key.obs.lon_deg))
        return send_error(s, "lon", "lon must be between -180 and 180 degrees");
    if (site == NULL)
        next.key.obs.elev_m = 0;
    if (site == NULL && (v = json_object_get(msg, "elevation")) != NULL &&
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
    /* Valid observes count against the cap: invalid ones cost a parse, never a build. */
    if (!live_hub_observe_allowed(sub->hub, sub)) {
        unsigned cap = live_hub_config(sub->hub)->ws_observe_per_s;
        if (sub->observes == cap + 1) {
            char why[160];
            snprintf(why, sizeof(why),
                     "too many observe messages: at most %u a second; the others of this "
                     "second are ignored",
                     cap);
            send_error(s, "type", why);
        }
        return;
    }
    if (site != NULL) {
        observe_site(sub, &next, site_id);
        return;
    }
    cancel_lookup(sub); /* the newest observe wins */
    next.key.horizon_deg = 0;
    apply_observe(sub, &next.key, next.interval_s, "query", 0);
}

static void handle_text(struct web_ws *s, struct live_sub *sub, struct pt_str text)
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

static void on_ws_message(struct web_ws *ws, struct pt_str data, bool binary)
{
    struct live_sub *sub = web_ws_data(ws);
    if (binary)
        send_error(ws, NULL, "binary messages are not part of the protocol; send JSON text");
    else
        handle_text(ws, sub, data);
}

static void on_ws_close(struct web_ws *ws)
{
    struct live_sub *sub = web_ws_data(ws);
    cancel_lookup(sub);
    free(sub->auth);
    live_owners_leave(sub);
    live_hub_remove(sub->hub, sub);
    free(sub);
}

int app_handle_ws(struct web_ctx *ctx)
{
    struct app_state *st = ctx->app_data;
    struct app_observer obs;
    int rc = app_observer_from_request(ctx, &obs);
    if (rc != 0)
        return rc;
    struct store_auth auth;
    int has_owner = app_stream_auth(ctx, &auth);
    if (has_owner < 0 || has_owner > 1)
        return has_owner;
    struct live_hub *hub = st->live;
    struct live_sub *sub = pt_xcalloc(1, sizeof(*sub));
    sub->key.obs = obs.astro;
    sub->key.horizon_deg = obs.horizon_deg;
    sub->key.bodies = APP_ALL_BODIES;
    sub->key.channel = LIVE_WS;
    sub->source = obs.source;
    sub->interval_s = 1;
    if (ctx->local != NULL) /* site=: the stream follows the site's changes */
        sub->site_id = ((const struct store_site *)ctx->local)->id;
    int64_t now_s = live_hub_now_s(hub);
    sub->next_due_s = now_s + 1;
    sub->last_sent_s = now_s;
    static const struct web_ws_handlers handlers = {
        .on_message = on_ws_message,
        .on_close = on_ws_close,
        .on_shutdown = NULL, /* the framework closes with 1001 */
    };
    rc = web_ws_accept(ctx, WS_MAX_MESSAGE_BYTES, &handlers, sub, &sub->ws);
    if (rc != WEB_DONE || sub->ws == NULL) {
        free(sub); /* refused (rc) or the connection is gone */
        return rc;
    }
    live_hub_add(hub, sub);
    live_hub_want(hub, sub);
    if (has_owner == 1) {
        sub->auth = pt_xmalloc(sizeof(*sub->auth));
        *sub->auth = auth;
    }
    if (has_owner == 1 && st->owners != NULL)
        live_owners_join(st->owners, sub, &auth);
    return WEB_DONE;
}
