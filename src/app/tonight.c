/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * tonight.c -- GET /planets/tonight: the night of an observer, from the
 * evening's sunset to the next sunrise. The twilights (civil, nautical,
 * astronomical, by the Sun's centre at -6, -12, -18 degrees, airless), the
 * hours of darkness with and without the Moon, the Moon's rise, set and phase,
 * and for every body when it is up, when it is well placed (15 degrees up or
 * above the site's horizon, in at least nautical darkness) and its best moment
 * with the visibility verdict there. Polar night, midnight sun and white
 * nights (never astronomically dark) are named, not left to guess.
 *
 * "The night" of an instant begins at the local (solar) noon at or before it:
 * at 23:00 and at 03:00 it is the same night. The whole day from that noon is
 * sampled every five minutes (every body at once, on the fast path), span
 * edges are interpolated between samples (to a few seconds) and the Sun's
 * crossings of the twilight altitudes refined by bisection to a second;
 * sunset and sunrise are the USNO ones of the rest of the API. That costs a
 * few milliseconds, so it runs on the executor, and answers are remembered
 * per place and night (a small cache on the loop).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app/app.h"

#define STEP_S 300
#define SAMPLES (86400 / STEP_S + 1)
#define WELL_PLACED_ALT_DEG 15.0
#define WELL_PLACED_SUN_DEG (-12.0)   /* nautical darkness at least */
#define MAX_SPANS 4                   /* per body and night; more are merged into the last */
#define CACHE_SLOTS 64

static const double twilight_deg[3] = {-6.0, -12.0, -18.0};
static const char *const twilight_name[3] = {"civil", "nautical", "astronomical"};

struct span {
    double start, end;                /* Unix seconds */
};

struct spans {
    size_t n;
    struct span s[MAX_SPANS];
};

struct tonight_key {                  /* compared as bytes: no padding */
    struct astro_observer obs;
    double horizon_deg;
    double anchor;
};

/* Answers shorter than this go as they are (one packet either way). */
#define TONIGHT_GZIP_MIN 1400

struct tonight_cache {
    struct tonight_key key[CACHE_SLOTS];
    char *members[CACHE_SLOTS];       /* the answer's own members (JSON text), malloc'd */
    size_t len[CACHE_SLOTS];
};

struct tonight_job {
    const struct app_state *st;
    struct app_observer obs;
    struct astro_time t;
    struct tonight_key key;
    int rc;
    struct pt_buf members;            /* written by the worker; freed with the arena */
};

/* ---------------------------------------------------------------- sampling */

struct sky_samples {
    double alt[ASTRO_BODY_COUNT][SAMPLES];   /* refracted */
    double az[ASTRO_BODY_COUNT][SAMPLES];
    double sun_geo[SAMPLES];                 /* the Sun's centre, airless */
};

static double sample_time(double anchor, int i)
{
    return anchor + (double)i * STEP_S;
}

static int sample_sky(const struct astro_ctx *astro, const struct astro_observer *obs,
                      double anchor, struct sky_samples *s)
{
    for (int i = 0; i < SAMPLES; i++) {
        struct astro_time t;
        struct astro_position pos[ASTRO_BODY_COUNT];
        int rc = astro_time_from_unix(astro, sample_time(anchor, i), &t);
        if (rc < 0 || (rc = astro_position_compute_all(astro, &t, obs, pos)) < 0)
            return rc;
        for (int b = 0; b < ASTRO_BODY_COUNT; b++) {
            s->alt[b][i] = pos[b].alt_deg;
            s->az[b][i] = pos[b].az_deg;
        }
        s->sun_geo[i] = pos[ASTRO_SUN].alt_airless_deg;
    }
    return 0;
}

/* Where a linear function from (0, fa) to (1, fb) is zero, as a time between ta and tb. */
static double cross(double ta, double fa, double tb, double fb)
{
    return ta + (tb - ta) * fa / (fa - fb);
}

/* The spans where f > 0, edges interpolated between samples. */
static void find_spans(const double *f, double anchor, struct spans *out)
{
    out->n = 0;
    double start = f[0] > 0 ? anchor : NAN;
    for (int i = 1; i < SAMPLES; i++) {
        double ta = sample_time(anchor, i - 1), tb = sample_time(anchor, i);
        if (isnan(start) && f[i] > 0) {
            start = cross(ta, f[i - 1], tb, f[i]);
        } else if (!isnan(start) && !(f[i] > 0)) {
            double end = cross(ta, f[i - 1], tb, f[i]);
            if (out->n < MAX_SPANS)
                out->s[out->n++] = (struct span){start, end};
            else
                out->s[MAX_SPANS - 1].end = end;
            start = NAN;
        }
    }
    if (!isnan(start)) {
        double end = sample_time(anchor, SAMPLES - 1);
        if (out->n < MAX_SPANS)
            out->s[out->n++] = (struct span){start, end};
        else
            out->s[MAX_SPANS - 1].end = end;
    }
}

/* The Sun's airless centre altitude at unix time ts, minus h. */
static int sun_minus(const struct astro_ctx *astro, const struct astro_observer *obs, double ts,
                     double h, double *out)
{
    struct astro_time t;
    struct astro_position p;
    int rc = astro_time_from_unix(astro, ts, &t);
    if (rc < 0 || (rc = astro_position_compute(astro, ASTRO_SUN, &t, obs, &p)) < 0)
        return rc;
    *out = p.alt_airless_deg - h;
    return 0;
}

/*
 * The first crossing of altitude h by the Sun after sample `from`, going down
 * (down) or up, refined by bisection to a second. OUT: *t (NAN: none), *at
 * (the sample after it). Returns 0 or an astro error.
 */
static int sun_crossing(const struct astro_ctx *astro, const struct astro_observer *obs,
                        const struct sky_samples *s, double anchor, int from, double h, bool down,
                        double *t, int *at)
{
    *t = NAN;
    *at = SAMPLES;
    for (int i = from + 1; i < SAMPLES; i++) {
        double fa = s->sun_geo[i - 1] - h, fb = s->sun_geo[i] - h;
        if (down ? !(fa >= 0 && fb < 0) : !(fa < 0 && fb >= 0))
            continue;
        double a = sample_time(anchor, i - 1), b = sample_time(anchor, i);
        while (b - a > 1.0) {
            double m = 0.5 * (a + b), fm;
            int rc = sun_minus(astro, obs, m, h, &fm);
            if (rc < 0)
                return rc;
            if ((fm >= 0) == (fa >= 0))
                a = m;
            else
                b = m;
        }
        *t = 0.5 * (a + b);
        *at = i;
        return 0;
    }
    return 0;
}

/* ---------------------------------------------------------------- the night */

struct night {
    const char *status;               /* normal, polar_night, midnight_sun, no_astronomical_darkness */
    double sunset, sunrise;
    double dusk[3], dawn[3];
    struct spans dark, dark_no_moon;
    double dark_no_moon_s;
    struct astro_riseset moon;
    double moon_phase;
    const char *moon_phase_name;
};

static const char *phase_name(double phase, bool waxing)
{
    if (phase < 0.02)
        return "new moon";
    if (phase > 0.98)
        return "full moon";
    if (fabs(phase - 0.5) < 0.04)
        return waxing ? "first quarter" : "last quarter";
    if (phase < 0.5)
        return waxing ? "waxing crescent" : "waning crescent";
    return waxing ? "waxing gibbous" : "waning gibbous";
}

static int moon_phase(const struct astro_ctx *astro, double ts, struct night *n)
{
    struct astro_time t, later;
    struct astro_details d, d2;
    int rc = astro_time_from_unix(astro, ts, &t);
    if (rc < 0 || (rc = astro_time_from_unix(astro, ts + 3600, &later)) < 0 ||
        (rc = astro_details_compute(astro, ASTRO_MOON, &t, &d)) < 0 ||
        (rc = astro_details_compute(astro, ASTRO_MOON, &later, &d2)) < 0)
        return rc;
    n->moon_phase = d.phase;
    n->moon_phase_name = phase_name(d.phase, d2.phase > d.phase);
    return 0;
}

static int judge_night(const struct astro_ctx *astro, const struct astro_observer *obs,
                       const struct sky_samples *s, double anchor, struct night *n)
{
    struct astro_time t0;
    struct astro_riseset sun;
    int rc = astro_time_from_unix(astro, anchor, &t0);
    if (rc < 0 || (rc = astro_riseset_next(astro, ASTRO_SUN, &t0, obs, &sun)) < 0 ||
        (rc = astro_riseset_next(astro, ASTRO_MOON, &t0, obs, &n->moon)) < 0)
        return rc;
    n->sunset = sun.set.unix_s;
    n->sunrise = sun.rise.unix_s > sun.set.unix_s ? sun.rise.unix_s : NAN;
    for (int k = 0; k < 3; k++) {
        int at;
        if ((rc = sun_crossing(astro, obs, s, anchor, 0, twilight_deg[k], true, &n->dusk[k],
                               &at)) < 0 ||
            (rc = sun_crossing(astro, obs, s, anchor, at < SAMPLES ? at : 0, twilight_deg[k],
                               false, &n->dawn[k], &at)) < 0)
            return rc;
    }
    double dark[SAMPLES], dark_no_moon[SAMPLES];
    for (int i = 0; i < SAMPLES; i++) {
        dark[i] = -18.0 - s->sun_geo[i];
        dark_no_moon[i] = fmin(dark[i], -s->alt[ASTRO_MOON][i]);
    }
    find_spans(dark, anchor, &n->dark);
    find_spans(dark_no_moon, anchor, &n->dark_no_moon);
    n->dark_no_moon_s = 0;
    for (size_t i = 0; i < n->dark_no_moon.n; i++)
        n->dark_no_moon_s += n->dark_no_moon.s[i].end - n->dark_no_moon.s[i].start;
    if (sun.status == ASTRO_NEVER_RISES)
        n->status = "polar_night";
    else if (sun.status == ASTRO_CIRCUMPOLAR)
        n->status = "midnight_sun";
    else if (n->dark.n == 0)
        n->status = "no_astronomical_darkness";
    else
        n->status = "normal";
    double mid = !isnan(n->sunset) && !isnan(n->sunrise) ? 0.5 * (n->sunset + n->sunrise)
                                                          : anchor + 43200;
    return moon_phase(astro, mid, n);
}

/* ---------------------------------------------------------------- rendering */

static void iso_unix(double ts, char out[40])
{
    time_t secs = (time_t)floor(ts + 0.5);
    struct tm tm;
    gmtime_r(&secs, &tm);
    strftime(out, 40, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
}

static void put_time(struct web_json *j, const char *key, double ts)
{
    web_json_key(j, key);
    if (isnan(ts)) {
        web_json_null(j);
        return;
    }
    char iso[40];
    iso_unix(ts, iso);
    web_json_cstring(j, iso);
}

static void put_spans(struct web_json *j, const char *key, const struct spans *sp)
{
    web_json_key(j, key);
    web_json_array_begin(j);
    for (size_t i = 0; i < sp->n; i++) {
        web_json_object_begin(j);
        put_time(j, "start", sp->s[i].start);
        put_time(j, "end", sp->s[i].end);
        web_json_object_end(j);
    }
    web_json_array_end(j);
}

static void render_night(struct web_json *j, const struct night *n, double anchor,
                         const struct astro_observer *obs)
{
    WEB_JSON_KEY(j, "night");
    web_json_object_begin(j);
    WEB_JSON_KEY(j, "status");
    web_json_cstring(j, n->status);
    /* The date of the evening, in local solar time. */
    char date[40];
    iso_unix(anchor + obs->lon_deg / 15.0 * 3600.0, date);
    date[10] = '\0';
    WEB_JSON_KEY(j, "date");
    web_json_cstring(j, date);
    put_time(j, "window_start", anchor);
    put_time(j, "window_end", anchor + 86400.0);
    put_time(j, "sunset", n->sunset);
    put_time(j, "sunrise", n->sunrise);
    WEB_JSON_KEY(j, "dusk");
    web_json_object_begin(j);
    for (int k = 0; k < 3; k++)
        put_time(j, twilight_name[k], n->dusk[k]);
    web_json_object_end(j);
    WEB_JSON_KEY(j, "dawn");
    web_json_object_begin(j);
    for (int k = 2; k >= 0; k--)
        put_time(j, twilight_name[k], n->dawn[k]);
    web_json_object_end(j);
    put_spans(j, "dark", &n->dark);
    put_spans(j, "dark_without_moon", &n->dark_no_moon);
    WEB_JSON_KEY(j, "dark_without_moon_hours");
    web_json_double(j, round(n->dark_no_moon_s / 36.0) / 100.0);
    web_json_object_end(j);

    WEB_JSON_KEY(j, "moon");
    web_json_object_begin(j);
    app_render_event(j, "rise", &n->moon.rise);
    app_render_event(j, "set", &n->moon.set);
    WEB_JSON_KEY(j, "phase");
    web_json_double(j, round(n->moon_phase * 1000.0) / 1000.0);
    WEB_JSON_KEY(j, "phase_name");
    web_json_cstring(j, n->moon_phase_name);
    web_json_object_end(j);
}

/* The best moment of a body: its highest in the darkest part of the night it is up in. */
static int render_best(struct web_json *j, const struct astro_ctx *astro, enum astro_body b,
                       const struct sky_samples *s, double anchor, double horizon_deg)
{
    int best = -1;
    for (double need = WELL_PLACED_SUN_DEG; best < 0 && need <= -6.0; need += 6.0) {
        for (int i = 0; i < SAMPLES; i++)
            if (s->sun_geo[i] < need && s->alt[b][i] > fmax(horizon_deg, 0) &&
                (best < 0 || s->alt[b][i] > s->alt[b][best]))
                best = i;
    }
    WEB_JSON_KEY(j, "best");
    if (best < 0 || b == ASTRO_SUN) {
        web_json_null(j);
        return 0;
    }
    struct astro_time t;
    struct app_body_info info = {0};
    int rc = astro_time_from_unix(astro, sample_time(anchor, best), &t);
    if (rc < 0)
        return rc;
    info.details_rc = astro_details_compute(astro, b, &t, &info.details);
    if (info.details_rc < 0 && info.details_rc != PT_E_RANGE)
        return info.details_rc;
    struct app_visibility vis;
    app_visibility_judge(b, s->alt[b][best], s->sun_geo[best], horizon_deg, &info, &vis);
    web_json_object_begin(j);
    put_time(j, "time", sample_time(anchor, best));
    WEB_JSON_KEY(j, "alt");
    web_json_double(j, round(s->alt[b][best] * 10.0) / 10.0);
    WEB_JSON_KEY(j, "az");
    web_json_double(j, round(s->az[b][best] * 10.0) / 10.0);
    WEB_JSON_KEY(j, "verdict");
    web_json_cstring(j, app_verdict_name(vis.verdict));
    WEB_JSON_KEY(j, "reason");
    web_json_cstring(j, vis.reason);
    web_json_object_end(j);
    return 0;
}

static int render_bodies(struct web_json *j, const struct astro_ctx *astro,
                         const struct sky_samples *s, double anchor, double horizon_deg)
{
    WEB_JSON_KEY(j, "bodies");
    web_json_array_begin(j);
    for (int b = 0; b < ASTRO_BODY_COUNT; b++) {
        double up[SAMPLES], well[SAMPLES];
        double low = fmax(horizon_deg, 0), good = fmax(horizon_deg, WELL_PLACED_ALT_DEG);
        for (int i = 0; i < SAMPLES; i++) {
            up[i] = s->alt[b][i] - low;
            well[i] = fmin(s->alt[b][i] - good, WELL_PLACED_SUN_DEG - s->sun_geo[i]);
        }
        struct spans sp_up, sp_well;
        find_spans(up, anchor, &sp_up);
        find_spans(well, anchor, &sp_well);
        if (b == ASTRO_SUN)
            sp_well.n = 0;
        web_json_object_begin(j);
        WEB_JSON_KEY(j, "name");
        web_json_cstring(j, astro_body_name((enum astro_body)b));
        put_spans(j, "up", &sp_up);
        put_spans(j, "well_placed", &sp_well);
        int rc = render_best(j, astro, (enum astro_body)b, s, anchor, horizon_deg);
        if (rc < 0)
            return rc;
        web_json_object_end(j);
    }
    web_json_array_end(j);
    return 0;
}

/* Worker thread: sample, judge, render the answer's own members. */
static void compute_tonight(void *data)
{
    struct tonight_job *job = data;
    const struct astro_ctx *astro = job->st->astro;
    struct sky_samples *s = malloc(sizeof(*s));
    if (s == NULL) {
        job->rc = PT_E_NOMEM;
        return;
    }
    struct night n;
    job->rc = sample_sky(astro, &job->obs.astro, job->key.anchor, s);
    if (job->rc == 0)
        job->rc = judge_night(astro, &job->obs.astro, s, job->key.anchor, &n);
    if (job->rc == 0) {
        struct web_json j;
        web_json_init(&j, &job->members);
        web_json_object_begin(&j);
        render_night(&j, &n, job->key.anchor, &job->obs.astro);
        job->rc = render_bodies(&j, astro, s, job->key.anchor, job->obs.horizon_deg);
        web_json_object_end(&j);
        if (job->rc == 0 && web_json_finish(&j) != 0)
            job->rc = PT_E_NOMEM;
    }
    free(s);
}

/* ---------------------------------------------------------------- the answer */

struct tonight_cache *tonight_cache_new(void)
{
    return pt_xcalloc(1, sizeof(struct tonight_cache));
}

void tonight_cache_free(struct tonight_cache *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < CACHE_SLOTS; i++)
        free(c->members[i]);
    free(c);
}

static size_t slot_of(const struct tonight_key *k)
{
    return pt_hash_bytes(PT_HASH_SEED, k, sizeof(*k)) % CACHE_SLOTS;
}

/* {context..., night, moon, bodies}: the members are an object's text without its braces. */
static int send_tonight(struct web_ctx *ctx, const struct app_state *st,
                        const struct app_observer *obs, const struct astro_time *t,
                        struct pt_str members)
{
    struct web_json j;
    web_json_begin(ctx, &j);
    web_json_object_begin(&j);
    app_render_context(&j, st, obs, t, NULL);
    web_json_object_end(&j);
    if (web_json_finish(&j) != 0 || ctx->body.len < 2 || members.len < 2)
        return web_error(ctx, 500, "internal_error", "the answer could not be serialized");
    ctx->body.len--; /* reopen the object: ',' and the members without their '{' */
    pt_buf_append(&ctx->body, ",", 1);
    pt_buf_append(&ctx->body, members.ptr + 1, members.len - 1);
    pt_buf_append(&ctx->body, "\n", 1);
    /*
     * A night is about 5 KB of text asked for once per page and night: compressed for
     * a client that takes gzip (about 1 KB on the wire, some 100 us of CPU). The 2 s
     * positions are not: compressing them would cost more than computing them.
     */
    struct pt_buf gz;
    pt_buf_init(&gz, 1 << 20);
    if (ctx->body.len >= TONIGHT_GZIP_MIN && web_accepts_gzip(ctx) &&
        web_gzip(pt_buf_str(&ctx->body), &gz) != 0)
        gz.len = 0;
    int rc = web_send_maybe_gzip(ctx, 200, "application/json", pt_buf_str(&ctx->body),
                                 pt_buf_str(&gz));
    pt_buf_deinit(&gz);
    return rc;
}

static int answer_tonight(struct web_ctx *ctx, void *data)
{
    struct tonight_job *job = data;
    if (job->rc == PT_E_RANGE)
        return web_error(ctx, 400, "out_of_range", "that night is outside the ephemeris range");
    if (job->rc < 0)
        return web_error(ctx, 500, "ephemeris_error", "the night could not be computed");
    struct tonight_cache *c = job->st->tonight;
    size_t i = slot_of(&job->key);
    free(c->members[i]);
    c->members[i] = pt_xmalloc(job->members.len);
    memcpy(c->members[i], job->members.data, job->members.len);
    c->len[i] = job->members.len;
    c->key[i] = job->key;
    return send_tonight(ctx, job->st, &job->obs, &job->t, pt_buf_str(&job->members));
}

static void release_job(void *data)
{
    pt_buf_deinit(&((struct tonight_job *)data)->members);
}

int app_handle_tonight(struct web_ctx *ctx)
{
    const struct app_state *st = ctx->app_data;
    struct tonight_job *job = pt_arena_alloc(ctx->arena, sizeof(*job));
    memset(job, 0, sizeof(*job));
    job->st = st;
    int rc = app_sky_from_request(ctx, &job->obs, &job->t);
    if (rc != 0)
        return rc;
    /* The night begins at the local solar noon at or before the instant. */
    double offset = job->obs.astro.lon_deg / 15.0 * 3600.0;
    double noon = floor((job->t.unix_s + offset - 43200.0) / 86400.0) * 86400.0 + 43200.0 - offset;
    job->key.obs = job->obs.astro;
    job->key.horizon_deg = job->obs.horizon_deg;
    job->key.anchor = noon;
    struct tonight_cache *c = st->tonight;
    size_t i = slot_of(&job->key);
    if (c->members[i] != NULL && memcmp(&c->key[i], &job->key, sizeof(job->key)) == 0)
        return send_tonight(ctx, st, &job->obs, &job->t, pt_str_make(c->members[i], c->len[i]));
    pt_buf_init(&job->members, 1 << 20);
    pt_arena_defer(ctx->arena, release_job, job);
    return web_executor_run(ctx, compute_tonight, answer_tonight, job);
}
