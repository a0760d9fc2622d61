/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * astro_test.c -- unit tests of src/astro/astro.c: body names, the ephemeris
 * context (files or Moshier fallback, $EPHE_PATH), and positions against the 1000
 * public reference cases of tests/data/truth-cases-public.csv (computed by the
 * shared truth.c with libswe and the DE431-derived files): airless az/alt and RA/Dec
 * within 0.001", refracted altitude within 0.001" above 5 degrees, distances within
 * 1e-9 relative, Delta T within 1 ms. Also a concurrency test: threads computing
 * different observers at once must reproduce the serial results bit for bit.
 *
 * Run from the repository root (the data file path is relative to it):
 *   make SANITIZE=address,undefined build/san/tests/unit/astro/astro_test
 *   build/san/tests/unit/astro/astro_test
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
#include <time.h>
#include <unistd.h>

#include "astro/astro.h"
#include "unit/astro/testutil.h"

#define ARCSEC (1.0 / 3600.0)

/* ------------------------------------------------------------------------ */
/* Reference cases                                                            */
/* ------------------------------------------------------------------------ */

struct truth_case {
    int id;
    char iso_ut1[40];
    char body[16];
    double jd_ut1, lat_deg, lon_deg, elev_m, pressure_hpa, temp_c, deltat_s, jd_tt;
    double az_deg, alt_airless_deg, alt_refr_deg, ra_deg, dec_deg;
    double dist_geo_au, dist_topo_au;
};

#define MAX_CASES 2000

static struct truth_case cases[MAX_CASES];
static int ncases;

/* Load the reference cases once (the file is 1000 lines). */
static void load_cases(void)
{
    if (ncases > 0)
        return;
    FILE *f = fopen(TRUTH_CSV, "r");
    if (f == NULL)
        fail_msg("cannot open %s (run the test from the repository root)", TRUTH_CSV);
    static char header[1024];
    char *hf[32];
    assert_non_null(fgets(header, sizeof(header), f));
    int nh = split(header, hf, 32);
    int c_id = column(hf, nh, "id"), c_iso = column(hf, nh, "iso_ut1");
    int c_jd = column(hf, nh, "jd_ut1"), c_body = column(hf, nh, "body");
    int c_lat = column(hf, nh, "lat_deg"), c_lon = column(hf, nh, "lon_deg");
    int c_elev = column(hf, nh, "elev_m"), c_p = column(hf, nh, "pressure_hpa");
    int c_t = column(hf, nh, "temp_c"), c_dt = column(hf, nh, "deltat_s");
    int c_jdtt = column(hf, nh, "jd_tt"), c_az = column(hf, nh, "az_deg");
    int c_alt = column(hf, nh, "alt_airless_deg"), c_refr = column(hf, nh, "alt_refr_deg");
    int c_ra = column(hf, nh, "ra_deg"), c_dec = column(hf, nh, "dec_deg");
    int c_dg = column(hf, nh, "dist_geo_au"), c_dtopo = column(hf, nh, "dist_topo_au");

    char line[1024];
    while (fgets(line, sizeof(line), f) != NULL && ncases < MAX_CASES) {
        char *v[32];
        if (split(line, v, 32) != nh)
            continue;
        struct truth_case *c = &cases[ncases++];
        c->id = atoi(v[c_id]);
        snprintf(c->iso_ut1, sizeof(c->iso_ut1), "%s", v[c_iso]);
        snprintf(c->body, sizeof(c->body), "%s", v[c_body]);
        c->jd_ut1 = atof(v[c_jd]);
        c->lat_deg = atof(v[c_lat]);
        c->lon_deg = atof(v[c_lon]);
        c->elev_m = atof(v[c_elev]);
        c->pressure_hpa = atof(v[c_p]);
        c->temp_c = atof(v[c_t]);
        c->deltat_s = atof(v[c_dt]);
        c->jd_tt = atof(v[c_jdtt]);
        c->az_deg = atof(v[c_az]);
        c->alt_airless_deg = atof(v[c_alt]);
        c->alt_refr_deg = atof(v[c_refr]);
        c->ra_deg = atof(v[c_ra]);
        c->dec_deg = atof(v[c_dec]);
        c->dist_geo_au = atof(v[c_dg]);
        c->dist_topo_au = atof(v[c_dtopo]);
    }
    fclose(f);
    assert_int_equal(ncases, 1000);
}

/* Great-circle separation of two directions (lon, lat in degrees), degrees. Vincenty's
 * formula: well conditioned at every separation. */
static double separation_deg(double lon1, double lat1, double lon2, double lat2)
{
    double r = M_PI / 180.0;
    double p1 = lat1 * r, p2 = lat2 * r, dl = (lon2 - lon1) * r;
    double num = hypot(cos(p2) * sin(dl), cos(p1) * sin(p2) - sin(p1) * cos(p2) * cos(dl));
    double den = sin(p1) * sin(p2) + cos(p1) * cos(p2) * cos(dl);
    return atan2(num, den) / r;
}

/* ERFA vvd()-style check: print wanted and actual values when out of tolerance. */
static int failures;

static void check(bool ok, const struct truth_case *c, const char *what, const char *fmt, ...)
    PT_PRINTF(4, 5);

static void check(bool ok, const struct truth_case *c, const char *what, const char *fmt, ...)
{
    if (ok)
        return;
    failures++;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "FAIL case %d (%s %s lat %.6f lon %.6f elev %.1f) %s: ", c->id, c->body,
            c->iso_ut1, c->lat_deg, c->lon_deg, c->elev_m, what);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* ------------------------------------------------------------------------ */
/* Fixtures                                                                   */
/* ------------------------------------------------------------------------ */

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
    if (astro_ctx_new(DEBIAN_EPHE, &ctx) != 0)
        return -1;
    /* The truth is libswe's, which places the observer without nutation: pin the
     * reduction to it (fast_test.c checks what the default placement changes). */
    astro_ctx_set_observer_nutation(ctx, false);
    *state = ctx;
    return 0;
}

static struct astro_observer case_observer(const struct truth_case *c, double pressure_hpa)
{
    return (struct astro_observer){.lat_deg = c->lat_deg,
                                   .lon_deg = c->lon_deg,
                                   .elev_m = c->elev_m,
                                   .pressure_hpa = pressure_hpa,
                                   .temp_c = c->temp_c};
}

/* ------------------------------------------------------------------------ */
/* Bodies                                                                     */
/* ------------------------------------------------------------------------ */

static void test_body_names(void **state)
{
    (void)state;
    static const char *const want[] = {"sun",     "moon",   "mercury", "venus",   "mars",
                                       "jupiter", "saturn", "uranus",  "neptune", "pluto"};
    assert_int_equal(PT_ARRAY_SIZE(want), ASTRO_BODY_COUNT);
    for (int i = 0; i < ASTRO_BODY_COUNT; i++) {
        assert_string_equal(astro_body_name((enum astro_body)i), want[i]);
        assert_int_equal(astro_body_from_name(pt_str_c(want[i])), i);
    }
    assert_int_equal(astro_body_from_name(PT_STR("mars")), ASTRO_MARS);
    assert_null(astro_body_name(ASTRO_BODY_COUNT));
    assert_null(astro_body_name((enum astro_body) - 1));
    static const char *const bad[] = {"Mars", "MARS",  "mars ", " mars",
                                      "mar",  "marss", "",      "earth"};
    for (size_t i = 0; i < PT_ARRAY_SIZE(bad); i++)
        assert_int_equal(astro_body_from_name(pt_str_c(bad[i])), PT_E_NOT_FOUND);
    assert_int_equal(astro_body_from_name(pt_str_make("sun\0", 4)), PT_E_NOT_FOUND);
    assert_int_equal(astro_body_from_name(PT_STR_NULL), PT_E_NOT_FOUND);
}

/* ------------------------------------------------------------------------ */
/* Context                                                                    */
/* ------------------------------------------------------------------------ */

static void test_ctx_files(void **state)
{
    struct astro_ctx *ctx = *state;
    assert_true(astro_ctx_has_files(ctx));
    assert_string_equal(astro_ctx_ephemeris(ctx), "swisseph");
    double lo, hi;
    astro_ctx_jd_range(ctx, &lo, &hi);
    /* The _18 files cover 1800-01-01 (JD 2378496.5) to about 2400-01-01 (JD 2597641.5). */
    assert_true(lo >= 2378496.5 && lo <= 2378500.0);
    assert_true(hi >= 2597600.0 && hi <= 2597660.0);
}

static void test_ctx_path_too_long(void **state)
{
    (void)state;
    char path[300];
    memset(path, 'a', sizeof(path) - 1);
    path[sizeof(path) - 1] = '\0';
    struct astro_ctx *ctx = (struct astro_ctx *)&path; /* must be reset to NULL */
    assert_int_equal(astro_ctx_new(path, &ctx), PT_E_INVALID);
    assert_null(ctx);
    astro_ctx_free(NULL);
}

/* A context on an empty directory falls back to Moshier and stays within a few ". */
static void test_ctx_moshier(void **state)
{
    (void)state;
    load_cases();
    failures = 0;
    char dir[] = "/tmp/astro_test_XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct astro_ctx *ctx;
    assert_int_equal(astro_ctx_new(dir, &ctx), 0);
    assert_false(astro_ctx_has_files(ctx));
    assert_string_equal(astro_ctx_ephemeris(ctx), "moshier");
    double lo, hi;
    astro_ctx_jd_range(ctx, &lo, &hi);
    assert_true(lo < 1000000.0 && hi > 2800000.0); /* -3000 .. +3000 */
    struct astro_observer paris = {48.8566, 2.3522, 35.0, 1010.0, 15.0};
    for (int e = 0; e < 2; e++) {
        struct astro_time t;
        struct astro_position p;
        assert_int_equal(astro_time_from_jd(ctx, e ? hi : lo, ASTRO_UT1, &t), 0);
        for (int b = 0; b < ASTRO_BODY_COUNT; b++)
            assert_int_equal(astro_position_compute(ctx, (enum astro_body)b, &t, &paris, &p), 0);
    }

    double worst = 0;
    for (int i = 0; i < ncases; i += 7) {
        const struct truth_case *c = &cases[i];
        struct astro_time t;
        struct astro_position p;
        struct astro_observer obs = case_observer(c, 0);
        assert_int_equal(astro_time_parse(ctx, pt_str_c(c->iso_ut1), ASTRO_UT1, &t), 0);
        assert_int_equal(
            astro_position_compute(ctx, astro_body_from_name(pt_str_c(c->body)), &t, &obs, &p), 0);
        double err = separation_deg(c->az_deg, c->alt_airless_deg, p.az_deg, p.alt_deg) / ARCSEC;
        check(err < 5.0, c, "moshier az/alt", "error %.3f\" > 5\" (want %.9f %.9f got %.9f %.9f)",
              err, c->az_deg, c->alt_airless_deg, p.az_deg, p.alt_deg);
        worst = PT_MAX(worst, err);
    }
    print_message("moshier: worst az/alt error %.3f\"\n", worst);
    astro_ctx_free(ctx);
    assert_int_equal(rmdir(dir), 0);
    assert_int_equal(failures, 0);
}

/* ephe_path NULL takes $EPHE_PATH, else the Debian directory. */
static void test_ctx_env_path(void **state)
{
    (void)state;
    char dir[] = "/tmp/astro_test_XXXXXX";
    assert_non_null(mkdtemp(dir));
    assert_int_equal(setenv("EPHE_PATH", dir, 1), 0);
    struct astro_ctx *ctx;
    assert_int_equal(astro_ctx_new(NULL, &ctx), 0);
    assert_string_equal(astro_ctx_ephemeris(ctx), "moshier");
    astro_ctx_free(ctx);
    assert_int_equal(unsetenv("EPHE_PATH"), 0);
    assert_int_equal(rmdir(dir), 0);
    if (!have_debian_files())
        skip();
    assert_int_equal(astro_ctx_new(NULL, &ctx), 0);
    assert_string_equal(astro_ctx_ephemeris(ctx), "swisseph");
    astro_ctx_free(ctx);
}

/* ------------------------------------------------------------------------ */
/* Positions against the reference                                            */
/* ------------------------------------------------------------------------ */

static void test_truth_cases(void **state)
{
    struct astro_ctx *ctx = *state;
    load_cases();
    failures = 0;
    double max_azalt = 0, max_radec = 0, max_refr = 0, max_dist = 0, max_dt = 0, max_jd = 0;
    double max_iso = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < ncases; i++) {
        const struct truth_case *c = &cases[i];
        int body = astro_body_from_name(pt_str_c(c->body));
        assert_true(body >= 0);

        /*
         * The reference was computed at jd_ut1 as written in the file (9 decimals),
         * not at the whole second of iso_ut1: the two differ by up to 1e-9 day, that
         * is 0.0013" of Earth rotation. So positions are compared at the file's
         * jd_ut1, and the ISO reading is checked against it to 1e-9 day.
         */
        struct astro_time t, t_iso;
        assert_int_equal(astro_time_parse(ctx, pt_str_c(c->iso_ut1), ASTRO_UT1, &t_iso), 0);
        double jd_err = fabs(t_iso.jd_ut1 - c->jd_ut1);
        check(jd_err <= 1e-9, c, "jd_ut1 of iso_ut1", "want %.9f got %.10f", c->jd_ut1,
              t_iso.jd_ut1);
        assert_int_equal(astro_time_from_jd(ctx, c->jd_ut1, ASTRO_UT1, &t), 0);
        double dt_err = fabs(t.deltat_s - c->deltat_s);
        check(dt_err < 1e-3, c, "deltat_s", "want %.4f got %.6f", c->deltat_s, t.deltat_s);
        check(fabs(t_iso.deltat_s - c->deltat_s) < 1e-3, c, "deltat_s of iso_ut1",
              "want %.4f got %.6f", c->deltat_s, t_iso.deltat_s);
        check(fabs(t.jd_tt - c->jd_tt) < 1e-9, c, "jd_tt", "want %.9f got %.10f", c->jd_tt,
              t.jd_tt);

        struct astro_observer airless = case_observer(c, 0.0);
        struct astro_observer air = case_observer(c, c->pressure_hpa);
        struct astro_position p, pr, pi;
        assert_int_equal(astro_position_compute(ctx, (enum astro_body)body, &t, &airless, &p), 0);
        assert_int_equal(astro_position_compute(ctx, (enum astro_body)body, &t_iso, &airless, &pi),
                         0);
        double e_iso = separation_deg(c->az_deg, c->alt_airless_deg, pi.az_deg, pi.alt_deg);
        check(e_iso < 0.002 * ARCSEC, c, "airless az/alt at iso_ut1",
              "error %.6f\" (want az %.9f alt %.9f, got az %.9f alt %.9f)", e_iso / ARCSEC,
              c->az_deg, c->alt_airless_deg, pi.az_deg, pi.alt_deg);
        max_iso = PT_MAX(max_iso, e_iso);
        assert_int_equal(astro_position_compute(ctx, (enum astro_body)body, &t, &air, &pr), 0);

        check(p.alt_deg == p.alt_airless_deg, c, "pressure 0 is airless", "alt %.9f airless %.9f",
              p.alt_deg, p.alt_airless_deg);
        check(p.az_deg >= 0 && p.az_deg < 360 && p.ra_deg >= 0 && p.ra_deg < 360, c, "ranges",
              "az %.9f ra %.9f", p.az_deg, p.ra_deg);
        double e_azalt = separation_deg(c->az_deg, c->alt_airless_deg, p.az_deg, p.alt_deg);
        check(e_azalt < 0.001 * ARCSEC, c, "airless az/alt",
              "error %.6f\" (want az %.9f alt %.9f, got az %.9f alt %.9f)", e_azalt / ARCSEC,
              c->az_deg, c->alt_airless_deg, p.az_deg, p.alt_deg);
        double e_radec = separation_deg(c->ra_deg, c->dec_deg, p.ra_deg, p.dec_deg);
        check(e_radec < 0.001 * ARCSEC, c, "RA/Dec",
              "error %.6f\" (want ra %.9f dec %.9f, got ra %.9f dec %.9f)", e_radec / ARCSEC,
              c->ra_deg, c->dec_deg, p.ra_deg, p.dec_deg);
        check(pr.alt_airless_deg == p.alt_airless_deg && pr.az_deg == p.az_deg, c,
              "air does not change the airless position", "alt %.9f vs %.9f", pr.alt_airless_deg,
              p.alt_airless_deg);
        if (c->alt_refr_deg > 5.0) {
            double e = fabs(pr.alt_deg - c->alt_refr_deg);
            check(e < 0.001 * ARCSEC, c, "refracted alt", "error %.6f\" (want %.9f got %.9f)",
                  e / ARCSEC, c->alt_refr_deg, pr.alt_deg);
            max_refr = PT_MAX(max_refr, e);
        }
        double e_dg = fabs(p.distance_au / c->dist_geo_au - 1.0);
        double e_dt = fabs(p.distance_topo_au / c->dist_topo_au - 1.0);
        check(e_dg < 1e-9, c, "geocentric distance", "want %.12f got %.12f", c->dist_geo_au,
              p.distance_au);
        check(e_dt < 1e-9, c, "topocentric distance", "want %.12f got %.12f", c->dist_topo_au,
              p.distance_topo_au);

        max_azalt = PT_MAX(max_azalt, e_azalt);
        max_radec = PT_MAX(max_radec, e_radec);
        max_dist = PT_MAX(max_dist, PT_MAX(e_dg, e_dt));
        max_dt = PT_MAX(max_dt, dt_err);
        max_jd = PT_MAX(max_jd, jd_err);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    print_message("%d cases in %.3f s: max az/alt %.6f\", RA/Dec %.6f\", refracted alt "
                  "%.6f\", distance %.2e, deltaT %.2e s; from iso_ut1: jd %.1e d, az/alt "
                  "%.6f\"\n",
                  ncases, (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9,
                  max_azalt / ARCSEC, max_radec / ARCSEC, max_refr / ARCSEC, max_dist, max_dt,
                  max_jd, max_iso / ARCSEC);
    assert_int_equal(failures, 0);
}

static void test_position_errors(void **state)
{
    struct astro_ctx *ctx = *state;
    struct astro_time t;
    assert_int_equal(astro_time_parse(ctx, PT_STR("2025-01-01T00:00:00Z"), ASTRO_UTC, &t), 0);
    struct astro_observer ok = {48.8566, 2.3522, 35.0, 1010.0, 15.0};
    struct astro_position p;
    assert_int_equal(astro_position_compute(ctx, ASTRO_MARS, &t, &ok, &p), 0);
    assert_int_equal(astro_position_compute(ctx, ASTRO_BODY_COUNT, &t, &ok, &p), PT_E_INVALID);
    assert_int_equal(astro_position_compute(ctx, (enum astro_body) - 1, &t, &ok, &p), PT_E_INVALID);

    struct astro_observer bad[] = {
        {90.0001, 0, 0, 0, 0},  {-90.0001, 0, 0, 0, 0}, {NAN, 0, 0, 0, 0},    {0, 360.5, 0, 0, 0},
        {0, INFINITY, 0, 0, 0}, {0, 0, -1001, 0, 0},    {0, 0, 100001, 0, 0}, {0, 0, 0, -1, 0},
        {0, 0, 0, 2001, 0},     {0, 0, 0, 1010, -101},  {0, 0, 0, 1010, NAN},
    };
    for (size_t i = 0; i < PT_ARRAY_SIZE(bad); i++)
        assert_int_equal(astro_position_compute(ctx, ASTRO_MARS, &t, &bad[i], &p), PT_E_RANGE);
    /* The limits themselves are accepted. */
    struct astro_observer edge[] = {{90, 360, 100000, 2000, 100}, {-90, -360, -1000, 0, -100}};
    for (size_t i = 0; i < PT_ARRAY_SIZE(edge); i++)
        assert_int_equal(astro_position_compute(ctx, ASTRO_MOON, &t, &edge[i], &p), 0);

    double lo, hi;
    astro_ctx_jd_range(ctx, &lo, &hi);
    struct astro_time early = t, late = t, nan_t = t;
    early.jd_ut1 = lo - 0.001;
    late.jd_ut1 = hi + 0.001;
    nan_t.jd_ut1 = NAN;
    assert_int_equal(astro_position_compute(ctx, ASTRO_MARS, &early, &ok, &p), PT_E_RANGE);
    assert_int_equal(astro_position_compute(ctx, ASTRO_MARS, &late, &ok, &p), PT_E_RANGE);
    assert_int_equal(astro_position_compute(ctx, ASTRO_MARS, &nan_t, &ok, &p), PT_E_RANGE);

    /* The ends of the range are computed from the files, for every body. */
    struct astro_time ends[2];
    assert_int_equal(astro_time_from_jd(ctx, lo, ASTRO_UT1, &ends[0]), 0);
    assert_int_equal(astro_time_from_jd(ctx, hi, ASTRO_UT1, &ends[1]), 0);
    for (int e = 0; e < 2; e++)
        for (int b = 0; b < ASTRO_BODY_COUNT; b++)
            assert_int_equal(astro_position_compute(ctx, (enum astro_body)b, &ends[e], &ok, &p), 0);
}

/* Refraction lifts a body near the horizon and vanishes at pressure 0. */
static void test_refraction(void **state)
{
    struct astro_ctx *ctx = *state;
    load_cases();
    int seen = 0;
    for (int i = 0; i < ncases; i++) {
        const struct truth_case *c = &cases[i];
        if (c->alt_airless_deg < 1.0 || c->alt_airless_deg > 10.0)
            continue;
        struct astro_time t;
        struct astro_position p;
        struct astro_observer obs = case_observer(c, 1010.0);
        assert_int_equal(astro_time_parse(ctx, pt_str_c(c->iso_ut1), ASTRO_UT1, &t), 0);
        assert_int_equal(
            astro_position_compute(ctx, astro_body_from_name(pt_str_c(c->body)), &t, &obs, &p), 0);
        /* Bennett: about 5' to 18' between 10 and 1 degrees of altitude. */
        double lift = (p.alt_deg - p.alt_airless_deg) * 60.0;
        assert_true(lift > 4.0 && lift < 25.0);
        seen++;
    }
    assert_true(seen > 10);
}

/* ------------------------------------------------------------------------ */
/* Threads                                                                    */
/* ------------------------------------------------------------------------ */

#define NTHREADS 4
#define NTIMES 24
#define ROUNDS 15

static const struct astro_observer thread_obs[NTHREADS] = {
    {48.8566, 2.3522, 35.0, 1010.0, 15.0},
    {-33.8688, 151.2093, 58.0, 1013.0, 22.0},
    {64.1466, -21.9426, 0.0, 990.0, -5.0},
    {19.8207, -155.4681, 4205.0, 620.0, 2.0},
};

struct thread_job {
    const struct astro_ctx *ctx;
    const struct astro_time *times;
    int obs;
    struct astro_position (*want)[ASTRO_BODY_COUNT]; /* [NTIMES][bodies] for this observer */
    int mismatches;
    int errors;
};

static void *thread_main(void *arg)
{
    struct thread_job *job = arg;
    for (int r = 0; r < ROUNDS; r++)
        for (int i = 0; i < NTIMES; i++)
            for (int b = 0; b < ASTRO_BODY_COUNT; b++) {
                struct astro_position p;
                if (astro_position_compute(job->ctx, (enum astro_body)b, &job->times[i],
                                           &thread_obs[job->obs], &p) != 0) {
                    job->errors++;
                    continue;
                }
                if (memcmp(&p, &job->want[i][b], sizeof(p)) != 0)
                    job->mismatches++;
            }
    return NULL;
}

static void test_threads(void **state)
{
    struct astro_ctx *ctx = *state;
    /* Instants from 1905 to 2095, beyond 2050 too, where libswe's default sidereal-time
     * model would differ by 1.9": a thread left unconfigured would show. */
    struct astro_time times[NTIMES];
    for (int i = 0; i < NTIMES; i++)
        assert_int_equal(astro_time_from_jd(ctx, 2416846.0 + i * 2903.37, ASTRO_UT1, &times[i]), 0);

    static struct astro_position want[NTHREADS][NTIMES][ASTRO_BODY_COUNT];
    for (int k = 0; k < NTHREADS; k++)
        for (int i = 0; i < NTIMES; i++)
            for (int b = 0; b < ASTRO_BODY_COUNT; b++)
                assert_int_equal(astro_position_compute(ctx, (enum astro_body)b, &times[i],
                                                        &thread_obs[k], &want[k][i][b]),
                                 0);

    pthread_t th[NTHREADS];
    struct thread_job jobs[NTHREADS];
    for (int k = 0; k < NTHREADS; k++) {
        jobs[k] = (struct thread_job){ctx, times, k, want[k], 0, 0};
        assert_int_equal(pthread_create(&th[k], NULL, thread_main, &jobs[k]), 0);
    }
    /* The main thread computes too, with yet other observers' data interleaved. */
    for (int r = 0; r < ROUNDS; r++)
        for (int i = 0; i < NTIMES; i++) {
            struct astro_position p;
            int k = (r + i) % NTHREADS;
            assert_int_equal(astro_position_compute(ctx, ASTRO_MOON, &times[i], &thread_obs[k], &p),
                             0);
            assert_memory_equal(&p, &want[k][i][ASTRO_MOON], sizeof(p));
        }
    int mismatches = 0, errors = 0;
    for (int k = 0; k < NTHREADS; k++) {
        assert_int_equal(pthread_join(th[k], NULL), 0);
        mismatches += jobs[k].mismatches;
        errors += jobs[k].errors;
    }
    if (mismatches || errors)
        print_error("threads: %d mismatches, %d errors out of %d computations\n", mismatches,
                    errors, NTHREADS * ROUNDS * NTIMES * ASTRO_BODY_COUNT);
    assert_int_equal(errors, 0);
    assert_int_equal(mismatches, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_body_names),
        cmocka_unit_test(test_ctx_path_too_long),
        cmocka_unit_test_setup_teardown(test_ctx_files, setup_ctx, teardown_ctx),
        cmocka_unit_test_setup_teardown(test_truth_cases, setup_ctx, teardown_ctx),
        cmocka_unit_test_setup_teardown(test_position_errors, setup_ctx, teardown_ctx),
        cmocka_unit_test_setup_teardown(test_refraction, setup_ctx, teardown_ctx),
        cmocka_unit_test_setup_teardown(test_threads, setup_ctx, teardown_ctx),
        cmocka_unit_test(test_ctx_moshier),
        cmocka_unit_test(test_ctx_env_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
