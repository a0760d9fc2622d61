/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * eop_test.c -- the Earth-orientation tables of src/astro/eop.c: the snapshot of
 * data/iers/ parses and says what it holds; every way a download can be wrong
 * (cut anywhere, a corrupt value, a missing or repeated day, out-of-range
 * values, unknown flags, observations after predictions, a bad leap table) is
 * refused with a sentence; interpolation is linear in UT1-TAI, so a leap second
 * between two rows does not smear a second over the day.
 *
 * Run from the repository root: make SANITIZE=address,undefined
 * build/san/tests/unit/astro/eop_test && build/san/tests/unit/astro/eop_test
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "astro/astro.h"

#define FINALS "data/iers/finals2000A.all"
#define LEAPS "data/iers/Leap_Second.dat"

static struct pt_buf read_all(const char *path)
{
    struct pt_buf b;
    pt_buf_init(&b, 64u << 20);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        assert_int_equal(pt_buf_append(&b, chunk, n), 0);
    fclose(f);
    return b;
}

/* One finals2000A row with values in the columns of ReadMe.finals2000A. */
static void row(struct pt_buf *b, int mjd, char pm_flag, double x, double y, char ut1_flag,
                double dut1)
{
    char line[69], tmp[32];
    memset(line, ' ', sizeof(line));
    snprintf(tmp, sizeof(tmp), "%8.2f", (double)mjd);
    memcpy(line + 7, tmp, 8);
    line[16] = pm_flag;
    snprintf(tmp, sizeof(tmp), "%9.6f", x);
    memcpy(line + 18, tmp, 9);
    snprintf(tmp, sizeof(tmp), "%9.6f", y);
    memcpy(line + 37, tmp, 9);
    line[57] = ut1_flag;
    snprintf(tmp, sizeof(tmp), "%10.7f", dut1);
    memcpy(line + 58, tmp, 10);
    line[68] = '\n';
    assert_int_equal(pt_buf_append(b, line, sizeof(line)), 0);
}

/* 40 days around the leap second of 2016-12-31 (MJD 57753 is 2016-12-31): UT1-UTC
 * steps up by one second at it; UT1-TAI goes on smoothly, losing 1 ms a day. */
static void synthetic(struct pt_buf *b, int observed_days)
{
    pt_buf_init(b, 1 << 20);
    for (int i = 0; i < 40; i++) {
        int mjd = 57734 + i;
        int tai_utc = mjd >= 57754 ? 37 : 36;
        double ut1_tai = -36.40 - 0.001 * (mjd - 57753);
        char flag = i < observed_days ? 'I' : 'P';
        row(b, mjd, flag, 0.1 + 0.001 * i, 0.3, flag, ut1_tai + tai_utc);
    }
}

static int parse(struct pt_str finals, struct astro_eop **out, char *why)
{
    struct pt_buf leap = read_all(LEAPS);
    int rc = astro_eop_parse(finals, pt_buf_str(&leap), out, why, 200);
    pt_buf_deinit(&leap);
    return rc;
}

static void refused(struct pt_str finals, const char *words)
{
    struct astro_eop *e = NULL;
    char why[200] = "";
    assert_int_equal(parse(finals, &e, why), PT_E_INVALID);
    assert_null(e);
    if (strstr(why, words) == NULL)
        fail_msg("expected a reason with \"%s\", got \"%s\"", words, why);
}

static void test_the_snapshot(void **state)
{
    (void)state;
    struct pt_buf f = read_all(FINALS);
    struct astro_eop *e = NULL;
    char why[200] = "";
    assert_int_equal(parse(pt_buf_str(&f), &e, why), 0);
    struct astro_eop_info info;
    astro_eop_info(e, &info);
    char d[11];
    astro_mjd_format(info.first_mjd, d);
    assert_string_equal(d, "1973-01-02");
    assert_true(info.last_observed_mjd > info.first_mjd);
    assert_true(info.last_mjd > info.last_observed_mjd + 300); /* a year of predictions */
    assert_int_equal(info.tai_utc_last_s, 37);
    astro_mjd_format(info.leap_expires_mjd, d);
    assert_string_equal(d, "2027-06-28");
    /* Leap seconds: the last one ended 2016-12-31; none since. */
    assert_int_equal(astro_eop_tai_utc(e, 57753), 36);
    assert_int_equal(astro_eop_tai_utc(e, 57754), 37);
    assert_true(astro_eop_has_leap_after(e, 57753));
    assert_false(astro_eop_has_leap_after(e, 57754));
    assert_int_equal(astro_eop_tai_utc(e, 41316), 0);
    struct astro_eop_value v;
    assert_int_equal(astro_eop_at(e, info.first_mjd - 0.5, &v), PT_E_RANGE);
    assert_int_equal(astro_eop_at(e, info.last_mjd + 0.5, &v), PT_E_RANGE);
    assert_int_equal(astro_eop_at(e, info.last_mjd, &v), 0);
    assert_int_equal(astro_eop_at(e, info.last_observed_mjd - 1.5, &v), 0);
    assert_true(v.observed);
    assert_int_equal(astro_eop_at(e, info.last_observed_mjd + 0.5, &v), 0);
    assert_false(v.observed);
    astro_eop_free(e);
    pt_buf_deinit(&f);
}

static void test_leap_second_between_rows(void **state)
{
    (void)state;
    struct pt_buf f;
    synthetic(&f, 30);
    struct astro_eop *e = NULL;
    char why[200] = "";
    assert_int_equal(parse(pt_buf_str(&f), &e, why), 0);
    struct astro_eop_value v;
    /* Noon of 2016-12-31: UT1-UTC -0.4005 s (TAI-UTC 36), not half-way to +0.599. */
    assert_int_equal(astro_eop_at(e, 57753.5, &v), 0);
    assert_true(fabs(v.ut1_tai_s - (-36.4005)) < 1e-9);
    assert_true(fabs(v.ut1_tai_s + 36 - (-0.4005)) < 1e-9);
    assert_true(fabs(v.xp_as - (0.1 + 0.0195)) < 1e-9);
    struct astro_eop_info info;
    astro_eop_info(e, &info);
    assert_int_equal(info.last_observed_mjd, 57734 + 29);
    astro_eop_free(e);
    pt_buf_deinit(&f);
}

static void test_cut_anywhere_is_refused(void **state)
{
    (void)state;
    struct pt_buf f;
    synthetic(&f, 30);
    size_t line = 69;
    /* In the middle of a row, in its values: refused; at a row's end: fewer rows,
     * which only the updater can judge (older), but a cut before 30 rows is refused. */
    refused(pt_str_make(f.data, f.len - 1), "newline");
    refused(pt_str_make(f.data, 10 * line + 40), "newline");
    refused(pt_str_make(f.data, 10 * line), "rows with values");
    struct pt_buf g;
    pt_buf_init(&g, 1 << 20);
    pt_buf_append(&g, f.data, 20 * line + 50);
    pt_buf_append(&g, "\n", 1); /* a row cut after the polar motion, then a newline */
    refused(pt_buf_str(&g), "cut short");
    pt_buf_deinit(&g);
    pt_buf_deinit(&f);
}

/* The synthetic table with one row changed by edit(line). */
static void refused_with(void (*edit)(char *line), int which, const char *words)
{
    struct pt_buf f;
    synthetic(&f, 30);
    edit(f.data + (size_t)which * 69);
    refused(pt_buf_str(&f), words);
    pt_buf_deinit(&f);
}

static void garbage_ut1(char *l)
{
    memcpy(l + 58, "  garbage ", 10);
}
static void big_ut1(char *l)
{
    memcpy(l + 58, " 1.5000000", 10);
}
static void big_x(char *l)
{
    memcpy(l + 18, " 2.500000", 9);
}
static void bad_flag(char *l)
{
    l[57] = 'X';
}
static void skip_day(char *l)
{
    memcpy(l + 7, "99999.00", 8);
}
static void observed(char *l)
{
    l[16] = 'I';
    l[57] = 'I';
}
static void no_mjd(char *l)
{
    memcpy(l + 7, "        ", 8);
}

static void test_corrupt_rows_are_refused(void **state)
{
    (void)state;
    refused_with(garbage_ut1, 12, "bad UT1-UTC");
    refused_with(big_ut1, 12, "bad UT1-UTC");
    refused_with(big_x, 12, "bad UT1-UTC or polar motion");
    refused_with(bad_flag, 12, "bad UT1-UTC");
    refused_with(skip_day, 12, "does not follow");
    refused_with(observed, 35, "observed row after predicted");
    refused_with(no_mjd, 3, "no MJD");
}

static void test_bad_leap_tables_are_refused(void **state)
{
    (void)state;
    struct pt_buf f;
    synthetic(&f, 30);
    const char *cases[][2] = {
        {"#  File expires on 28 June 2027\n    41499.0    1  7 1972       11\n", "1972-01-01"},
        {"    41317.0    1  1 1972       10\n", "File expires"},
        {"#  File expires on 28 June 2027\n    41317.0    1  1 1972       10\n"
         "    41499.0    1  7 1972       12\n",
         "out of order"},
        {"#  File expires on 28 June 2027\n    41317.0    1  1 1972       10\n"
         "    41317.0    1  1 1972       11\n",
         "out of order"},
        {"#  File expires on 28 June 2027\n    41318.0    1  1 1972       10\n", "not \"MJD"},
        {"#  File expires on 28 June 2027\n    41317.0    1  1 1972       10", "newline"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct astro_eop *e = NULL;
        char why[200] = "";
        assert_int_equal(
            astro_eop_parse(pt_buf_str(&f), pt_str_c(cases[i][0]), &e, why, sizeof(why)),
            PT_E_INVALID);
        assert_null(e);
        if (strstr(why, cases[i][1]) == NULL)
            fail_msg("case %zu: expected \"%s\", got \"%s\"", i, cases[i][1], why);
    }
    pt_buf_deinit(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_snapshot),
        cmocka_unit_test(test_leap_second_between_rows),
        cmocka_unit_test(test_cut_anywhere_is_refused),
        cmocka_unit_test(test_corrupt_rows_are_refused),
        cmocka_unit_test(test_bad_leap_tables_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
