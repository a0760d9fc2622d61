/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * details.c -- the observing details of a body besides its position: magnitude,
 * illuminated fraction and elongation (libswe's swe_pheno, cached per step in fast.c)
 * and the constellation (constellation.c). Thread-safe.
 */
#include <math.h>

#include "astro/internal.h"

#define RAD2DEG (180.0 / M_PI)

int astro_details_compute(const struct astro_ctx *ctx, enum astro_body body,
                          const struct astro_time *t, struct astro_details *out)
{
    if ((unsigned)body >= ASTRO_BODY_COUNT)
        return PT_E_INVALID;
    if (!astro__jd_in_range(ctx, t->jd_ut1) || !isfinite(t->jd_tt))
        return PT_E_RANGE;
    double pheno[4], dir[3];
    int err = astro__fast_pheno(ctx, body, t->jd_tt, pheno, dir);
    if (err < 0)
        return err;
    out->magnitude = pheno[0];
    out->phase = pheno[1];
    out->elongation_deg = pheno[2];
    double ra = atan2(dir[1], dir[0]) * RAD2DEG;
    double dec = atan2(dir[2], sqrt(dir[0] * dir[0] + dir[1] * dir[1])) * RAD2DEG;
    int c = astro_constellation_find(ra, dec);
    if (c < 0)
        return PT_E_EPHEMERIS;
    memcpy(out->constellation, astro__constellation_abbrs[c], 4);
    out->constellation[3] = '\0';
    out->constellation_name = astro__constellation_names[c];
    return 0;
}
