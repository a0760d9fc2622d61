/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * microcache.c -- answers to identical position requests within the same
 * wall-clock millisecond are computed once.
 *
 * Under load many clients ask the same URL in the same millisecond (a page
 * polling, a dashboard, a benchmark). Every answer states the instant it was
 * computed for ("time"), so reusing it for the rest of that millisecond is
 * exact about what it says; the sky moves at most 0.015" in 1 ms. Requests
 * that depend on the session (no lat/lon) are never cached. Direct-mapped,
 * bounded (MICROCACHE_SLOTS entries of at most MICROCACHE_MAX_BODY bytes).
 * Loop thread only.
 */
#include <stdlib.h>

#include "app/app.h"

#define MICROCACHE_SLOTS 64
#define MICROCACHE_MAX_KEY 512
#define MICROCACHE_MAX_BODY 8192

struct microcache_entry {
    int64_t ms;                   /* wall-clock millisecond of the answer; 0 = empty */
    size_t key_len;
    char key[MICROCACHE_MAX_KEY];
    size_t body_len;
    char body[MICROCACHE_MAX_BODY];
};

struct microcache {
    struct microcache_entry slots[MICROCACHE_SLOTS];
    uint64_t hits;
    uint64_t misses;
};

struct microcache *microcache_new(void)
{
    return pt_xcalloc(1, sizeof(struct microcache));
}

void microcache_free(struct microcache *c)
{
    free(c);
}

static size_t slot_of(struct pt_str key)
{
    return (size_t)(pt_hash_bytes(PT_HASH_SEED, key.ptr, key.len) % MICROCACHE_SLOTS);
}

bool microcache_get(struct microcache *c, struct pt_str key, int64_t now_ms, struct pt_str *body)
{
    if (c == NULL || key.len > MICROCACHE_MAX_KEY)
        return false;
    const struct microcache_entry *e = &c->slots[slot_of(key)];
    if (e->ms != now_ms || e->key_len != key.len || memcmp(e->key, key.ptr, key.len) != 0) {
        c->misses++;
        return false;
    }
    c->hits++;
    *body = pt_str_make(e->body, e->body_len);
    return true;
}

void microcache_put(struct microcache *c, struct pt_str key, int64_t now_ms, struct pt_str body)
{
    if (c == NULL || key.len > MICROCACHE_MAX_KEY || body.len > MICROCACHE_MAX_BODY)
        return;
    struct microcache_entry *e = &c->slots[slot_of(key)];
    e->ms = now_ms;
    e->key_len = key.len;
    memcpy(e->key, key.ptr, key.len);
    e->body_len = body.len;
    memcpy(e->body, body.ptr, body.len);
}

void microcache_stats(const struct microcache *c, uint64_t *hits, uint64_t *misses)
{
    *hits = c != NULL ? c->hits : 0;
    *misses = c != NULL ? c->misses : 0;
}
