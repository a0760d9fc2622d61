/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * live.c -- the live sky: one timer per process pushes positions to every
 * subscriber (Server-Sent Events and WebSocket, through the same hub), with
 * the messages built off the loop.
 *
 * Each second, subscribers that are due become pending. A build round then
 * takes the pending subscribers, groups them by what they asked for (observer,
 * bodies, channel) and builds one message per group on libuv's thread pool:
 * the positions, the observer's next events (remembered per observer,
 * live_events.c) and the JSON. The round works within a time budget; groups it
 * did not reach stay pending and go first in the next round, so an overloaded
 * hub sends the newest positions to fewer groups, never stalls the loop. Back
 * on the loop the messages are delivered in slices of subscribers, between
 * which the loop serves everyone else. A subscriber that cannot keep up holds
 * at most the newest message and is closed after its stall timeout.
 *
 * Threads: the round's groups, its messages and the events store belong to
 * the worker while the round builds, to the loop otherwise; at most one round
 * exists at a time. Everything else is loop-only. Invariant: a subscriber is
 * in the hub's list from live_hub_add() until live_hub_remove() (its stream's
 * close callback), and the delivery cursor never points at a removed one.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "app/app.h"
#include "store/store.h"

#define HEARTBEAT_S 15
#define RECENT_SLOTS 256
/* Subscribers served per delivery slice; the loop serves others in between. */
#define DELIVER_SLICE 256
#define MAX_GROUPS_PER_ROUND 65536
/* Observers whose events are not asked about for this long are forgotten. */
#define EVENTS_KEEP_S 30

/* A message of the current second, for subscribers that join between rounds. */
struct recent_msg {
    int64_t second;
    struct live_key key;
    struct pt_shared *msg;
};

struct live_group {
    struct live_key key;
    const char *source;
    struct pt_shared *msg; /* built by the round; NULL if not reached or failed */
};

struct live_round {
    uv_work_t work;
    struct live_hub *hub;
    int64_t second;
    struct astro_time t;
    uint64_t budget_ns;
    uint64_t took_us;
    size_t built; /* groups[0 .. built) were attempted */
    size_t n;
    size_t index_cap; /* a power of two */
    uint32_t *index;  /* open addressing by key: group number + 1, 0 empty */
    struct live_group groups[];
};

struct live_hub {
    uv_timer_t timer;
    uv_idle_t deliver_idle;
    uv_loop_t *loop;
    const struct app_state *st;
    struct live_config cfg;
    struct live_sub *subs;
    size_t count;
    size_t pending;
    bool stopping;
    struct live_round *round; /* building (on the pool) or delivering */
    bool delivering;
    struct live_sub *cursor;    /* the next subscriber to deliver to */
    struct live_events *events; /* touched by the building round only */
    int64_t events_swept_s;
    struct live_stats stats;
    int64_t last_tick_s; /* second of the last tick, so no answer is labelled earlier */
    struct pt_buf announcement;     /* the operator's latest, as JSON; empty: none */
    struct pt_buf announcement_ws;  /* the same as a WebSocket message */
    double announcement_expires;    /* Unix seconds */
    struct recent_msg recent[RECENT_SLOTS]; /* direct-mapped by key hash */
};

int64_t live_hub_now_s(const struct live_hub *hub)
{
    int64_t now = (int64_t)floor(pt_clock_unix_s());
    return now > hub->last_tick_s ? now : hub->last_tick_s;
}

const struct app_state *live_hub_state(const struct live_hub *hub)
{
    return hub->st;
}

const struct live_config *live_hub_config(const struct live_hub *hub)
{
    return &hub->cfg;
}

static uint64_t key_hash(const struct live_key *k)
{
    return pt_hash_bytes(PT_HASH_SEED, k, sizeof(*k));
}

static bool same_key(const struct live_key *a, const struct live_key *b)
{
    return memcmp(a, b, sizeof(*a)) == 0;
}

/* Milliseconds until just after the next wall-clock second. */
static uint64_t ms_to_next_second(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return 1000 - (uint64_t)(ts.tv_nsec / 1000000) + 2;
}

/* ------------------------------------------------------------- pending */

static void mark_pending(struct live_hub *hub, struct live_sub *sub, int64_t now_s)
{
    if (sub->pending)
        return;
    sub->pending = true;
    sub->pending_since_s = now_s;
    hub->pending++;
}

static void clear_pending(struct live_hub *hub, struct live_sub *sub)
{
    if (!sub->pending)
        return;
    sub->pending = false;
    hub->pending--;
}

static void deliver(struct live_hub *hub, struct live_sub *sub, struct pt_shared *msg)
{
    bool dropped = sub->key.channel == LIVE_WS ? web_ws_send_latest(sub->ws, msg)
                                               : web_sse_send_latest(sub->sse, msg);
    hub->stats.deliveries++;
    if (dropped)
        hub->stats.dropped++;
    clear_pending(hub, sub);
}

/* ------------------------------------------------------------- recent */

static struct recent_msg *recent_slot(struct live_hub *hub, const struct live_key *key)
{
    return &hub->recent[key_hash(key) & (RECENT_SLOTS - 1)];
}

static struct pt_shared *recent_get(struct live_hub *hub, const struct live_key *key,
                                    int64_t second)
{
    struct recent_msg *r = recent_slot(hub, key);
    if (r->msg != NULL && r->second == second && same_key(&r->key, key))
        return r->msg;
    return NULL;
}

static void recent_put(struct live_hub *hub, const struct live_key *key, int64_t second,
                       struct pt_shared *msg)
{
    struct recent_msg *r = recent_slot(hub, key);
    pt_shared_unref(r->msg);
    r->msg = pt_shared_ref(msg);
    r->second = second;
    r->key = *key;
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

/* ------------------------------------------------------------- building */

/* The group of key in the round, or NULL. */
static struct live_group *round_find(struct live_round *r, const struct live_key *key)
{
    size_t mask = r->index_cap - 1;
    for (size_t i = key_hash(key) & mask; r->index[i] != 0; i = (i + 1) & mask) {
        struct live_group *g = &r->groups[r->index[i] - 1];
        if (same_key(&g->key, key))
            return g;
    }
    return NULL;
}

static void round_add(struct live_round *r, const struct live_sub *sub)
{
    size_t mask = r->index_cap - 1;
    size_t i = key_hash(&sub->key) & mask;
    while (r->index[i] != 0) {
        if (same_key(&r->groups[r->index[i] - 1].key, &sub->key))
            return;
        i = (i + 1) & mask;
    }
    struct live_group *g = &r->groups[r->n];
    g->key = sub->key;
    g->source = sub->source;
    g->msg = NULL;
    r->index[i] = (uint32_t)++r->n;
}

static void round_free(struct live_round *r)
{
    for (size_t i = 0; i < r->n; i++)
        pt_shared_unref(r->groups[i].msg);
    free(r->index);
    free(r);
}

/* Serialize the positions message of one group (one reference), or NULL. Any thread.
 * json is the round's scratch buffer: reused, so a message costs no chain of reallocs. */
static struct pt_shared *build_message(const struct app_state *st, struct live_events *events,
                                       const struct live_group *g, const struct astro_time *t,
                                       const struct app_body_info details[ASTRO_BODY_COUNT],
                                       struct app_instant *in, struct pt_buf *json)
{
    struct astro_position pos[ASTRO_BODY_COUNT];
    struct app_body_info info[ASTRO_BODY_COUNT];
    if (app_instant_positions(in, st, t, &g->key.obs, pos) < 0 ||
        live_events_infos(events, st->astro, t, &g->key.obs, g->key.bodies, details, info) < 0)
        return NULL;
    struct app_observer obs = {
        .astro = g->key.obs, .source = g->source, .horizon_deg = g->key.horizon_deg};
    /* Room in front for the WebSocket message's first member, which takes the '{'. */
    static const char type_member[] = "{\"type\":\"positions\",";
    const size_t room = sizeof(type_member) - 2;
    json->len = 0;
    if (pt_buf_reserve(json, room) < 0)
        return NULL;
    json->len = room;
    struct web_json j;
    web_json_init(&j, json);
    app_render_sky_from(&j, st, &obs, t, g->key.bodies, pos, info, in);
    if (web_json_finish(&j) != 0 || json->len <= room + 2)
        return NULL;
    if (g->key.channel == LIVE_WS) {
        /* {"type":"positions", <the sky object's members>} in one text frame. */
        memcpy(json->data, type_member, sizeof(type_member) - 1);
        return web_ws_text_new(pt_buf_str(json));
    }
    return web_sse_event_new("positions", pt_str_make(json->data + room, json->len - room));
}

/* Worker thread: build the round's messages, in order, within its budget. */
static void on_build(uv_work_t *work)
{
    struct live_round *r = pt_container_of(work, struct live_round, work);
    struct live_hub *hub = r->hub;
    uint64_t start = uv_hrtime();
    /*
     * The instant's members and each body's magnitude, phase, elongation and
     * constellation are the same for every observer: computed and serialized once.
     */
    struct app_instant *in = app_instant_new();
    app_instant_use(in, hub->st, &r->t);
    struct app_body_info details[ASTRO_BODY_COUNT];
    for (int b = 0; b < ASTRO_BODY_COUNT; b++)
        app_instant_details(in, hub->st->astro, (enum astro_body)b, &r->t, &details[b]);
    struct pt_buf json;
    pt_buf_init(&json, 1 << 20);
    for (size_t i = 0; i < r->n; i++) {
        if (i > 0 && uv_hrtime() - start > r->budget_ns)
            break;
        r->groups[i].msg =
            build_message(hub->st, hub->events, &r->groups[i], &r->t, details, in, &json);
        r->built = i + 1;
    }
    pt_buf_deinit(&json);
    app_instant_free(in);
    if (r->second - hub->events_swept_s >= EVENTS_KEEP_S) {
        live_events_forget(hub->events, r->second - EVENTS_KEEP_S);
        hub->events_swept_s = r->second;
    }
    r->took_us = (uv_hrtime() - start) / 1000;
}

static void start_round(struct live_hub *hub);

/* Offer the round's messages to the next slice of subscribers. Returns true when done. */
static bool deliver_slice(struct live_hub *hub)
{
    struct live_round *r = hub->round;
    for (size_t n = 0; hub->cursor != NULL && n < DELIVER_SLICE; n++) {
        struct live_sub *s = hub->cursor;
        hub->cursor = s->next;
        if (!s->pending)
            continue;
        struct live_group *g = round_find(r, &s->key);
        if (g == NULL || (size_t)(g - r->groups) >= r->built)
            continue; /* changed since, or beyond the budget: the next round */
        if (g->msg != NULL) {
            deliver(hub, s, g->msg);
            s->last_sent_s = r->second;
        } else {
            clear_pending(hub, s); /* cannot be built now (range): wait for its next turn */
        }
    }
    return hub->cursor == NULL;
}

static void end_delivery(struct live_hub *hub)
{
    uv_idle_stop(&hub->deliver_idle);
    round_free(hub->round);
    hub->round = NULL;
    hub->delivering = false;
    start_round(hub); /* for those the budget did not reach, or who changed meanwhile */
}

static void on_deliver_idle(uv_idle_t *idle)
{
    struct live_hub *hub = idle->data;
    if (deliver_slice(hub))
        end_delivery(hub);
}

static void on_built(uv_work_t *work, int status)
{
    struct live_round *r = pt_container_of(work, struct live_round, work);
    struct live_hub *hub = r->hub;
    hub->stats.rounds++;
    hub->stats.messages += r->built;
    hub->stats.deferred += r->n - r->built;
    hub->stats.build_us += r->took_us;
    hub->stats.events_cached = live_events_count(hub->events);
    if (status < 0 || hub->stopping) {
        round_free(r);
        hub->round = NULL;
        return;
    }
    for (size_t i = 0; i < r->built; i++)
        if (r->groups[i].msg != NULL)
            recent_put(hub, &r->groups[i].key, r->second, r->groups[i].msg);
    hub->delivering = true;
    hub->cursor = hub->subs;
    if (deliver_slice(hub))
        end_delivery(hub);
    else
        uv_idle_start(&hub->deliver_idle, on_deliver_idle);
}

/* A new build round for the pending subscribers, unless one is under way. */
static void start_round(struct live_hub *hub)
{
    if (hub->stopping || hub->round != NULL || hub->pending == 0)
        return;
    size_t cap = PT_MIN(hub->pending, (size_t)MAX_GROUPS_PER_ROUND);
    struct live_round *r = pt_xcalloc(1, sizeof(*r) + cap * sizeof(r->groups[0]));
    r->hub = hub;
    r->second = live_hub_now_s(hub);
    r->budget_ns = hub->cfg.build_budget_ms * 1000000;
    r->index_cap = 16;
    while (r->index_cap < cap * 2)
        r->index_cap *= 2;
    r->index = pt_xcalloc(r->index_cap, sizeof(*r->index));
    if (astro_time_from_unix(hub->st->astro, (double)r->second, &r->t) < 0) {
        round_free(r);
        return;
    }
    /* Those left waiting by an earlier round go first. */
    for (int pass = 0; pass < 2 && r->n < cap; pass++) {
        for (struct live_sub *s = hub->subs; s != NULL && r->n < cap; s = s->next) {
            bool starved = s->pending_since_s < r->second;
            if (s->pending && starved == (pass == 0))
                round_add(r, s);
        }
    }
    hub->round = r;
    if (uv_queue_work(hub->loop, &r->work, on_build, on_built) < 0) {
        hub->round = NULL;
        round_free(r);
    }
}

void live_hub_want(struct live_hub *hub, struct live_sub *sub)
{
    int64_t now_s = live_hub_now_s(hub);
    struct pt_shared *msg = recent_get(hub, &sub->key, now_s);
    if (msg != NULL) {
        mark_pending(hub, sub, now_s);
        deliver(hub, sub, msg);
        return;
    }
    mark_pending(hub, sub, now_s);
    start_round(hub);
}

/* ------------------------------------------------------------- ticks */

/* Every due subscriber becomes pending; SSE streams with nothing due get a keep-alive. */
static void tick(struct live_hub *hub, int64_t now_s)
{
    forget_recent(hub, now_s);
    for (struct live_sub *s = hub->subs; s != NULL; s = s->next) {
        if (now_s >= s->next_due_s) {
            s->next_due_s = now_s + s->interval_s;
            mark_pending(hub, s, now_s);
        } else if (s->key.channel == LIVE_SSE && now_s - s->last_sent_s >= HEARTBEAT_S) {
            web_sse_comment(s->sse, PT_STR("keep-alive"));
            s->last_sent_s = now_s;
        }
    }
    hub->stats.ticks++;
    start_round(hub);
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

struct live_hub *live_hub_new(uv_loop_t *loop, const struct app_state *st,
                              const struct live_config *cfg)
{
    struct live_hub *hub = pt_xcalloc(1, sizeof(*hub));
    hub->loop = loop;
    hub->st = st;
    hub->cfg = *cfg;
    hub->events = live_events_new();
    pt_buf_init(&hub->announcement, 64 * 1024);
    pt_buf_init(&hub->announcement_ws, 64 * 1024);
    uv_timer_init(loop, &hub->timer);
    uv_idle_init(loop, &hub->deliver_idle);
    hub->timer.data = hub->deliver_idle.data = hub;
    uv_timer_start(&hub->timer, on_tick, ms_to_next_second(), 0);
    return hub;
}

void live_hub_stop(struct live_hub *hub)
{
    hub->stopping = true;
    uv_close((uv_handle_t *)&hub->timer, NULL);
    uv_close((uv_handle_t *)&hub->deliver_idle, NULL);
    if (hub->delivering) {
        round_free(hub->round);
        hub->round = NULL;
        hub->delivering = false;
    }
}

void live_hub_free(struct live_hub *hub)
{
    if (hub == NULL)
        return;
    pt_buf_deinit(&hub->announcement);
    pt_buf_deinit(&hub->announcement_ws);
    forget_recent(hub, INT64_MAX);
    live_events_free(hub->events);
    free(hub);
}

void live_sub_send(struct live_sub *sub, const char *event, struct pt_str sse, struct pt_str ws)
{
    if (sub->key.channel == LIVE_WS) {
        if (web_ws_send_text(sub->ws, ws) == PT_E_NOMEM)
            web_ws_close(sub->ws, 1008, "the client does not read");
    } else if (web_sse_send(sub->sse, event, sse) == PT_E_NOMEM) {
        web_sse_close(sub->sse);
    }
}

/* Give sub the current announcement, if one has not expired. */
static void send_announcement(struct live_hub *hub, struct live_sub *sub)
{
    if (hub->announcement.len != 0 && pt_clock_unix_s() < hub->announcement_expires)
        live_sub_send(sub, "announcement", pt_buf_str(&hub->announcement),
                      pt_buf_str(&hub->announcement_ws));
}

void live_hub_announce(struct live_hub *hub, struct pt_str json, double expires_unix_s)
{
    if (json.len < 2 || json.ptr[0] != '{' || hub->stopping)
        return;
    hub->announcement.len = hub->announcement_ws.len = 0;
    pt_buf_append(&hub->announcement, json.ptr, json.len);
    static const char head[] = "{\"type\":\"announcement\",";
    pt_buf_append(&hub->announcement_ws, head, sizeof(head) - 1);
    pt_buf_append(&hub->announcement_ws, json.ptr + 1, json.len - 1);
    hub->announcement_expires = expires_unix_s;
    for (struct live_sub *s = hub->subs; s != NULL; s = s->next)
        send_announcement(hub, s);
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
    send_announcement(hub, sub);
}

void live_hub_remove(struct live_hub *hub, struct live_sub *sub)
{
    clear_pending(hub, sub);
    if (hub->cursor == sub)
        hub->cursor = sub->next;
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
    *out = hub->stats;
    out->subscribers = hub->count;
    out->pending = hub->pending;
}

bool live_hub_observe_allowed(struct live_hub *hub, struct live_sub *sub)
{
    int64_t now_s = live_hub_now_s(hub);
    if (sub->observe_second != now_s) {
        sub->observe_second = now_s;
        sub->observes = 0;
    }
    if (++sub->observes <= hub->cfg.ws_observe_per_s)
        return true;
    hub->stats.observe_refused++;
    return false;
}

/* ------------------------------------------------------------- SSE */

static void on_sse_close(struct web_sse *sse)
{
    struct live_sub *sub = web_sse_data(sse);
    live_owners_leave(sub);
    live_hub_remove(sub->hub, sub);
    free(sub);
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
    if (iv != NULL &&
        (rc = app_parse_number(ctx, "interval", *iv, 1, 60, "seconds", &interval)) != 0)
        return rc;
    if (interval != floor(interval))
        return web_error_param(ctx, 400, "interval", 1, 60, "seconds",
                               "interval must be a whole number of seconds from 1 to 60");
    unsigned mask = APP_ALL_BODIES;
    const struct pt_str *bodies = web_form_get(q, PT_STR("bodies"));
    if (bodies != NULL && (rc = parse_bodies_param(ctx, *bodies, &mask)) != 0)
        return rc;
    struct store_auth auth;
    int has_owner = app_stream_auth(ctx, &auth);
    if (has_owner < 0 || has_owner > 1)
        return has_owner;

    struct live_hub *hub = st->live;
    struct live_sub *sub = pt_xcalloc(1, sizeof(*sub));
    sub->key.obs = obs.astro;
    sub->key.horizon_deg = obs.horizon_deg;
    sub->key.bodies = mask;
    sub->key.channel = LIVE_SSE;
    sub->source = obs.source; /* static strings */
    if (ctx->local != NULL) /* site=: the stream follows the site's changes */
        sub->site_id = ((const struct store_site *)ctx->local)->id;
    sub->interval_s = (unsigned)interval;
    int64_t now_s = live_hub_now_s(hub);
    sub->next_due_s = now_s + sub->interval_s;
    sub->last_sent_s = now_s;
    static const struct web_sse_handlers handlers = {
        .on_close = on_sse_close, .on_shutdown = NULL, /* the framework says goodbye */
    };
    rc = web_sse_start(ctx, &handlers, sub, &sub->sse);
    if (rc != WEB_DONE || sub->sse == NULL) {
        free(sub); /* refused (rc), a HEAD request, or the connection is gone */
        return rc;
    }
    /* ctx is gone: the first event goes out as soon as it is built. */
    live_hub_add(hub, sub);
    live_hub_want(hub, sub);
    if (has_owner == 1 && st->owners != NULL)
        live_owners_join(st->owners, sub, &auth);
    return WEB_DONE;
}
