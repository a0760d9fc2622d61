/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * render.c -- the JSON shapes of positions, shared by GET /planets/{name},
 * GET /planets and the live push (SSE and WebSocket), so every channel
 * speaks the same fields.
 */
#include <math.h>

#include "app/app.h"

/* A name of the program's own tables (a body, a status, a verdict): plain ASCII. */
static void render_name(struct web_json *j, const char *name)
{
    if (name == NULL)
        web_json_null(j);
    else
        web_json_string_plain(j, name, strlen(name));
}

void app_render_event(struct web_json *j, const char *key, const struct astro_time *t)
{
    web_json_key(j, key);
    if (!isfinite(t->jd_ut1)) {
        web_json_null(j);
        return;
    }
    char iso[40];
    size_t n = astro_time_format_iso(t, iso);
    web_json_string_plain(j, iso, n); /* digits and "-T:.Z" */
}

int app_body_info_get(const struct app_state *st, struct app_instant *in, enum astro_body body,
                      const struct astro_time *t, const struct astro_observer *obs,
                      struct app_body_info *out)
{
    /*
     * Near the ends of the ephemeris range the position exists but the search
     * window of the next events (or a cache step) does not: those fields become
     * null rather than the whole answer failing.
     */
    app_instant_details(in, st->astro, body, t, out);
    if (out->details_rc < 0 && out->details_rc != PT_E_RANGE)
        return out->details_rc;
    out->events_rc =
        st->riseset != NULL
            ? riseset_cache_get(st->riseset, st->astro, body, t, obs, &out->events, &out->texts)
            : astro_riseset_next(st->astro, body, t, obs, &out->events);
    if (st->riseset == NULL)
        memset(&out->texts, 0, sizeof(out->texts));
    if (out->events_rc < 0 && out->events_rc != PT_E_RANGE)
        return out->events_rc;
    return 0;
}

/*
 * The members of a body are written straight into the answer (web_json_members_open):
 * their keys are literals and their strings come from the program's tables (body,
 * status and constellation names: printable UTF-8 without '"' or '\\', checked by
 * tests/unit/app), so the output is what the checked writer would produce, without
 * its per-call work on the 20-odd members of every body of every answer.
 */
/* The longest table name put_name writes (constellation names: 20 bytes). */
#define APP_NAME_ROOM 48
/* Room for the members put_details writes: five keys, three numbers, two names. */
#define DETAILS_ROOM (100 + 3 * WEB_JSON_DOUBLE_MAX + 2 * (APP_NAME_ROOM + 2))

static char *put_lit(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

#define LIT(p, s) put_lit((p), "" s "", sizeof(s) - 1)

/* A double as web_json_double writes it; p has WEB_JSON_DOUBLE_MAX bytes of room. */
static char *put_num(char *p, double v)
{
    return p + web_json_format_double(v, p);
}

/* A member `key` (a literal with its quotes, colon and any leading comma) holding v. */
#define NUM(p, key, v) put_num(LIT((p), key), (v))

/* A quoted table name, or null; the room is the caller's. */
static char *put_name(char *p, const char *s)
{
    if (s == NULL)
        return LIT(p, "null");
    size_t n = PT_MIN(strlen(s), (size_t)APP_NAME_ROOM); /* all fit: tests/unit/app */
    *p++ = '"';
    p = put_lit(p, s, n);
    *p++ = '"';
    return p;
}

/*
 * An event time as ISO 8601 UTC in quotes, or null when it does not happen; event i
 * of tx is its ISO form when already known (kept with the events: tx->len[i] > 0).
 */
static char *put_event(char *p, const struct astro_time *t, const struct app_event_texts *tx, int i)
{
    if (!isfinite(t->jd_ut1))
        return LIT(p, "null");
    *p++ = '"';
    if (tx->len[i] > 0) {
        p = put_lit(p, tx->iso[i], PT_MIN(tx->len[i], APP_ISO_ROOM - 1));
    } else {
        p += astro_time_format_iso(t, p);
    }
    *p++ = '"';
    return p;
}

/*
 * Whether the visibility reason (text visibility.c composes from its own phrases and
 * numbers) can go into the answer as it is: printable ASCII without '"' or '\\', and
 * whole degree signs (C2 B0). *len is its length. Anything else (a phrase cut at the
 * end of the room) goes through the checked writer.
 */
static bool reason_is_plain(const char *s, size_t cap, size_t *len)
{
    size_t n = strnlen(s, cap);
    if (n == cap)
        return false;
    /* Eight bytes at a time while none is below 0x20, above 0x7e, '"' or '\\'. */
    const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w, q, b;
        memcpy(&w, s + i, 8);
        q = w ^ (ones * '"');
        b = w ^ (ones * '\\');
        if ((((w - ones * 0x20) | (w + ones) | (q - ones) | (b - ones) | w) & high) != 0)
            break;
    }
    for (; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] == 0xb0) {
            i++;
            continue;
        }
        if (c < 0x20 || c > 0x7e || c == '"' || c == '\\')
            return false;
    }
    *len = n;
    return true;
}

static char *put_details(char *p, const struct app_body_info *info)
{
    const struct astro_details *d = &info->details;
    if (info->details_rc < 0)
        return LIT(p, "\"magnitude\":null,\"phase\":null,\"elongation\":null,"
                      "\"constellation\":null,\"constellation_name\":null");
    p = NUM(p, "\"magnitude\":", d->magnitude);
    p = NUM(p, ",\"phase\":", d->phase);
    p = NUM(p, ",\"elongation\":", d->elongation_deg);
    p = LIT(p, ",\"constellation\":");
    p = put_name(p, d->constellation);
    p = LIT(p, ",\"constellation_name\":");
    return put_name(p, d->constellation_name);
}

void app_render_details_members(struct web_json *j, const struct app_body_info *info)
{
    char *p = web_json_members_open(j, DETAILS_ROOM);
    if (p != NULL)
        web_json_members_commit(j, put_details(p, info));
}

void app_render_body(struct web_json *j, enum astro_body body, const struct astro_position *p,
                     const struct app_body_info *info, const struct app_visibility *vis)
{
    /* Six numbers, three times, two names, the details: well within this. */
    size_t room = 200 + 6 * WEB_JSON_DOUBLE_MAX + 3 * 42 + 3 * (APP_NAME_ROOM + 2) +
                  PT_MAX(DETAILS_ROOM, info->details_json.len) + sizeof(vis->reason) + 40;
    char *w = web_json_members_open(j, room);
    if (w == NULL)
        return;
    w = LIT(w, "\"name\":");
    w = put_name(w, astro_body_name(body));
    w = NUM(w, ",\"az\":", p->az_deg);
    w = NUM(w, ",\"alt\":", p->alt_deg);
    w = NUM(w, ",\"alt_airless\":", p->alt_airless_deg);
    w = NUM(w, ",\"ra\":", p->ra_deg);
    w = NUM(w, ",\"dec\":", p->dec_deg);
    w = NUM(w, ",\"distance_au\":", p->distance_au);
    w = p->alt_deg > 0 ? LIT(w, ",\"above_horizon\":true,") : LIT(w, ",\"above_horizon\":false,");
    if (info->details_json.len > 0)
        w = put_lit(w, info->details_json.ptr, info->details_json.len);
    else
        w = put_details(w, info);
    static const struct astro_time none = {.jd_ut1 = NAN};
    bool have_events = info->events_rc >= 0;
    const struct app_event_texts *tx = &info->texts;
    w = LIT(w, ",\"rise\":");
    w = put_event(w, have_events ? &info->events.rise : &none, tx, 0);
    w = LIT(w, ",\"transit\":");
    w = put_event(w, have_events ? &info->events.transit : &none, tx, 1);
    w = LIT(w, ",\"set\":");
    w = put_event(w, have_events ? &info->events.set : &none, tx, 2);
    w = LIT(w, ",\"status\":");
    w = put_name(w, have_events ? astro_rise_status_name(info->events.status)
                                : "outside_ephemeris_range");
    size_t reason_len;
    if (vis != NULL && reason_is_plain(vis->reason, sizeof(vis->reason), &reason_len)) {
        w = LIT(w, ",\"visibility\":{\"verdict\":");
        w = put_name(w, app_verdict_name(vis->verdict));
        w = LIT(w, ",\"reason\":\"");
        w = put_lit(w, vis->reason, reason_len);
        w = LIT(w, "\"}");
        vis = NULL;
    }
    web_json_members_commit(j, w);
    if (vis != NULL) {
        /* The reason is free text: through the checked writer. */
        WEB_JSON_KEY(j, "visibility");
        web_json_object_begin(j);
        WEB_JSON_KEY(j, "verdict");
        render_name(j, app_verdict_name(vis->verdict));
        WEB_JSON_KEY(j, "reason");
        web_json_cstring(j, vis->reason);
        web_json_object_end(j);
    }
}

void app_render_observer(struct web_json *j, const struct app_observer *obs)
{
    char *w = web_json_members_open(j, 120 + 6 * WEB_JSON_DOUBLE_MAX + APP_NAME_ROOM + 2);
    if (w == NULL)
        return;
    w = NUM(w, "\"observer\":{\"lat\":", obs->astro.lat_deg);
    w = NUM(w, ",\"lon\":", obs->astro.lon_deg);
    w = NUM(w, ",\"elevation\":", obs->astro.elev_m);
    w = NUM(w, ",\"pressure\":", obs->astro.pressure_hpa);
    w = NUM(w, ",\"temperature\":", obs->astro.temp_c);
    w = NUM(w, ",\"horizon_deg\":", obs->horizon_deg);
    w = LIT(w, ",\"source\":");
    w = put_name(w, obs->source); /* "query", "session", "site", "default" */
    *w++ = '}';
    web_json_members_commit(j, w);
}

void app_render_instant_members(struct web_json *j, const struct app_state *st,
                                const struct astro_time *t)
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
}

void app_render_context(struct web_json *j, const struct app_state *st,
                        const struct app_observer *obs, const struct astro_time *t,
                        struct app_instant *in)
{
    struct pt_str shared = app_instant_context(in, t);
    if (shared.len > 0)
        web_json_members_raw(j, shared);
    else
        app_render_instant_members(j, st, t);
    struct pt_str observer = app_instant_observer(in, obs);
    if (observer.len > 0)
        web_json_members_raw(j, observer);
    else
        app_render_observer(j, obs);
}

void app_render_sky_from(struct web_json *j, const struct app_state *st,
                         const struct app_observer *obs, const struct astro_time *t,
                         unsigned bodies, const struct astro_position pos[ASTRO_BODY_COUNT],
                         const struct app_body_info info[ASTRO_BODY_COUNT],
                         struct app_instant *in)
{
    web_json_object_begin(j);
    app_render_context(j, st, obs, t, in);
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
                   const struct astro_time *t, unsigned bodies, struct app_instant *in)
{
    /* One batch: sidereal time and the observer's vector once for all bodies. */
    struct astro_position pos[ASTRO_BODY_COUNT];
    int rc = app_instant_positions(in, st, t, &obs->astro, pos);
    if (rc < 0)
        return rc;
    struct app_body_info info[ASTRO_BODY_COUNT];
    for (int b = 0; b < ASTRO_BODY_COUNT; b++) {
        if ((bodies & (1u << b)) &&
            (rc = app_body_info_get(st, in, (enum astro_body)b, t, &obs->astro, &info[b])) < 0)
            return rc;
    }
    app_render_sky_from(j, st, obs, t, bodies, pos, info, in);
    return 0;
}
