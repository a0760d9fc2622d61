/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * driver.c -- libFuzzer target for the Earth-orientation parser of
 * src/astro/eop.c (astro_eop_parse), which reads what the updater downloads.
 *
 * The input is a finals2000A text and a Leap_Second.dat text separated by the
 * first NUL byte (no NUL: all finals, with a fixed valid leap table). Checked on
 * every table accepted: its days are in order (first <= last observed + 1,
 * last observed <= last), there are at least 30 rows, the values at any instant
 * inside it are finite and in the physical ranges the parser promises
 * (|UT1-UTC| <= 1 s, |x|, |y| <= 2"), and outside it astro_eop_at refuses. A
 * refused input must leave *out NULL and a reason. A broken invariant aborts.
 *
 * Build and run:
 *   make SANITIZE=address,undefined build/san/fuzz/eop
 *   build/san/fuzz/eop -max_total_time=90 tests/fuzz/eop/corpus
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "astro/astro.h"
#include "../check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char leap_default[] = "#  File expires on 28 June 2027\n"
                                   "    41317.0    1  1 1972       10\n"
                                   "    41499.0    1  7 1972       11\n";

static void check_values(const struct astro_eop *e, double mjd)
{
    struct astro_eop_value v;
    if (astro_eop_at(e, mjd, &v) != 0)
        return;
    int32_t tai_utc = astro_eop_tai_utc(e, (int32_t)floor(mjd));
    CHECK(isfinite(v.ut1_tai_s) && isfinite(v.xp_as) && isfinite(v.yp_as));
    /* Between two rows UT1-UTC may be a leap second away from both: allow it. */
    CHECK(fabs(v.ut1_tai_s + tai_utc) <= 2.0);
    CHECK(fabs(v.xp_as) <= 2.0 && fabs(v.yp_as) <= 2.0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    const char *nul = memchr(text, '\0', size);
    struct pt_str finals = pt_str_make(text, nul != NULL ? (size_t)(nul - text) : size);
    struct pt_str leap = nul != NULL ? pt_str_make(nul + 1, size - finals.len - 1)
                                     : pt_str_make(leap_default, sizeof(leap_default) - 1);
    struct astro_eop *e = (struct astro_eop *)1;
    char why[200] = "";
    int rc = astro_eop_parse(finals, leap, &e, why, sizeof(why));
    if (rc != 0) {
        CHECK(rc == PT_E_INVALID);
        CHECK(why[0] != '\0');
        return 0;
    }
    CHECK(e != NULL && e != (struct astro_eop *)1);
    struct astro_eop_info info;
    astro_eop_info(e, &info);
    CHECK(info.rows >= 30);
    CHECK(info.last_mjd == info.first_mjd + (int32_t)info.rows - 1);
    CHECK(info.first_mjd <= info.last_observed_mjd + 1);
    CHECK(info.last_observed_mjd <= info.last_mjd);
    CHECK(info.tai_utc_last_s >= 10);
    struct astro_eop_value v;
    CHECK(astro_eop_at(e, info.first_mjd - 0.25, &v) == PT_E_RANGE);
    CHECK(astro_eop_at(e, info.last_mjd + 0.25, &v) == PT_E_RANGE);
    CHECK(astro_eop_at(e, NAN, &v) == PT_E_RANGE);
    for (double m = info.first_mjd; m <= info.last_mjd; m += 0.75)
        check_values(e, m);
    check_values(e, info.last_mjd);
    astro_eop_free(e);
    return 0;
}
