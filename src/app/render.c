/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * render.c -- the JSON shapes of positions, shared by GET /planets/{name},
 * GET /planets and the live push (SSE and WebSocket), so every channel
 * speaks the same fields.
 */
#include <math.h>

#include "app/app.h"

void app_render_event(struct web_json *j, const char *key, const struct astro_time *t)
{
    web_json_key(j, key);
    if (!isfinite(t->jd_ut1)) {
        web_json_null(j);
        return;
    }
    char iso[40];
    astro_time_format_iso(t, iso);
    web_json_cstring(j, iso);
}

int app_body_info_get(const struct app_state *st, enum astro_body body,
                      const struct astro_time *t, const struct astro_observer *obs,
                      struct app_body_info *out)
{
    /*
     * Near the ends of the ephemeris range the position exists but the search
     * window of the next events (or a cache step) does not: those fields become
     * null rather than the whole answer failing.
     */
    out->details_rc = astro_details_compute(st->astro, body, t, &out->details);
    if (out->details_rc < 0 && out->details_rc != PT_E_RANGE)
        return out->details_rc;
    out->events_rc =
        st->riseset != NULL
            ? riseset_cache_get(st->riseset, st->astro, body, t, obs, &out->events)
            : astro_riseset_next(st->astro, body, t, obs, &out->events);
    if (out->events_rc < 0 && out->events_rc != PT_E_RANGE)
        return out->events_rc;
    return 0;
}

void app_render_body(struct web_json *j, enum astro_body body, const struct astro_position *p,
                     const struct app_body_info *info, const struct app_visibility *vis)
{
    const struct astro_details *d = &info->details;
    bool have_details = info->details_rc >= 0;
    WEB_JSON_KEY(j, "name");
    web_json_cstring(j, astro_body_name(body));
    WEB_JSON_KEY(j, "az");
    web_json_double(j, p->az_deg);
    WEB_JSON_KEY(j, "alt");
    web_json_double(j, p->alt_deg);
    WEB_JSON_KEY(j, "alt_airless");
    web_json_double(j, p->alt_airless_deg);
    WEB_JSON_KEY(j, "ra");
    web_json_double(j, p->ra_deg);
    WEB_JSON_KEY(j, "dec");
    web_json_double(j, p->dec_deg);
    WEB_JSON_KEY(j, "distance_au");
    web_json_double(j, p->distance_au);
    WEB_JSON_KEY(j, "above_horizon");
    web_json_bool(j, p->alt_deg > 0);
    /* Unavailable details are rendered as null. */
    WEB_JSON_KEY(j, "magnitude");
    web_json_double(j, have_details ? d->magnitude : NAN);
    WEB_JSON_KEY(j, "phase");
    web_json_double(j, have_details ? d->phase : NAN);
    WEB_JSON_KEY(j, "elongation");
    web_json_double(j, have_details ? d->elongation_deg : NAN);
    WEB_JSON_KEY(j, "constellation");
    if (have_details)
        web_json_cstring(j, d->constellation);
    else
        web_json_null(j);
    WEB_JSON_KEY(j, "constellation_name");
    if (have_details)
        web_json_cstring(j, d->constellation_name);
    else
        web_json_null(j);
    static const struct astro_time none = {.jd_ut1 = NAN};
    bool have_events = info->events_rc >= 0;
    app_render_event(j, "rise", have_events ? &info->events.rise : &none);
    app_render_event(j, "transit", have_events ? &info->events.transit : &none);
    app_render_event(j, "set", have_events ? &info->events.set : &none);
    WEB_JSON_KEY(j, "status");
    web_json_cstring(j, have_events ? astro_rise_status_name(info->events.status)
                                    : "outside_ephemeris_range");
    if (vis != NULL) {
        WEB_JSON_KEY(j, "visibility");
        web_json_object_begin(j);
        WEB_JSON_KEY(j, "verdict");
        web_json_cstring(j, app_verdict_name(vis->verdict));
        WEB_JSON_KEY(j, "reason");
        web_json_cstring(j, vis->reason);
        web_json_object_end(j);
    }
}

static void render_observer(struct web_json *j, const struct app_observer *obs)
{
    WEB_JSON_KEY(j, "observer");
    web_json_object_begin(j);
    WEB_JSON_KEY(j, "lat");
    web_json_double(j, obs->astro.lat_deg);
    WEB_JSON_KEY(j, "lon");
    web_json_double(j, obs->astro.lon_deg);
    WEB_JSON_KEY(j, "elevation");
    web_json_double(j, obs->astro.elev_m);
    WEB_JSON_KEY(j, "pressure");
    web_json_double(j, obs->astro.pressure_hpa);
    WEB_JSON_KEY(j, "temperature");
    web_json_double(j, obs->astro.temp_c);
    WEB_JSON_KEY(j, "horizon_deg");
    web_json_double(j, obs->horizon_deg);
    WEB_JSON_KEY(j, "source");
    web_json_cstring(j, obs->source);
    web_json_object_end(j);
}

void app_render_context(struct web_json *j, const struct app_state *st,
                        const struct app_observer *obs, const struct astro_time *t)
{
    char iso[40];
    astro_time_format_iso(t, iso);
    WEB_JSON_KEY(j, "time");
    web_json_cstring(j, iso);
    WEB_JSON_KEY(j, "timescale");
    web_json_cstring(j, astro_timescale_name(t->scale));
    WEB_JSON_KEY(j, "jd_ut1");
    web_json_double(j, t->jd_ut1);
    WEB_JSON_KEY(j, "deltat_s");
    web_json_double(j, app_round_us(t->deltat_s));
    app_render_eop(j, st->astro, t);
    WEB_JSON_KEY(j, "ephemeris");
    web_json_cstring(j, astro_ctx_ephemeris(st->astro));
    render_observer(j, obs);
}

void app_render_sky_from(struct web_json *j, const struct app_state *st,
                         const struct app_observer *obs, const struct astro_time *t,
                         unsigned bodies, const struct astro_position pos[ASTRO_BODY_COUNT],
                         const struct app_body_info info[ASTRO_BODY_COUNT])
{
    web_json_object_begin(j);
    app_render_context(j, st, obs, t);
    WEB_JSON_KEY(j, "bodies");
    web_json_array_begin(j);
    for (int b = 0; b < ASTRO_BODY_COUNT; b++) {
        if (!(bodies & (1u << b)))
            continue;
        struct app_visibility vis;
        app_visibility_judge((enum astro_body)b, pos[b].alt_deg, pos[ASTRO_SUN].alt_airless_deg,
                             obs->horizon_deg, &info[b], &vis);
        web_json_object_begin(j);
        app_render_body(j, (enum astro_body)b, &pos[b], &info[b], &vis);
        web_json_object_end(j);
    }
    web_json_array_end(j);
    web_json_object_end(j);
}

int app_render_sky(struct web_json *j, const struct app_state *st, const struct app_observer *obs,
                   const struct astro_time *t, unsigned bodies)
{
    /* One batch: sidereal time and the observer's vector once for all bodies. */
    struct astro_position pos[ASTRO_BODY_COUNT];
    int rc = astro_position_compute_all(st->astro, t, &obs->astro, pos);
    if (rc < 0)
        return rc;
    struct app_body_info info[ASTRO_BODY_COUNT];
    for (int b = 0; b < ASTRO_BODY_COUNT; b++) {
        if ((bodies & (1u << b)) &&
            (rc = app_body_info_get(st, (enum astro_body)b, t, &obs->astro, &info[b])) < 0)
            return rc;
    }
    app_render_sky_from(j, st, obs, t, bodies, pos, info);
    return 0;
}
