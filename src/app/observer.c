/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * observer.c -- turning request input into an observer and an instant: query
 * parameters first, then the location saved in the session, then Greenwich.
 * Every rejected value names its parameter and allowed range.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <time.h>

#include "app/app.h"
#include "store/store.h"

int app_parse_number(struct web_ctx *ctx, const char *name, struct pt_str text, double min,
                     double max, const char *unit, double *value)
{
    double v;
    if (pt_str_to_double(text, &v) < 0)
        return web_error_param(ctx, 400, name, min, max, unit,
                               "%s must be a decimal number between %g and %g %s", name, min, max,
                               unit);
    if (v < min || v > max)
        return web_error_param(ctx, 400, name, min, max, unit,
                               "%s must be between %g and %g %s", name, min, max, unit);
    *value = v;
    return 0;
}

static int parse_angle(struct web_ctx *ctx, const char *name, struct pt_str text, double limit,
                       double *value)
{
    double v;
    if (astro_angle_parse(text, &v) < 0)
        return web_error_param(ctx, 400, name, -limit, limit, "degrees",
                               "%s must be decimal degrees or D:M:S between %g and %g", name,
                               -limit, limit);
    if (v < -limit || v > limit)
        return web_error_param(ctx, 400, name, -limit, limit, "degrees",
                               "%s must be between %g and %g degrees", name, -limit, limit);
    *value = v;
    return 0;
}

int app_parse_lat(struct web_ctx *ctx, const char *name, struct pt_str text, double *value)
{
    return parse_angle(ctx, name, text, 90.0, value);
}

int app_parse_lon(struct web_ctx *ctx, const char *name, struct pt_str text, double *value)
{
    return parse_angle(ctx, name, text, 180.0, value);
}

/* Copy a session member (string or number) into the arena as text. */
static struct pt_str member_text(struct web_ctx *ctx, json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    char tmp[64];
    if (json_is_string(v))
        return pt_str_make(pt_arena_strndup(ctx->arena, json_string_value(v),
                                            json_string_length(v)),
                           json_string_length(v));
    if (json_is_number(v)) {
        int n = snprintf(tmp, sizeof(tmp), "%.17g", json_number_value(v));
        return pt_str_make(pt_arena_strndup(ctx->arena, tmp, (size_t)n), (size_t)n);
    }
    return PT_STR_NULL;
}

/*
 * The location saved by POST /geo_location, if the session has a valid one.
 * A session whose content no longer validates is ignored, never an error.
 */
static bool observer_from_session(struct web_ctx *ctx, struct app_observer *out)
{
    struct pt_str payload = web_session_get(ctx);
    if (payload.len == 0)
        return false;
    json_t *root = json_loadb(payload.ptr, payload.len, 0, NULL);
    if (root == NULL)
        return false;
    struct pt_str lat = member_text(ctx, root, "lat");
    struct pt_str lon = member_text(ctx, root, "lon");
    struct pt_str elev = member_text(ctx, root, "elevation");
    json_decref(root);
    double la, lo, el = 0;
    if (lat.ptr == NULL || lon.ptr == NULL || astro_angle_parse(lat, &la) < 0 ||
        astro_angle_parse(lon, &lo) < 0 || fabs(la) > 90 || fabs(lo) > 180)
        return false;
    if (elev.ptr != NULL &&
        (pt_str_to_double(elev, &el) < 0 || el < APP_ELEV_MIN_M || el > APP_ELEV_MAX_M))
        return false;
    out->astro.lat_deg = la;
    out->astro.lon_deg = lo;
    out->astro.elev_m = el;
    out->lat_text = lat;
    out->lon_text = lon;
    out->source = "session";
    return true;
}

void app_observer_from_site(const struct store_site *site, struct astro_observer *out)
{
    out->lat_deg = site->lat;
    out->lon_deg = site->lon;
    out->elev_m = site->elevation;
    out->pressure_hpa = site->has_pressure ? site->pressure : APP_DEFAULT_PRESSURE_HPA;
    out->temp_c = site->has_temperature ? site->temperature : APP_DEFAULT_TEMP_C;
}

int app_observer_from_request(struct web_ctx *ctx, struct app_observer *out)
{
    const struct web_form *q;
    int rc = web_query(ctx, &q);
    if (rc != 0)
        return rc;
    const struct pt_str *lat = web_form_get(q, PT_STR("lat"));
    const struct pt_str *lon = web_form_get(q, PT_STR("lon"));
    const struct pt_str *elev = web_form_get(q, PT_STR("elevation"));
    const struct pt_str *pressure = web_form_get(q, PT_STR("pressure"));
    const struct pt_str *temp = web_form_get(q, PT_STR("temperature"));

    out->astro.pressure_hpa = APP_DEFAULT_PRESSURE_HPA;
    out->astro.temp_c = APP_DEFAULT_TEMP_C;
    out->astro.elev_m = 0;
    out->horizon_deg = 0;
    const struct store_site *site = ctx->local; /* site=, loaded by app_mw_site */
    if (site != NULL) {
        char text[2][32];
        int n0 = snprintf(text[0], sizeof(text[0]), "%.17g", site->lat);
        int n1 = snprintf(text[1], sizeof(text[1]), "%.17g", site->lon);
        app_observer_from_site(site, &out->astro);
        out->horizon_deg = site->horizon_deg;
        out->lat_text = pt_str_make(pt_arena_strndup(ctx->arena, text[0], (size_t)n0), (size_t)n0);
        out->lon_text = pt_str_make(pt_arena_strndup(ctx->arena, text[1], (size_t)n1), (size_t)n1);
        out->source = "site";
    } else if (lat != NULL || lon != NULL) {
        if (lat == NULL)
            return web_error_param(ctx, 400, "lat", -90, 90, "degrees",
                                   "lat is required when lon is given");
        if (lon == NULL)
            return web_error_param(ctx, 400, "lon", -180, 180, "degrees",
                                   "lon is required when lat is given");
        if ((rc = app_parse_lat(ctx, "lat", *lat, &out->astro.lat_deg)) != 0 ||
            (rc = app_parse_lon(ctx, "lon", *lon, &out->astro.lon_deg)) != 0)
            return rc;
        out->lat_text = *lat;
        out->lon_text = *lon;
        out->source = "query";
    } else if (!observer_from_session(ctx, out)) {
        out->astro.lat_deg = APP_DEFAULT_LAT_DEG;
        out->astro.lon_deg = APP_DEFAULT_LON_DEG;
        out->lat_text = PT_STR("51.4769");
        out->lon_text = PT_STR("-0.0005");
        out->source = "default";
    }
    if (elev != NULL && (rc = app_parse_number(ctx, "elevation", *elev, APP_ELEV_MIN_M,
                                               APP_ELEV_MAX_M, "metres",
                                               &out->astro.elev_m)) != 0)
        return rc;
    if (pressure != NULL &&
        (rc = app_parse_number(ctx, "pressure", *pressure, APP_PRESSURE_MIN_HPA,
                               APP_PRESSURE_MAX_HPA, "hPa", &out->astro.pressure_hpa)) != 0)
        return rc;
    if (temp != NULL && (rc = app_parse_number(ctx, "temperature", *temp, APP_TEMP_MIN_C,
                                               APP_TEMP_MAX_C, "degrees Celsius",
                                               &out->astro.temp_c)) != 0)
        return rc;
    return 0;
}

/* The supported time range as ISO dates, for error messages. */
static void describe_range(const struct astro_ctx *astro, char *buf, size_t n, double *min_unix,
                           double *max_unix)
{
    double jd_min, jd_max;
    astro_ctx_jd_range(astro, &jd_min, &jd_max);
    *min_unix = (jd_min - 2440587.5) * 86400.0;
    *max_unix = (jd_max - 2440587.5) * 86400.0;
    struct astro_time a = {.unix_s = *min_unix}, b = {.unix_s = *max_unix};
    char sa[40], sb[40];
    astro_time_format_iso(&a, sa);
    astro_time_format_iso(&b, sb);
    snprintf(buf, n, "%s and %s", sa, sb);
}

int app_sky_from_request(struct web_ctx *ctx, struct app_observer *obs, struct astro_time *t)
{
    int rc = app_observer_from_request(ctx, obs);
    return rc != 0 ? rc : app_time_from_request(ctx, t);
}

int app_time_from_request(struct web_ctx *ctx, struct astro_time *out)
{
    const struct app_state *st = ctx->app_data;
    const struct web_form *q;
    int rc = web_query(ctx, &q);
    if (rc != 0)
        return rc;
    enum astro_timescale scale = ASTRO_UTC;
    const struct pt_str *ts = web_form_get(q, PT_STR("timescale"));
    if (ts != NULL) {
        int s = astro_timescale_from_name(*ts);
        if (s < 0)
            return web_error(ctx, 400, "invalid_parameter",
                             "timescale must be one of utc, ut1, tt");
        scale = (enum astro_timescale)s;
    }
    const struct pt_str *t = web_form_get(q, PT_STR("time"));
    char range[96];
    double min_unix, max_unix;
    if (t == NULL) {
        /*
         * "Now" is the current millisecond, the precision the answer states in its
         * time member: the answer is for exactly the instant it names, and the
         * answers of one millisecond share what does not depend on the observer
         * (instant.c).
         */
        double now = floor(pt_clock_unix_s() * 1000.0) / 1000.0;
        double second = floor(now);
        struct app_now_cache *c = st->now;
        if (c->second != (int64_t)second) {
            if (astro_time_from_unix(st->astro, second, &c->t) < 0)
                return web_error(ctx, 500, "internal_error", "the current time is out of range");
            c->second = (int64_t)second;
        }
        /*
         * Within one second TT-UT1 changes by about 1e-8 s, far below anything
         * the answer shows; the libswe time conversion runs once a second.
         */
        *out = c->t;
        out->unix_s = now;
        out->jd_ut1 += (now - second) / 86400.0;
        out->jd_tt += (now - second) / 86400.0;
        return 0;
    }
    rc = astro_time_parse(st->astro, *t, scale, out);
    if (rc == 0)
        return 0;
    describe_range(st->astro, range, sizeof(range), &min_unix, &max_unix);
    if (rc == PT_E_RANGE)
        return web_error_param(ctx, 400, "time", min_unix, max_unix, "unix seconds",
                               "time must be between %s (the ephemeris range)", range);
    return web_error_param(ctx, 400, "time", min_unix, max_unix, "unix seconds",
                           "time must be ISO 8601 (2026-11-21T20:00:00Z, any offset) or Unix "
                           "seconds, between %s",
                           range);
}
