/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * angle_test.c -- unit tests of src/astro/angle.c: decimal and sexagesimal angle
 * strings as PyEphem accepted them, and everything else refused.
 *
 * Run: make SANITIZE=address,undefined build/san/tests/unit/astro/angle_test &&
 *      build/san/tests/unit/astro/angle_test
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>

#include "astro/astro.h"

static void test_valid(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        double deg;
    } cases[] = {
        {"48.93", 48.93},
        {"-0.0005", -0.0005},
        {"0", 0.0},
        {"-0", 0.0},
        {"+12.5", 12.5},
        {"1e-3", 0.001},
        {"180", 180.0},
        {"48:30", 48.5},
        {"48:30:36", 48.51},
        {"-0:30:00", -0.5},
        {"-0:30", -0.5},
        {"-0:00:36", -0.01},
        {"+1:00:00", 1.0},
        {"-12:30:00", -12.5},
        {"48:30:36.36", 48.0 + 30.0 / 60.0 + 36.36 / 3600.0},
        {"48:30.5", 48.0 + 30.5 / 60.0},
        {"359:59:59.999", 359.0 + 59.0 / 60.0 + 59.999 / 3600.0},
        {"0:0:0", 0.0},
        {"-90:00:00", -90.0},
        {"2:27", 2.45},
        {"007:05:06", 7.085},
        {"1000:00", 1000.0}, /* range checks are the caller's */
    };
    for (size_t i = 0; i < PT_ARRAY_SIZE(cases); i++) {
        double deg = NAN;
        int err = astro_angle_parse(pt_str_c(cases[i].text), &deg);
        if (err != 0 || fabs(deg - cases[i].deg) > 1e-12)
            fail_msg("\"%s\": want %.15g, got %.15g (err %d)", cases[i].text, cases[i].deg, deg,
                     err);
    }
}

static void test_invalid(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",        " ",         " 48",      "48 ",       "48:",       ":30",     "48::30",
        "48:60",   "48:30:60",  "48:59:60", "48:-30",    "48:30:-1",  "48.5:30", "48:30.5:10",
        "1:2:3:4", "abc",       "48°30'",   "--1",       "-",         "+",       "1:2:3.",
        "1:2:.5",  "1:2.:3",    "nan",      "inf",       "-inf",      "0x10",    "48,5",
        "4 8",     "48:3 0",    "-:30",     "+-1:00",    "48:30:00Z", "1e",      ".",
        "48:30e1", "48:30:1e1", "1:60.0",   "1:59:60.0",
    };
    for (size_t i = 0; i < PT_ARRAY_SIZE(bad); i++) {
        double deg = 12345.0;
        int err = astro_angle_parse(pt_str_c(bad[i]), &deg);
        if (err != PT_E_INVALID)
            fail_msg("\"%s\": want PT_E_INVALID, got %d (%.15g)", bad[i], err, deg);
    }
    double deg;
    assert_int_equal(astro_angle_parse(PT_STR_NULL, &deg), PT_E_INVALID);
    /* A slice ends where its length says, whatever follows in memory. */
    assert_int_equal(astro_angle_parse(pt_str_make("48:30:00", 5), &deg), 0);
    assert_true(deg == 48.5);
    assert_int_equal(astro_angle_parse(pt_str_make("48:30:00", 3), &deg), PT_E_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
