/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * handlers_events.c -- GET /planets/{name}/events?days=N: rise, transit and
 * set for each of N days (1..366), computed on the executor so the loop keeps
 * serving while a long range is searched.
 */
#include <math.h>
#include <stdio.h>

#include "app/app.h"

struct events_job {
    const struct app_state *st;  /* borrowed; outlives every request */
    enum astro_body body;
    struct app_observer obs;
    struct astro_time start;
    int days;
    int rc;                      /* astro result, written by the worker */
    struct astro_riseset *out;   /* days entries, in the request arena */
};

/* Worker thread: the astro layer is thread-safe; nothing else is touched. */
static void compute_events(void *data)
{
    struct events_job *job = data;
    job->rc = astro_events_range(job->st->astro, job->body, &job->start, job->days,
                                 &job->obs.astro, job->out);
}

/* Loop thread: the answer. */
static int answer_events(struct web_ctx *ctx, void *data)
{
    struct events_job *job = data;
    if (job->rc == PT_E_RANGE)
        return web_error(ctx, 400, "out_of_range",
                         "the requested days leave the ephemeris range");
    if (job->rc < 0)
        return web_error(ctx, 500, "ephemeris_error", "the event search failed");
    struct web_json j;
    web_json_begin(ctx, &j);
    web_json_object_begin(&j);
    WEB_JSON_KEY(&j, "name");
    web_json_cstring(&j, astro_body_name(job->body));
    WEB_JSON_KEY(&j, "days");
    web_json_int(&j, job->days);
    WEB_JSON_KEY(&j, "conventions");
    web_json_cstring(&j, "USNO: upper limb (Sun, Moon) or centre (planets), 34' refraction");
    app_render_context(&j, job->st, &job->obs, &job->start, NULL);
    WEB_JSON_KEY(&j, "events");
    web_json_array_begin(&j);
    for (int i = 0; i < job->days; i++) {
        struct astro_time day = job->start;
        day.unix_s += 86400.0 * i;
        char iso[40];
        astro_time_format_iso(&day, iso);
        iso[10] = '\0';
        web_json_object_begin(&j);
        WEB_JSON_KEY(&j, "date");
        web_json_cstring(&j, iso);
        app_render_event(&j, "rise", &job->out[i].rise);
        app_render_event(&j, "transit", &job->out[i].transit);
        app_render_event(&j, "set", &job->out[i].set);
        WEB_JSON_KEY(&j, "status");
        web_json_cstring(&j, astro_rise_status_name(job->out[i].status));
        web_json_object_end(&j);
    }
    web_json_array_end(&j);
    web_json_object_end(&j);
    return web_send_json(ctx, 200, &j);
}

int app_handle_events(struct web_ctx *ctx)
{
    const struct app_state *st = ctx->app_data;
    struct pt_str name = web_param(ctx, "name");
    int body = astro_body_from_name(name);
    if (body < 0)
        return web_error(ctx, 404, "unknown_body", "no body named \"%.*s\"",
                         (int)PT_MIN(name.len, 64), name.ptr);
    struct events_job *job = pt_arena_alloc(ctx->arena, sizeof(*job));
    memset(job, 0, sizeof(*job));
    job->st = st;
    job->body = (enum astro_body)body;
    struct astro_time t;
    int rc = app_sky_from_request(ctx, &job->obs, &t);
    if (rc != 0)
        return rc;
    const struct web_form *q;
    if ((rc = web_query(ctx, &q)) != 0)
        return rc;
    double days = 1;
    const struct pt_str *d = web_form_get(q, PT_STR("days"));
    if (d != NULL && (rc = app_parse_number(ctx, "days", *d, 1, ASTRO_EVENTS_MAX_DAYS, "days",
                                            &days)) != 0)
        return rc;
    if (days != floor(days))
        return web_error_param(ctx, 400, "days", 1, ASTRO_EVENTS_MAX_DAYS, "days",
                               "days must be a whole number from 1 to %d", ASTRO_EVENTS_MAX_DAYS);
    job->days = (int)days;
    /* Days run from 0 h UTC of the requested (or current) date. */
    double midnight = floor(t.unix_s / 86400.0) * 86400.0;
    if (astro_time_from_unix(st->astro, midnight, &job->start) < 0)
        return web_error(ctx, 400, "out_of_range", "the date is outside the ephemeris range");
    job->out = pt_arena_alloc(ctx->arena, sizeof(*job->out) * (size_t)job->days);
    return web_executor_run(ctx, compute_events, answer_events, job);
}
