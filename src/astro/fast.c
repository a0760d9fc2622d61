/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * fast.c -- the fast topocentric path of the astro layer (DESIGN.md §5): what is the
 * same for every observer is computed once per body per time step by libswe, cached,
 * and interpolated inside the step; per request only the observer's part runs.
 *
 * What is cached. Time is cut into steps of 1/16 day of TT. For each step the "frame"
 * block holds, as cubic Hermite polynomials or linear segments between the step's two
 * ends: the barycentric Earth and Sun (ICRS, position and velocity), the matrix
 * N·P·B (frame bias, precession, nutation: ICRS to true equator and equinox of date),
 * the matrix P^T (mean equator of date back to J2000), the two sidereal-time offsets
 * GMST - ERA and GAST - ERA, and Delta T; the values at each step boundary (a "node")
 * are computed once and shared by the two steps it bounds. For each body and step, a
 * "body" block holds
 * the body's barycentric position (geocentric for the Moon) as a cubic Hermite
 * polynomial over the step extended backwards by the light time, so that the retarded
 * position is interpolated too. All of it comes from libswe's public API (swe_calc
 * with SEFLG_TRUEPOS, SE_ECL_NUT, swe_sidtime0, swe_deltat_ex, swe_pheno); the rotation
 * matrices are recovered from pairs of vectors that libswe returns both in ICRS/J2000
 * and of date.
 *
 * What runs per request: it reproduces, operation for operation, what libswe 2.10
 * does with SEFLG_TOPOCTR (sweph.c: swi_get_observer, app_pos_etc_plan / _sun / _moon,
 * swi_deflect_light, swi_aberr_light), which differs from "geocentric apparent place
 * plus parallax" by 0.4" for the Moon (see bench/RESULTS.md): libswe puts the
 * observer into the barycentric light-time and aberration pipeline. So: the
 * observer's geocentric position and velocity on libswe's ellipsoid from the mean
 * sidereal time (IERS 2010 as set by swe_set_astro_models), rotated to J2000 by P^T
 * and added to the Earth's; light time iterated twice to the topocentric distance as
 * libswe does (planets: linear first guess then the retarded position; Sun: two
 * retarded positions; Moon: one); relativistic deflection by the Sun (planets only);
 * aberration with the observer's total velocity; then N·P·B, polar coordinates,
 * the horizon rotation with the apparent sidereal time, and libswe's refraction
 * formula (swe_refrac_extended). The physical constants are libswe's (sweph.h, from
 * the Astronomical Almanac 2006 and DE431). Measured agreement with libswe's own
 * topocentric computation: see tests/unit/astro/fast_test.c and bench/RESULTS.md.
 * A planet seen within the solar disc (where libswe switches to a mass-distribution
 * model of the deflection) is handed to the exact path, as is everything when only
 * the Moshier theory is available.
 *
 * Interpolation error: the worst case is the Moon's geocentric position, a cubic
 * Hermite over 1.5 h: bound h^4/384 |x^(4)| ~ 5 cm, 0.00003"; the matrices and the
 * sidereal offsets change by under 0.01" per step and are interpolated linearly (under
 * 0.00005"). Measured against libswe (fast_test.c): 0.00014" for the Moon at mid-step;
 * the largest differences seen, up to 0.0008", are libswe's own: its compressed
 * ephemeris segments meet with jumps of about 1 mas, which a smooth interpolant cannot
 * follow in the step that straddles one.
 *
 * Concurrency. The cache is a set of direct-mapped tables (CACHE_SLOTS slots each,
 * indexed by the step number) of fixed-size blocks guarded by a sequence lock per
 * slot. A reader copies the block out with relaxed atomic loads between two reads of
 * the slot's sequence number and retries or misses if a writer intervened; a writer
 * claims the slot by a compare-and-swap to an odd sequence number, so concurrent
 * writers never block: the loser simply does not publish its (identical) block.
 * Chosen over a mutex-protected table of reference-counted blocks because the read
 * path, taken on every request by the loop thread and the executor threads at once,
 * then costs no lock, no reference count and no allocation (a few dozen plain loads
 * on x86-64), and over per-thread caches because every thread shares one computation.
 * Blocks are computed deterministically from libswe, so whether a request hits or
 * misses, and in which thread, the result is the same bit for bit. All the mutable
 * state lives in the astro_ctx (ctx->cache); there is no global state.
 */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <swephexp.h>

#include "astro/internal.h"

/* ------------------------------------------------------------------------ */
/* Constants (libswe 2.10 sweph.h and swecl.c)                                */
/* ------------------------------------------------------------------------ */

#define AUNIT_M 1.49597870700e+11                     /* au in metres (DE431) */
#define CLIGHT_M_S 2.99792458e+8                      /* m/s */
#define HELGRAVCONST 1.32712440017987e+20             /* G·M(Sun), m^3/s^2 (AA 2006 K6) */
#define SUN_RADIUS_RAD (959.63 / 3600.0 * DEG2RAD)    /* Meeus, as libswe */
#define EARTH_RADIUS_M 6378136.6                      /* AA 2006 K6 */
#define EARTH_OBLATENESS (1.0 / 298.25642)            /* AA 2006 K6 */
#define EARTH_ROT_RAD_DAY (7.2921151467e-5 * 86400.0) /* Explanatory Supplement p. 162 */
#define LAPSE_RATE_K_M 0.0065                         /* libswe's default, for refraction */
#define JD_J2000 2451545.0

#define DEG2RAD (M_PI / 180.0)
#define RAD2DEG (180.0 / M_PI)

/* Light time for r_au au, days (libswe: r * AUNIT / CLIGHT / 86400). */
#define LIGHT_DAYS_PER_AU (AUNIT_M / CLIGHT_M_S / 86400.0)
#define LIGHT_DAYS(r_au) ((r_au)*LIGHT_DAYS_PER_AU)

/* ------------------------------------------------------------------------ */
/* Cache layout                                                               */
/* ------------------------------------------------------------------------ */

#define STEPS_PER_DAY 16 /* 1.5 h: the Moon's Hermite error is then ~5 cm */
#define CACHE_SLOTS 64   /* per table, a power of two: 4 days of steps */

/* Extra look-back of a body block beyond the light time at the step's start, days:
 * covers the change of light time over a step and the observer's offset (21 ms). */
#define LOOKBACK_MARGIN_DAYS 0.002

/* Frame block words. */
enum {
    FR_T0,
    FR_H,
    FR_E = 2,   /* Earth: Hermite coefficients c0[3] c1[3] c2[3] c3[3] */
    FR_S = 14,  /* Sun */
    FR_M = 26,  /* N·P·B at t0 (9), then its change over the step (9) */
    FR_Q = 44,  /* P^T at t0, change */
    FR_GM = 62, /* GMST - ERA at t0 (degrees), change */
    FR_GA = 64, /* GAST - ERA, change */
    FR_DT = 66, /* Delta T (days) at t0, change */
    FRAME_WORDS = 68
};

/* Node words: what the frame block needs at one step boundary (see frame_node). */
enum { NODE_WORDS = 33 };

/* Body block words: the interval start, its length, Hermite coefficients. */
enum { BD_A, BD_LEN, BD_C = 2, BODY_WORDS = 14 };

/* Pheno block words: node times, then per node (PH_NODE words) magnitude, phase,
 * elongation, unit direction (geocentric astrometric ICRS), unit directions of the body
 * and of the Sun (geocentric apparent, ecliptic of date). */
enum { PH_T0, PH_H, PH_N0 = 2, PH_NODE = 12, PH_N1 = PH_N0 + PH_NODE, PHENO_WORDS = 26 };

struct cache_table {
    size_t nwords;         /* payload words per slot */
    _Atomic uint64_t *mem; /* CACHE_SLOTS x [seq, key, payload...] */
};

struct astro_cache {
    struct cache_table node; /* step boundaries, each shared by two frame blocks */
    struct cache_table frame;
    struct cache_table body[ASTRO_BODY_COUNT];
    struct cache_table pheno[ASTRO_BODY_COUNT];
    struct cache_table geo[ASTRO_BODY_COUNT]; /* apparent places at whole UT1 hours */
};

/* Geo block words (astro__fast_topo_hour): the geocentric apparent vector of date (au),
 * the cosine and sine of the apparent sidereal angle (ERA + GAST - ERA), 1 if only the
 * full path is right there (a planet at the Sun's limb), TT - UT1 it was made with. */
enum { GEO_W = 0, GEO_COS_TH = 3, GEO_SIN_TH = 4, GEO_EXACT = 5, GEO_DT = 6, GEO_WORDS = 7 };

#define KEY_EMPTY ((uint64_t)INT64_MIN)

static void table_init(struct cache_table *t, size_t nwords)
{
    size_t stride = 2 + nwords;
    t->nwords = nwords;
    t->mem = pt_xcalloc(CACHE_SLOTS * stride, sizeof(*t->mem));
    for (size_t i = 0; i < CACHE_SLOTS; i++) {
        atomic_init(&t->mem[i * stride], 0);
        atomic_init(&t->mem[i * stride + 1], KEY_EMPTY);
        for (size_t w = 0; w < nwords; w++)
            atomic_init(&t->mem[i * stride + 2 + w], 0);
    }
}

static _Atomic uint64_t *table_slot(const struct cache_table *t, int64_t key)
{
    return t->mem + ((uint64_t)key & (CACHE_SLOTS - 1)) * (2 + t->nwords);
}

/* Copy the block of `key` into out; false on a miss (or while a writer holds it). */
static bool table_get(const struct cache_table *t, int64_t key, double *out)
{
    _Atomic uint64_t *s = table_slot(t, key);
    for (int tries = 0; tries < 3; tries++) {
        uint64_t seq0 = atomic_load_explicit(&s[0], memory_order_acquire);
        if (seq0 & 1)
            return false;
        if (atomic_load_explicit(&s[1], memory_order_relaxed) != (uint64_t)key)
            return false;
        const _Atomic uint64_t *src = s + 2;
        size_t i = 0;
        for (; i + 4 <= t->nwords; i += 4) {
            uint64_t v[4] = {atomic_load_explicit(&src[i], memory_order_relaxed),
                             atomic_load_explicit(&src[i + 1], memory_order_relaxed),
                             atomic_load_explicit(&src[i + 2], memory_order_relaxed),
                             atomic_load_explicit(&src[i + 3], memory_order_relaxed)};
            memcpy(&out[i], v, sizeof(v));
        }
        for (; i < t->nwords; i++) {
            uint64_t v = atomic_load_explicit(&src[i], memory_order_relaxed);
            memcpy(&out[i], &v, sizeof(v));
        }
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&s[0], memory_order_relaxed) == seq0)
            return true;
    }
    return false;
}

/* Publish a block unless another writer holds the slot (its block is the same). */
static void table_put(const struct cache_table *t, int64_t key, const double *in)
{
    _Atomic uint64_t *s = table_slot(t, key);
    uint64_t seq0 = atomic_load_explicit(&s[0], memory_order_relaxed);
    if ((seq0 & 1) || !atomic_compare_exchange_strong_explicit(
                          &s[0], &seq0, seq0 + 1, memory_order_acquire, memory_order_relaxed))
        return;
    atomic_thread_fence(memory_order_release);
    atomic_store_explicit(&s[1], (uint64_t)key, memory_order_relaxed);
    for (size_t i = 0; i < t->nwords; i++) {
        uint64_t v;
        memcpy(&v, &in[i], sizeof(v));
        atomic_store_explicit(&s[2 + i], v, memory_order_relaxed);
    }
    atomic_store_explicit(&s[0], seq0 + 2, memory_order_release);
}

/* ------------------------------------------------------------------------ */
/* Small vector helpers                                                       */
/* ------------------------------------------------------------------------ */

static double dot3(const double a[3], const double b[3])
{
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

static double norm3(const double a[3])
{
    return sqrt(dot3(a, a));
}

static void cross3(const double a[3], const double b[3], double out[3])
{
    out[0] = a[1] * b[2] - a[2] * b[1];
    out[1] = a[2] * b[0] - a[0] * b[2];
    out[2] = a[0] * b[1] - a[1] * b[0];
}

/* out = m · v (m row major). out may not alias v. */
static void mat_vec(const double m[9], const double v[3], double out[3])
{
    for (int i = 0; i < 3; i++)
        out[i] = m[3 * i] * v[0] + m[3 * i + 1] * v[1] + m[3 * i + 2] * v[2];
}

/* out = m^T · v (m row major): the inverse rotation. out may not alias v. */
static void mat_tvec(const double m[9], const double v[3], double out[3])
{
    for (int i = 0; i < 3; i++)
        out[i] = m[i] * v[0] + m[3 + i] * v[1] + m[6 + i] * v[2];
}

/* Cubic Hermite coefficients (in s in [0, 1]) from positions and velocities (per day)
 * at both ends of an interval of len days. c: c0[3] c1[3] c2[3] c3[3]. */
static void hermite_fit(const double p0[6], const double p1[6], double len, double c[12])
{
    for (int i = 0; i < 3; i++) {
        double hv0 = len * p0[3 + i], hv1 = len * p1[3 + i];
        c[i] = p0[i];
        c[3 + i] = hv0;
        c[6 + i] = 3.0 * (p1[i] - p0[i]) - 2.0 * hv0 - hv1;
        c[9 + i] = 2.0 * (p0[i] - p1[i]) + hv0 + hv1;
    }
}

/* Position at s; velocity (per day) too if v is not NULL. */
static void hermite_eval(const double c[12], double s, double len, double p[3], double *v)
{
    for (int i = 0; i < 3; i++)
        p[i] = c[i] + s * (c[3 + i] + s * (c[6 + i] + s * c[9 + i]));
    if (v != NULL)
        for (int i = 0; i < 3; i++)
            v[i] = (c[3 + i] + s * (2.0 * c[6 + i] + s * 3.0 * c[9 + i])) / len;
}

/* Earth rotation angle, degrees in [0, 360): IERS Conventions 2010 eq. 5.15, written as
 * libswe's swe_sidtime0 writes it (jdrel = UT1 - J2000). */
static double era_deg(double jd_ut1)
{
    double a = (0.7790572732640 + 1.00273781191135448 * (jd_ut1 - JD_J2000)) * 360.0;
    return a - 360.0 * floor(a / 360.0); /* exact, like libswe's swe_degnorm */
}

/* An angle difference in degrees brought into (-180, 180]. */
static double wrap180(double d)
{
    d = fmod(d, 360.0);
    if (d > 180.0)
        d -= 360.0;
    else if (d <= -180.0)
        d += 360.0;
    return d;
}

/* ------------------------------------------------------------------------ */
/* Filling blocks from libswe                                                 */
/* ------------------------------------------------------------------------ */

#define FL_RAW                                                                                     \
    (SEFLG_TRUEPOS | SEFLG_J2000 | SEFLG_ICRS | SEFLG_NONUT | SEFLG_XYZ | SEFLG_EQUATORIAL)
#define FL_DATE (SEFLG_TRUEPOS | SEFLG_XYZ | SEFLG_EQUATORIAL)
#define FL_MEAN (FL_DATE | SEFLG_NONUT)

/* One swe_calc (TT) that must succeed from the context's ephemeris. */
static int calc_tt(const struct astro_ctx *ctx, double jd_tt, int32 ipl, int32 flags, double x[6])
{
    char serr[AS_MAXCH] = "";
    int32 ret = swe_calc(jd_tt, ipl, ctx->eph_flag | flags, x, serr);
    if (ret < 0 || (ret & (SEFLG_SWIEPH | SEFLG_MOSEPH)) != ctx->eph_flag) {
        for (char *p = serr; *p; p++)
            if (*p == '\n' || *p == '\r')
                *p = ' ';
        pt_log_error("astro: swe_calc(%d, JD %.6f TT, flags %d) failed for the cache: %s", (int)ipl,
                     jd_tt, (int)flags, serr[0] ? serr : "wrong ephemeris");
        return PT_E_EPHEMERIS;
    }
    return 0;
}

/* Orthonormal triad (as matrix columns) spanned by a then b. */
static void triad(const double a[3], const double b[3], double t[9])
{
    double u[3], v[3], w[3];
    double ra = norm3(a);
    for (int i = 0; i < 3; i++)
        u[i] = a[i] / ra;
    double p = dot3(b, u);
    for (int i = 0; i < 3; i++)
        v[i] = b[i] - p * u[i];
    double rv = norm3(v);
    for (int i = 0; i < 3; i++)
        v[i] /= rv;
    cross3(u, v, w);
    for (int i = 0; i < 3; i++) {
        t[3 * i] = u[i];
        t[3 * i + 1] = v[i];
        t[3 * i + 2] = w[i];
    }
}

/*
 * The rotation r with r·a[i] = b[i] for the best conditioned pair of the n vector pairs
 * (libswe applied one rotation to each a[i] to give b[i]; two non-parallel vectors
 * determine it, to about 1e-16 / sin(angle between them)).
 */
static void rotation_from_pairs(const double (*a)[6], const double (*b)[6], int n, double r[9])
{
    int bi = 0, bj = 1;
    double best = -1.0;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) {
            double c[3];
            cross3(a[i], a[j], c);
            double s = norm3(c) / (norm3(a[i]) * norm3(a[j]));
            if (s > best) {
                best = s;
                bi = i;
                bj = j;
            }
        }
    double ta[9], tb[9];
    triad(a[bi], a[bj], ta);
    triad(b[bi], b[bj], tb);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            r[3 * i + j] = tb[3 * i] * ta[3 * j] + tb[3 * i + 1] * ta[3 * j + 1] +
                           tb[3 * i + 2] * ta[3 * j + 2];
}

/*
 * N·P·B (to the true equator of date) and P·B (to the mean equator of date) at jd_tt,
 * from the Earth (barycentric) and the Moon (geocentric) as libswe returns them in
 * ICRS and of date; Jupiter (barycentric) joins in the rare case the first two are
 * within a few degrees of parallel.
 */
static int node_rotations(const struct astro_ctx *ctx, double jd_tt, double npb[9], double pb[9])
{
    static const int32 ipl[3] = {SE_EARTH, SE_MOON, SE_JUPITER};
    static const int32 ctr[3] = {SEFLG_BARYCTR, 0, SEFLG_BARYCTR};
    double a[3][6], b[3][6], c[3][6];
    int n = 0;
    for (int i = 0; i < 3; i++) {
        if (i == 2) {
            double x[3];
            cross3(a[0], a[1], x);
            if (norm3(x) > 0.05 * norm3(a[0]) * norm3(a[1]))
                break;
        }
        int err = calc_tt(ctx, jd_tt, ipl[i], ctr[i] | FL_RAW, a[i]);
        if (err == 0)
            err = calc_tt(ctx, jd_tt, ipl[i], ctr[i] | FL_DATE, b[i]);
        if (err == 0)
            err = calc_tt(ctx, jd_tt, ipl[i], ctr[i] | FL_MEAN, c[i]);
        if (err < 0)
            return err;
        n++;
    }
    rotation_from_pairs(a, b, n, npb);
    rotation_from_pairs(a, c, n, pb);
    return 0;
}

/* Node words: the Earth and the Sun (barycentric ICRS, position and velocity), N·P·B,
 * P^T, GMST - ERA and GAST - ERA (degrees), Delta T (days). */
enum { ND_E = 0, ND_S = 6, ND_NPB = 12, ND_PT = 21, ND_GM = 30, ND_GA = 31, ND_DT = 32 };

static int node_fill(const struct astro_ctx *ctx, double jd_tt, double *n)
{
    double pb[9], nut[6];
    int err = calc_tt(ctx, jd_tt, SE_EARTH, SEFLG_BARYCTR | SEFLG_SPEED | FL_RAW, &n[ND_E]);
    if (err == 0)
        err = calc_tt(ctx, jd_tt, SE_SUN, SEFLG_BARYCTR | SEFLG_SPEED | FL_RAW, &n[ND_S]);
    if (err == 0)
        err = node_rotations(ctx, jd_tt, &n[ND_NPB], pb);
    if (err == 0)
        err = calc_tt(ctx, jd_tt, SE_ECL_NUT, 0, nut);
    if (err < 0)
        return err;
    /* P^T = B·(P·B)^T: swi_get_observer rotates the observer back by precession only. */
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            n[ND_PT + 3 * i + j] = ctx->bias[3 * i] * pb[3 * j] +
                                   ctx->bias[3 * i + 1] * pb[3 * j + 1] +
                                   ctx->bias[3 * i + 2] * pb[3 * j + 2];
    /* swi_get_observer takes UT as TT - Delta T(TT) and the mean sidereal time there
     * (swe_sidtime0 with nutation 0: ERA + the IERS 2010 polynomial and complementary
     * terms); swe_azalt adds the equation of the equinoxes, dpsi·cos(true obliquity). */
    char serr[AS_MAXCH];
    n[ND_DT] = swe_deltat_ex(jd_tt, ctx->eph_flag, serr);
    double ut = jd_tt - n[ND_DT];
    n[ND_GM] = wrap180(swe_sidtime0(ut, 0.0, 0.0) * 15.0 - era_deg(ut));
    n[ND_GA] = n[ND_GM] + nut[2] * cos(nut[0] * DEG2RAD);
    return 0;
}

static int node_get(const struct astro_ctx *ctx, int64_t k, double *n)
{
    if (table_get(&ctx->cache->node, k, n))
        return 0;
    int err = node_fill(ctx, (double)k / STEPS_PER_DAY, n);
    if (err == 0)
        table_put(&ctx->cache->node, k, n);
    return err;
}

static int frame_fill(const struct astro_ctx *ctx, int64_t k, double *w)
{
    double n0[NODE_WORDS], n1[NODE_WORDS];
    int err = node_get(ctx, k, n0);
    if (err == 0)
        err = node_get(ctx, k + 1, n1);
    if (err < 0)
        return err;
    double h = 1.0 / STEPS_PER_DAY;
    w[FR_T0] = (double)k / STEPS_PER_DAY;
    w[FR_H] = h;
    hermite_fit(&n0[ND_E], &n1[ND_E], h, &w[FR_E]);
    hermite_fit(&n0[ND_S], &n1[ND_S], h, &w[FR_S]);
    for (int i = 0; i < 9; i++) {
        w[FR_M + i] = n0[ND_NPB + i];
        w[FR_M + 9 + i] = n1[ND_NPB + i] - n0[ND_NPB + i];
        w[FR_Q + i] = n0[ND_PT + i];
        w[FR_Q + 9 + i] = n1[ND_PT + i] - n0[ND_PT + i];
    }
    w[FR_GM] = n0[ND_GM];
    w[FR_GM + 1] = wrap180(n1[ND_GM] - n0[ND_GM]);
    w[FR_GA] = n0[ND_GA];
    w[FR_GA + 1] = wrap180(n1[ND_GA] - n0[ND_GA]);
    w[FR_DT] = n0[ND_DT];
    w[FR_DT + 1] = n1[ND_DT] - n0[ND_DT];
    return 0;
}

/* libswe body flags for a body block: barycentric, except the Moon (geocentric). */
static int32 body_center(enum astro_body body)
{
    return body == ASTRO_MOON ? 0 : SEFLG_BARYCTR;
}

/* e1: the Earth's barycentric position at the step's end, from the frame block. */
static int body_fill(const struct astro_ctx *ctx, enum astro_body body, int64_t k,
                     const double e1[3], double *w)
{
    int32 ipl = astro__body_ipl(body);
    double t0 = (double)k / STEPS_PER_DAY, t1 = (double)(k + 1) / STEPS_PER_DAY;
    double p0[6], p1[6];
    int err = calc_tt(ctx, t1, ipl, body_center(body) | SEFLG_SPEED | FL_RAW, p1);
    if (err < 0)
        return err;
    /* Look back by the light time (geometric distance at the step's end: it changes by
     * under 1e-5 day over a step) plus a margin. */
    double g[3];
    for (int i = 0; i < 3; i++)
        g[i] = body == ASTRO_MOON ? p1[i] : p1[i] - e1[i];
    double a = t0 - LIGHT_DAYS(norm3(g)) - LOOKBACK_MARGIN_DAYS;
    err = calc_tt(ctx, a, ipl, body_center(body) | SEFLG_SPEED | FL_RAW, p0);
    if (err < 0)
        return err;
    w[BD_A] = a;
    w[BD_LEN] = t1 - a;
    hermite_fit(p0, p1, t1 - a, &w[BD_C]);
    return 0;
}

static int64_t step_of(double jd_tt)
{
    return (int64_t)floor(jd_tt * STEPS_PER_DAY);
}

static int frame_get(const struct astro_ctx *ctx, int64_t k, double *w)
{
    if (table_get(&ctx->cache->frame, k, w))
        return 0;
    astro__thread_enter(ctx);
    int err = frame_fill(ctx, k, w);
    if (err == 0)
        table_put(&ctx->cache->frame, k, w);
    return err;
}

static int body_get(const struct astro_ctx *ctx, enum astro_body body, int64_t k, const double *fw,
                    double *w)
{
    if (table_get(&ctx->cache->body[body], k, w))
        return 0;
    astro__thread_enter(ctx);
    double e1[3];
    hermite_eval(&fw[FR_E], 1.0, fw[FR_H], e1, NULL);
    int err = body_fill(ctx, body, k, e1, w);
    if (err == 0)
        table_put(&ctx->cache->body[body], k, w);
    return err;
}

/* ------------------------------------------------------------------------ */
/* Set-up                                                                     */
/* ------------------------------------------------------------------------ */

int astro__fast_init(struct astro_ctx *ctx)
{
    /* At J2000.0 precession is the identity in libswe, so P·B there is the bias. */
    double npb[9];
    int err = node_rotations(ctx, JD_J2000, npb, ctx->bias);
    if (err < 0)
        return err;
    struct astro_cache *c = pt_xcalloc(1, sizeof(*c));
    table_init(&c->node, NODE_WORDS);
    table_init(&c->frame, FRAME_WORDS);
    for (int b = 0; b < ASTRO_BODY_COUNT; b++) {
        table_init(&c->body[b], BODY_WORDS);
        table_init(&c->pheno[b], PHENO_WORDS);
        table_init(&c->geo[b], GEO_WORDS);
    }
    ctx->cache = c;
    return 0;
}

void astro__fast_deinit(struct astro_ctx *ctx)
{
    struct astro_cache *c = ctx->cache;
    if (c == NULL)
        return;
    free(c->node.mem);
    free(c->frame.mem);
    for (int b = 0; b < ASTRO_BODY_COUNT; b++) {
        free(c->body[b].mem);
        free(c->pheno[b].mem);
        free(c->geo[b].mem);
    }
    free(c);
    ctx->cache = NULL;
}

/* ------------------------------------------------------------------------ */
/* Per request                                                                */
/* ------------------------------------------------------------------------ */

/* sin and cos of a + d from those of a (*s, *c), d a small turn (|d| <= 1e-3 rad:
 * the series then err by under 1e-17). */
static void turn_small(double *s, double *c, double d)
{
    double d2 = d * d;
    double sd = d * (1.0 - d2 / 6.0), cd = 1.0 - d2 / 2.0 * (1.0 - d2 / 12.0);
    double s1 = *s * cd + *c * sd;
    *c = *c * cd - *s * sd;
    *s = s1;
}

/* The sine and cosine of an angle moved by d_rad to moved_deg: turned from the old
 * ones when the turn is small and exact, else evaluated (a latitude clamped at a pole,
 * a longitude near one). */
static void moved_angle(double *s, double *c, double d_rad, bool exact, double moved_deg)
{
    if (exact && fabs(d_rad) <= 1e-3) {
        turn_small(s, c, d_rad);
    } else {
        *s = sin(moved_deg * DEG2RAD);
        *c = cos(moved_deg * DEG2RAD);
    }
}

/*
 * Polar motion (IERS Conventions 2010, eq. 5.3 to first order; s' below 0.0001" a
 * century, neglected): the observer's place on the Earth's crust is moved to where
 * it is against the celestial pole, lat' = lat + (x cos lon - y sin lon) and
 * lon' = lon + (x sin lon + y cos lon) tan lat, and azimuths, measured from the
 * crust's north, turn by -(x sin lon + y cos lon) / cos lat. x, y: the pole's
 * offsets (at most about 0.5", so first order errs by under 1e-12 rad). This is
 * the rotation W of ERFA's atco13 to 0.3 uas. The moved angles' sines and cosines
 * are the old ones turned (turn_small): one sin and cos of each angle in all.
 */
void astro__site_init(const struct astro_observer *obs, double xp_as, double yp_as,
                      struct astro__site *out, double *daz_deg)
{
    out->obs = *obs;
    double lat = obs->lat_deg * DEG2RAD, lon = obs->lon_deg * DEG2RAD;
    double sb = sin(lat), cb = cos(lat), sl = sin(lon), cl = cos(lon);
    *daz_deg = 0.0;
    if (xp_as != 0.0 || yp_as != 0.0) {
        const double as2r = DEG2RAD / 3600.0;
        double x = xp_as * as2r, y = yp_as * as2r;
        double dlat = x * cl - y * sl;
        double mlat = obs->lat_deg + dlat * RAD2DEG;
        bool clamped = mlat > 90.0 || mlat < -90.0;
        mlat = PT_MIN(PT_MAX(mlat, -90.0), 90.0);
        out->obs.lat_deg = mlat;
        if (cb > 1e-9) {
            double w = x * sl + y * cl;
            double dlon = w * (sb / cb);
            out->obs.lon_deg = obs->lon_deg + dlon * RAD2DEG;
            *daz_deg = -w / cb * RAD2DEG;
            moved_angle(&sl, &cl, dlon, true, out->obs.lon_deg);
        }
        moved_angle(&sb, &cb, dlat, !clamped, mlat);
    }
    out->sinlat = sb;
    out->coslat = cb;
    out->sinlon = sl;
    out->coslon = cl;
    double f1 = (1.0 - EARTH_OBLATENESS) * (1.0 - EARTH_OBLATENESS);
    double cc = 1.0 / sqrt(cb * cb + f1 * sb * sb);
    out->rxy_au = (EARTH_RADIUS_M * cc + obs->elev_m) * cb / AUNIT_M;
    out->z_au = (EARTH_RADIUS_M * f1 * cc + obs->elev_m) * sb / AUNIT_M;
}

/* A site turned by the sidereal angle theta (given as its cosine and sine; the
 * longitude is added here), in the equator of that angle. */
struct site {
    double x[3];             /* geocentric, au */
    double cos_lst, sin_lst; /* local sidereal angle */
};

static void site_place(const struct astro__site *s, double cos_th, double sin_th, struct site *out)
{
    out->cos_lst = s->coslon * cos_th - s->sinlon * sin_th;
    out->sin_lst = s->sinlon * cos_th + s->coslon * sin_th;
    out->x[0] = s->rxy_au * out->cos_lst;
    out->x[1] = s->rxy_au * out->sin_lst;
    out->x[2] = s->z_au;
}

/* swe_azalt for a vector w of date seen from a site (latitude and local sidereal
 * angle): OUT the hour angle (may be NULL), azimuth (may be NULL) and airless
 * altitude, degrees. */
static void horizon(const double w[3], double sinlat, double coslat, double cos_lst, double sin_lst,
                    double *ha_deg, double *az_deg, double *alt_deg)
{
    double xh = w[0] * cos_lst + w[1] * sin_lst; /* r cos(dec) cos(H) */
    double yh = w[0] * sin_lst - w[1] * cos_lst; /* r cos(dec) sin(H) */
    double up = sinlat * w[2] + coslat * xh;
    double north = coslat * w[2] - sinlat * xh;
    double east = -yh;
    if (ha_deg != NULL)
        *ha_deg = atan2(yh, xh) * RAD2DEG;
    if (az_deg != NULL) {
        double az = atan2(east, north) * RAD2DEG;
        if (az < 0.0)
            az += 360.0;
        if (az >= 360.0)
            az -= 360.0;
        *az_deg = az;
    }
    *alt_deg = atan(up / sqrt(north * north + east * east)) * RAD2DEG;
}

_Static_assert(FRAME_WORDS == ASTRO__FRAME_WORDS, "internal.h's frame block size");

/* The observer's part shared by every body at one instant. */
struct request {
    const struct astro_ctx *ctx;
    const struct astro__site *site; /* the caller's; outlives the request */
    const struct astro__moment *m;  /* the instant's part; outlives the request */
    double o[3];             /* observer, geocentric, J2000 mean frame (as libswe), au */
    double ob[3], obv[3];    /* observer, barycentric, au and au/day */
    double cos_lst, sin_lst; /* local apparent sidereal time */
};

/* m for (jd_ut1, jd_tt); with reuse, the frame block m already holds when it is that
 * step's. */
static int moment_fill(const struct astro_ctx *ctx, double jd_ut1, double jd_tt, bool reuse,
                       struct astro__moment *m)
{
    m->jd_ut1 = jd_ut1;
    m->jd_tt = jd_tt;
    int64_t k = step_of(jd_tt);
    if (!reuse || !m->have_frame || m->frame_step != k) {
        m->have_frame = false;
        int err = frame_get(ctx, k, m->fw);
        if (err < 0)
            return err;
        m->have_frame = true;
        m->frame_step = k;
    }
    const double *w = m->fw;
    double s = (jd_tt - w[FR_T0]) / w[FR_H];
    m->s = s;
    hermite_eval(&w[FR_E], s, w[FR_H], m->e, m->ev);
    for (int i = 0; i < 9; i++) {
        m->npb[i] = w[FR_M + i] + s * w[FR_M + 9 + i];
        m->pt[i] = w[FR_Q + i] + s * w[FR_Q + 9 + i];
    }
    double gm = w[FR_GM] + s * w[FR_GM + 1];
    double ga = w[FR_GA] + s * w[FR_GA + 1];
    /*
     * libswe places the observer at UT = TT - Delta T(TT) of its own Delta T, which
     * is the request's UT1 when the Delta T is the caller's (swe_set_delta_t_userdef,
     * as the reference cases were computed). With the IERS UT1 of a UTC request the
     * model's Delta T would put the observer up to 0.44 s of Earth rotation away
     * (6.7", 0.1" of lunar parallax): the observer is placed at the request's UT1.
     */
    double ut_obs = jd_ut1;

    /*
     * The site on libswe's ellipsoid, turned by the sidereal time and carried with
     * the Earth's rotation. libswe (swi_get_observer with SEFLG_NONUT) turns it by
     * the mean sidereal time about the mean pole and rotates it back to J2000 by
     * precession alone, leaving out nutation: the site is then up to about 250 m
     * from where the Earth puts it, 0.1" on the Moon. By default it is placed as the
     * real Earth does (and JPL Horizons): apparent sidereal time, true equator of
     * date, back to ICRS by (N·P·B)^T. Against Horizons this cut the Moon's RA/Dec
     * error from 0.088" to 0.017" median (bench/RESULTS.md).
     */
    bool nut = ctx->observer_nutation;
    double th = (era_deg(ut_obs) + (nut ? ga : gm)) * DEG2RAD;
    m->cos_th = cos(th);
    m->sin_th = sin(th);
    /* swe_azalt's local apparent sidereal time differs from the angle above by the
     * equation of the equinoxes (libswe's placement) and the UT1 difference: a few
     * arcseconds at most, so the site's angle is turned by it (request_place) instead
     * of evaluating sin and cos again. */
    m->turn_rad =
        ((jd_ut1 - ut_obs) * 1.00273781191135448 * 360.0 + (nut ? 0.0 : ga - gm)) * DEG2RAD;
    return 0;
}

int astro__moment_init(const struct astro_ctx *ctx, double jd_ut1, double jd_tt,
                       struct astro__moment *m)
{
    return moment_fill(ctx, jd_ut1, jd_tt, false, m);
}

/* The request of site at the prepared instant m (which must outlive it). */
static void request_place(const struct astro_ctx *ctx, const struct astro__moment *m,
                          const struct astro__site *site, struct request *r)
{
    r->ctx = ctx;
    r->site = site;
    r->m = m;
    struct site st;
    site_place(site, m->cos_th, m->sin_th, &st);
    const double *xm = st.x;
    double cosl = st.cos_lst, sinl = st.sin_lst;
    double vm[3] = {-EARTH_ROT_RAD_DAY * xm[1], EARTH_ROT_RAD_DAY * xm[0], 0.0};
    double ov[3];
    if (ctx->observer_nutation) {
        mat_tvec(m->npb, xm, r->o);
        mat_tvec(m->npb, vm, ov);
    } else {
        mat_vec(m->pt, xm, r->o);
        mat_vec(m->pt, vm, ov);
    }
    for (int i = 0; i < 3; i++) {
        r->ob[i] = m->e[i] + r->o[i];
        r->obv[i] = m->ev[i] + ov[i];
    }
    turn_small(&sinl, &cosl, m->turn_rad);
    r->cos_lst = cosl;
    r->sin_lst = sinl;
}


/*
 * swi_deflect_light, position only: u is the observer-to-body vector (light-time
 * corrected), dt the light time. False if the body is within the solar disc, where
 * libswe uses a mass-distribution model that this code does not reproduce.
 */
static bool deflect(const struct request *r, double u[3], double dt)
{
    double e[3], q[3], sun[3], sunv[3];
    hermite_eval(&r->m->fw[FR_S], r->m->s, r->m->fw[FR_H], sun, sunv);
    for (int i = 0; i < 3; i++) {
        e[i] = r->ob[i] - sun[i];
        /* Sun at t - dt: "this is sufficient precision" (libswe) */
        q[i] = u[i] + r->ob[i] - (sun[i] - dt * sunv[i]);
    }
    double ru = norm3(u), rq = norm3(q), re = norm3(e);
    double iu = 1.0 / ru, iq = 1.0 / rq, ie = 1.0 / re;
    double un[3], qn[3], en[3];
    for (int i = 0; i < 3; i++) {
        un[i] = u[i] * iu;
        qn[i] = q[i] * iq;
        en[i] = e[i] * ie;
    }
    double uq = dot3(un, qn), ue = dot3(un, en), qe = dot3(qn, en);
    double sina = sqrt(1.0 - ue * ue);
    if (sina < SUN_RADIUS_RAD / re)
        return false;
    double g = 2.0 * HELGRAVCONST / CLIGHT_M_S / CLIGHT_M_S / AUNIT_M * ie / (1.0 + qe);
    for (int i = 0; i < 3; i++)
        u[i] = ru * (un[i] + g * (uq * en[i] - ue * qn[i]));
    return true;
}

/* swi_aberr_light, position only: relativistic annual plus diurnal aberration with
 * the observer's barycentric velocity (au/day). */
static void aberrate(const struct request *r, double x[3])
{
    const double k = AUNIT_M / (86400.0 * CLIGHT_M_S); /* au/day -> fraction of c */
    double v[3];
    double ru = norm3(x);
    for (int i = 0; i < 3; i++)
        v[i] = r->obv[i] * k;
    double b1 = sqrt(1.0 - dot3(v, v));
    double f1 = dot3(x, v) / ru;
    double f2 = ru * (1.0 + f1 / (1.0 + b1));
    double inv = 1.0 / (1.0 + f1);
    for (int i = 0; i < 3; i++)
        x[i] = (b1 * x[i] + f2 * v[i]) * inv;
}

/*
 * swe_refrac_extended(alt, elev, pressure, temp, 0.0065, SE_TRUE_TO_APP): the apparent
 * altitude for the true one, by libswe's secant iteration on its
 * calc_astronomical_refr formula (degrees). libswe always runs five rounds; we stop
 * once the estimate moves by less than 1e-8 degree, which changes the result by under
 * 1e-8" (the refraction's slope is below 0.25 degree per degree above -1 degree).
 */
static double refract(double alt, const struct astro_observer *obs)
{
    if (alt > 90)
        alt = 180 - alt;
    if (alt < -10)
        return alt;
    /* calc_astronomical_refr: ((P - 80) / 930 / (1 + 0.00008 (r + 39) (T - 10)) r) / 60 */
    double pf = (obs->pressure_hpa - 80) / 930 / 60.0;
    double tq = 0.00008 * (obs->temp_c - 10);
    double y = alt, d = 0.0, yy0 = 0.0, d0 = 0.0;
    double ty = NAN, tan_ty = 0.0; /* an angle whose tangent is known */
    for (int i = 0; i < 5; i++) {
        double r;
        if (y > 17.904104638432) {
            if (isnan(ty)) {
                tan_ty = tan(y * DEG2RAD);
                ty = y;
                r = 0.97 / tan_ty;
            } else {
                /* tan(ty + e) by the addition formula: the iterates differ by well under
                 * 0.01 rad, where the series of tan(e) to e^7 is exact to 1e-20. */
                double e = (y - ty) * DEG2RAD, e2 = e * e;
                double te = e * (1.0 + e2 * (1.0 / 3.0 + e2 * (2.0 / 15.0 + e2 * (17.0 / 315.0))));
                r = 0.97 * (1.0 - tan_ty * te) / (tan_ty + te);
            }
        } else {
            r = (34.46 + 4.23 * y + 0.004 * y * y) / (1 + 0.505 * y + 0.0845 * y * y);
        }
        d = pf * r / (1 + (r + 39) * tq);
        double n = y - yy0;
        yy0 = d - d0 - n;
        if (n != 0.0 && yy0 != 0.0)
            n = y - n * (alt + d - y) / yy0;
        else
            n = alt + d;
        yy0 = y;
        d0 = d;
        bool settled = i > 0 && fabs(n - y) < 1e-8;
        y = n;
        if (settled)
            break;
    }
    /* The dip of the horizon (calc_dip) is <= 0, so it can only matter below 0. A
     * negative elevation makes it NaN in libswe, and then it never applies. */
    if (alt + d < 0.0) {
        double krefr = (0.0342 + LAPSE_RATE_K_M) / (0.154 * 0.0238);
        double tk = 273.15 + obs->temp_c;
        double dd = 1 - 1.8480 * krefr * obs->pressure_hpa / tk / tk;
        double dip = -180.0 / M_PI * acos(1 / (1 + obs->elev_m / EARTH_RADIUS_M)) * sqrt(dd);
        if (alt + d < dip)
            return alt;
    }
    return alt + d;
}

/* The topocentric apparent vector of a body in ICRS/J2000 (au), its geocentric
 * light-time corrected distance; false if the exact path must answer. */
static int body_vector(const struct request *r, enum astro_body body, double u[3], double *dist_geo,
                       bool *exact)
{
    double bw[BODY_WORDS];
    const double *fw = r->m->fw;
    int err = body_get(r->ctx, body, step_of(r->m->jd_tt), fw, bw);
    if (err < 0)
        return err;
    const double *c = &bw[BD_C];
    double a = bw[BD_A], len = bw[BD_LEN];
    double t = r->m->jd_tt;
    double x[3], xv[3], d[3];
    *exact = false;

    if (body == ASTRO_MOON) {
        /* app_pos_etc_moon: light time from the topocentric distance at t, then the
         * geocentric Moon and the barycentric Earth at t - dt. */
        hermite_eval(c, (t - a) / len, len, x, NULL);
        for (int i = 0; i < 3; i++)
            d[i] = x[i] - r->o[i];
        double dt = LIGHT_DAYS(norm3(d));
        double m[3], e[3];
        hermite_eval(c, (t - dt - a) / len, len, m, NULL);
        hermite_eval(&fw[FR_E], (t - dt - fw[FR_T0]) / fw[FR_H], fw[FR_H], e, NULL);
        for (int i = 0; i < 3; i++)
            u[i] = m[i] + e[i] - r->ob[i];
        /* The geocentric distance needs the geocentric light time: the Moon moves by
         * 30 km/s about the barycentre, 0.6 km in the 21 ms the observer changes. */
        double dtg = LIGHT_DAYS(norm3(x));
        hermite_eval(c, (t - dtg - a) / len, len, m, NULL);
        hermite_eval(&fw[FR_E], (t - dtg - fw[FR_T0]) / fw[FR_H], fw[FR_H], e, NULL);
        double g[3];
        for (int i = 0; i < 3; i++)
            g[i] = m[i] + e[i] - r->m->e[i];
        *dist_geo = norm3(g);
    } else if (body == ASTRO_SUN) {
        /* app_pos_etc_sun: two light-time rounds, each with the retarded Sun. */
        double xs[3];
        hermite_eval(c, (t - a) / len, len, xs, NULL);
        for (int j = 0; j < 2; j++) {
            for (int i = 0; i < 3; i++)
                d[i] = r->ob[i] - xs[i];
            double dt = LIGHT_DAYS(norm3(d));
            hermite_eval(c, (t - dt - a) / len, len, xs, NULL);
        }
        double g[3];
        for (int i = 0; i < 3; i++) {
            u[i] = -(r->ob[i] - xs[i]);
            g[i] = xs[i] - r->m->e[i];
        }
        *dist_geo = norm3(g);
    } else {
        /* app_pos_etc_plan: a linear first guess, then the retarded position. */
        hermite_eval(c, (t - a) / len, len, x, xv);
        double dt = 0.0;
        double xx[3] = {x[0], x[1], x[2]};
        for (int j = 0; j < 2; j++) {
            for (int i = 0; i < 3; i++)
                d[i] = xx[i] - r->ob[i];
            dt = LIGHT_DAYS(norm3(d));
            for (int i = 0; i < 3; i++)
                xx[i] = x[i] - dt * xv[i];
        }
        double xr[3], g[3];
        hermite_eval(c, (t - dt - a) / len, len, xr, NULL);
        for (int i = 0; i < 3; i++) {
            u[i] = xr[i] - r->ob[i];
            g[i] = xr[i] - r->m->e[i];
        }
        /* The geocentric distance, with the geocentric light time: the planet moves up
         * to 1 km in the 21 ms by which the observer changes it. */
        double dtg = LIGHT_DAYS(norm3(g));
        for (int i = 0; i < 3; i++)
            g[i] += (dt - dtg) * xv[i];
        *dist_geo = norm3(g);
        if (!deflect(r, u, dt)) {
            *exact = true;
            return 0;
        }
    }
    aberrate(r, u);
    return 0;
}

/* ha_deg (may be NULL): OUT the topocentric hour angle in (-180, 180] degrees. With
 * ha_deg, only what a rise and set search reads is worked out: the airless altitude,
 * the distances and the hour angle (right ascension, declination and azimuth are NaN,
 * alt_deg the airless altitude unless the site has air). */
static int request_body(const struct request *r, enum astro_body body, struct astro_position *out,
                        double *ha_deg)
{
    double u[3], dist_geo;
    bool exact;
    int err = body_vector(r, body, u, &dist_geo, &exact);
    if (err < 0)
        return err;
    if (exact) {
        struct astro_time t = {.jd_ut1 = r->m->jd_ut1, .jd_tt = r->m->jd_tt};
        err = astro_position_compute_exact(r->ctx, body, &t, &r->site->obs, out);
        if (err == 0 && ha_deg != NULL)
            *ha_deg = wrap180(atan2(r->sin_lst, r->cos_lst) * RAD2DEG - out->ra_deg);
        return err;
    }
    double w[3];
    mat_vec(r->m->npb, u, w);

    /* swi_cartpol: RA in [0, 360), declination by atan(z / rxy). */
    double rxy2 = w[0] * w[0] + w[1] * w[1];
    if (ha_deg == NULL) {
        double ra = atan2(w[1], w[0]);
        if (ra < 0.0)
            ra += 2.0 * M_PI;
        out->ra_deg = ra * RAD2DEG;
        out->dec_deg = atan(w[2] / sqrt(rxy2)) * RAD2DEG;
    } else {
        out->ra_deg = NAN;
        out->dec_deg = NAN;
        out->az_deg = NAN;
    }
    out->distance_topo_au = sqrt(rxy2 + w[2] * w[2]);
    out->distance_au = dist_geo;

    /* swe_azalt: hour angle from the apparent sidereal time, then the horizon. */
    horizon(w, r->site->sinlat, r->site->coslat, r->cos_lst, r->sin_lst, ha_deg,
            ha_deg == NULL ? &out->az_deg : NULL, &out->alt_airless_deg);
    out->alt_deg =
        r->site->obs.pressure_hpa > 0.0 ? refract(out->alt_airless_deg, &r->site->obs)
                                        : out->alt_airless_deg;
    return 0;
}

int astro__fast_position(const struct astro_ctx *ctx, const struct astro__moment *m,
                         enum astro_body body, const struct astro__site *site,
                         struct astro_position *out)
{
    struct request r;
    request_place(ctx, m, site, &r);
    return request_body(&r, body, out, NULL);
}

int astro__fast_position_all(const struct astro_ctx *ctx, const struct astro__moment *m,
                             const struct astro__site *site,
                             struct astro_position out[ASTRO_BODY_COUNT])
{
    struct request r;
    request_place(ctx, m, site, &r);
    int err = 0;
    for (int b = 0; b < ASTRO_BODY_COUNT && err == 0; b++)
        err = request_body(&r, (enum astro_body)b, &out[b], NULL);
    return err;
}

int astro__fast_topo(const struct astro_ctx *ctx, enum astro_body body, double jd_ut1, double jd_tt,
                     const struct astro__site *site, struct astro__moment *scratch,
                     struct astro_position *out, double *ha_deg)
{
    int err = moment_fill(ctx, jd_ut1, jd_tt, true, scratch);
    if (err < 0)
        return err;
    struct request r;
    request_place(ctx, scratch, site, &r);
    return request_body(&r, body, out, ha_deg);
}

/* The geo block of body at UT1 hour `hour` (jd_ut1 = hour / 24): from the cache, else
 * computed with the observer at the geocentre and published. */
static int geo_block(const struct astro_ctx *ctx, enum astro_body body, int64_t hour,
                     double dt_days, double g[GEO_WORDS])
{
    if (table_get(&ctx->cache->geo[body], hour, g) && fabs(g[GEO_DT] - dt_days) < 1e-7)
        return 0;
    double jd_ut1 = (double)hour / 24.0;
    static const struct astro_observer centre = {0.0, 0.0, 0.0, 0.0, 0.0};
    struct astro__site site;
    double daz;
    astro__site_init(&centre, 0.0, 0.0, &site, &daz);
    struct astro__moment m;
    int err = astro__moment_init(ctx, jd_ut1, jd_ut1 + dt_days, &m);
    if (err < 0)
        return err;
    struct request r;
    request_place(ctx, &m, &site, &r);
    for (int i = 0; i < 3; i++) {
        r.o[i] = 0.0;
        r.ob[i] = m.e[i];
        r.obv[i] = m.ev[i];
    }
    double u[3], dist;
    bool exact;
    err = body_vector(&r, body, u, &dist, &exact);
    if (err < 0)
        return err;
    mat_vec(m.npb, u, &g[GEO_W]);
    double th = (era_deg(jd_ut1) + m.fw[FR_GA] + m.s * m.fw[FR_GA + 1]) * DEG2RAD;
    g[GEO_COS_TH] = cos(th);
    g[GEO_SIN_TH] = sin(th);
    g[GEO_EXACT] = exact ? 1.0 : 0.0;
    g[GEO_DT] = dt_days;
    table_put(&ctx->cache->geo[body], hour, g);
    return 0;
}

int astro__fast_topo_hour(const struct astro_ctx *ctx, enum astro_body body, int64_t hour,
                          double dt_days, const struct astro__site *site, double *alt_deg,
                          double *ha_deg, double *dist_topo_au)
{
    double g[GEO_WORDS];
    int err = geo_block(ctx, body, hour, dt_days, g);
    if (err < 0)
        return err;
    if (g[GEO_EXACT] != 0.0)
        return 1;
    /* The site in the true equator of date, as request_place places it. */
    struct site st;
    site_place(site, g[GEO_COS_TH], g[GEO_SIN_TH], &st);
    double w[3];
    for (int i = 0; i < 3; i++)
        w[i] = g[GEO_W + i] - st.x[i];
    horizon(w, site->sinlat, site->coslat, st.cos_lst, st.sin_lst, ha_deg, NULL, alt_deg);
    *dist_topo_au = norm3(w);
    return 0;
}


/* ------------------------------------------------------------------------ */
/* Slowly changing geocentric quantities                                      */
/* ------------------------------------------------------------------------ */

static int pheno_node(const struct astro_ctx *ctx, enum astro_body body, double jd_tt, double *n)
{
    int32 ipl = astro__body_ipl(body);
    double attr[20], x[6], xb[6], xs[6];
    char serr[AS_MAXCH] = "";
    int32 ret = swe_pheno(jd_tt, ipl, ctx->eph_flag, attr, serr);
    if (ret < 0) {
        pt_log_error("astro: swe_pheno(%d, JD %.6f TT) failed: %s", (int)ipl, jd_tt, serr);
        return PT_E_EPHEMERIS;
    }
    int err = calc_tt(ctx, jd_tt, ipl,
                      SEFLG_J2000 | SEFLG_ICRS | SEFLG_NONUT | SEFLG_NOABERR | SEFLG_NOGDEFL |
                          SEFLG_XYZ | SEFLG_EQUATORIAL,
                      x);
    /* As swe_pheno measures the elongation: geocentric apparent, cartesian ecliptic. */
    if (err == 0)
        err = calc_tt(ctx, jd_tt, ipl, SEFLG_XYZ, xb);
    if (err == 0)
        err = calc_tt(ctx, jd_tt, SE_SUN, SEFLG_XYZ, xs);
    if (err < 0)
        return err;
    n[0] = attr[4];                           /* magnitude */
    n[1] = body == ASTRO_SUN ? 1.0 : attr[1]; /* illuminated fraction */
    n[2] = body == ASTRO_SUN ? 0.0 : attr[2]; /* elongation, degrees */
    double r = norm3(x), rb = norm3(xb), rs = norm3(xs);
    for (int i = 0; i < 3; i++) {
        n[3 + i] = x[i] / r;
        n[6 + i] = xb[i] / rb;
        n[9 + i] = xs[i] / rs;
    }
    return 0;
}

/* Linear interpolation of a unit vector, normalized: exact in direction for a uniform
 * rotation, and the Moon turns by under 1 degree in a step. */
static void lerp_unit(const double *a, const double *b, double s, double out[3])
{
    for (int i = 0; i < 3; i++)
        out[i] = a[i] + s * (b[i] - a[i]);
    double r = norm3(out);
    for (int i = 0; i < 3; i++)
        out[i] /= r;
}

int astro__fast_pheno(const struct astro_ctx *ctx, enum astro_body body, double jd_tt,
                      double pheno[4], double dir[3])
{
    int64_t k = step_of(jd_tt);
    double w[PHENO_WORDS];
    if (ctx->cache == NULL) {
        /* Moshier fallback: no cache, compute at the instant itself. */
        astro__thread_enter(ctx);
        w[PH_T0] = jd_tt;
        w[PH_H] = 1.0;
        int err = pheno_node(ctx, body, jd_tt, &w[PH_N0]);
        if (err < 0)
            return err;
        memcpy(&w[PH_N1], &w[PH_N0], PH_NODE * sizeof(double));
    } else if (!table_get(&ctx->cache->pheno[body], k, w)) {
        astro__thread_enter(ctx);
        w[PH_T0] = (double)k / STEPS_PER_DAY;
        w[PH_H] = 1.0 / STEPS_PER_DAY;
        int err = pheno_node(ctx, body, w[PH_T0], &w[PH_N0]);
        if (err == 0)
            err = pheno_node(ctx, body, w[PH_T0] + w[PH_H], &w[PH_N1]);
        if (err < 0)
            return err;
        table_put(&ctx->cache->pheno[body], k, w);
    }
    double s = (jd_tt - w[PH_T0]) / w[PH_H];
    const double *n0 = &w[PH_N0], *n1 = &w[PH_N1];
    /* Magnitude and phase change smoothly; the elongation has a sharp minimum near new
     * Moon, so it is measured between the interpolated directions, as swe_pheno does. */
    pheno[0] = n0[0] + s * (n1[0] - n0[0]);
    pheno[1] = n0[1] + s * (n1[1] - n0[1]);
    pheno[3] = 0.0;
    double ub[3], us[3];
    lerp_unit(&n0[6], &n1[6], s, ub);
    lerp_unit(&n0[9], &n1[9], s, us);
    double c[3];
    cross3(ub, us, c);
    pheno[2] = body == ASTRO_SUN ? 0.0 : atan2(norm3(c), dot3(ub, us)) * RAD2DEG;
    lerp_unit(&n0[3], &n1[3], s, dir);
    return 0;
}
