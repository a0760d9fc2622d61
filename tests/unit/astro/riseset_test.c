/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * riseset_test.c -- unit tests of src/astro/riseset.c: rise, transit and set against
 * the US Naval Observatory (tests/data/usno_riseset, see its README.md; the shared
 * truth folder's copy is used if that one is missing):
 *   - riseset.txt: every Sun and Moon event below 80 degrees of latitude within the
 *     tables' rounding to the minute (|error| <= 60 s + 5 s), rms printed and bounded;
 *     events before the ephemeris files' range (1750) are counted as skipped;
 *   - the polar yearly tables (80-90 degrees): the status of each day, "****"
 *     (circumpolar) or "----" (never rises), must be ours, and the days with events
 *     must have them, except on days next to a change of regime where grazing
 *     geometry makes a minute-rounded table and any computation disagree;
 * plus the API's limits, the status names, consistency of the events with the
 * positions (the limb is at -34' at rise), and the time of 366 days of the Moon.
 *
 * Run from the repository root:
 *   make SANITIZE=address,undefined build/san/tests/unit/astro/riseset_test
 *   build/san/tests/unit/astro/riseset_test
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "astro/astro.h"
#include "unit/astro/testutil.h"

#define USNO_DIRS                                                                                  \
    {                                                                                              \
        "tests/data/usno_riseset", "/work/shared/truth/external/usno_riseset"                      \
    }

static char usno_dir[256];

static bool find_usno(void)
{
    static const char *const dirs[] = USNO_DIRS;
    struct stat st;
    for (size_t i = 0; i < PT_ARRAY_SIZE(dirs); i++) {
        char p[300];
        snprintf(p, sizeof(p), "%s/riseset.txt", dirs[i]);
        if (stat(p, &st) == 0) {
            snprintf(usno_dir, sizeof(usno_dir), "%s", dirs[i]);
            return true;
        }
    }
    return false;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ------------------------------------------------------------------------ */
/* USNO events below 80 degrees                                               */
/* ------------------------------------------------------------------------ */

static void test_usno_events(void **state)
{
    const struct astro_ctx *ctx = *state;
    if (!find_usno())
        skip();
    char path[300];
    snprintf(path, sizeof(path), "%s/riseset.txt", usno_dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    double lo, hi;
    astro_ctx_jd_range(ctx, &lo, &hi);
    double sum2[2] = {0, 0}, worst[2] = {0, 0};
    int n[2] = {0, 0}, skipped = 0, bad = 0;
    char line[256];
    while (fgets(line, sizeof(line), f) != NULL) {
        char name[16], iso[32], kind;
        int lon, lat;
        if (sscanf(line, "%15s %d %d %31s %c", name, &lon, &lat, iso, &kind) != 5)
            continue;
        if (abs(lat) >= 80)
            continue;
        int b = strcmp(name, "Sun") == 0 ? 0 : 1;
        assert_true(b == 0 || strcmp(name, "Moon") == 0);
        struct astro_time t;
        int err = astro_time_parse(ctx, pt_str_c(iso), ASTRO_UTC, &t);
        if (err == PT_E_RANGE) {
            skipped++;
            continue;
        }
        assert_int_equal(err, 0);
        /* Search from two hours before: the next event of that kind is this one. */
        struct astro_time from;
        assert_int_equal(astro_time_from_jd(ctx, t.jd_ut1 - 2.0 / 24.0, ASTRO_UT1, &from), 0);
        struct astro_observer obs = {lat, lon, 0.0, 0.0, 0.0};
        struct astro_riseset rs;
        assert_int_equal(astro_riseset_next(ctx, b == 0 ? ASTRO_SUN : ASTRO_MOON, &from, &obs, &rs),
                         0);
        double got = kind == 'r' ? rs.rise.unix_s : rs.set.unix_s;
        double d = got - t.unix_s;
        if (!(fabs(d) <= 65.0)) {
            bad++;
            print_error("USNO %s: ours differs by %.1f s\n", line, d);
            continue;
        }
        sum2[b] += d * d;
        worst[b] = fmax(worst[b], fabs(d));
        n[b]++;
    }
    fclose(f);
    print_message("USNO below 80 deg: Sun %d events rms %.1f s max %.1f s; Moon %d events rms "
                  "%.1f s max %.1f s; %d before the files' range skipped\n",
                  n[0], sqrt(sum2[0] / n[0]), worst[0], n[1], sqrt(sum2[1] / n[1]), worst[1],
                  skipped);
    assert_int_equal(bad, 0);
    assert_true(n[0] > 2000 && n[1] > 2000);
    /* Uniform rounding to the minute alone gives 17.3 s rms. */
    assert_true(sqrt(sum2[0] / n[0]) < 22.0 && sqrt(sum2[1] / n[1]) < 22.0);
}

/* ------------------------------------------------------------------------ */
/* Polar tables: status of each day                                           */
/* ------------------------------------------------------------------------ */

enum day_kind { DAY_UNKNOWN, DAY_UP, DAY_DOWN, DAY_EVENTS };

/* Parse one USNO yearly table: kinds[month][day-1]. Returns false if unreadable. */
static bool parse_table(const char *path, enum day_kind kinds[12][31], int *lon, int *lat,
                        int *year)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return false;
    char line[512];
    int last_day = 0;
    *year = 0;
    memset(kinds, 0, sizeof(enum day_kind) * 12 * 31);
    while (fgets(line, sizeof(line), f) != NULL) {
        char ew, ns;
        int lo, lom, la, lam;
        if (strncmp(line, "Location:", 9) == 0 &&
            sscanf(line + 9, " %c%d %d, %c%d %d", &ew, &lo, &lom, &ns, &la, &lam) == 6) {
            *lon = ew == 'W' ? -lo : lo;
            *lat = ns == 'S' ? -la : la;
            /* "... Rise and Set for the Moon for 2026 ...": the year follows the last "for". */
            for (const char *y = strstr(line, " for "); y != NULL; y = strstr(y + 5, " for "))
                *year = atoi(y + 5);
            continue;
        }
        if (!(line[0] >= '0' && line[0] <= '3' && line[1] >= '0' && line[1] <= '9' &&
              line[2] == ' '))
            continue;
        int day = atoi(line);
        if (day == last_day)
            continue; /* a second line for the same day: more events */
        last_day = day;
        size_t len = strlen(line);
        for (int m = 0; m < 12; m++) {
            size_t at = 4 + 11 * (size_t)m;
            if (at + 9 > len)
                break;
            const char *r = line + at, *s = line + at + 5;
            enum day_kind k = DAY_UNKNOWN;
            if (strncmp(r, "****", 4) == 0 && strncmp(s, "****", 4) == 0)
                k = DAY_UP;
            else if (strncmp(r, "----", 4) == 0 && strncmp(s, "----", 4) == 0)
                k = DAY_DOWN;
            else if ((r[0] >= '0' && r[0] <= '9') || (s[0] >= '0' && s[0] <= '9'))
                k = DAY_EVENTS;
            if (day >= 1 && day <= 31)
                kinds[m][day - 1] = k;
        }
    }
    fclose(f);
    return *year > 0;
}

static void test_polar_tables(void **state)
{
    const struct astro_ctx *ctx = *state;
    if (!find_usno())
        skip();
    static const char *const tables[] = {
        "moon_2022_E140_N85", "moon_2023_E140_N85", "moon_2026_E135_N85", "moon_2030_E105_N83",
        "moon_2034_E130_N80", "moon_2037_E125_N84", "sun_2022_E0_N90",    "sun_2022_E0_S90",
        "sun_2022_E30_N89",   "sun_2022_E45_S88",
    };
    int total = 0, agree = 0, near_change = 0, wrong = 0;
    for (size_t i = 0; i < PT_ARRAY_SIZE(tables); i++) {
        char path[400];
        snprintf(path, sizeof(path), "%s/usno_tables/%s.txt", usno_dir, tables[i]);
        static enum day_kind kinds[12][31];
        int lon = 0, lat = 0, year = 0;
        assert_true(parse_table(path, kinds, &lon, &lat, &year));
        enum astro_body body = tables[i][0] == 's' ? ASTRO_SUN : ASTRO_MOON;
        char iso[32];
        snprintf(iso, sizeof(iso), "%04d-01-01T00:00:00Z", year);
        struct astro_time start;
        assert_int_equal(astro_time_parse(ctx, pt_str_c(iso), ASTRO_UTC, &start), 0);
        static struct astro_riseset days[ASTRO_EVENTS_MAX_DAYS];
        struct astro_observer obs = {lat, lon, 0.0, 0.0, 0.0};
        int ndays = (year % 4 == 0) ? 366 : 365;
        assert_int_equal(astro_events_range(ctx, body, &start, ndays, &obs, days), 0);
        /* Walk the table in calendar order. */
        static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        enum day_kind seq[366];
        int nd = 0;
        for (int m = 0; m < 12; m++)
            for (int d = 0; d < mdays[m] + (m == 1 && year % 4 == 0); d++)
                seq[nd++] = kinds[m][d];
        assert_int_equal(nd, ndays);
        for (int d = 0; d < nd; d++) {
            if (seq[d] == DAY_UNKNOWN)
                continue;
            total++;
            enum astro_rise_status s = days[d].status;
            bool ok = (seq[d] == DAY_UP && s == ASTRO_CIRCUMPOLAR) ||
                      (seq[d] == DAY_DOWN && s == ASTRO_NEVER_RISES) ||
                      (seq[d] == DAY_EVENTS && s == ASTRO_RISES_SETS);
            if (ok) {
                agree++;
                continue;
            }
            /* A disagreement is tolerated next to a change of regime only. */
            bool change = (d > 0 && seq[d - 1] != seq[d]) || (d + 1 < nd && seq[d + 1] != seq[d]);
            if (change) {
                near_change++;
            } else {
                wrong++;
                print_error("%s day %d: USNO %d, ours %s\n", tables[i], d + 1, seq[d],
                            astro_rise_status_name(s));
            }
        }
    }
    print_message("USNO polar tables: %d days, %d agree, %d differ next to a change of regime, "
                  "%d differ elsewhere\n",
                  total, agree, near_change, wrong);
    assert_true(total > 3000);
    assert_int_equal(wrong, 0);
    assert_true(near_change * 100 <= total); /* under 1 % */
}

/* ------------------------------------------------------------------------ */
/* API                                                                        */
/* ------------------------------------------------------------------------ */

static void test_status_names(void **state)
{
    (void)state;
    assert_string_equal(astro_rise_status_name(ASTRO_RISES_SETS), "rises_sets");
    assert_string_equal(astro_rise_status_name(ASTRO_CIRCUMPOLAR), "circumpolar");
    assert_string_equal(astro_rise_status_name(ASTRO_NEVER_RISES), "never_rises");
    assert_null(astro_rise_status_name((enum astro_rise_status)7));
}

static void test_limits(void **state)
{
    const struct astro_ctx *ctx = *state;
    struct astro_time t;
    assert_int_equal(astro_time_parse(ctx, PT_STR("2026-06-21T00:00:00Z"), ASTRO_UTC, &t), 0);
    struct astro_observer obs = {48.8566, 2.3522, 35.0, 1010.0, 15.0}, bad = obs;
    bad.lat_deg = NAN;
    static struct astro_riseset out[ASTRO_EVENTS_MAX_DAYS + 1];
    assert_int_equal(astro_events_range(ctx, ASTRO_SUN, &t, 0, &obs, out), PT_E_RANGE);
    assert_int_equal(astro_events_range(ctx, ASTRO_SUN, &t, ASTRO_EVENTS_MAX_DAYS + 1, &obs, out),
                     PT_E_RANGE);
    assert_int_equal(astro_events_range(ctx, ASTRO_SUN, &t, 1, &bad, out), PT_E_RANGE);
    assert_int_equal(astro_events_range(ctx, ASTRO_BODY_COUNT, &t, 1, &obs, out), PT_E_INVALID);
    assert_int_equal(astro_riseset_next(ctx, ASTRO_SUN, &t, &bad, out), PT_E_RANGE);
    double lo, hi;
    astro_ctx_jd_range(ctx, &lo, &hi);
    struct astro_time late;
    assert_int_equal(astro_time_from_jd(ctx, hi - 0.5, ASTRO_UT1, &late), 0);
    assert_int_equal(astro_riseset_next(ctx, ASTRO_SUN, &late, &obs, out), PT_E_RANGE);
    assert_int_equal(astro_events_range(ctx, ASTRO_SUN, &t, ASTRO_EVENTS_MAX_DAYS, &obs, out), 0);

    /* Paris at the June solstice: the Sun rises about 03:47 UT, sets about 19:58 UT,
     * transits about 11:56 UT (a nautical almanac gives these to the minute). */
    char iso[40];
    assert_int_equal(out[0].status, ASTRO_RISES_SETS);
    astro_time_format_iso(&out[0].rise, iso);
    assert_memory_equal(iso, "2026-06-21T03:4", 15);
    astro_time_format_iso(&out[0].set, iso);
    assert_memory_equal(iso, "2026-06-21T19:5", 15);
    astro_time_format_iso(&out[0].transit, iso);
    assert_memory_equal(iso, "2026-06-21T11:5", 15);
}

/* At a rise the upper limb is at -34' (airless altitude of the centre + semidiameter),
 * and at a transit the azimuth is 180 (south of a northern observer). */
static void test_consistency(void **state)
{
    const struct astro_ctx *ctx = *state;
    struct astro_observer obs = {40.0, -74.0, 10.0, 0.0, 0.0};
    for (int b = 0; b < ASTRO_BODY_COUNT; b++) {
        struct astro_time t;
        assert_int_equal(astro_time_parse(ctx, PT_STR("2025-03-01T00:00:00Z"), ASTRO_UTC, &t), 0);
        struct astro_riseset rs;
        assert_int_equal(astro_riseset_next(ctx, (enum astro_body)b, &t, &obs, &rs), 0);
        assert_int_equal(rs.status, ASTRO_RISES_SETS);
        assert_true(rs.rise.jd_ut1 >= t.jd_ut1 && rs.rise.jd_ut1 < t.jd_ut1 + 1.1);
        struct astro_position p;
        assert_int_equal(astro_position_compute(ctx, (enum astro_body)b, &rs.rise, &obs, &p), 0);
        double sd = b == ASTRO_SUN    ? asin(696000e3 / (p.distance_topo_au * 1.495978707e11))
                    : b == ASTRO_MOON ? asin(1737.5e3 / (p.distance_topo_au * 1.495978707e11))
                                      : 0.0;
        double limb = p.alt_airless_deg + sd * 180.0 / M_PI;
        assert_true(fabs(limb + 34.0 / 60.0) < 1e-4); /* 0.4": the altitude moves 15"/s */
        assert_int_equal(astro_position_compute(ctx, (enum astro_body)b, &rs.transit, &obs, &p), 0);
        assert_true(fabs(p.az_deg - 180.0) < 0.01);
    }
}

/*
 * astro_riseset_next() brackets on whole UT1 hours with a cheap altitude shared by
 * every observer; astro_events_range() samples the window itself with the full
 * reduction. Both refine with the full reduction, so where their windows overlap
 * (the first day) they must find the same events within 0.1 s (both stop refining
 * within 0.07" of the horizon), for any body, place and instant: the cheap values may
 * only choose the brackets and steer the first steps of the refinement (every point
 * it evaluates is a full reduction).
 */
static void test_shared_grid_agrees(void **state)
{
    const struct astro_ctx *ctx = *state;
    uint64_t x = 0x2545F4914F6CDD1DULL;
    int compared = 0;
    double worst = 0.0;
    for (int i = 0; i < 1500; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        double u1 = (double)(x >> 11) / 9007199254740992.0;
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        double u2 = (double)(x >> 11) / 9007199254740992.0;
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        double u3 = (double)(x >> 11) / 9007199254740992.0;
        enum astro_body body = (enum astro_body)(i % ASTRO_BODY_COUNT);
        struct astro_observer obs = {u1 * 150.0 - 75.0, u2 * 360.0 - 180.0, 0.0, 0.0, 0.0};
        struct astro_time t = {0};
        assert_int_equal(astro_time_from_jd(ctx, 2451545.0 + u3 * 15000.0, ASTRO_UT1, &t), 0);
        struct astro_riseset next, day;
        assert_int_equal(astro_riseset_next(ctx, body, &t, &obs, &next), 0);
        assert_int_equal(astro_events_range(ctx, body, &t, 1, &obs, &day), 0);
        const struct astro_time *a[3] = {&next.rise, &next.transit, &next.set};
        const struct astro_time *b[3] = {&day.rise, &day.transit, &day.set};
        for (int k = 0; k < 3; k++) {
            bool in_a = !isnan(a[k]->jd_ut1) && a[k]->jd_ut1 < t.jd_ut1 + 0.99;
            bool in_b = !isnan(b[k]->jd_ut1) && b[k]->jd_ut1 < t.jd_ut1 + 0.99;
            if (in_a != in_b)
                fail_msg("case %d (%s, %.4f %.4f, jd %.6f) event %d: next %.6f, day %.6f", i,
                         astro_body_name(body), obs.lat_deg, obs.lon_deg, t.jd_ut1, k,
                         a[k]->jd_ut1, b[k]->jd_ut1);
            if (in_a) {
                double d = fabs(a[k]->jd_ut1 - b[k]->jd_ut1) * 86400.0;
                worst = fmax(worst, d);
                compared++;
                if (d > 0.1)
                    fail_msg("case %d (%s) event %d differs by %.3f s", i, astro_body_name(body),
                             k, d);
            }
        }
    }
    print_message("shared-hour brackets: %d events compared, worst difference %.4f s\n",
                  compared, worst);
    assert_true(compared > 2000);
}

static void test_moon_year(void **state)
{
    const struct astro_ctx *ctx = *state;
    struct astro_time t;
    assert_int_equal(astro_time_parse(ctx, PT_STR("2027-01-01T00:00:00Z"), ASTRO_UTC, &t), 0);
    struct astro_observer obs = {51.4769, -0.0005, 0.0, 1010.0, 15.0};
    static struct astro_riseset out[366];
    double t0 = now_s();
    assert_int_equal(astro_events_range(ctx, ASTRO_MOON, &t, 366, &obs, out), 0);
    double dt = now_s() - t0;
    int rises = 0, sets = 0, transits = 0;
    for (int i = 0; i < 366; i++) {
        rises += !isnan(out[i].rise.jd_ut1);
        sets += !isnan(out[i].set.jd_ut1);
        transits += !isnan(out[i].transit.jd_ut1);
        assert_int_equal(out[i].status, ASTRO_RISES_SETS);
    }
    /* The Moon rises every 24 h 50 min: about 354 times in 366 days. */
    assert_true(rises >= 350 && rises <= 356);
    assert_true(sets >= 350 && sets <= 356);
    assert_true(transits >= 350 && transits <= 356);
    print_message("366 days of the Moon at Greenwich: %.3f s (%d rises, %d sets, %d transits)\n",
                  dt, rises, sets, transits);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_names),
        cmocka_unit_test_setup_teardown(test_limits, setup_debian_ctx, teardown_ctx),
        cmocka_unit_test_setup_teardown(test_shared_grid_agrees, setup_debian_ctx, teardown_ctx),
        cmocka_unit_test_setup_teardown(test_consistency, setup_debian_ctx, teardown_ctx),
        cmocka_unit_test_setup_teardown(test_moon_year, setup_debian_ctx, teardown_ctx),
        cmocka_unit_test_setup_teardown(test_usno_events, setup_debian_ctx, teardown_ctx),
        cmocka_unit_test_setup_teardown(test_polar_tables, setup_debian_ctx, teardown_ctx),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
