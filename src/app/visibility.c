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
#include <string.h>

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

/*
 * The reason, written piece by piece: printf's machinery was a third of the
 * cost of judging a body (GET /planets/{name} is the hot path).
 */
struct reason {
    struct app_visibility *out;
    size_t len;
};

static void put_n(struct reason *r, const char *s, size_t n)
{
    size_t room = sizeof(r->out->reason) - 1 - r->len;
    n = n < room ? n : room;
    memcpy(r->out->reason + r->len, s, n);
    r->len += n;
    r->out->reason[r->len] = '\0';
}

static void put(struct reason *r, const char *s)
{
    put_n(r, s, strlen(s));
}

/* A number with `decimals` digits after the point (0 or 1), rounded half away from zero. */
static void put_num(struct reason *r, double v, int decimals)
{
    char buf[32], *p = buf + sizeof(buf);
    *--p = '\0';
    double scaled = fabs(v) * (decimals ? 10.0 : 1.0);
    long long n = scaled < 1e15 ? (long long)(scaled + 0.5) : 0;
    bool shown_zero = n == 0; /* "0", "0.0": no minus sign */
    for (int d = 0; d < decimals; d++) {
        *--p = (char)('0' + n % 10);
        n /= 10;
        *--p = '.';
    }
    do {
        *--p = (char)('0' + n % 10);
        n /= 10;
    } while (n > 0);
    if (v < 0 && !shown_zero)
        *--p = '-';
    put_n(r, p, (size_t)(buf + sizeof(buf) - 1 - p));
}

static struct reason begin(struct app_visibility *out, enum app_verdict v, const char *text)
{
    out->verdict = v;
    out->reason[0] = '\0';
    struct reason r = {out, 0};
    put(&r, text);
    return r;
}

void app_visibility_judge(enum astro_body body, double alt, double sun_alt, double horizon_deg,
                          const struct app_body_info *info, struct app_visibility *out)
{
    if (!(alt > 0)) {
        begin(out, APP_VERDICT_BELOW_HORIZON, "below the horizon");
        return;
    }
    if (body == ASTRO_SUN) {
        begin(out, APP_VERDICT_DAYLIGHT,
              "the Sun itself: never look at it without a proper solar filter");
        return;
    }
    struct reason r;
    if (horizon_deg > 0 && alt < horizon_deg) {
        r = begin(out, APP_VERDICT_TOO_LOW, "");
        put_num(&r, alt, 0);
        put(&r, "\u00b0 up, under the site's horizon of ");
        put_num(&r, horizon_deg, 0);
        put(&r, "\u00b0");
        return;
    }
    if (alt < HAZE_ALT_DEG) {
        r = begin(out, APP_VERDICT_TOO_LOW, "only ");
        put_num(&r, alt, 1);
        put(&r, "\u00b0 up, in the haze at the horizon");
        return;
    }
    bool known = info->details_rc >= 0 && isfinite(info->details.magnitude);
    double glare = body == ASTRO_MOON ? GLARE_MOON_DEG : GLARE_DEG;
    if (known && info->details.elongation_deg < glare && sun_alt > -18) {
        r = begin(out, APP_VERDICT_GLARE, "");
        put_num(&r, info->details.elongation_deg, 0);
        put(&r, "\u00b0 from the Sun, lost in its glare");
        return;
    }
    if (!known) {
        r = begin(out, sun_alt > SUN_UP_DEG ? APP_VERDICT_DAYLIGHT : APP_VERDICT_TELESCOPE, "");
        put_num(&r, alt, 0);
        put(&r, "\u00b0 up; its brightness is not known for this date");
        return;
    }
    double mag = info->details.magnitude;
    double seen = mag + app_extinction_mag(alt);
    double limit = app_naked_eye_limit(sun_alt);
    if (seen <= limit) {
        r = begin(out, APP_VERDICT_NAKED_EYE, "naked eye: magnitude ");
        put_num(&r, mag, 1);
        put(&r, ", ");
        put_num(&r, alt, 0);
        put(&r, "\u00b0 up");
    } else if (sun_alt > SUN_UP_DEG) {
        r = begin(out, APP_VERDICT_DAYLIGHT, "in daylight: magnitude ");
        put_num(&r, mag, 1);
        put(&r, " is lost in the bright sky");
    } else if (sun_alt > TWILIGHT_BRIGHT_DEG) {
        r = begin(out, APP_VERDICT_DAYLIGHT,
                  "in twilight: the sky is still too bright for magnitude ");
        put_num(&r, mag, 1);
        put(&r, " (the Sun is ");
        put_num(&r, -sun_alt, 0);
        put(&r, "\u00b0 down)");
    } else if (seen <= limit + BINOCULAR_GAIN_MAG) {
        r = begin(out, APP_VERDICT_BINOCULARS, "binoculars: magnitude ");
        put_num(&r, mag, 1);
        put(&r, ", too faint for the eye");
    } else {
        r = begin(out, APP_VERDICT_TELESCOPE, "telescope: magnitude ");
        put_num(&r, mag, 1);
    }
}

/* ---------------------------------------------------------------- the Sun's altitude */

#define DEG (M_PI / 180.0)
/* The Sun's hour angle grows by 360 degrees a (mean solar) day of UT1; the equation of time
 * and the declination drift by about an arcsecond in a minute. */
#define SUN_HOUR_ANGLE_DEG_PER_DAY 360.0

int app_sun_altitude(const struct app_state *st, const struct astro_time *t,
                     const struct astro_observer *obs, double *alt_deg)
{
    struct app_now_cache *c = st->now;
    double gha, sin_dec, cos_dec;
    /* Within a minute of the remembered instant the Sun moves by its hour angle alone (the
     * Earth's rotation), to about 1": requests at "now" carry milliseconds, each its own. */
    double dt = c != NULL && c->sun_jd_ut1 != 0 ? t->jd_ut1 - c->sun_jd_ut1 : 1.0;
    if (fabs(dt) < 60.0 / 86400.0) {
        gha = c->sun_gha_deg + dt * SUN_HOUR_ANGLE_DEG_PER_DAY;
        sin_dec = c->sun_sin_dec;
        cos_dec = c->sun_cos_dec;
    } else {
        /* Seen from (0, 0) the horizon frame is the equator's: hour angle and declination. */
        static const struct astro_observer origin = {0, 0, 0, 0, 0};
        struct astro_position p;
        int rc = astro_position_compute(st->astro, ASTRO_SUN, t, &origin, &p);
        if (rc < 0)
            return rc;
        double h = p.alt_airless_deg * DEG, a = p.az_deg * DEG;
        gha = atan2(-cos(h) * sin(a), sin(h)) / DEG;
        double dec = asin(cos(h) * cos(a));
        sin_dec = sin(dec);
        cos_dec = cos(dec);
        if (c != NULL) {
            c->sun_jd_ut1 = t->jd_ut1;
            c->sun_gha_deg = gha;
            c->sun_sin_dec = sin_dec;
            c->sun_cos_dec = cos_dec;
        }
    }
    double sin_lat, cos_lat;
    if (c != NULL && c->have_lat && c->lat_deg == obs->lat_deg) {
        sin_lat = c->sin_lat; /* the same place again (a page, a controller) */
        cos_lat = c->cos_lat;
    } else {
        double lat = obs->lat_deg * DEG;
        sin_lat = sin(lat);
        cos_lat = cos(lat);
        if (c != NULL) {
            c->have_lat = true;
            c->lat_deg = obs->lat_deg;
            c->sin_lat = sin_lat;
            c->cos_lat = cos_lat;
        }
    }
    double ha = (gha + obs->lon_deg) * DEG;
    *alt_deg = asin(sin_lat * sin_dec + cos_lat * cos_dec * cos(ha)) / DEG;
    return 0;
}
