/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * fast_test.c -- unit tests of src/astro/fast.c, the fast topocentric path that
 * astro_position_compute() takes: it must agree with libswe's own full topocentric
 * computation (astro_position_compute_exact: SEFLG_TOPOCTR + swe_azalt, as the shared
 * truth.c) within 0.002" for every body, in azimuth/altitude (great circle), RA/Dec
 * and refracted altitude above 5 degrees, over
 *   - the 1000 public reference cases of tests/data/truth-cases-public.csv (also
 *     against the file's own numbers),
 *   - 5000 random instants per body over 1800-2400 with random observers
 *     (|lat| <= 89.9, elevation -500..10000 m, pressure 0..1100 hPa, -40..40 C),
 *   - the Moon at mid-step (where cubic Hermite interpolation is worst): 0.0005",
 * and prints the largest error of each body. Also: the batch call gives the single
 * calls' results bit for bit, several threads filling the shared cache on
 * overlapping steps give bit for bit what one thread gives on a fresh context, and
 * steps that share a cache slot evict each other correctly.
 *
 * Run from the repository root (the data file path is relative to it):
 *   make SANITIZE=address,undefined build/san/tests/unit/astro/fast_test
 *   build/san/tests/unit/astro/fast_test
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "astro/astro.h"
#include "astro/internal.h"
#include "unit/astro/testutil.h"

#define LIMIT_ARCSEC 0.002
#define MOON_INTERP_LIMIT_ARCSEC 0.0005
#define RANDOM_PER_BODY 5000

/* ------------------------------------------------------------------------ */
/* Helpers                                                                    */
/* ------------------------------------------------------------------------ */

/* Great-circle separation (Vincenty) of two directions given in degrees, arcseconds. */
static double sep_arcsec(double lon1, double lat1, double lon2, double lat2)
{
    double r = M_PI / 180.0;
    double p1 = lat1 * r, p2 = lat2 * r, dl = (lon2 - lon1) * r;
    double num = hypot(cos(p2) * sin(dl), cos(p1) * sin(p2) - sin(p1) * cos(p2) * cos(dl));
    double den = sin(p1) * sin(p2) + cos(p1) * cos(p2) * cos(dl);
    return atan2(num, den) / r * 3600.0;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

static double rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}

/* Largest errors of one body. */
struct errors {
    double azalt, radec, refr, dist_ppm;
    int n;
};

static void compare(const struct astro_position *f, const struct astro_position *e,
                    struct errors *err)
{
    double a = sep_arcsec(f->az_deg, f->alt_airless_deg, e->az_deg, e->alt_airless_deg);
    double r = sep_arcsec(f->ra_deg, f->dec_deg, e->ra_deg, e->dec_deg);
    double refr = e->alt_airless_deg > 5.0 ? fabs(f->alt_deg - e->alt_deg) * 3600.0 : 0.0;
    double d = fmax(fabs(f->distance_au / e->distance_au - 1.0),
                    fabs(f->distance_topo_au / e->distance_topo_au - 1.0)) *
               1e6;
    err->azalt = fmax(err->azalt, a);
    err->radec = fmax(err->radec, r);
    err->refr = fmax(err->refr, refr);
    err->dist_ppm = fmax(err->dist_ppm, d);
    err->n++;
}

/* Print the table and fail if any angle is above limit (arcsec) or a distance above
 * 0.01 ppm. */
static void report(const char *title, const struct errors *err, double limit)
{
    print_message("%s: max error per body (arcsec; distance ppm)\n", title);
    bool ok = true;
    for (int b = 0; b < ASTRO_BODY_COUNT; b++) {
        const struct errors *e = &err[b];
        if (e->n == 0)
            continue;
        print_message("  %-8s n=%-5d az/alt %.6f  ra/dec %.6f  refracted alt %.6f  dist %.4f\n",
                      astro_body_name((enum astro_body)b), e->n, e->azalt, e->radec, e->refr,
                      e->dist_ppm);
        if (!(e->azalt <= limit && e->radec <= limit && e->refr <= limit && e->dist_ppm <= 0.01))
            ok = false;
    }
    assert_true(ok);
}

static bool have_debian_files(void)
{
    struct stat st;
    return stat(DEBIAN_EPHE "/sepl_18.se1", &st) == 0 && stat(DEBIAN_EPHE "/semo_18.se1", &st) == 0;
}

static int setup_ctx(void **state)
{
    if (!have_debian_files())
        return -1;
    struct astro_ctx *ctx;
    if (astro_ctx_new(DEBIAN_EPHE, &ctx) != 0 || !astro_ctx_has_files(ctx))
        return -1;
    /* Compared with libswe: its placement of the observer (test_observer_nutation
     * checks the default one). */
    astro_ctx_set_observer_nutation(ctx, false);
    *state = ctx;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Reference cases                                                            */
/* ------------------------------------------------------------------------ */

struct truth_case {
    double jd_ut1;
    int body;
    double lat_deg, lon_deg, elev_m, pressure_hpa, temp_c;
    double az_deg, alt_airless_deg, alt_refr_deg, ra_deg, dec_deg;
};

static int load_cases(struct truth_case *cases, int max)
{
    FILE *f = fopen(TRUTH_CSV, "r");
    if (f == NULL)
        fail_msg("cannot open %s (run the test from the repository root)", TRUTH_CSV);
    char header[1024], line[1024];
    char *hf[32], *v[32];
    assert_non_null(fgets(header, sizeof(header), f));
    int nh = split(header, hf, 32);
    int c_jd = column(hf, nh, "jd_ut1"), c_body = column(hf, nh, "body");
    int c_lat = column(hf, nh, "lat_deg"), c_lon = column(hf, nh, "lon_deg");
    int c_elev = column(hf, nh, "elev_m"), c_p = column(hf, nh, "pressure_hpa");
    int c_t = column(hf, nh, "temp_c"), c_az = column(hf, nh, "az_deg");
    int c_alt = column(hf, nh, "alt_airless_deg"), c_refr = column(hf, nh, "alt_refr_deg");
    int c_ra = column(hf, nh, "ra_deg"), c_dec = column(hf, nh, "dec_deg");
    int n = 0;
    while (n < max && fgets(line, sizeof(line), f) != NULL) {
        if (split(line, v, 32) != nh)
            continue;
        struct truth_case *c = &cases[n++];
        c->jd_ut1 = atof(v[c_jd]);
        c->body = astro_body_from_name(pt_str_c(v[c_body]));
        assert_true(c->body >= 0);
        c->lat_deg = atof(v[c_lat]);
        c->lon_deg = atof(v[c_lon]);
        c->elev_m = atof(v[c_elev]);
        c->pressure_hpa = atof(v[c_p]);
        c->temp_c = atof(v[c_t]);
        c->az_deg = atof(v[c_az]);
        c->alt_airless_deg = atof(v[c_alt]);
        c->alt_refr_deg = atof(v[c_refr]);
        c->ra_deg = atof(v[c_ra]);
        c->dec_deg = atof(v[c_dec]);
    }
    fclose(f);
    return n;
}

static void test_truth_cases(void **state)
{
    const struct astro_ctx *ctx = *state;
    static struct truth_case cases[1000];
    int n = load_cases(cases, 1000);
    assert_int_equal(n, 1000);
    struct errors vs_exact[ASTRO_BODY_COUNT] = {0}, vs_file[ASTRO_BODY_COUNT] = {0};
    for (int i = 0; i < n; i++) {
        const struct truth_case *c = &cases[i];
        struct astro_time t;
        assert_int_equal(astro_time_from_jd(ctx, c->jd_ut1, ASTRO_UT1, &t), 0);
        struct astro_observer obs = {c->lat_deg, c->lon_deg, c->elev_m, c->pressure_hpa, c->temp_c};
        struct astro_position f = {0}, e = {0};
        assert_int_equal(astro_position_compute(ctx, c->body, &t, &obs, &f), 0);
        assert_int_equal(astro_position_compute_exact(ctx, c->body, &t, &obs, &e), 0);
        compare(&f, &e, &vs_exact[c->body]);
        /* The file's numbers, printed with 1e-9 degree: distances are not compared. */
        struct errors *w = &vs_file[c->body];
        w->azalt =
            fmax(w->azalt, sep_arcsec(f.az_deg, f.alt_airless_deg, c->az_deg, c->alt_airless_deg));
        w->radec = fmax(w->radec, sep_arcsec(f.ra_deg, f.dec_deg, c->ra_deg, c->dec_deg));
        if (c->alt_airless_deg > 5.0)
            w->refr = fmax(w->refr, fabs(f.alt_deg - c->alt_refr_deg) * 3600.0);
        w->n++;
    }
    report("truth cases, fast vs libswe (exact path)", vs_exact, LIMIT_ARCSEC);
    report("truth cases, fast vs the truth file", vs_file, LIMIT_ARCSEC);
}

/* ------------------------------------------------------------------------ */
/* The observer's site                                                        */
/* ------------------------------------------------------------------------ */

/*
 * astro__site_init turns the observer's sines and cosines by polar motion instead of
 * evaluating them again: they must be those of the moved angles to 2e-15 (the angles'
 * own rounding in degrees, up to 720, is 1e-15 rad), the moved
 * angles and the azimuth turn those of the first-order formula (IERS 2010 eq. 5.3)
 * written out here, and the site's distances from the axis and the equator those of
 * libswe's ellipsoid, for random observers, pole offsets up to 1" (twice the largest
 * seen) and latitudes next to and at the poles (where the longitude turn is large and
 * the latitude is clamped).
 */
static void check_site(double lat, double lon, double elev, double xp, double yp, double *worst)
{
    struct astro_observer obs = {lat, lon, elev, 1010.0, 15.0};
    struct astro__site s;
    double daz;
    astro__site_init(&obs, xp, yp, &s, &daz);
    double r = M_PI / 180.0, x = xp / 3600.0 * r, y = yp / 3600.0 * r;
    double mlat = lat + (x * cos(lon * r) - y * sin(lon * r)) / r, mlon = lon, mdaz = 0.0;
    mlat = fmin(fmax(mlat, -90.0), 90.0);
    if (cos(lat * r) > 1e-9) {
        double w = x * sin(lon * r) + y * cos(lon * r);
        mlon = lon + w * tan(lat * r) / r;
        mdaz = -w / cos(lat * r) / r;
    }
    assert_true(fabs(s.obs.lat_deg - mlat) <= 1e-13);
    assert_true(fabs(s.obs.lon_deg - mlon) <= 1e-13 * fmax(1.0, fabs(mlon)));
    assert_true(fabs(daz - mdaz) <= 1e-12 * fmax(1.0, fabs(mdaz)));
    assert_true(s.obs.elev_m == elev && s.obs.pressure_hpa == 1010.0 && s.obs.temp_c == 15.0);
    double e = fmax(
        fmax(fabs(s.sinlat - sin(s.obs.lat_deg * r)), fabs(s.coslat - cos(s.obs.lat_deg * r))),
        fmax(fabs(s.sinlon - sin(s.obs.lon_deg * r)), fabs(s.coslon - cos(s.obs.lon_deg * r))));
    *worst = fmax(*worst, e);
    double f1 = (1.0 - 1.0 / 298.25642) * (1.0 - 1.0 / 298.25642);
    double sb = sin(mlat * r), cb = cos(mlat * r);
    double cc = 1.0 / sqrt(cb * cb + f1 * sb * sb);
    double au = 1.49597870700e+11;
    assert_true(fabs(s.rxy_au - (6378136.6 * cc + elev) * cb / au) <= 1e-18);
    assert_true(fabs(s.z_au - (6378136.6 * f1 * cc + elev) * sb / au) <= 1e-18);
}

static void test_site_polar_motion(void **state)
{
    (void)state;
    double worst = 0.0;
    rng_state = 0x2545F4914F6CDD1DULL;
    for (int i = 0; i < 200000; i++) {
        double lat = rnd() * 180.0 - 90.0, lon = rnd() * 720.0 - 360.0;
        double xp = rnd() * 2.0 - 1.0, yp = rnd() * 2.0 - 1.0;
        check_site(lat, lon, rnd() * 10500.0 - 500.0, i % 10 == 0 ? 0.0 : xp,
                   i % 10 == 0 ? 0.0 : yp, &worst);
    }
    static const double near_pole[] = {90.0, 89.9999999,  89.9999,  89.99, 89.9,
                                       89.0, -89.9999999, -89.9999, -90.0, 0.0};
    for (size_t k = 0; k < sizeof(near_pole) / sizeof(near_pole[0]); k++)
        for (int j = 0; j < 360; j += 7)
            for (int q = 0; q < 4; q++)
                check_site(near_pole[k], j, 0.0, q & 1 ? 0.9 : -0.9, q & 2 ? 0.9 : -0.9, &worst);
    print_message("site sines and cosines against the moved angles' own: %.2g at most\n", worst);
    assert_true(worst <= 2e-15);
}

/* ------------------------------------------------------------------------ */
/* Random cases                                                               */
/* ------------------------------------------------------------------------ */

static void test_random_cases(void **state)
{
    const struct astro_ctx *ctx = *state;
    double lo, hi;
    astro_ctx_jd_range(ctx, &lo, &hi);
    struct errors err[ASTRO_BODY_COUNT] = {0};
    rng_state = 0x9E3779B97F4A7C15ULL;
    for (int i = 0; i < RANDOM_PER_BODY * ASTRO_BODY_COUNT; i++) {
        enum astro_body body = (enum astro_body)(i % ASTRO_BODY_COUNT);
        struct astro_time t;
        assert_int_equal(astro_time_from_jd(ctx, lo + rnd() * (hi - lo), ASTRO_UT1, &t), 0);
        struct astro_observer obs = {rnd() * 179.8 - 89.9, rnd() * 720.0 - 360.0,
                                     rnd() * 10500.0 - 500.0, rnd() < 0.1 ? 0.0 : rnd() * 1100.0,
                                     rnd() * 80.0 - 40.0};
        struct astro_position f = {0}, e = {0};
        assert_int_equal(astro_position_compute(ctx, body, &t, &obs, &f), 0);
        assert_int_equal(astro_position_compute_exact(ctx, body, &t, &obs, &e), 0);
        compare(&f, &e, &err[body]);
    }
    report("random instants 1800-2400, random observers, fast vs libswe", err, LIMIT_ARCSEC);
}

/*
 * The default placement of the observer (about the true pole, with nutation)
 * against libswe's (mean pole): the planets cannot feel a site moved by a few
 * hundred metres (under 0.002"), the Moon must, by about 0.1" (the site moves by
 * the nutation tilt, 7-9", of an Earth radius: up to 0.3 km at 384,000 km, times
 * the projection). Its accuracy against JPL Horizons is an integration test
 * (test_55_earth_orientation.py), since the difference here says nothing of which
 * is right.
 */
static void test_observer_nutation(void **state)
{
    (void)state;
    if (!have_debian_files())
        skip();
    struct astro_ctx *nut, *mean;
    assert_int_equal(astro_ctx_new(DEBIAN_EPHE, &nut), 0);
    assert_int_equal(astro_ctx_new(DEBIAN_EPHE, &mean), 0);
    astro_ctx_set_observer_nutation(mean, false);
    rng_state = 0x5DEECE66DULL;
    double worst[ASTRO_BODY_COUNT] = {0}, moon_sum = 0;
    int moon_n = 0;
    for (int i = 0; i < 200 * ASTRO_BODY_COUNT; i++) {
        enum astro_body body = (enum astro_body)(i % ASTRO_BODY_COUNT);
        struct astro_time t;
        assert_int_equal(astro_time_from_jd(nut, 2451545.0 + rnd() * 10000.0, ASTRO_UT1, &t), 0);
        struct astro_observer obs = {rnd() * 170.0 - 85.0, rnd() * 360.0 - 180.0, rnd() * 3000.0,
                                     0.0, 0.0};
        struct astro_position a, b;
        assert_int_equal(astro_position_compute(nut, body, &t, &obs, &a), 0);
        assert_int_equal(astro_position_compute(mean, body, &t, &obs, &b), 0);
        double e = sep_arcsec(a.ra_deg, a.dec_deg, b.ra_deg, b.dec_deg);
        worst[body] = fmax(worst[body], e);
        if (body == ASTRO_MOON) {
            moon_sum += e;
            moon_n++;
        }
    }
    for (int b = 0; b < ASTRO_BODY_COUNT; b++) {
        print_message("  %-8s %.5f\"\n", astro_body_name((enum astro_body)b), worst[b]);
        if (b != ASTRO_MOON && worst[b] > 0.002)
            fail_msg("%s moved by %.5f\"", astro_body_name((enum astro_body)b), worst[b]);
    }
    double moon_mean = moon_sum / moon_n;
    print_message("  the Moon: mean %.4f\", max %.4f\"\n", moon_mean, worst[ASTRO_MOON]);
    assert_true(moon_mean > 0.03 && moon_mean < 0.15);
    assert_true(worst[ASTRO_MOON] < 0.25);
    astro_ctx_free(nut);
    astro_ctx_free(mean);
}

/* The Moon at the middle of 1.5-hour steps, where cubic Hermite interpolation is
 * furthest from its nodes: the fast path and libswe differ by the interpolation only. */
static void test_moon_interpolation(void **state)
{
    const struct astro_ctx *ctx = *state;
    double lo, hi;
    astro_ctx_jd_range(ctx, &lo, &hi);
    struct errors err[ASTRO_BODY_COUNT] = {0};
    rng_state = 12345;
    for (int i = 0; i < 3000; i++) {
        /* jd_tt at the middle (or a quarter) of a step of 1/16 day. */
        double k = floor((lo + 1.0 + rnd() * (hi - lo - 2.0)) * 16.0);
        struct astro_time t;
        assert_int_equal(astro_time_from_jd(ctx, (k + (i % 2 ? 0.5 : 0.25)) / 16.0, ASTRO_TT, &t),
                         0);
        struct astro_observer obs = {rnd() * 179.8 - 89.9, rnd() * 360.0, rnd() * 10000.0, 0, 0};
        struct astro_position f = {0}, e = {0};
        assert_int_equal(astro_position_compute(ctx, ASTRO_MOON, &t, &obs, &f), 0);
        assert_int_equal(astro_position_compute_exact(ctx, ASTRO_MOON, &t, &obs, &e), 0);
        compare(&f, &e, &err[ASTRO_MOON]);
    }
    report("the Moon at mid-step (interpolation error)", err, MOON_INTERP_LIMIT_ARCSEC);
}

/* ------------------------------------------------------------------------ */
/* Batch, errors, cache slots                                                 */
/* ------------------------------------------------------------------------ */

static void test_batch(void **state)
{
    const struct astro_ctx *ctx = *state;
    struct astro_time t;
    assert_int_equal(astro_time_parse(ctx, PT_STR("2026-11-21T08:30:00Z"), ASTRO_UTC, &t), 0);
    struct astro_observer obs = {48.8566, 2.3522, 35.0, 1010.0, 15.0};
    struct astro_position all[ASTRO_BODY_COUNT], one;
    assert_int_equal(astro_position_compute_all(ctx, &t, &obs, all), 0);
    for (int b = 0; b < ASTRO_BODY_COUNT; b++) {
        assert_int_equal(astro_position_compute(ctx, (enum astro_body)b, &t, &obs, &one), 0);
        assert_memory_equal(&one, &all[b], sizeof(one));
    }
    struct astro_observer bad = obs;
    bad.lat_deg = 91.0;
    assert_int_equal(astro_position_compute_all(ctx, &t, &bad, all), PT_E_RANGE);
    struct astro_time nan_t = t;
    nan_t.jd_tt = NAN;
    assert_int_equal(astro_position_compute(ctx, ASTRO_MARS, &nan_t, &obs, &one), PT_E_RANGE);
    assert_int_equal(astro_position_compute(ctx, ASTRO_BODY_COUNT, &t, &obs, &one), PT_E_INVALID);
}

/* A kept moment gives what astro_position_compute gives, bit for bit and error for
 * error: random instants and observers, both placements of the observer, polar motion,
 * several observers at one moment, and the errors (bad body, observer, instant). */
static void test_moment_matches(void **state)
{
    (void)state;
    if (!have_debian_files())
        skip();
    struct astro_ctx *ctxs[2];
    assert_int_equal(astro_ctx_new(DEBIAN_EPHE, &ctxs[0]), 0);
    assert_int_equal(astro_ctx_new(DEBIAN_EPHE, &ctxs[1]), 0);
    astro_ctx_set_observer_nutation(ctxs[1], false);
    struct astro_moment *m = astro_moment_new();
    struct astro_position want, got, all_want[ASTRO_BODY_COUNT], all_got[ASTRO_BODY_COUNT];
    /* A moment never set answers as an instant out of range does. */
    struct astro_observer obs0 = {48.93, 2.45, 0.0, 1010.0, 15.0};
    assert_int_equal(astro_position_compute_at(ctxs[0], m, ASTRO_MARS, &obs0, &got), PT_E_RANGE);
    rng_state = 0x1234567ULL;
    for (int i = 0; i < 400; i++) {
        const struct astro_ctx *ctx = ctxs[i % 2];
        struct astro_time t;
        assert_int_equal(astro_time_from_jd(ctx, 2451545.0 + rnd() * 12000.0, ASTRO_UT1, &t), 0);
        t.xp_as = (rnd() - 0.5) * 0.6;
        t.yp_as = (rnd() - 0.5) * 0.6;
        assert_int_equal(astro_moment_set(ctx, &t, m), 0);
        assert_memory_equal(astro_moment_time(m), &t, sizeof(t));
        struct astro_observer obs = {0};
        for (int k = 0; k < 4; k++) {
            /* New places, then the last one again with other air (the kept site must
             * not answer with the old air). */
            if (k < 3)
                obs = (struct astro_observer){rnd() * 179.8 - 89.9, rnd() * 360.0 - 180.0,
                                              rnd() * 4000.0, k == 0 ? 0.0 : 1010.0, 15.0};
            else
                obs.pressure_hpa = obs.pressure_hpa > 0 ? 0.0 : 1010.0;
            enum astro_body body = (enum astro_body)((i + k) % ASTRO_BODY_COUNT);
            assert_int_equal(astro_position_compute(ctx, body, &t, &obs, &want), 0);
            assert_int_equal(astro_position_compute_at(ctx, m, body, &obs, &got), 0);
            assert_memory_equal(&want, &got, sizeof(got));
            assert_int_equal(astro_position_compute_all(ctx, &t, &obs, all_want), 0);
            assert_int_equal(astro_position_compute_all_at(ctx, m, &obs, all_got), 0);
            assert_memory_equal(all_want, all_got, sizeof(all_got));
        }
    }
    struct astro_observer bad = obs0;
    bad.lat_deg = 91.0;
    assert_int_equal(astro_position_compute_at(ctxs[0], m, ASTRO_MARS, &bad, &got), PT_E_RANGE);
    assert_int_equal(astro_position_compute_all_at(ctxs[0], m, &bad, all_got), PT_E_RANGE);
    assert_int_equal(astro_position_compute_at(ctxs[0], m, ASTRO_BODY_COUNT, &obs0, &got),
                     PT_E_INVALID);
    struct astro_time nan_t = *astro_moment_time(m);
    nan_t.jd_tt = NAN;
    assert_int_equal(astro_moment_set(ctxs[0], &nan_t, m), PT_E_RANGE);
    assert_int_equal(astro_position_compute_at(ctxs[0], m, ASTRO_MARS, &obs0, &got), PT_E_RANGE);
    assert_int_equal(astro_position_compute_all_at(ctxs[0], m, &obs0, all_got), PT_E_RANGE);
    astro_moment_free(m);
    astro_ctx_free(ctxs[0]);
    astro_ctx_free(ctxs[1]);
}

/* Steps 64 apart share a cache slot: alternating between them must keep answering for
 * the right step (a stale block would be off by days). */
static void test_slot_collisions(void **state)
{
    const struct astro_ctx *ctx = *state;
    struct astro_observer obs = {-33.87, 151.21, 58.0, 1013.0, 22.0};
    for (int i = 0; i < 40; i++) {
        struct astro_time t;
        double jd = 2460000.5 + (i % 2) * 4.0 + (i / 2) * (4.0 + 1.0 / 16.0) + 0.01;
        assert_int_equal(astro_time_from_jd(ctx, jd, ASTRO_UT1, &t), 0);
        for (int b = 0; b < ASTRO_BODY_COUNT; b++) {
            struct astro_position f = {0}, e = {0};
            assert_int_equal(astro_position_compute(ctx, (enum astro_body)b, &t, &obs, &f), 0);
            assert_int_equal(astro_position_compute_exact(ctx, (enum astro_body)b, &t, &obs, &e),
                             0);
            assert_true(sep_arcsec(f.ra_deg, f.dec_deg, e.ra_deg, e.dec_deg) < LIMIT_ARCSEC);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Threads                                                                    */
/* ------------------------------------------------------------------------ */

#define NTHREADS 4
#define NJOBS 600

struct job {
    struct astro_time t;
    struct astro_observer obs;
    enum astro_body body;
};

static struct job jobs[NJOBS];
static struct astro_position want[NJOBS];

struct worker {
    const struct astro_ctx *ctx;
    int start; /* each thread walks the jobs from another start: overlapping steps */
    int mismatches, errors;
    struct astro_position got[NJOBS];
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < NJOBS; i++) {
        int j = (w->start + i) % NJOBS;
        if (astro_position_compute(w->ctx, jobs[j].body, &jobs[j].t, &jobs[j].obs, &w->got[j]))
            w->errors++;
    }
    return NULL;
}

static void test_threads_share_cache(void **state)
{
    (void)state;
    if (!have_debian_files())
        skip();
    /* Reference: one thread, fresh context (cold cache). */
    struct astro_ctx *ctx;
    assert_int_equal(astro_ctx_new(DEBIAN_EPHE, &ctx), 0);
    rng_state = 777;
    for (int i = 0; i < NJOBS; i++) {
        /* 150 instants over 5 days: consecutive jobs share steps and slots. */
        double jd = 2461000.5 + floor(rnd() * 150.0) / 30.0 + (i % 3) * 1e-4;
        assert_int_equal(astro_time_from_jd(ctx, jd, ASTRO_UT1, &jobs[i].t), 0);
        jobs[i].obs =
            (struct astro_observer){rnd() * 170 - 85, rnd() * 360 - 180, rnd() * 3000, 1010, 10};
        jobs[i].body = (enum astro_body)(i % ASTRO_BODY_COUNT);
        assert_int_equal(
            astro_position_compute(ctx, jobs[i].body, &jobs[i].t, &jobs[i].obs, &want[i]), 0);
    }
    astro_ctx_free(ctx);

    /* Several threads on a new context: they fill the same steps at the same time. */
    assert_int_equal(astro_ctx_new(DEBIAN_EPHE, &ctx), 0);
    static struct worker w[NTHREADS];
    pthread_t th[NTHREADS];
    for (int k = 0; k < NTHREADS; k++) {
        w[k] = (struct worker){.ctx = ctx, .start = k * 37};
        assert_int_equal(pthread_create(&th[k], NULL, worker_main, &w[k]), 0);
    }
    for (int k = 0; k < NTHREADS; k++) {
        assert_int_equal(pthread_join(th[k], NULL), 0);
        assert_int_equal(w[k].errors, 0);
        for (int i = 0; i < NJOBS; i++)
            if (memcmp(&w[k].got[i], &want[i], sizeof(want[i])) != 0)
                w[k].mismatches++;
        assert_int_equal(w[k].mismatches, 0);
    }
    astro_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_truth_cases, setup_ctx, teardown_ctx),
        cmocka_unit_test_setup_teardown(test_random_cases, setup_ctx, teardown_ctx),
        cmocka_unit_test_setup_teardown(test_moon_interpolation, setup_ctx, teardown_ctx),
        cmocka_unit_test(test_observer_nutation),
        cmocka_unit_test(test_site_polar_motion),
        cmocka_unit_test_setup_teardown(test_batch, setup_ctx, teardown_ctx),
        cmocka_unit_test(test_moment_matches),
        cmocka_unit_test_setup_teardown(test_slot_collisions, setup_ctx, teardown_ctx),
        cmocka_unit_test(test_threads_share_cache),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
