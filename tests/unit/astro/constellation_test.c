/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * constellation_test.c -- unit tests of src/astro/constellation.c and its generated
 * table (scripts/gen-constellations): bright stars at their ICRS (J2000) positions
 * land in the constellations every atlas gives them, including Polaris near the pole,
 * stars near the 0 h meridian and near the south pole; the table is complete (88
 * names, every one reachable, Roman's last row catching the south polar cap); the
 * index, abbreviation and name lookups and their limits.
 *
 * Run: make build/tests/unit/astro/constellation_test && build/tests/unit/astro/constellation_test
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "astro/astro.h"
#include "astro/internal.h" /* the boundary table, for its order */

struct star {
    const char *name;
    double ra_deg, dec_deg; /* ICRS, J2000 (Hipparcos, rounded) */
    const char *abbr;
};

static const struct star stars[] = {
    {"Polaris", 37.9546, 89.2641, "UMi"},
    {"Sirius", 101.2872, -16.7161, "CMa"},
    {"Canopus", 95.9880, -52.6957, "Car"},
    {"Arcturus", 213.9153, 19.1824, "Boo"},
    {"Vega", 279.2347, 38.7837, "Lyr"},
    {"Capella", 79.1723, 45.9980, "Aur"},
    {"Rigel", 78.6345, -8.2016, "Ori"},
    {"Procyon", 114.8255, 5.2250, "CMi"},
    {"Betelgeuse", 88.7929, 7.4071, "Ori"},
    {"Achernar", 24.4285, -57.2368, "Eri"},
    {"Altair", 297.6958, 8.8683, "Aql"},
    {"Aldebaran", 68.9802, 16.5093, "Tau"},
    {"Antares", 247.3519, -26.4320, "Sco"},
    {"Spica", 201.2983, -11.1613, "Vir"},
    {"Pollux", 116.3290, 28.0262, "Gem"},
    {"Fomalhaut", 344.4127, -29.6222, "PsA"},
    {"Deneb", 310.3580, 45.2803, "Cyg"},
    {"Regulus", 152.0930, 11.9672, "Leo"},
    {"Alpha Centauri", 219.9021, -60.8340, "Cen"},
    {"Acrux", 186.6496, -63.0991, "Cru"},
    {"Alpheratz", 2.0969, 29.0904, "And"},
    {"Algenib", 3.3090, 15.1836, "Peg"},
    {"Beta Cassiopeiae", 2.2945, 59.1498, "Cas"},
    {"Sigma Octantis", 317.1954, -88.9565, "Oct"},
    {"Thuban", 211.0973, 64.3759, "Dra"},
    {"Mira", 34.8366, -2.9776, "Cet"},
    {"Alphard", 141.8968, -8.6586, "Hya"},
    {"Hamal", 31.7934, 23.4624, "Ari"},
};

static void test_bright_stars(void **state)
{
    (void)state;
    for (size_t i = 0; i < PT_ARRAY_SIZE(stars); i++) {
        int c = astro_constellation_find(stars[i].ra_deg, stars[i].dec_deg);
        if (c < 0 || strcmp(astro_constellation_abbr(c), stars[i].abbr) != 0)
            fail_msg("%s: wanted %s, got %s", stars[i].name, stars[i].abbr,
                     c < 0 ? "error" : astro_constellation_abbr(c));
    }
}

static void test_poles_and_wraps(void **state)
{
    (void)state;
    assert_string_equal(astro_constellation_abbr(astro_constellation_find(0.0, 90.0)), "UMi");
    assert_string_equal(astro_constellation_abbr(astro_constellation_find(123.0, -90.0)), "Oct");
    /* Right ascension is taken modulo 360. */
    assert_int_equal(astro_constellation_find(-360.0 + 101.2872, -16.7161),
                     astro_constellation_find(101.2872, -16.7161));
    assert_int_equal(astro_constellation_find(720.0 + 2.0969, 29.0904),
                     astro_constellation_find(2.0969, 29.0904));
    assert_int_equal(astro_constellation_find(10.0, 90.5), PT_E_RANGE);
    assert_int_equal(astro_constellation_find(NAN, 0.0), PT_E_RANGE);
    assert_int_equal(astro_constellation_find(0.0, INFINITY), PT_E_RANGE);
}

/* A grid over the sphere reaches all 88 constellations and never fails. */
static void test_every_constellation(void **state)
{
    (void)state;
    bool seen[ASTRO_CONSTELLATION_COUNT] = {false};
    for (double dec = -89.75; dec < 90.0; dec += 0.5)
        for (double ra = 0.0; ra < 360.0; ra += 0.25 / cos(dec * M_PI / 180.0)) {
            int c = astro_constellation_find(ra, dec);
            assert_true(c >= 0 && c < ASTRO_CONSTELLATION_COUNT);
            seen[c] = true;
        }
    for (int i = 0; i < ASTRO_CONSTELLATION_COUNT; i++)
        if (!seen[i])
            fail_msg("%s never found", astro_constellation_abbr(i));
}

/* astro_constellation_find() starts its scan by bisection on dec_lo_deg: Roman's rows
 * must go down in declination (a regenerated table that did not would fail here). */
static void test_rows_in_declination_order(void **state)
{
    (void)state;
    for (size_t i = 1; i < astro__constellation_bound_count; i++)
        if (astro__constellation_bounds[i].dec_lo_deg > astro__constellation_bounds[i - 1].dec_lo_deg)
            fail_msg("row %zu goes up in declination", i);
}

static void test_names(void **state)
{
    (void)state;
    int umi = astro_constellation_find(37.9546, 89.2641);
    assert_string_equal(astro_constellation_name(umi), "Ursa Minor");
    assert_string_equal(astro_constellation_abbr(0), "And");
    assert_string_equal(astro_constellation_name(0), "Andromeda");
    assert_null(astro_constellation_abbr(-1));
    assert_null(astro_constellation_abbr(ASTRO_CONSTELLATION_COUNT));
    assert_null(astro_constellation_name(ASTRO_CONSTELLATION_COUNT));
    for (int i = 0; i < ASTRO_CONSTELLATION_COUNT; i++) {
        assert_true(strlen(astro_constellation_abbr(i)) == 3);
        assert_true(strlen(astro_constellation_name(i)) >= 3);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bright_stars),
        cmocka_unit_test(test_poles_and_wraps),
        cmocka_unit_test(test_every_constellation),
        cmocka_unit_test(test_rows_in_declination_order),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
