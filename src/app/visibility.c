/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * visibility.c -- can the observer actually see a body now, and with what?
 * The server's judgement, carried by every body of every answer as
 * {"verdict": .., "reason": ..}, so a script gets the same answer as the page.
 *
 * In order: below the horizon; the Sun itself; too low (under the site's
 * obstructed horizon, or in the haze of the last degrees); lost in the Sun's
 * glare (too close to it in the sky); then brightness against the sky: the
 * body's magnitude dimmed by the air it is seen through (extinction, 0.25 mag
 * per airmass, Kasten & Young's airmass) against the faintest magnitude the
 * eye reaches with the Sun where it is (from about -4 in daylight, through
 * the twilights, to 5.5 in a dark sky: a rural site, not the darkest), with
 * binoculars reaching 3 magnitudes fainter. In daylight and civil twilight
 * only what the naked eye reaches counts; the rest is "daylight".
 *
 * A rule of thumb for a typical site, not a sky-brightness model: light
 * pollution, the Moon's light and the observer's eyes are not known here.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>

#include "app/app.h"

#define EXTINCTION_MAG_PER_AIRMASS 0.25
#define HAZE_ALT_DEG 2.0              /* below this, "too low" whatever the horizon */
#define GLARE_DEG 12.0                /* planets closer to the Sun are lost in its glare */
#define GLARE_MOON_DEG 10.0           /* a thin crescent is seen somewhat closer */
#define BINOCULAR_GAIN_MAG 3.0
#define SUN_UP_DEG 0.0                /* the Sun's refracted centre above the horizon */
#define TWILIGHT_BRIGHT_DEG (-6.0)    /* until civil dusk the sky is too bright to search */

static const char *const verdict_names[] = {
    [APP_VERDICT_NAKED_EYE] = "naked_eye",
    [APP_VERDICT_BINOCULARS] = "binoculars",
    [APP_VERDICT_TELESCOPE] = "telescope",
    [APP_VERDICT_TOO_LOW] = "too_low",
    [APP_VERDICT_DAYLIGHT] = "daylight",
    [APP_VERDICT_GLARE] = "glare",
    [APP_VERDICT_BELOW_HORIZON] = "below_horizon",
};

const char *app_verdict_name(enum app_verdict v)
{
    return (unsigned)v < PT_ARRAY_SIZE(verdict_names) ? verdict_names[v] : "unknown";
}

/* The faintest magnitude the naked eye reaches with the Sun at sun_alt (degrees). */
double app_naked_eye_limit(double sun_alt)
{
    /* (Sun altitude, limiting magnitude): day, sunset, civil, nautical, astronomical dusk. */
    static const double pts[][2] = {{5, -4.0}, {0, -3.0}, {-6, 1.5}, {-12, 4.5}, {-18, 5.5}};
    if (sun_alt >= pts[0][0])
        return pts[0][1];
    for (size_t i = 1; i < PT_ARRAY_SIZE(pts); i++) {
        if (sun_alt >= pts[i][0]) {
            double f = (sun_alt - pts[i][0]) / (pts[i - 1][0] - pts[i][0]);
            return pts[i][1] + f * (pts[i - 1][1] - pts[i][1]);
        }
    }
    return pts[PT_ARRAY_SIZE(pts) - 1][1];
}

/* Magnitudes lost to the air at altitude alt (degrees, > 0): Kasten & Young (1989) airmass. */
double app_extinction_mag(double alt)
{
    double airmass = 1.0 / (sin(alt * M_PI / 180.0) + 0.50572 * pow(alt + 6.07995, -1.6364));
    return EXTINCTION_MAG_PER_AIRMASS * (airmass - 1.0);
}

static void set(struct app_visibility *out, enum app_verdict v, const char *fmt, ...)
    PT_PRINTF(3, 4);

static void set(struct app_visibility *out, enum app_verdict v, const char *fmt, ...)
{
    out->verdict = v;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->reason, sizeof(out->reason), fmt, ap);
    va_end(ap);
}

void app_visibility_judge(enum astro_body body, double alt, double sun_alt, double horizon_deg,
                          const struct app_body_info *info, struct app_visibility *out)
{
    if (!(alt > 0)) {
        set(out, APP_VERDICT_BELOW_HORIZON, "below the horizon");
        return;
    }
    if (body == ASTRO_SUN) {
        set(out, APP_VERDICT_DAYLIGHT,
            "the Sun itself: never look at it without a proper solar filter");
        return;
    }
    if (horizon_deg > 0 && alt < horizon_deg) {
        set(out, APP_VERDICT_TOO_LOW, "%.0f\u00b0 up, under the site's horizon of %.0f\u00b0", alt,
            horizon_deg);
        return;
    }
    if (alt < HAZE_ALT_DEG) {
        set(out, APP_VERDICT_TOO_LOW, "only %.1f\u00b0 up, in the haze at the horizon", alt);
        return;
    }
    bool known = info->details_rc >= 0 && isfinite(info->details.magnitude);
    double glare = body == ASTRO_MOON ? GLARE_MOON_DEG : GLARE_DEG;
    if (known && info->details.elongation_deg < glare && sun_alt > -18) {
        set(out, APP_VERDICT_GLARE, "%.0f\u00b0 from the Sun, lost in its glare",
            info->details.elongation_deg);
        return;
    }
    if (!known) {
        set(out, sun_alt > SUN_UP_DEG ? APP_VERDICT_DAYLIGHT : APP_VERDICT_TELESCOPE,
            "%.0f\u00b0 up; its brightness is not known for this date", alt);
        return;
    }
    double mag = info->details.magnitude;
    double seen = mag + app_extinction_mag(alt);
    double limit = app_naked_eye_limit(sun_alt);
    if (seen <= limit) {
        set(out, APP_VERDICT_NAKED_EYE, "naked eye: magnitude %.1f, %.0f\u00b0 up", mag, alt);
    } else if (sun_alt > SUN_UP_DEG) {
        set(out, APP_VERDICT_DAYLIGHT, "in daylight: magnitude %.1f is lost in the bright sky",
            mag);
    } else if (sun_alt > TWILIGHT_BRIGHT_DEG) {
        set(out, APP_VERDICT_DAYLIGHT,
            "in twilight: the sky is still too bright for magnitude %.1f (the Sun is %.0f\u00b0 "
            "down)", mag, -sun_alt);
    } else if (seen <= limit + BINOCULAR_GAIN_MAG) {
        set(out, APP_VERDICT_BINOCULARS, "binoculars: magnitude %.1f, too faint for the eye",
            mag);
    } else {
        set(out, APP_VERDICT_TELESCOPE, "telescope: magnitude %.1f", mag);
    }
}
