/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * store.c -- what both engines share: choosing one, the request's lifetime,
 * ids and names.
 */
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>

#include "store/store.h"

int store_open(uv_loop_t *loop, const struct store_config *cfg, struct store **out)
{
    if (cfg->database_url != NULL && cfg->database_url[0] != '\0')
        return store_pg_open(loop, cfg, out);
    return store_sqlite_open(loop, cfg, out);
}

void store_submit(struct store *s, struct store_req *req)
{
    req->status = STORE_OK;
    req->current_version = 0;
    req->sites = NULL;
    req->num_sites = 0;
    req->tokens = NULL;
    req->num_tokens = 0;
    req->notes_owned = false;
    req->next = NULL;
    if (req->now_ms == 0)
        req->now_ms = (int64_t)(pt_clock_unix_s() * 1000.0);
    if (s->closing) {
        req->status = STORE_UNAVAILABLE;
        req->done(req);
        return;
    }
    s->engine->submit(s, req);
}

void store_stats(const struct store *s, struct store_stats *out)
{
    memset(out, 0, sizeof(*out));
    s->engine->stats(s, out);
}

void store_close(struct store *s)
{
    if (s == NULL || s->closing)
        return;
    s->closing = true;
    s->engine->close(s);
}

void store_free(struct store *s)
{
    if (s != NULL)
        s->engine->free(s);
}

void store_req_release(struct store_req *req)
{
    for (size_t i = 0; i < req->num_sites; i++)
        free(req->sites[i].notes);
    free(req->sites);
    free(req->tokens);
    req->sites = NULL;
    req->num_sites = 0;
    req->tokens = NULL;
    req->num_tokens = 0;
    if (req->notes_owned)
        free(req->site.notes);
    req->notes_owned = false;
    req->site.notes = NULL;
}

int64_t store_random_id(void)
{
    uint64_t v = 0;
    while (v == 0) {
        if (RAND_bytes((unsigned char *)&v, sizeof(v)) != 1)
            abort(); /* no randomness: nothing here is safe to hand out */
        v &= (UINT64_C(1) << 53) - 1;
    }
    return (int64_t)v;
}

const char *store_status_name(enum store_status st)
{
    switch (st) {
    case STORE_OK: return "ok";
    case STORE_NOT_FOUND: return "not_found";
    case STORE_UNAUTHORIZED: return "unauthorized";
    case STORE_NAME_TAKEN: return "name_taken";
    case STORE_STALE: return "stale";
    case STORE_LIMIT: return "limit";
    case STORE_UNAVAILABLE: return "unavailable";
    case STORE_FAILED: return "failed";
    }
    return "unknown";
}

/* ------------------------------------------------- the unavailable store */

/* What serves when the configured engine cannot open: every request is refused. */
struct dead_store {
    struct store base;
    char why[200];
    uint64_t refused;
};

static void dead_submit(struct store *base, struct store_req *req)
{
    struct dead_store *d = pt_container_of(base, struct dead_store, base);
    d->refused++;
    req->status = STORE_UNAVAILABLE;
    req->done(req);
}

static void dead_stats(const struct store *base, struct store_stats *out)
{
    const struct dead_store *d = (const struct dead_store *)base;
    out->engine = "none";
    out->available = false;
    out->ops = d->refused;
    out->failed = d->refused;
    snprintf(out->last_error, sizeof(out->last_error), "%s", d->why);
}

static void dead_close(struct store *base)
{
    (void)base;
}

static void dead_free(struct store *base)
{
    free(base);
}

static const struct store_engine dead_engine = {
    .submit = dead_submit,
    .stats = dead_stats,
    .close = dead_close,
    .free = dead_free,
};

struct store *store_unavailable_new(uv_loop_t *loop, const char *why)
{
    struct dead_store *d = pt_xcalloc(1, sizeof(*d));
    d->base.engine = &dead_engine;
    d->base.loop = loop;
    snprintf(d->why, sizeof(d->why), "%s", why);
    return &d->base;
}
