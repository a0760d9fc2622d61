/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * astro.c -- the ephemeris context, body names and apparent topocentric positions,
 * by the Swiss Ephemeris (libswe) driven exactly as the reference ("truth") was
 * computed: swe_set_topo, swe_calc_ut(TOPOCTR|EQUATORIAL), a geocentric
 * swe_calc_ut for the distance, swe_azalt for azimuth and altitude.
 *
 * Thread safety. Debian's libswe 2.10.03 is built with thread-local storage:
 * sweodef.h defines TLS as __thread, libswe.so.2.0 has a PT_TLS segment of 35 KB and
 * its state `swed` (ephemeris path, open files, caches, models, topocentric
 * position) is an STT_TLS symbol; the only non-TLS writable objects are tables and
 * a dladdr() buffer unused on our path. So every thread has its own libswe, which we
 * configure on the thread's first call (astro__thread_enter) and close again when
 * the thread exits (a pthread key destructor). No mutex is needed or taken: calls on
 * the loop thread and on executor threads run in parallel.
 *
 * Invariant: a context is never written after astro_ctx_new() returns.
 */
#include <math.h>
#include <stdlib.h>
#include <swephexp.h>

#include "astro/internal.h"

#define DEFAULT_EPHE_PATH "/usr/share/libswe/ephe"

/* Sidereal-time model SEMOD_SIDT_IERS_CONV_2010 (the eighth field), library defaults
 * for the rest. libswe's default model jumps by about 1.9" at 2050-01-01. */
#define ASTRO_MODELS "0,0,0,0,0,0,0,3"

/*
 * Moshier's range as libswe enforces it (MOSHPLEPH_START/END in sweph.h: "jd ...
 * outside Moshier planet range 625000.50 .. 2818000.50"), in TT.
 */
#define MOSHIER_JD_START 625000.5
#define MOSHIER_JD_END 2818000.5

/*
 * Margin kept inside the files' (or Moshier's) range, days. TT = UT1 + Delta T, and
 * Delta T is positive at both ends: at the early end TT only moves further inside;
 * at the late end Delta T stays under 0.05 day (520 s in 2400, 3300 s in 3000). The
 * margin also covers light time (under 0.3 day for Pluto).
 */
#define RANGE_MARGIN_DAYS 1.0

#define JD_J2000 2451545.0 /* 2000-01-01T12:00 */

/* With their lengths: every GET /planets/{name} looks its name up here. */
static const struct pt_str body_names[ASTRO_BODY_COUNT] = {
    [ASTRO_SUN] = PT_STR("sun"),         [ASTRO_MOON] = PT_STR("moon"),
    [ASTRO_MERCURY] = PT_STR("mercury"), [ASTRO_VENUS] = PT_STR("venus"),
    [ASTRO_MARS] = PT_STR("mars"),       [ASTRO_JUPITER] = PT_STR("jupiter"),
    [ASTRO_SATURN] = PT_STR("saturn"),   [ASTRO_URANUS] = PT_STR("uranus"),
    [ASTRO_NEPTUNE] = PT_STR("neptune"), [ASTRO_PLUTO] = PT_STR("pluto"),
};

static const int32 body_ipl[ASTRO_BODY_COUNT] = {
    [ASTRO_SUN] = SE_SUN,       [ASTRO_MOON] = SE_MOON,     [ASTRO_MERCURY] = SE_MERCURY,
    [ASTRO_VENUS] = SE_VENUS,   [ASTRO_MARS] = SE_MARS,     [ASTRO_JUPITER] = SE_JUPITER,
    [ASTRO_SATURN] = SE_SATURN, [ASTRO_URANUS] = SE_URANUS, [ASTRO_NEPTUNE] = SE_NEPTUNE,
    [ASTRO_PLUTO] = SE_PLUTO,
};

const char *astro_body_name(enum astro_body body)
{
    if ((unsigned)body >= ASTRO_BODY_COUNT)
        return NULL;
    return body_names[body].ptr;
}

int astro_body_from_name(struct pt_str name)
{
    for (int i = 0; i < ASTRO_BODY_COUNT; i++)
        if (pt_str_eq(name, body_names[i]))
            return i;
    return PT_E_NOT_FOUND;
}

/* ------------------------------------------------------------------------ */
/* Per-thread libswe configuration                                            */
/* ------------------------------------------------------------------------ */

/* Runs in a thread that used the context when it exits: close its libswe files. */
static void on_thread_exit(void *value)
{
    (void)value;
    swe_close();
}

void astro__thread_enter(const struct astro_ctx *ctx)
{
    if (pthread_getspecific(ctx->thread_key) != NULL)
        return;
    /* Order as in truth.c: the path first (it closes files and resets libswe's
     * planet data), then the models. */
    swe_set_ephe_path(ctx->ephe_path);
    swe_set_astro_models(ASTRO_MODELS, 0);
    /* If this fails (ENOMEM) the next call configures the thread again: slower, correct. */
    (void)pthread_setspecific(ctx->thread_key, ctx);
}

bool astro__jd_in_range(const struct astro_ctx *ctx, double jd_ut1)
{
    return isfinite(jd_ut1) && jd_ut1 >= ctx->jd_ut1_min && jd_ut1 <= ctx->jd_ut1_max;
}

/* ------------------------------------------------------------------------ */
/* Context                                                                    */
/* ------------------------------------------------------------------------ */

/* libswe's messages may hold newlines; a log line must not. */
static const char *one_line(char *serr)
{
    for (char *p = serr; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    return serr;
}

/* Compute body ipl with flag eph at J2000; true if libswe answered from eph. */
static bool probe_body(int32 ipl, int32 eph, char *serr)
{
    double x[6];
    serr[0] = '\0';
    int32 ret = swe_calc_ut(JD_J2000, ipl, eph | SEFLG_EQUATORIAL, x, serr);
    return ret >= 0 && (ret & (SEFLG_SWIEPH | SEFLG_MOSEPH)) == eph;
}

/*
 * After probes of Pluto and the Moon: the jd range both the planet file (0) and the
 * Moon file (1) cover, in TT. False if libswe reports no file.
 */
static bool files_range(double *tt_min, double *tt_max)
{
    double lo = -INFINITY, hi = INFINITY;
    for (int ifno = 0; ifno <= 1; ifno++) {
        double t0 = 0, t1 = 0;
        int denum = 0;
        const char *f = swe_get_current_file_data(ifno, &t0, &t1, &denum);
        if (f == NULL || f[0] == '\0' || !(t1 > t0))
            return false;
        pt_log_info("astro: ephemeris file %s, DE%d, JD %.6f..%.6f", f, denum, t0, t1);
        lo = PT_MAX(lo, t0);
        hi = PT_MIN(hi, t1);
    }
    *tt_min = lo;
    *tt_max = hi;
    return hi > lo;
}

int astro_ctx_new(const char *ephe_path, struct astro_ctx **out)
{
    int err;
    char serr[AS_MAXCH];

    *out = NULL;
    if (ephe_path == NULL) {
        ephe_path = getenv("EPHE_PATH");
        if (ephe_path == NULL || ephe_path[0] == '\0')
            ephe_path = DEFAULT_EPHE_PATH;
    }
    if (strlen(ephe_path) >= ASTRO__PATH_MAX)
        return PT_E_INVALID;

    struct astro_ctx *ctx = pt_xcalloc(1, sizeof(*ctx));
    memcpy(ctx->ephe_path, ephe_path, strlen(ephe_path) + 1);
    ctx->observer_nutation = true;
    if (pthread_key_create(&ctx->thread_key, on_thread_exit) != 0) {
        err = PT_E_NOMEM;
        goto out_free_ctx;
    }
    astro__thread_enter(ctx);

    double tt_min, tt_max;
    if (probe_body(SE_PLUTO, SEFLG_SWIEPH, serr) && probe_body(SE_MOON, SEFLG_SWIEPH, serr) &&
        files_range(&tt_min, &tt_max)) {
        ctx->has_files = true;
        ctx->eph_flag = SEFLG_SWIEPH;
    } else {
        pt_log_warn("astro: !!! Swiss Ephemeris files NOT usable in '%s' (%s): falling back to "
                    "the Moshier theory, errors up to about 2 arcseconds !!!",
                    ctx->ephe_path, serr[0] ? one_line(serr) : "no file reported");
        if (!probe_body(SE_PLUTO, SEFLG_MOSEPH, serr) || !probe_body(SE_MOON, SEFLG_MOSEPH, serr)) {
            pt_log_error("astro: the Moshier ephemeris fails too: %s", one_line(serr));
            err = PT_E_EPHEMERIS;
            goto out_delete_key;
        }
        ctx->has_files = false;
        ctx->eph_flag = SEFLG_MOSEPH;
        tt_min = MOSHIER_JD_START;
        tt_max = MOSHIER_JD_END;
    }
    /* See RANGE_MARGIN_DAYS: this UT1 range keeps TT - light time inside the files. */
    ctx->jd_ut1_min = tt_min + RANGE_MARGIN_DAYS;
    ctx->jd_ut1_max = tt_max - RANGE_MARGIN_DAYS;
    /* The fast path reproduces libswe's pipeline for its files only; with Moshier every
     * position takes the exact path. */
    if (ctx->has_files && astro__fast_init(ctx) < 0) {
        err = PT_E_EPHEMERIS;
        goto out_delete_key;
    }
    *out = ctx;
    return 0;

out_delete_key:
    swe_close();
    pthread_key_delete(ctx->thread_key);
out_free_ctx:
    free(ctx);
    return err;
}

void astro_ctx_free(struct astro_ctx *ctx)
{
    if (ctx == NULL)
        return;
    if (pthread_getspecific(ctx->thread_key) != NULL)
        swe_close();
    pthread_key_delete(ctx->thread_key);
    astro__fast_deinit(ctx);
    astro_eop_free(atomic_load(&ctx->eop));
    astro_eop_free(ctx->eop_retired);
    free(ctx);
}

void astro_ctx_set_eop(struct astro_ctx *ctx, struct astro_eop *e)
{
    struct astro_eop *old = atomic_exchange_explicit(&ctx->eop, e, memory_order_acq_rel);
    /* The one replaced before is surely unused by now; this one may still be read. */
    astro_eop_free(ctx->eop_retired);
    ctx->eop_retired = old;
}

void astro_ctx_set_observer_nutation(struct astro_ctx *ctx, bool on)
{
    ctx->observer_nutation = on;
}

const struct astro_eop *astro_ctx_eop(const struct astro_ctx *ctx)
{
    return atomic_load_explicit(&ctx->eop, memory_order_acquire);
}

bool astro_ctx_has_files(const struct astro_ctx *ctx)
{
    return ctx->has_files;
}

const char *astro_ctx_ephemeris(const struct astro_ctx *ctx)
{
    return ctx->has_files ? "swisseph" : "moshier";
}

void astro_ctx_jd_range(const struct astro_ctx *ctx, double *jd_min, double *jd_max)
{
    *jd_min = ctx->jd_ut1_min;
    *jd_max = ctx->jd_ut1_max;
}

/* ------------------------------------------------------------------------ */
/* Positions                                                                  */
/* ------------------------------------------------------------------------ */

static bool in_range(double v, double lo, double hi)
{
    return isfinite(v) && v >= lo && v <= hi;
}

int astro__body_ipl(enum astro_body body)
{
    return body_ipl[body];
}

bool astro__observer_is_valid(const struct astro_observer *obs)
{
    return in_range(obs->lat_deg, -90.0, 90.0) && in_range(obs->lon_deg, -360.0, 360.0) &&
           in_range(obs->elev_m, ASTRO_ELEV_MIN_M, ASTRO_ELEV_MAX_M) &&
           in_range(obs->pressure_hpa, 0.0, ASTRO_PRESSURE_MAX_HPA) &&
           in_range(obs->temp_c, ASTRO_TEMP_MIN_C, ASTRO_TEMP_MAX_C);
}

/* One swe_calc_ut call that must succeed and answer from the context's ephemeris. */
static int calc(const struct astro_ctx *ctx, enum astro_body body, double jd_ut1, int32 flags,
                double x[6])
{
    char serr[AS_MAXCH] = "";
    int32 ret = swe_calc_ut(jd_ut1, body_ipl[body], ctx->eph_flag | flags, x, serr);
    if (ret < 0) {
        pt_log_error("astro: swe_calc_ut(%s, JD %.6f UT1, flags %d) failed: %s",
                     body_names[body].ptr, jd_ut1, (int)flags, one_line(serr));
        return PT_E_EPHEMERIS;
    }
    if ((ret & (SEFLG_SWIEPH | SEFLG_MOSEPH)) != ctx->eph_flag) {
        pt_log_error("astro: swe_calc_ut(%s, JD %.6f UT1) answered from another ephemeris "
                     "than %s: %s",
                     body_names[body].ptr, jd_ut1, astro_ctx_ephemeris(ctx),
                     serr[0] ? one_line(serr) : "no message");
        return PT_E_EPHEMERIS;
    }
    return 0;
}

/* Polar motion moves the observer (astro__site_init); azimuths turn back by daz_deg. */
static void turn_azimuth(struct astro_position *p, double daz_deg)
{
    if (daz_deg == 0)
        return;
    double az = fmod(p->az_deg + daz_deg, 360.0);
    p->az_deg = az < 0 ? az + 360.0 : az;
}

static int compute_exact(const struct astro_ctx *ctx, enum astro_body body,
                         const struct astro_time *t, const struct astro_observer *obs,
                         struct astro_position *out);

int astro_position_compute_exact(const struct astro_ctx *ctx, enum astro_body body,
                                 const struct astro_time *t, const struct astro_observer *obs,
                                 struct astro_position *out)
{
    if (!astro__observer_is_valid(obs))
        return PT_E_RANGE;
    struct astro__site site;
    double daz;
    astro__site_init(obs, t->xp_as, t->yp_as, &site, &daz);
    int rc = compute_exact(ctx, body, t, &site.obs, out);
    if (rc == 0)
        turn_azimuth(out, daz);
    return rc;
}

static int compute_exact(const struct astro_ctx *ctx, enum astro_body body,
                         const struct astro_time *t, const struct astro_observer *obs,
                         struct astro_position *out)
{
    if ((unsigned)body >= ASTRO_BODY_COUNT)
        return PT_E_INVALID;
    if (!astro__observer_is_valid(obs) || !astro__jd_in_range(ctx, t->jd_ut1))
        return PT_E_RANGE;
    astro__thread_enter(ctx);

    double topo[6], geo[6], xaz[3];
    double geopos[3] = {obs->lon_deg, obs->lat_deg, obs->elev_m};
    swe_set_topo(obs->lon_deg, obs->lat_deg, obs->elev_m);
    /* Geocentric first: the topocentric call then reuses libswe's cached planet and
     * Earth data, which is measurably faster (about 12 against 16 us for Mars) than
     * the reverse order truth.c used; the results are the same. */
    int err = calc(ctx, body, t->jd_ut1, SEFLG_EQUATORIAL, geo);
    if (err < 0)
        return err;
    err = calc(ctx, body, t->jd_ut1, SEFLG_TOPOCTR | SEFLG_EQUATORIAL, topo);
    if (err < 0)
        return err;
    /* xaz[0]: azimuth from south, clockwise; xaz[1]: airless altitude; xaz[2]:
     * refracted. swe_azalt replaces pressure 0 by a standard atmosphere, hence the
     * explicit airless choice below. */
    swe_azalt(t->jd_ut1, SE_EQU2HOR, geopos, obs->pressure_hpa, obs->temp_c, topo, xaz);

    out->az_deg = fmod(xaz[0] + 180.0, 360.0);
    out->alt_airless_deg = xaz[1];
    out->alt_deg = obs->pressure_hpa > 0.0 ? xaz[2] : xaz[1];
    out->ra_deg = topo[0];
    out->dec_deg = topo[1];
    out->distance_au = geo[2];
    out->distance_topo_au = topo[2];
    return 0;
}

struct astro_moment {
    struct astro_time t;
    int rc;                    /* < 0: t is outside the fast path's range (or it failed) */
    struct astro__moment fast; /* rc == 0 and the context has a cache */
    bool have_site;            /* site and daz are those of site_of at t */
    struct astro_observer site_of;
    struct astro__site site;
    double daz;
};

_Static_assert(sizeof(struct astro_observer) == 5 * sizeof(double), "compared with memcmp");

/* The site of obs at m's instant (its polar motion): kept for the next request. */
static const struct astro__site *moment_site(struct astro_moment *m,
                                             const struct astro_observer *obs, double *daz)
{
    /* Bit for bit (five doubles, no padding): -0.0 and 0.0 place the site alike anyway. */
    if (!m->have_site || memcmp(&m->site_of, obs, sizeof(*obs)) != 0) {
        astro__site_init(obs, m->t.xp_as, m->t.yp_as, &m->site, &m->daz);
        m->site_of = *obs;
        m->have_site = true;
    }
    *daz = m->daz;
    return &m->site;
}

struct astro_moment *astro_moment_new(void)
{
    struct astro_moment *m = pt_xcalloc(1, sizeof(*m));
    m->rc = PT_E_RANGE;
    return m;
}

void astro_moment_free(struct astro_moment *m)
{
    free(m);
}

int astro_moment_set(const struct astro_ctx *ctx, const struct astro_time *t,
                     struct astro_moment *m)
{
    m->t = *t;
    m->have_site = false;
    if (!astro__jd_in_range(ctx, t->jd_ut1) || !isfinite(t->jd_tt))
        m->rc = PT_E_RANGE;
    else if (ctx->cache == NULL)
        m->rc = 0;
    else
        m->rc = astro__moment_init(ctx, t->jd_ut1, t->jd_tt, &m->fast);
    return m->rc;
}

const struct astro_time *astro_moment_time(const struct astro_moment *m)
{
    return &m->t;
}

int astro_position_compute_at(const struct astro_ctx *ctx, struct astro_moment *m,
                              enum astro_body body, const struct astro_observer *obs,
                              struct astro_position *out)
{
    if (ctx->cache == NULL)
        return astro_position_compute_exact(ctx, body, &m->t, obs, out);
    if ((unsigned)body >= ASTRO_BODY_COUNT)
        return PT_E_INVALID;
    if (!astro__observer_is_valid(obs))
        return PT_E_RANGE;
    if (m->rc < 0)
        return m->rc;
    double daz;
    const struct astro__site *site = moment_site(m, obs, &daz);
    int rc = astro__fast_position(ctx, &m->fast, body, site, out);
    if (rc == 0)
        turn_azimuth(out, daz);
    return rc;
}

int astro_position_compute_all_at(const struct astro_ctx *ctx, struct astro_moment *m,
                                  const struct astro_observer *obs,
                                  struct astro_position out[ASTRO_BODY_COUNT])
{
    if (!astro__observer_is_valid(obs))
        return PT_E_RANGE;
    if (m->rc < 0)
        return m->rc;
    if (ctx->cache == NULL) {
        for (int b = 0; b < ASTRO_BODY_COUNT; b++) {
            int err = astro_position_compute_exact(ctx, (enum astro_body)b, &m->t, obs, &out[b]);
            if (err < 0)
                return err;
        }
        return 0;
    }
    double daz;
    const struct astro__site *site = moment_site(m, obs, &daz);
    int rc = astro__fast_position_all(ctx, &m->fast, site, out);
    if (rc == 0)
        for (int b = 0; b < ASTRO_BODY_COUNT; b++)
            turn_azimuth(&out[b], daz);
    return rc;
}

/* A one-off instant: a moment of its own, on the stack; the same code as a kept one. */
int astro_position_compute(const struct astro_ctx *ctx, enum astro_body body,
                           const struct astro_time *t, const struct astro_observer *obs,
                           struct astro_position *out)
{
    struct astro_moment m;
    astro_moment_set(ctx, t, &m);
    return astro_position_compute_at(ctx, &m, body, obs, out);
}

int astro_position_compute_all(const struct astro_ctx *ctx, const struct astro_time *t,
                               const struct astro_observer *obs,
                               struct astro_position out[ASTRO_BODY_COUNT])
{
    struct astro_moment m;
    astro_moment_set(ctx, t, &m);
    return astro_position_compute_all_at(ctx, &m, obs, out);
}
