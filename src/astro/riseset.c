/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * riseset.c -- rise, upper transit and set of the Sun, the Moon and the planets for
 * one observer, following the conventions of the US Naval Observatory's tables: the
 * upper limb of the Sun and the Moon (the centre of a planet), topocentric and
 * airless, 34' below the geometric horizon. Built on the fast path (fast.c): each
 * window is sampled hourly, every sign change of the altitude function and every
 * extremum that approaches zero between samples (grazing risings near the poles) is
 * bracketed, and each bracket is refined by the Illinois variant of regula falsi to
 * 0.01 s. The transit is the zero of the topocentric hour angle, refined the same way.
 *
 * Accuracy against the USNO tables (rounded to the minute): see
 * tests/unit/astro/riseset_test.c. Thread-safe; no state beyond the context's cache.
 */
#include <math.h>
#include <swephexp.h>

#include "astro/internal.h"

#define DEG2RAD (M_PI / 180.0)
#define RAD2DEG (180.0 / M_PI)
#define AUNIT_M 1.49597870700e+11

#define HORIZON_DEG (-34.0 / 60.0) /* standard refraction at the horizon (USNO) */
#define SUN_RADIUS_M 696000000.0   /* libswe's pla_diam[SE_SUN] / 2 */
#define MOON_RADIUS_M 1737500.0    /* libswe's pla_diam[SE_MOON] / 2 */
#define SAMPLES_PER_DAY 24
#define TOL_DAYS (0.01 / 86400.0) /* root refinement stops at 0.01 s */
/* ... or as soon as the value is within 0.07" of the horizon (or of the meridian): the
 * altitude moves by up to 15"/s, so 0.005 s at most there, and where it moves slowly
 * (a graze), the instant is not defined better than that anyway. */
#define TOL_VALUE_DEG 2e-5
#define MAX_ITER 60
/* The cheap hourly altitude (astro__fast_topo_hour) is within about 1" of the full one:
 * 36" away from the horizon its sign is certain. */
#define SIGN_SURE_DEG 0.01

/* How far astro_riseset_next() looks: a little over a day, the Moon's 24 h 50 min. */
#define WINDOW_DAYS 1.02
#define WINDOW_MOON_DAYS 1.06

const char *astro_rise_status_name(enum astro_rise_status s)
{
    switch (s) {
    case ASTRO_RISES_SETS:
        return "rises_sets";
    case ASTRO_CIRCUMPOLAR:
        return "circumpolar";
    case ASTRO_NEVER_RISES:
        return "never_rises";
    }
    return NULL;
}

struct search {
    const struct astro_ctx *ctx;
    enum astro_body body;
    struct astro__site site; /* airless, no polar motion */
    double dt_days;          /* TT - UT1 over the window (changes by under 1 ms) */
    bool shared_grid;        /* bracket on whole UT1 hours, shared by every observer */
    struct astro__moment *frames; /* the searcher's scratch: the last frame block read */
};

/* The limb's angular radius at a topocentric distance, degrees (0 for a point). */
static double semi_diameter(enum astro_body body, double dist_topo_au)
{
    if (body == ASTRO_SUN)
        return asin(SUN_RADIUS_M / (dist_topo_au * AUNIT_M)) * RAD2DEG;
    if (body == ASTRO_MOON)
        return asin(MOON_RADIUS_M / (dist_topo_au * AUNIT_M)) * RAD2DEG;
    return 0.0;
}

/* One sample at jd (UT1). OUT: *f, the altitude of the limb (centre) above -34',
 * degrees; *ha, the hour angle, degrees in (-180, 180]. */
static int sample(const struct search *s, double jd, double *f, double *ha)
{
    struct astro_position p;
    int err;
    if (s->ctx->cache != NULL) {
        err = astro__fast_topo(s->ctx, s->body, jd, jd + s->dt_days, &s->site, s->frames, &p, ha);
    } else {
        struct astro_time t = {.jd_ut1 = jd, .jd_tt = jd + s->dt_days};
        err = astro_position_compute_exact(s->ctx, s->body, &t, &s->site.obs, &p);
        if (err == 0) {
            astro__thread_enter(s->ctx);
            double h = fmod(swe_sidtime(jd) * 15.0 + s->site.obs.lon_deg - p.ra_deg, 360.0);
            if (h > 180.0)
                h -= 360.0;
            else if (h <= -180.0)
                h += 360.0;
            *ha = h;
        }
    }
    if (err < 0)
        return err;
    *f = p.alt_airless_deg + semi_diameter(s->body, p.distance_topo_au) - HORIZON_DEG;
    return 0;
}

/* sample() at a whole UT1 hour from the shared geocentric place (within about 1" of
 * it: for bracketing only). OUT: *f, *ha, *exact (true when sample() had to answer). */
static int sample_hour(const struct search *s, int64_t hour, double *f, double *ha, bool *exact)
{
    double alt, dist;
    int rc = astro__fast_topo_hour(s->ctx, s->body, hour, s->dt_days, &s->site, &alt, ha, &dist);
    if (rc < 0)
        return rc;
    *exact = rc == 1;
    if (*exact)
        return sample(s, (double)hour / 24.0, f, ha);
    *f = alt + semi_diameter(s->body, dist) - HORIZON_DEG;
    return 0;
}

/* The quantity a root is searched for: the altitude function or the hour angle. */
static int value(const struct search *s, bool hour_angle, double jd, double *v)
{
    double f, ha;
    int err = sample(s, jd, &f, &ha);
    *v = hour_angle ? ha : f;
    return err;
}

/* Refine a bracket [a, b] with fa, fb of opposite signs (Illinois regula falsi). */
static int refine(const struct search *s, bool hour_angle, double a, double fa, double b, double fb,
                  double *root)
{
    int side = 0;
    double c = a, prev = b;
    for (int i = 0; i < MAX_ITER; i++) {
        c = (fa * b - fb * a) / (fa - fb);
        if (!(c > a && c < b))
            c = 0.5 * (a + b);
        if (fabs(c - prev) < TOL_DAYS || b - a < TOL_DAYS)
            break;
        prev = c;
        double fc;
        int err = value(s, hour_angle, c, &fc);
        if (err < 0)
            return err;
        if (fabs(fc) < TOL_VALUE_DEG)
            break; /* c is the root */
        if ((fc > 0.0) == (fb > 0.0)) {
            b = c;
            fb = fc;
            if (side == -1)
                fa /= 2.0;
            side = -1;
        } else {
            a = c;
            fa = fc;
            if (side == 1)
                fb /= 2.0;
            side = 1;
        }
    }
    *root = c;
    return 0;
}

/* Golden-section search of the extremum of f on [a, b] (a maximum if want_max).
 * OUT: *t, *ft. Ten rounds leave 1/120 of the interval: enough to find which side of
 * the horizon the extremum lies on. */
static int extremum(const struct search *s, double a, double b, bool want_max, double *t,
                    double *ft)
{
    const double g = 0.6180339887498949;
    double x1 = b - g * (b - a), x2 = a + g * (b - a);
    double f1 = 0.0, f2 = 0.0;
    int err = value(s, false, x1, &f1);
    if (err == 0)
        err = value(s, false, x2, &f2);
    for (int i = 0; i < 10 && err == 0; i++) {
        if ((f1 > f2) == want_max) {
            b = x2;
            x2 = x1;
            f2 = f1;
            x1 = b - g * (b - a);
            err = value(s, false, x1, &f1);
        } else {
            a = x1;
            x1 = x2;
            f1 = f2;
            x2 = a + g * (b - a);
            err = value(s, false, x2, &f2);
        }
    }
    if (err < 0)
        return err;
    bool first = (f1 > f2) == want_max;
    *t = first ? x1 : x2;
    *ft = first ? f1 : f2;
    return 0;
}

/* Events in [t0, t0 + days). OUT: *out (times as jd_ut1, NAN when absent). */
struct window_result {
    double rise, transit, set;
    enum astro_rise_status status;
};

static void keep_first(double *slot, double t)
{
    if (isnan(*slot) || t < *slot)
        *slot = t;
}

/*
 * The samples of a window: every 1/24 of it; or, with a shared grid, the two ends and
 * every whole UT1 hour between them (the hours' places are shared by every observer,
 * so a new observer costs the parallax of its site there, not a full reduction).
 * OUT: t[], f[], ha[], exact[] (whether f is sample()'s own); returns the number of
 * intervals, or an error.
 */
static int window_samples(const struct search *s, double t0, double days, double *t, double *f,
                          double *ha, bool *exact)
{
    double end = t0 + days;
    int n = 0;
    t[0] = t0;
    exact[0] = true;
    int err = sample(s, t0, &f[0], &ha[0]);
    if (s->shared_grid) {
        for (int64_t h = (int64_t)floor(t0 * 24.0) + 1; err == 0 && (double)h / 24.0 < end; h++) {
            if ((double)h / 24.0 <= t0)
                continue;
            n++;
            t[n] = (double)h / 24.0;
            err = sample_hour(s, h, &f[n], &ha[n], &exact[n]);
        }
        n++;
        t[n] = end;
        exact[n] = true;
        if (err == 0)
            err = sample(s, end, &f[n], &ha[n]);
    } else {
        n = (int)ceil(days * SAMPLES_PER_DAY);
        double step = days / n;
        for (int i = 1; i <= n && err == 0; i++) {
            t[i] = t0 + i * step;
            exact[i] = true;
            err = sample(s, t[i], &f[i], &ha[i]);
        }
    }
    return err < 0 ? err : n;
}

/* Replace sample i by sample()'s own value where the cheap one may have the wrong sign;
 * true if its sign changed. Further from the horizon than SIGN_SURE_DEG the cheap
 * value's sign is sample()'s, and refine() may start from it: every point it
 * evaluates is a full reduction, so the ends only steer the first steps. */
static int make_exact(const struct search *s, double *t, double *f, double *ha, bool *exact, int i,
                      bool *flipped)
{
    *flipped = false;
    if (exact[i] || fabs(f[i]) > SIGN_SURE_DEG)
        return 0;
    double fe;
    int err = sample(s, t[i], &fe, &ha[i]);
    if (err < 0)
        return err;
    *flipped = (fe < 0.0) != (f[i] < 0.0);
    f[i] = fe;
    exact[i] = true;
    return 0;
}

/* A crossing of the horizon between samples a and a + 1, both exact, refined. */
static int crossing(const struct search *s, const double *t, const double *f, int a,
                    struct window_result *out)
{
    if ((f[a] < 0.0) == (f[a + 1] < 0.0))
        return 0;
    double root;
    int err = refine(s, false, t[a], f[a], t[a + 1], f[a + 1], &root);
    if (err == 0)
        keep_first(f[a] < 0.0 ? &out->rise : &out->set, root);
    return err;
}

static int search_window(const struct search *s, double t0, double days, struct window_result *out)
{
    double t[SAMPLES_PER_DAY * 2 + 4], f[SAMPLES_PER_DAY * 2 + 4], ha[SAMPLES_PER_DAY * 2 + 4];
    bool exact[SAMPLES_PER_DAY * 2 + 4];
    int n = window_samples(s, t0, days, t, f, ha, exact);
    if (n < 0)
        return n;
    out->rise = out->transit = out->set = NAN;
    bool crossed = false;
    for (int i = 0; i < n; i++) {
        int err = 0;
        if ((f[i] < 0.0) != (f[i + 1] < 0.0)) {
            /* A sign change: one crossing (an odd number; one at hourly spacing). With
             * the shared grid's approximate values, an end near the horizon is made
             * exact first; a sign that flips moves the crossing to the interval before
             * (handled here) or after (handled next). */
            bool flip_a, flip_b;
            err = make_exact(s, t, f, ha, exact, i, &flip_a);
            if (err == 0)
                err = make_exact(s, t, f, ha, exact, i + 1, &flip_b);
            if (err == 0 && flip_a && i > 0) {
                bool unused;
                err = make_exact(s, t, f, ha, exact, i - 1, &unused);
                if (err == 0 && (f[i - 1] < 0.0) != (f[i] < 0.0)) {
                    crossed = true;
                    err = crossing(s, t, f, i - 1, out);
                }
            }
            if (err == 0 && (f[i] < 0.0) != (f[i + 1] < 0.0)) {
                crossed = true;
                err = crossing(s, t, f, i, out);
            }
        } else if (i > 0 && (f[i - 1] < 0.0) == (f[i] < 0.0) && fabs(f[i]) < fabs(f[i - 1]) &&
                   fabs(f[i]) <= fabs(f[i + 1])) {
            /* The samples approach the horizon and leave it again: the extremum between
             * them may cross it (a graze). */
            bool below = f[i] < 0.0;
            double tm, fm;
            bool unused;
            err = make_exact(s, t, f, ha, exact, i - 1, &unused);
            if (err == 0)
                err = make_exact(s, t, f, ha, exact, i + 1, &unused);
            /* Exact ends that cross are a sign change, handled as such. */
            bool graze = err == 0 && (f[i - 1] < 0.0) == below && (f[i + 1] < 0.0) == below;
            if (graze)
                err = extremum(s, t[i - 1], t[i + 1], below, &tm, &fm);
            if (graze && err == 0 && (fm < 0.0) != below) {
                crossed = true;
                double r1, r2;
                err = refine(s, false, t[i - 1], f[i - 1], tm, fm, &r1);
                if (err == 0)
                    err = refine(s, false, tm, fm, t[i + 1], f[i + 1], &r2);
                if (err == 0) {
                    keep_first(below ? &out->rise : &out->set, r1);
                    keep_first(below ? &out->set : &out->rise, r2);
                }
            }
        }
        if (err == 0 && ha[i] < 0.0 && ha[i + 1] >= 0.0 && ha[i + 1] - ha[i] < 90.0) {
            double root;
            err = refine(s, true, t[i], ha[i], t[i + 1], ha[i + 1], &root);
            if (err == 0)
                keep_first(&out->transit, root);
        }
        if (err < 0)
            return err;
    }
    out->status = crossed ? ASTRO_RISES_SETS : f[0] > 0.0 ? ASTRO_CIRCUMPOLAR : ASTRO_NEVER_RISES;
    return 0;
}

/* An instant for the output, or all NAN. */
static int event_time(const struct astro_ctx *ctx, double jd, struct astro_time *out)
{
    if (isnan(jd)) {
        *out = (struct astro_time){.jd_ut1 = NAN, .jd_tt = NAN, .deltat_s = NAN,
                                   .ut1_utc_s = NAN, .unix_s = NAN, .scale = ASTRO_UT1};
        return 0;
    }
    return astro_time_from_jd(ctx, jd, ASTRO_UT1, out);
}

static int finish(const struct astro_ctx *ctx, const struct window_result *w,
                  struct astro_riseset *out)
{
    int err = event_time(ctx, w->rise, &out->rise);
    if (err == 0)
        err = event_time(ctx, w->transit, &out->transit);
    if (err == 0)
        err = event_time(ctx, w->set, &out->set);
    out->status = w->status;
    return err;
}

static int search_init(const struct astro_ctx *ctx, enum astro_body body, double jd0, double days,
                       const struct astro_observer *obs, struct astro__moment *frames,
                       struct search *s)
{
    if ((unsigned)body >= ASTRO_BODY_COUNT)
        return PT_E_INVALID;
    if (!astro__observer_is_valid(obs) || !astro__jd_in_range(ctx, jd0) ||
        !astro__jd_in_range(ctx, jd0 + days))
        return PT_E_RANGE;
    astro__thread_enter(ctx);
    frames->have_frame = false;
    *s = (struct search){.ctx = ctx,
                         .body = body,
                         .dt_days = astro__deltat_days(ctx, jd0 + 0.5 * days),
                         .frames = frames};
    struct astro_observer airless = *obs;
    airless.pressure_hpa = 0.0;
    double daz;
    astro__site_init(&airless, 0.0, 0.0, &s->site, &daz);
    return 0;
}

int astro_riseset_next(const struct astro_ctx *ctx, enum astro_body body,
                       const struct astro_time *t, const struct astro_observer *obs,
                       struct astro_riseset *out)
{
    double days = body == ASTRO_MOON ? WINDOW_MOON_DAYS : WINDOW_DAYS;
    struct search s;
    struct astro__moment frames;
    int err = search_init(ctx, body, t->jd_ut1, days, obs, &frames, &s);
    if (err < 0)
        return err;
    /* The next events of "now" are asked for by every observer: bracket on the shared
     * hours (a range of days for one observer gains nothing from it). */
    s.shared_grid = ctx->cache != NULL;
    struct window_result w;
    err = search_window(&s, t->jd_ut1, days, &w);
    if (err < 0)
        return err;
    return finish(ctx, &w, out);
}

int astro_events_range(const struct astro_ctx *ctx, enum astro_body body,
                       const struct astro_time *start, int days, const struct astro_observer *obs,
                       struct astro_riseset *out)
{
    if (days < 1 || days > ASTRO_EVENTS_MAX_DAYS)
        return PT_E_RANGE;
    struct search s;
    struct astro__moment frames;
    int err = search_init(ctx, body, start->jd_ut1, days, obs, &frames, &s);
    for (int d = 0; d < days && err == 0; d++) {
        struct window_result w;
        double t0 = start->jd_ut1 + d;
        /* Delta T drifts by up to a few ms a year: refresh it now and then. */
        if (d % 30 == 29)
            s.dt_days = astro__deltat_days(ctx, t0 + 15.0);
        err = search_window(&s, t0, 1.0, &w);
        /* An event exactly at the next day's start belongs to the next day. */
        if (err == 0) {
            if (w.rise >= t0 + 1.0)
                w.rise = NAN;
            if (w.transit >= t0 + 1.0)
                w.transit = NAN;
            if (w.set >= t0 + 1.0)
                w.set = NAN;
            err = finish(ctx, &w, &out[d]);
        }
    }
    return err;
}
