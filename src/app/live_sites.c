/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * live_sites.c -- an owner's saved sites, pushed to that owner's open streams
 * (SSE `event: sites`, WebSocket {"type": "sites"}): a site saved in one tab,
 * or by a script with the owner's token, appears on every open page of theirs.
 *
 * What is pushed is state, not a delta: the owner's whole list, exactly the
 * body of GET /api/sites, read from the store after the change committed. A
 * stream gets the list once when it opens (so a reconnecting page cannot miss
 * a change made while it was away) and again after every change.
 *
 * Streams are indexed by owner (struct live_owner, in a hash table). Each
 * owner has at most one list read in flight; changes that arrive meanwhile
 * mark it dirty and one more read follows, so a burst of writes costs two
 * reads, not one per write. Reads are numbered per owner: a stream waits for
 * the read numbered `sites_want` (the first read submitted after its reason to
 * want the list), and any read from that number on satisfies it, so an older
 * read that finishes late (PostgreSQL has a pool) never overwrites a newer one.
 *
 * A stream opened with a bearer token does not know its owner yet: one list
 * read resolves the token (struct owner_resolve) and then it joins its owner;
 * an unknown or revoked token gets `event: sites_error` (WebSocket: an error
 * message) and positions only.
 * A stream that closes meanwhile detaches from the lookup, which is freed
 * when the store answers.
 *
 * Loop thread only. Every store request belongs to a heap object that lives
 * until its done callback, which runs also when the store closes.
 */
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "store/store.h"

struct live_owner {
    char id[STORE_OWNER_LEN + 1];
    struct live_owner *next;      /* in its hash bucket */
    struct live_sub *subs;        /* linked by owner_prev / owner_next */
    uint64_t next_seq;            /* the number of the next read to submit */
    bool reading;                 /* a read is in flight */
    bool dirty;                   /* a change came in since that read was submitted */
};

struct owner_read {
    struct store_req req;
    struct live_owners *owners;
    char owner[STORE_OWNER_LEN + 1];
    uint64_t seq;
};

struct owner_resolve {
    struct store_req req;
    struct live_owners *owners;
    struct live_sub *sub;         /* NULL once the stream closed */
};

struct live_owners {
    struct store *store;
    const struct app_state *st;
    const struct web_router *router;
    struct live_owner **buckets;
    size_t num_buckets;           /* a power of two */
    size_t count;                 /* owners with a stream or a read in flight */
    size_t in_flight;             /* store requests not yet done */
    struct live_owners_stats stats;
};

struct live_owners *live_owners_new(const struct app_state *st, const struct web_router *router)
{
    struct live_owners *o = pt_xcalloc(1, sizeof(*o));
    o->store = st->store;
    o->st = st;
    o->router = router;
    o->num_buckets = 64;
    o->buckets = pt_xcalloc(o->num_buckets, sizeof(*o->buckets));
    return o;
}

void live_owners_free(struct live_owners *o)
{
    if (o == NULL)
        return;
    /* Streams are gone and the store has answered every request by now. */
    for (size_t i = 0; i < o->num_buckets; i++) {
        for (struct live_owner *e = o->buckets[i], *next; e != NULL; e = next) {
            next = e->next;
            free(e);
        }
    }
    free(o->buckets);
    free(o);
}

void live_owners_stats(const struct live_owners *o, struct live_owners_stats *out)
{
    *out = o->stats;
    out->owners = o->count;
}

/* ---------------------------------------------------------------- the index */

static struct live_owner **bucket_of(struct live_owners *o, const char *id)
{
    uint64_t h = pt_hash_bytes(PT_HASH_SEED, id, STORE_OWNER_LEN);
    return &o->buckets[h & (o->num_buckets - 1)];
}

static void grow(struct live_owners *o)
{
    size_t n = o->num_buckets * 2;
    struct live_owner **b = pt_xcalloc(n, sizeof(*b));
    for (size_t i = 0; i < o->num_buckets; i++) {
        for (struct live_owner *e = o->buckets[i], *next; e != NULL; e = next) {
            next = e->next;
            uint64_t h = pt_hash_bytes(PT_HASH_SEED, e->id, STORE_OWNER_LEN);
            e->next = b[h & (n - 1)];
            b[h & (n - 1)] = e;
        }
    }
    free(o->buckets);
    o->buckets = b;
    o->num_buckets = n;
}

static struct live_owner *find(struct live_owners *o, const char *id)
{
    for (struct live_owner *e = *bucket_of(o, id); e != NULL; e = e->next)
        if (memcmp(e->id, id, STORE_OWNER_LEN) == 0)
            return e;
    return NULL;
}

static struct live_owner *find_or_add(struct live_owners *o, const char *id)
{
    struct live_owner *e = find(o, id);
    if (e != NULL)
        return e;
    if (o->count >= o->num_buckets)
        grow(o);
    e = pt_xcalloc(1, sizeof(*e));
    memcpy(e->id, id, STORE_OWNER_LEN + 1);
    e->next_seq = 1;
    struct live_owner **b = bucket_of(o, id);
    e->next = *b;
    *b = e;
    o->count++;
    return e;
}

/* Free an owner nobody watches and no read refers to. */
static void drop_if_unused(struct live_owners *o, struct live_owner *e)
{
    if (e->subs != NULL || e->reading)
        return;
    for (struct live_owner **p = bucket_of(o, e->id); *p != NULL; p = &(*p)->next) {
        if (*p == e) {
            *p = e->next;
            break;
        }
    }
    o->count--;
    free(e);
}

static void link_sub(struct live_owner *e, struct live_sub *sub)
{
    sub->owner = e;
    sub->owner_prev = NULL;
    sub->owner_next = e->subs;
    if (e->subs != NULL)
        e->subs->owner_prev = sub;
    e->subs = sub;
}

static void unlink_sub(struct live_owner *e, struct live_sub *sub)
{
    if (sub->owner_prev != NULL)
        sub->owner_prev->owner_next = sub->owner_next;
    else
        e->subs = sub->owner_next;
    if (sub->owner_next != NULL)
        sub->owner_next->owner_prev = sub->owner_prev;
    sub->owner = NULL;
    sub->owner_prev = sub->owner_next = NULL;
}

/* ---------------------------------------------------------------- sending */

/*
 * The two framings of one answer: the SSE data ({...members}) and the
 * WebSocket message ({"type": type, ...members}). members writes the rest.
 */
struct framed {
    struct pt_buf sse;
    struct pt_buf ws;
};

typedef void (*members_fn)(struct web_json *j, const void *arg);

static bool frame(struct framed *f, const char *type, members_fn members, const void *arg)
{
    pt_buf_init(&f->sse, 4096);
    pt_buf_init(&f->ws, 4096);
    struct web_json a, b;
    web_json_init(&a, &f->sse);
    web_json_object_begin(&a);
    members(&a, arg);
    web_json_object_end(&a);
    web_json_init(&b, &f->ws);
    web_json_object_begin(&b);
    WEB_JSON_KEY(&b, "type");
    web_json_cstring(&b, type);
    members(&b, arg);
    web_json_object_end(&b);
    return web_json_finish(&a) == 0 && web_json_finish(&b) == 0;
}

static void frame_free(struct framed *f)
{
    pt_buf_deinit(&f->sse);
    pt_buf_deinit(&f->ws);
}

struct sites_arg {
    const struct live_owners *o;
    const struct store_req *req;
};

static void sites_members(struct web_json *j, const void *p)
{
    const struct sites_arg *a = p;
    app_render_sites(j, a->o->st, a->o->router, a->req->sites, a->req->num_sites);
}

static void unauthorized_members(struct web_json *j, const void *p)
{
    (void)p;
    WEB_JSON_KEY(j, "error");
    web_json_cstring(j, "unauthorized");
    WEB_JSON_KEY(j, "parameter");
    web_json_cstring(j, "Authorization");
    WEB_JSON_KEY(j, "message");
    web_json_cstring(j, "the bearer token is unknown or revoked: no saved sites on this "
                        "stream (positions go on)");
}

/* ---------------------------------------------------------------- reads */

static void on_read(struct store_req *req);

static void submit_read(struct live_owners *o, struct live_owner *e)
{
    struct owner_read *r = pt_xcalloc(1, sizeof(*r));
    r->req.op = STORE_SITE_LIST;
    memcpy(r->req.auth.owner, e->id, STORE_OWNER_LEN + 1);
    memcpy(r->owner, e->id, STORE_OWNER_LEN + 1);
    r->owners = o;
    r->seq = e->next_seq++;
    r->req.done = on_read;
    r->req.data = r;
    e->reading = true;
    e->dirty = false;
    o->in_flight++;
    o->stats.reads++;
    store_submit(o->store, &r->req);
}

/* subs (one stream, or every stream of e when NULL) want the list as it is now. */
static void want_list(struct live_owners *o, struct live_owner *e, struct live_sub *one)
{
    /* The next read submitted is the first to see what is committed now. */
    uint64_t seq = e->next_seq;
    if (one != NULL)
        one->sites_want = seq;
    else
        for (struct live_sub *s = e->subs; s != NULL; s = s->owner_next)
            s->sites_want = seq;
    if (e->reading)
        e->dirty = true;
    else
        submit_read(o, e);
}

static void deliver_list(struct live_owners *o, struct live_owner *e, uint64_t seq,
                         const struct store_req *req)
{
    struct framed f;
    bool framed = false;
    for (struct live_sub *s = e->subs, *next; s != NULL; s = next) {
        next = s->owner_next; /* a send never frees s (on_close runs later), but be safe */
        if (s->sites_want == 0 || s->sites_want > seq)
            continue;
        if (!framed) {
            struct sites_arg a = {o, req};
            if (!frame(&f, "sites", sites_members, &a)) {
                frame_free(&f);
                return;
            }
            framed = true;
        }
        s->sites_want = 0;
        o->stats.pushes++;
        live_sub_send(s, "sites", pt_buf_str(&f.sse), pt_buf_str(&f.ws));
    }
    if (framed)
        frame_free(&f);
}

/*
 * Streams that observe one of the owner's sites follow it: a changed place or
 * weather gives them the new positions at once. A deleted site leaves them
 * where they were. Reads of one owner finish in order (one in flight), so an
 * older list never moves a stream back.
 */
static void follow_sites(struct live_owner *e, const struct store_req *req)
{
    for (struct live_sub *s = e->subs; s != NULL; s = s->owner_next) {
        if (s->site_id == 0)
            continue;
        const struct store_site *site = NULL;
        for (size_t i = 0; i < req->num_sites && site == NULL; i++)
            if (req->sites[i].id == s->site_id)
                site = &req->sites[i];
        if (site == NULL)
            continue;
        struct astro_observer obs = s->key.obs; /* padding kept: the key is hashed as bytes */
        app_observer_from_site(site, &obs);
        if (memcmp(&obs, &s->key.obs, sizeof(obs)) != 0 ||
            s->key.horizon_deg != site->horizon_deg) {
            s->key.obs = obs;
            s->key.horizon_deg = site->horizon_deg;
            live_hub_want(s->hub, s);
        }
    }
}

static void on_read(struct store_req *req)
{
    struct owner_read *r = req->data;
    struct live_owners *o = r->owners;
    o->in_flight--;
    struct live_owner *e = find(o, r->owner);
    if (e != NULL) {
        e->reading = false;
        if (req->status == STORE_OK) {
            follow_sites(e, req);
            deliver_list(o, e, r->seq, req);
        }
        else
            o->stats.failed++; /* the streams keep waiting: the next change or join reads again */
        if (e->dirty && e->subs != NULL && !o->store->closing)
            submit_read(o, e);
        else
            drop_if_unused(o, e);
    }
    store_req_release(req);
    free(r);
}

/* ---------------------------------------------------------------- joining */

static void join_owner(struct live_owners *o, struct live_sub *sub, const char *owner)
{
    struct live_owner *e = find_or_add(o, owner);
    link_sub(e, sub);
    want_list(o, e, sub);
}

static void on_resolved(struct store_req *req)
{
    struct owner_resolve *r = req->data;
    struct live_owners *o = r->owners;
    struct live_sub *sub = r->sub;
    o->in_flight--;
    if (sub != NULL) {
        sub->resolving = NULL;
        if (req->status == STORE_OK) {
            /* Join, then read again: a change made during this lookup is not lost. */
            join_owner(o, sub, req->auth.owner);
        } else if (req->status == STORE_UNAUTHORIZED) {
            struct framed f;
            /* Not "event: error": an EventSource would take that for a broken stream. */
            if (frame(&f, "error", unauthorized_members, NULL))
                live_sub_send(sub, "sites_error", pt_buf_str(&f.sse), pt_buf_str(&f.ws));
            frame_free(&f);
        } else {
            o->stats.failed++;
        }
    }
    store_req_release(req);
    free(r);
}

void live_owners_join(struct live_owners *o, struct live_sub *sub, const struct store_auth *auth)
{
    sub->owners = o;
    if (!auth->bearer) {
        join_owner(o, sub, auth->owner);
        return;
    }
    struct owner_resolve *r = pt_xcalloc(1, sizeof(*r));
    r->req.op = STORE_SITE_LIST;
    r->req.auth = *auth;
    r->req.done = on_resolved;
    r->req.data = r;
    r->owners = o;
    r->sub = sub;
    sub->resolving = r;
    o->in_flight++;
    o->stats.reads++;
    store_submit(o->store, &r->req);
}

void live_owners_leave(struct live_sub *sub)
{
    struct live_owners *o = sub->owners;
    if (o == NULL)
        return;
    if (sub->resolving != NULL) {
        sub->resolving->sub = NULL;
        sub->resolving = NULL;
    }
    struct live_owner *e = sub->owner;
    if (e != NULL) {
        unlink_sub(e, sub);
        drop_if_unused(o, e);
    }
    sub->owners = NULL;
}

void live_owners_resync(struct live_owners *o)
{
    for (size_t i = 0; i < o->num_buckets; i++)
        for (struct live_owner *e = o->buckets[i]; e != NULL; e = e->next)
            if (e->subs != NULL)
                want_list(o, e, NULL);
}

void live_owners_changed(struct live_owners *o, const char *owner)
{
    struct live_owner *e = find(o, owner);
    o->stats.changes++;
    if (e == NULL || e->subs == NULL)
        return; /* nobody of theirs is watching */
    want_list(o, e, NULL);
}
