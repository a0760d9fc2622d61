/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * instant.c -- the parts of an answer that are the same for every observer at
 * one instant, computed and serialized once for all the answers at it.
 *
 * Answers about "now" are computed at the current millisecond (observer.c), so
 * under load the requests of one millisecond share an instant; so do all the
 * subscribers of one live tick. What they share: the time and provenance
 * members (time, timescale, jd_ut1, deltat_s, ut1_utc_s, polar_motion_as, eop,
 * ephemeris) and each body's magnitude, phase, elongation and constellation,
 * which are geocentric (astro_details_compute). Everything that depends on the
 * observer (position, events, visibility, the observer member) is computed for
 * each answer; the positions start from the instant's own part (astro_moment: the
 * frame of date, the Earth's place, the sidereal angle), also kept here. The bytes
 * are those the renderers would write (render.c builds both with the same
 * functions), so an answer is the same with or without this.
 *
 * One holder per rendering thread: the loop's in app_state, one per live round.
 * It also keeps the observer member of the last observer it rendered (a page or
 * a controller asks again for its place every few seconds): its bytes are the
 * same for the same six numbers and source.
 */
#include <stdlib.h>
#include <string.h>

#include "app/app.h"

/* Generous for the members above (about 260 and 130 bytes). */
#define CONTEXT_LIMIT 2048
#define DETAILS_LIMIT 1024

struct app_instant {
    bool valid;
    struct astro_time t;
    struct pt_buf context;    /* {"time":...,"ephemeris":"..."}, braces included */
    unsigned have;            /* bit b: body[b] holds b at t */
    struct {
        int rc;
        struct astro_details d;
        struct pt_buf json;   /* {"magnitude":...,"constellation_name":...} */
    } body[ASTRO_BODY_COUNT];
    bool have_moment;
    struct astro_moment *moment; /* set to t on first use */
    bool have_observer;
    double observer_key[6];   /* lat, lon, elevation, pressure, temperature, horizon */
    const char *observer_source;
    struct pt_buf observer;   /* {"observer":{...}} */
};

struct app_instant *app_instant_new(void)
{
    struct app_instant *in = pt_xcalloc(1, sizeof(*in));
    pt_buf_init(&in->context, CONTEXT_LIMIT);
    pt_buf_init(&in->observer, CONTEXT_LIMIT);
    for (int b = 0; b < ASTRO_BODY_COUNT; b++)
        pt_buf_init(&in->body[b].json, DETAILS_LIMIT);
    in->moment = astro_moment_new();
    return in;
}

void app_instant_free(struct app_instant *in)
{
    if (in == NULL)
        return;
    pt_buf_deinit(&in->context);
    pt_buf_deinit(&in->observer);
    for (int b = 0; b < ASTRO_BODY_COUNT; b++)
        pt_buf_deinit(&in->body[b].json);
    astro_moment_free(in->moment);
    free(in);
}

/* Field by field: NaN never matches, and padding is not compared. */
static bool same_instant(const struct astro_time *a, const struct astro_time *b)
{
    return a->jd_ut1 == b->jd_ut1 && a->jd_tt == b->jd_tt && a->deltat_s == b->deltat_s &&
           a->ut1_utc_s == b->ut1_utc_s && a->xp_as == b->xp_as && a->yp_as == b->yp_as &&
           a->eop == b->eop && a->unix_s == b->unix_s && a->scale == b->scale;
}

static bool holds(const struct app_instant *in, const struct astro_time *t)
{
    return in != NULL && in->valid && same_instant(&in->t, t);
}

/* The inside of a serialized object: its members without the braces. */
static struct pt_str members_of(const struct pt_buf *b)
{
    return b->len >= 2 ? pt_str_make(b->data + 1, b->len - 2) : PT_STR_NULL;
}

void app_instant_use(struct app_instant *in, const struct app_state *st,
                     const struct astro_time *t)
{
    if (holds(in, t))
        return;
    in->t = *t;
    in->have = 0;
    in->have_moment = false;
    in->context.len = 0;
    struct web_json j;
    web_json_init(&j, &in->context);
    web_json_object_begin(&j);
    app_render_instant_members(&j, st, t);
    web_json_object_end(&j);
    /* Only a whole serialization is kept; the renderers write it themselves otherwise. */
    if (web_json_finish(&j) != 0)
        in->context.len = 0;
    in->valid = true;
}

void app_instant_details(struct app_instant *in, const struct astro_ctx *astro,
                         enum astro_body body, const struct astro_time *t,
                         struct app_body_info *info)
{
    if (!holds(in, t)) {
        info->details_rc = astro_details_compute(astro, body, t, &info->details);
        info->details_json = PT_STR_NULL;
        return;
    }
    if (!(in->have & (1u << body))) {
        in->body[body].rc = astro_details_compute(astro, body, t, &in->body[body].d);
        struct pt_buf *b = &in->body[body].json;
        b->len = 0;
        struct app_body_info one = {.details_rc = in->body[body].rc, .details = in->body[body].d};
        struct web_json j;
        web_json_init(&j, b);
        web_json_object_begin(&j);
        app_render_details_members(&j, &one);
        web_json_object_end(&j);
        if (web_json_finish(&j) != 0)
            b->len = 0;
        in->have |= 1u << body;
    }
    info->details_rc = in->body[body].rc;
    info->details = in->body[body].d;
    info->details_json = members_of(&in->body[body].json);
}

/* The instant's astro_moment when `in` holds t, else NULL. */
static struct astro_moment *moment_of(struct app_instant *in, const struct app_state *st,
                                      const struct astro_time *t)
{
    if (!holds(in, t))
        return NULL;
    if (!in->have_moment) {
        (void)astro_moment_set(st->astro, t, in->moment); /* an error: it answers with it */
        in->have_moment = true;
    }
    return in->moment;
}

int app_instant_position(struct app_instant *in, const struct app_state *st, enum astro_body body,
                         const struct astro_time *t, const struct astro_observer *obs,
                         struct astro_position *out)
{
    struct astro_moment *m = moment_of(in, st, t);
    return m != NULL ? astro_position_compute_at(st->astro, m, body, obs, out)
                     : astro_position_compute(st->astro, body, t, obs, out);
}

int app_instant_positions(struct app_instant *in, const struct app_state *st,
                          const struct astro_time *t, const struct astro_observer *obs,
                          struct astro_position out[ASTRO_BODY_COUNT])
{
    struct astro_moment *m = moment_of(in, st, t);
    return m != NULL ? astro_position_compute_all_at(st->astro, m, obs, out)
                     : astro_position_compute_all(st->astro, t, obs, out);
}

struct pt_str app_instant_observer(struct app_instant *in, const struct app_observer *obs)
{
    if (in == NULL)
        return PT_STR_NULL;
    const double key[6] = {obs->astro.lat_deg,      obs->astro.lon_deg, obs->astro.elev_m,
                           obs->astro.pressure_hpa, obs->astro.temp_c,  obs->horizon_deg};
    /* Bit for bit: -0.0 and 0.0 are written differently. */
    if (in->have_observer && in->observer_source == obs->source &&
        memcmp(in->observer_key, key, sizeof(key)) == 0)
        return members_of(&in->observer);
    in->observer.len = 0;
    struct web_json j;
    web_json_init(&j, &in->observer);
    web_json_object_begin(&j);
    app_render_observer(&j, obs);
    web_json_object_end(&j);
    in->have_observer = web_json_finish(&j) == 0;
    if (!in->have_observer)
        return PT_STR_NULL;
    memcpy(in->observer_key, key, sizeof(key));
    in->observer_source = obs->source;
    return members_of(&in->observer);
}

struct pt_str app_instant_context(const struct app_instant *in, const struct astro_time *t)
{
    return holds(in, t) ? members_of(&in->context) : PT_STR_NULL;
}
