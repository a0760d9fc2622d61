/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * live.c -- the live sky: one timer per process pushes positions to every
 * subscriber (Server-Sent Events now, WebSocket through the same hub).
 *
 * Each tick, subscribers that are due are grouped by what they asked for
 * (observer, bodies, channel): one message is serialized per distinct group
 * and shared, reference-counted, by all its subscribers. A subscriber that
 * cannot keep up holds at most the newest message (http_stream_send_latest)
 * and is closed by the http layer after its stall timeout.
 *
 * Loop thread only. Invariant: a subscriber is in the hub's list from
 * live_hub_add() until its stream's close callback, which unlinks and frees it.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "app/app.h"
#include "http/ws.h"

#define HEARTBEAT_S 15
#define RECENT_SLOTS 256

/* A message of the current second, for subscribers that join between ticks. */
struct recent_msg {
    int64_t second;
    struct live_key key;
    struct pt_shared *msg;
};

struct live_hub {
    uv_timer_t timer;
    const struct app_state *st;
    struct live_sub *subs;
    size_t count;
    bool stopping;
    uint64_t ticks;
    uint64_t messages;   /* serialized messages, all ticks */
    uint64_t deliveries; /* messages offered to subscribers */
    uint64_t dropped;    /* older messages replaced before a slow reader took them */
    int64_t last_tick_s; /* second of the last tick, so no answer is labelled earlier */
    struct recent_msg recent[RECENT_SLOTS]; /* direct-mapped by group hash */
};

int64_t live_hub_now_s(const struct live_hub *hub)
{
    int64_t now = (int64_t)floor(pt_clock_unix_s());
    return now > hub->last_tick_s ? now : hub->last_tick_s;
}

/* What makes two subscribers' messages identical. */
static uint64_t group_hash(const struct live_sub *s)
{
    return pt_hash_bytes(PT_HASH_SEED, &s->key, sizeof(s->key));
}

static bool same_group(const struct live_sub *a, const struct live_sub *b)
{
    return memcmp(&a->key, &b->key, sizeof(a->key)) == 0;
}

/* Milliseconds until just after the next wall-clock second. */
static uint64_t ms_to_next_second(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return 1000 - (uint64_t)(ts.tv_nsec / 1000000) + 2;
}

/* Serialize the positions message for sub's group at instant t (one reference), or NULL. */
static struct pt_shared *build_message(const struct app_state *st, const struct live_sub *sub,
                                       const struct astro_time *t)
{
    struct pt_buf json;
    pt_buf_init(&json, 1 << 20);
    struct web_json j;
    web_json_init(&j, &json);
    struct app_observer obs = {.astro = sub->key.obs, .source = sub->source};
    struct pt_shared *msg = NULL;
    if (sub->key.channel == LIVE_WS) {
        /* {"type":"positions", <the sky object's members>} in one text frame. */
        pt_buf_append(&json, "{\"type\":\"positions\",", 20);
        struct pt_buf sky;
        pt_buf_init(&sky, 1 << 20);
        struct web_json sj;
        web_json_init(&sj, &sky);
        if (app_render_sky(&sj, st, &obs, t, sub->key.bodies) == 0 &&
            web_json_finish(&sj) == 0 && sky.len > 2) {
            pt_buf_append(&json, sky.data + 1, sky.len - 1);
            msg = http_ws_frame_shared_new(HTTP_WS_OP_TEXT, pt_buf_str(&json));
        }
        pt_buf_deinit(&sky);
    } else if (app_render_sky(&j, st, &obs, t, sub->key.bodies) == 0 &&
               web_json_finish(&j) == 0) {
        struct pt_buf ev;
        pt_buf_init(&ev, 1 << 20);
        if (web_sse_format(&ev, "positions", pt_buf_str(&json)) == 0)
            msg = pt_shared_new(ev.data, ev.len);
        pt_buf_deinit(&ev);
    }
    pt_buf_deinit(&json);
    return msg;
}

struct pt_shared *live_hub_message(struct live_hub *hub, const struct live_sub *sub,
                                   int64_t second)
{
    struct recent_msg *r = &hub->recent[group_hash(sub) & (RECENT_SLOTS - 1)];
    if (r->msg != NULL && r->second == second && memcmp(&r->key, &sub->key, sizeof(r->key)) == 0)
        return pt_shared_ref(r->msg);
    struct astro_time t;
    if (astro_time_from_unix(hub->st->astro, (double)second, &t) < 0)
        return NULL;
    struct pt_shared *msg = build_message(hub->st, sub, &t);
    hub->messages++;
    if (msg != NULL) {
        pt_shared_unref(r->msg);
        r->msg = pt_shared_ref(msg);
        r->second = second;
        memcpy(&r->key, &sub->key, sizeof(r->key));
    }
    return msg;
}

/* Forget the messages of past seconds (bounded memory between ticks). */
static void forget_recent(struct live_hub *hub, int64_t now_s)
{
    for (size_t i = 0; i < RECENT_SLOTS; i++) {
        if (hub->recent[i].msg != NULL && hub->recent[i].second < now_s) {
            pt_shared_unref(hub->recent[i].msg);
            hub->recent[i].msg = NULL;
        }
    }
}

/* Send the newest positions to every due subscriber, one message per group. */
static void tick(struct live_hub *hub, int64_t now_s)
{
    forget_recent(hub, now_s);
    size_t cap = 16;
    while (cap < hub->count * 2)
        cap *= 2;
    struct live_sub **table = pt_xcalloc(cap, sizeof(*table));
    struct pt_shared **msgs = pt_xcalloc(cap, sizeof(*msgs));
    for (struct live_sub *s = hub->subs; s != NULL; s = s->next) {
        if (now_s < s->next_due_s) {
            if (s->key.channel == LIVE_SSE && now_s - s->last_sent_s >= HEARTBEAT_S) {
                http_stream_write(s->stream, PT_STR(": keep-alive\n\n"));
                s->last_sent_s = now_s;
            }
            continue;
        }
        s->next_due_s = now_s + s->interval_s;
        s->last_sent_s = now_s;
        size_t i = group_hash(s) & (cap - 1);
        while (table[i] != NULL && !same_group(table[i], s))
            i = (i + 1) & (cap - 1);
        if (table[i] == NULL) {
            table[i] = s;
            msgs[i] = live_hub_message(hub, s, now_s);
        }
        if (msgs[i] != NULL) {
            hub->deliveries++;
            if (http_stream_send_latest(s->stream, msgs[i]))
                hub->dropped++;
        }
    }
    for (size_t i = 0; i < cap; i++)
        pt_shared_unref(msgs[i]);
    free(msgs);
    free(table);
    hub->ticks++;
}

static void on_tick(uv_timer_t *timer)
{
    struct live_hub *hub = timer->data;
    /* The timer aims just past a second boundary but may fire a hair early: round. */
    hub->last_tick_s = (int64_t)floor(pt_clock_unix_s() + 0.5);
    if (hub->count > 0)
        tick(hub, hub->last_tick_s);
    uv_timer_start(timer, on_tick, ms_to_next_second(), 0);
}

struct live_hub *live_hub_new(uv_loop_t *loop, const struct app_state *st)
{
    struct live_hub *hub = pt_xcalloc(1, sizeof(*hub));
    hub->st = st;
    uv_timer_init(loop, &hub->timer);
    hub->timer.data = hub;
    uv_timer_start(&hub->timer, on_tick, ms_to_next_second(), 0);
    return hub;
}

void live_hub_stop(struct live_hub *hub)
{
    hub->stopping = true;
    uv_close((uv_handle_t *)&hub->timer, NULL);
}

void live_hub_free(struct live_hub *hub)
{
    if (hub == NULL)
        return;
    forget_recent(hub, INT64_MAX);
    free(hub);
}

void live_hub_add(struct live_hub *hub, struct live_sub *sub)
{
    sub->hub = hub;
    sub->prev = NULL;
    sub->next = hub->subs;
    if (hub->subs != NULL)
        hub->subs->prev = sub;
    hub->subs = sub;
    hub->count++;
}

void live_hub_remove(struct live_hub *hub, struct live_sub *sub)
{
    if (sub->prev != NULL)
        sub->prev->next = sub->next;
    else
        hub->subs = sub->next;
    if (sub->next != NULL)
        sub->next->prev = sub->prev;
    sub->prev = sub->next = NULL;
    hub->count--;
}

void live_hub_stats(const struct live_hub *hub, struct live_stats *out)
{
    out->subscribers = hub->count;
    out->ticks = hub->ticks;
    out->messages = hub->messages;
    out->deliveries = hub->deliveries;
    out->dropped = hub->dropped;
}

/* ------------------------------------------------------------- SSE */

static void on_sse_close(struct http_stream *s)
{
    struct live_sub *sub = http_stream_data(s);
    live_hub_remove(sub->hub, sub);
    free(sub);
}

static void on_sse_shutdown(struct http_stream *s)
{
    http_stream_write(s, PT_STR("event: bye\ndata: {\"reason\":\"server shutting down\"}\n\n"));
    http_stream_close(s);
}

bool live_bodies_from_list(struct pt_str list, unsigned *mask)
{
    *mask = 0;
    size_t i = 0;
    while (i <= list.len) {
        size_t j = i;
        while (j < list.len && list.ptr[j] != ',')
            j++;
        int b = astro_body_from_name(pt_str_trim(pt_str_make(list.ptr + i, j - i)));
        if (b < 0)
            return false;
        *mask |= 1u << b;
        i = j + 1;
    }
    return true;
}

/* The bodies= parameter as a mask. Returns 0 or 400 with ctx->error. */
static int parse_bodies_param(struct web_ctx *ctx, struct pt_str list, unsigned *mask)
{
    if (live_bodies_from_list(list, mask))
        return 0;
    ctx->error.parameter = "bodies";
    return web_error(ctx, 400, "invalid_parameter",
                     "bodies must be a comma-separated list of sun, moon, mercury, venus, "
                     "mars, jupiter, saturn, uranus, neptune, pluto");
}

int app_handle_stream(struct web_ctx *ctx)
{
    struct app_state *st = ctx->app_data;
    struct app_observer obs;
    int rc = app_observer_from_request(ctx, &obs);
    if (rc != 0)
        return rc;
    const struct web_form *q;
    if ((rc = web_query(ctx, &q)) != 0)
        return rc;
    double interval = 1;
    const struct pt_str *iv = web_form_get(q, PT_STR("interval"));
    if (iv != NULL && (rc = app_parse_number(ctx, "interval", *iv, 1, 60, "seconds",
                                             &interval)) != 0)
        return rc;
    if (interval != floor(interval))
        return web_error_param(ctx, 400, "interval", 1, 60, "seconds",
                               "interval must be a whole number of seconds from 1 to 60");
    unsigned mask = APP_ALL_BODIES;
    const struct pt_str *bodies = web_form_get(q, PT_STR("bodies"));
    if (bodies != NULL && (rc = parse_bodies_param(ctx, *bodies, &mask)) != 0)
        return rc;
    if (ctx->req->is_head) {
        /* The head of the stream, without starting one. */
        web_header_add(ctx, "Cache-Control: no-cache");
        return web_send_static(ctx, 200, "text/event-stream; charset=utf-8", PT_STR_NULL);
    }

    struct live_sub *sub = pt_xcalloc(1, sizeof(*sub));
    sub->key.obs = obs.astro;
    sub->key.bodies = mask;
    sub->key.channel = LIVE_SSE;
    sub->source = obs.source; /* static strings */
    sub->interval_s = (unsigned)interval;
    /* The first event goes out now, so a client never waits a tick for data. */
    int64_t now_s = live_hub_now_s(st->live);
    sub->next_due_s = now_s + sub->interval_s;
    sub->last_sent_s = now_s;
    struct pt_shared *first = live_hub_message(st->live, sub, now_s);

    static const struct http_stream_handlers handlers = {
        .on_read = NULL,
        .on_close = on_sse_close,
        .on_shutdown = on_sse_shutdown,
    };
    struct live_hub *hub = st->live;
    rc = web_sse_start(ctx, &handlers, sub, &sub->stream);
    if (rc != WEB_DONE) {
        pt_shared_unref(first);
        free(sub);
        return WEB_DONE; /* the connection is closed; nothing more to answer */
    }
    live_hub_add(hub, sub);
    http_stream_write(sub->stream, PT_STR("retry: 2000\n\n"));
    if (first != NULL)
        http_stream_send_latest(sub->stream, first);
    pt_shared_unref(first);
    return WEB_DONE;
}
