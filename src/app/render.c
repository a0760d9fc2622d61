/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * render.c -- the JSON shapes of positions, shared by GET /planets/{name},
 * GET /planets and the live push (SSE and WebSocket), so every channel
 * speaks the same fields.
 */
#include "app/app.h"

void app_render_body(struct web_json *j, enum astro_body body, const struct astro_position *p)
{
    web_json_key(j, "name");
    web_json_cstring(j, astro_body_name(body));
    web_json_key(j, "az");
    web_json_double(j, p->az_deg);
    web_json_key(j, "alt");
    web_json_double(j, p->alt_deg);
    web_json_key(j, "alt_airless");
    web_json_double(j, p->alt_airless_deg);
    web_json_key(j, "ra");
    web_json_double(j, p->ra_deg);
    web_json_key(j, "dec");
    web_json_double(j, p->dec_deg);
    web_json_key(j, "distance_au");
    web_json_double(j, p->distance_au);
    web_json_key(j, "above_horizon");
    web_json_bool(j, p->alt_deg > 0);
}

static void render_observer(struct web_json *j, const struct app_observer *obs)
{
    web_json_key(j, "observer");
    web_json_object_begin(j);
    web_json_key(j, "lat");
    web_json_double(j, obs->astro.lat_deg);
    web_json_key(j, "lon");
    web_json_double(j, obs->astro.lon_deg);
    web_json_key(j, "elevation");
    web_json_double(j, obs->astro.elev_m);
    web_json_key(j, "pressure");
    web_json_double(j, obs->astro.pressure_hpa);
    web_json_key(j, "temperature");
    web_json_double(j, obs->astro.temp_c);
    web_json_key(j, "source");
    web_json_cstring(j, obs->source);
    web_json_object_end(j);
}

void app_render_context(struct web_json *j, const struct app_state *st,
                        const struct app_observer *obs, const struct astro_time *t)
{
    char iso[40];
    astro_time_format_iso(t, iso);
    web_json_key(j, "time");
    web_json_cstring(j, iso);
    web_json_key(j, "timescale");
    web_json_cstring(j, astro_timescale_name(t->scale));
    web_json_key(j, "jd_ut1");
    web_json_double(j, t->jd_ut1);
    web_json_key(j, "deltat_s");
    web_json_double(j, t->deltat_s);
    web_json_key(j, "ephemeris");
    web_json_cstring(j, astro_ctx_ephemeris(st->astro));
    render_observer(j, obs);
}

int app_render_sky(struct web_json *j, const struct app_state *st, const struct app_observer *obs,
                   const struct astro_time *t, unsigned bodies)
{
    web_json_object_begin(j);
    app_render_context(j, st, obs, t);
    web_json_key(j, "bodies");
    web_json_array_begin(j);
    for (int b = 0; b < ASTRO_BODY_COUNT; b++) {
        if (!(bodies & (1u << b)))
            continue;
        struct astro_position pos;
        int rc = astro_position_compute(st->astro, (enum astro_body)b, t, &obs->astro, &pos);
        if (rc < 0)
            return rc;
        web_json_object_begin(j);
        app_render_body(j, (enum astro_body)b, &pos);
        web_json_object_end(j);
    }
    web_json_array_end(j);
    web_json_object_end(j);
    return 0;
}
