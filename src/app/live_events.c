/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * live_events.c -- the next rise/transit/set of every body for each observer
 * the live push serves, remembered until the first of them passes.
 *
 * Searching for the next events costs about 150,000 instructions per body
 * (a root search over sampled altitudes), ten bodies per observer: that was
 * 90% of a live message for a new observer, paid every tick once the
 * direct-mapped cache of the request path thrashed (4,096 slots for
 * thousands of observers). Here each observer has its own entry in a chained
 * hash table: a message for a known observer finds its events without a
 * search, and an entry lives while the observer is asked about.
 *
 * Not thread-safe: used by one build round at a time (the hub guarantees it).
 */
#include <math.h>
#include <stdlib.h>

#include "app/app.h"

#define MIN_BUCKETS 256

struct entry {
    struct entry *next;
    double lat_deg;
    double lon_deg;
    double elev_m;
    int64_t used_s;                    /* last asked about */
    unsigned valid;                    /* bodies whose events are known */
    double until_jd[ASTRO_BODY_COUNT]; /* known events hold for t < until */
    int rc[ASTRO_BODY_COUNT];
    struct astro_riseset events[ASTRO_BODY_COUNT];
    /* Their text, formatted once (0.75 KiB): every tick renders it for this observer. */
    struct app_event_texts texts[ASTRO_BODY_COUNT];
};

struct live_events {
    struct entry **buckets;
    size_t nbuckets; /* a power of two */
    size_t count;
};

struct live_events *live_events_new(void)
{
    struct live_events *e = pt_xcalloc(1, sizeof(*e));
    e->nbuckets = MIN_BUCKETS;
    e->buckets = pt_xcalloc(e->nbuckets, sizeof(*e->buckets));
    return e;
}

void live_events_free(struct live_events *e)
{
    if (e == NULL)
        return;
    live_events_forget(e, INT64_MAX);
    free(e->buckets);
    free(e);
}

size_t live_events_count(const struct live_events *e)
{
    return e->count;
}

static size_t bucket_of(const struct live_events *e, const struct astro_observer *obs)
{
    const double v[3] = {obs->lat_deg, obs->lon_deg, obs->elev_m};
    return (size_t)pt_hash_doubles(PT_HASH_SEED, v, 3) & (e->nbuckets - 1);
}

/* Double the table when it holds twice as many entries as buckets. */
static void grow(struct live_events *e)
{
    size_t n = e->nbuckets * 2;
    struct entry **b = pt_xcalloc(n, sizeof(*b));
    struct live_events bigger = {.buckets = b, .nbuckets = n};
    for (size_t i = 0; i < e->nbuckets; i++) {
        while (e->buckets[i] != NULL) {
            struct entry *x = e->buckets[i];
            e->buckets[i] = x->next;
            struct astro_observer o = {
                .lat_deg = x->lat_deg, .lon_deg = x->lon_deg, .elev_m = x->elev_m};
            size_t k = bucket_of(&bigger, &o);
            x->next = b[k];
            b[k] = x;
        }
    }
    free(e->buckets);
    e->buckets = b;
    e->nbuckets = n;
}

static struct entry *entry_get(struct live_events *e, const struct astro_observer *obs)
{
    struct entry **head = &e->buckets[bucket_of(e, obs)];
    for (struct entry *x = *head; x != NULL; x = x->next)
        if (x->lat_deg == obs->lat_deg && x->lon_deg == obs->lon_deg && x->elev_m == obs->elev_m)
            return x;
    if (e->count >= e->nbuckets * 2) {
        grow(e);
        head = &e->buckets[bucket_of(e, obs)];
    }
    struct entry *x = pt_xcalloc(1, sizeof(*x));
    x->lat_deg = obs->lat_deg;
    x->lon_deg = obs->lon_deg;
    x->elev_m = obs->elev_m;
    x->next = *head;
    *head = x;
    e->count++;
    return x;
}

int live_events_infos(struct live_events *e, const struct astro_ctx *astro,
                      const struct astro_time *t, const struct astro_observer *obs, unsigned bodies,
                      const struct app_body_info details[ASTRO_BODY_COUNT],
                      struct app_body_info info[ASTRO_BODY_COUNT])
{
    struct entry *x = entry_get(e, obs);
    x->used_s = (int64_t)floor(t->unix_s);
    for (int b = 0; b < ASTRO_BODY_COUNT; b++) {
        if (!(bodies & (1u << b)))
            continue;
        info[b].details_rc = details[b].details_rc;
        info[b].details = details[b].details;
        info[b].details_json = details[b].details_json;
        /* Known events are the next ones for any instant before the first of them. */
        if (!(x->valid & (1u << b)) || !(t->jd_ut1 < x->until_jd[b])) {
            int rc = astro_riseset_next(astro, (enum astro_body)b, t, obs, &x->events[b]);
            if (rc < 0 && rc != PT_E_RANGE)
                return rc;
            x->rc[b] = rc;
            x->until_jd[b] = rc < 0 ? t->jd_ut1 : app_events_valid_until(&x->events[b], t->jd_ut1);
            x->valid |= 1u << b;
            if (rc < 0)
                memset(&x->texts[b], 0, sizeof(x->texts[b]));
            else
                app_event_texts_format(&x->events[b], &x->texts[b]);
        }
        info[b].events_rc = x->rc[b];
        info[b].events = x->events[b];
        info[b].texts = x->texts[b];
    }
    return 0;
}

void live_events_forget(struct live_events *e, int64_t second)
{
    for (size_t i = 0; i < e->nbuckets; i++) {
        for (struct entry **pp = &e->buckets[i]; *pp != NULL;) {
            struct entry *x = *pp;
            if (x->used_s < second) {
                *pp = x->next;
                free(x);
                e->count--;
            } else {
                pp = &x->next;
            }
        }
    }
}
