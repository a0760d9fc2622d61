/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * handlers_planets.c -- the positions API: GET /planets/{name}, GET /planets
 * and POST /geo_location, compatible with the original app's JSON and
 * extended with RA/Dec, distance, time and provenance.
 */
#include <stdio.h>

#include "app/app.h"

/* ["sun", "moon", ...]: the body names, for 404 answers. */
static struct pt_str known_bodies_json(struct web_ctx *ctx)
{
    struct pt_buf buf;
    pt_buf_init(&buf, 1024);
    struct web_json j;
    web_json_init(&j, &buf);
    web_json_array_begin(&j);
    for (int b = 0; b < ASTRO_BODY_COUNT; b++)
        web_json_cstring(&j, astro_body_name((enum astro_body)b));
    web_json_array_end(&j);
    struct pt_str s = pt_str_make(pt_arena_strndup(ctx->arena, buf.data, buf.len), buf.len);
    pt_buf_deinit(&buf);
    return s;
}

static int compute_error(struct web_ctx *ctx, int rc)
{
    if (rc == PT_E_RANGE)
        return web_error(ctx, 400, "out_of_range",
                         "the observer or time is outside what the ephemeris supports");
    return web_error(ctx, 500, "ephemeris_error", "the ephemeris computation failed");
}

/*
 * The micro-cache key of a request whose answer depends only on its URL (it
 * names lat and lon, so neither the session nor anything else matters), or an
 * empty slice.
 */
static struct pt_str cache_key(struct web_ctx *ctx)
{
    const struct web_form *q;
    if (web_query(ctx, &q) != 0 || web_form_get(q, PT_STR("lat")) == NULL ||
        web_form_get(q, PT_STR("lon")) == NULL)
        return PT_STR_NULL;
    return ctx->req->head.target;
}

int app_handle_planet(struct web_ctx *ctx)
{
    const struct app_state *st = ctx->app_data;
    /*
     * Look up by the raw target before parsing anything: only targets that name
     * lat and lon are ever stored (cache_key), so a hit needs no further check.
     */
    int64_t now_ms = 0;
    struct pt_str key = PT_STR_NULL;
    if (st->microcache != NULL) { /* without it, no clock read for it either */
        now_ms = (int64_t)(pt_clock_unix_s() * 1000.0);
        struct pt_str cached;
        if (microcache_get(st->microcache, ctx->req->head.target, now_ms, &cached))
            return web_send_static(ctx, 200, "application/json", cached);
        key = cache_key(ctx);
    }
    struct pt_str name = web_param(ctx, "name");
    int body = astro_body_from_name(name);
    if (body < 0) {
        ctx->error.extra_key = "known";
        ctx->error.extra_json = known_bodies_json(ctx);
        return web_error(ctx, 404, "unknown_body", "no body named \"%.*s\"",
                         (int)PT_MIN(name.len, 64), name.ptr);
    }
    struct app_observer obs;
    struct astro_time t;
    int rc = app_sky_from_request(ctx, &obs, &t);
    if (rc != 0)
        return rc;
    /* What every observer shares at this instant is computed once for them all. */
    app_instant_use(st->instant, st, &t);
    struct astro_position pos;
    rc = app_instant_position(st->instant, st, (enum astro_body)body, &t, &obs.astro, &pos);
    if (rc < 0)
        return compute_error(ctx, rc);
    struct app_body_info info;
    rc = app_body_info_get(st, st->instant, (enum astro_body)body, &t, &obs.astro, &info);
    if (rc < 0)
        return compute_error(ctx, rc);
    /* Visibility needs the Sun's altitude (the sky's brightness) for this observer. */
    double sun_alt = pos.alt_airless_deg;
    if (body != ASTRO_SUN && (rc = app_sun_altitude(st, &t, &obs.astro, &sun_alt)) < 0)
        return compute_error(ctx, rc);
    struct app_visibility vis;
    app_visibility_judge((enum astro_body)body, pos.alt_deg, sun_alt, obs.horizon_deg, &info,
                         &vis);

    struct web_json j;
    web_json_begin(ctx, &j);
    web_json_object_begin(&j);
    app_render_body(&j, (enum astro_body)body, &pos, &info, &vis);
    app_render_context(&j, st, &obs, &t, st->instant);
    web_json_object_end(&j);
    if (web_json_finish(&j) != 0)
        return web_error(ctx, 500, "internal_error", "the answer could not be serialized");
    pt_buf_append(&ctx->body, "\n", 1);
    if (key.len > 0)
        microcache_put(st->microcache, key, now_ms, pt_buf_str(&ctx->body));
    return web_send(ctx, 200, "application/json");
}

int app_handle_planets(struct web_ctx *ctx)
{
    const struct app_state *st = ctx->app_data;
    struct app_observer obs;
    struct astro_time t;
    int rc = app_sky_from_request(ctx, &obs, &t);
    if (rc != 0)
        return rc;
    struct web_json j;
    web_json_begin(ctx, &j);
    app_instant_use(st->instant, st, &t);
    rc = app_render_sky(&j, st, &obs, &t, APP_ALL_BODIES, st->instant);
    if (rc < 0)
        return compute_error(ctx, rc);
    return web_send_json(ctx, 200, &j);
}

/*
 * POST /geo_location: validate, save in the session, and echo as the original
 * did: lon and lat as the strings received, elevation as a number.
 */
int app_handle_geo_location(struct web_ctx *ctx)
{
    struct web_form form;
    int rc = web_body_form(ctx, &form);
    if (rc != 0)
        return rc;
    const struct pt_str *lat = web_form_get(&form, PT_STR("lat"));
    const struct pt_str *lon = web_form_get(&form, PT_STR("lon"));
    const struct pt_str *elev = web_form_get(&form, PT_STR("elevation"));
    if (lat == NULL)
        return web_error_param(ctx, 400, "lat", -90, 90, "degrees", "lat is required");
    if (lon == NULL)
        return web_error_param(ctx, 400, "lon", -180, 180, "degrees", "lon is required");
    double la, lo, el = 0;
    if ((rc = app_parse_lat(ctx, "lat", *lat, &la)) != 0 ||
        (rc = app_parse_lon(ctx, "lon", *lon, &lo)) != 0)
        return rc;
    if (elev != NULL && elev->len > 0 &&
        (rc = app_parse_number(ctx, "elevation", *elev, APP_ELEV_MIN_M, APP_ELEV_MAX_M, "metres",
                               &el)) != 0)
        return rc;

    struct web_json j;
    web_json_begin(ctx, &j);
    web_json_object_begin(&j);
    WEB_JSON_KEY(&j, "lon");
    web_json_string(&j, *lon);
    WEB_JSON_KEY(&j, "lat");
    web_json_string(&j, *lat);
    WEB_JSON_KEY(&j, "elevation");
    web_json_double(&j, el);
    web_json_object_end(&j);
    if (web_json_finish(&j) != 0)
        return web_error(ctx, 500, "internal_error", "the answer could not be serialized");
    /* The session keeps what was echoed, and the owner of saved sites if there is one. */
    char owner[33];
    int put;
    if (app_session_owner(ctx, owner)) {
        struct pt_buf payload;
        pt_buf_init(&payload, WEB_SESSION_MAX_PLAINTEXT);
        pt_buf_append(&payload, ctx->body.data, ctx->body.len - 1); /* without the '}' */
        pt_buf_appendf(&payload, ",\"owner\":\"%s\"}", owner);
        put = web_session_put(ctx, pt_buf_str(&payload));
        pt_buf_deinit(&payload);
    } else {
        put = web_session_put(ctx, pt_buf_str(&ctx->body));
    }
    if (put != 0)
        return web_error(ctx, 400, "invalid_parameter", "the location is too long to store");
    pt_buf_append(&ctx->body, "\n", 1);
    return web_send(ctx, 200, "application/json");
}
