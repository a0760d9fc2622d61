/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * riseset_cache.c -- the next rise/transit/set of a body for an observer,
 * remembered until the earliest of them passes.
 *
 * "The next events after t" are the same for every t before the first of
 * those events, so an observer asking again (the page refreshing, a script
 * polling) gets them from a small direct-mapped table instead of a root search
 * (a few microseconds to half a millisecond). Loop thread only.
 */
#include <math.h>
#include <stdlib.h>

#include "app/app.h"

#define CACHE_SLOTS 4096

struct riseset_entry {
    bool used;
    enum astro_body body;
    double lat_deg;
    double lon_deg;
    double elev_m;
    double from_jd;  /* the events are the next ones for any instant in [from, until) */
    double until_jd;
    struct astro_riseset events;
    struct app_event_texts texts;
};

struct riseset_cache {
    struct riseset_entry slots[CACHE_SLOTS];
    uint64_t hits;
    uint64_t misses;
};

struct riseset_cache *riseset_cache_new(void)
{
    return pt_xcalloc(1, sizeof(struct riseset_cache));
}

void riseset_cache_free(struct riseset_cache *c)
{
    free(c);
}

static size_t slot_of(enum astro_body body, const struct astro_observer *obs)
{
    const double v[3] = {obs->lat_deg, obs->lon_deg, obs->elev_m};
    return (size_t)(pt_hash_doubles(PT_HASH_SEED ^ (uint64_t)body, v, 3) % CACHE_SLOTS);
}

/* The earliest event that happens, or from + 1 day when none does (circumpolar...). */
double app_events_valid_until(const struct astro_riseset *e, double from_jd)
{
    double jd = from_jd + 1.0;
    const struct astro_time *ts[3] = {&e->rise, &e->transit, &e->set};
    for (int i = 0; i < 3; i++)
        if (isfinite(ts[i]->jd_ut1) && ts[i]->jd_ut1 < jd)
            jd = ts[i]->jd_ut1;
    return jd;
}

void app_event_texts_format(const struct astro_riseset *ev, struct app_event_texts *out)
{
    const struct astro_time *t[3] = {&ev->rise, &ev->transit, &ev->set};
    for (int i = 0; i < 3; i++) {
        char iso[40];
        size_t n = isfinite(t[i]->jd_ut1) ? astro_time_format_iso(t[i], iso) : 0;
        if (n == 0 || n >= APP_ISO_ROOM)
            n = 0;
        memcpy(out->iso[i], iso, n);
        out->iso[i][n] = '\0';
        out->len[i] = (unsigned char)n;
    }
}

int riseset_cache_get(struct riseset_cache *c, const struct astro_ctx *astro,
                      enum astro_body body, const struct astro_time *t,
                      const struct astro_observer *obs, struct astro_riseset *out,
                      struct app_event_texts *texts)
{
    struct riseset_entry *e = &c->slots[slot_of(body, obs)];
    if (e->used && e->body == body && e->lat_deg == obs->lat_deg &&
        e->lon_deg == obs->lon_deg && e->elev_m == obs->elev_m && t->jd_ut1 >= e->from_jd &&
        t->jd_ut1 < e->until_jd) {
        c->hits++;
        *out = e->events;
        if (texts != NULL)
            *texts = e->texts;
        return 0;
    }
    c->misses++;
    int rc = astro_riseset_next(astro, body, t, obs, out);
    if (texts != NULL)
        memset(texts, 0, sizeof(*texts));
    if (rc < 0)
        return rc;
    app_event_texts_format(out, &e->texts);
    if (texts != NULL)
        *texts = e->texts;
    e->used = true;
    e->body = body;
    e->lat_deg = obs->lat_deg;
    e->lon_deg = obs->lon_deg;
    e->elev_m = obs->elev_m;
    e->from_jd = t->jd_ut1;
    e->until_jd = app_events_valid_until(out, t->jd_ut1);
    e->events = *out;
    return 0;
}
