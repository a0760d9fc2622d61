/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * handlers_misc.c -- the page (GET /) and the health check (GET /healthz).
 */
#include "app/app.h"

int app_handle_index(struct web_ctx *ctx)
{
    return web_static_serve(ctx, PT_STR("index.html"));
}

int app_handle_openapi(struct web_ctx *ctx)
{
    return web_static_serve(ctx, PT_STR("openapi.json"));
}

int app_handle_healthz(struct web_ctx *ctx)
{
    const struct app_state *st = ctx->app_data;
    struct web_json j;
    web_json_begin(ctx, &j);
    web_json_object_begin(&j);
    WEB_JSON_KEY(&j, "status");
    web_json_cstring(&j, "ok");
    WEB_JSON_KEY(&j, "version");
    web_json_cstring(&j, APP_VERSION);
    WEB_JSON_KEY(&j, "ephemeris");
    web_json_cstring(&j, astro_ctx_ephemeris(st->astro));
    WEB_JSON_KEY(&j, "ephemeris_files");
    web_json_bool(&j, astro_ctx_has_files(st->astro));
    if (!astro_ctx_has_files(st->astro)) {
        WEB_JSON_KEY(&j, "warning");
        web_json_cstring(&j, "Swiss Ephemeris files not found: using the Moshier fallback "
                             "(errors up to a few arcseconds)");
    }
    WEB_JSON_KEY(&j, "uptime_s");
    web_json_double(&j, pt_clock_unix_s() - st->started_unix_s);
    WEB_JSON_KEY(&j, "connections");
    web_json_int(&j, (int64_t)http_server_connections(st->server));
    web_json_object_end(&j);
    web_header_add(ctx, "Cache-Control: no-store");
    return web_send_json(ctx, 200, &j);
}

/* Prometheus text exposition format, version 0.0.4. */
int app_handle_metrics(struct web_ctx *ctx)
{
    const struct app_state *st = ctx->app_data;
    struct pt_buf *b = &ctx->body;
    b->len = 0;
    pt_buf_appendf(b, "# HELP planettracker_responses_total Answers sent, by status class.\n"
                      "# TYPE planettracker_responses_total counter\n");
    for (int c = 1; c <= 5; c++)
        pt_buf_appendf(b, "planettracker_responses_total{class=\"%dxx\"} %llu\n", c,
                       (unsigned long long)web_app_responses(ctx->app, c));
    pt_buf_appendf(b,
                   "# HELP planettracker_connections Open client connections.\n"
                   "# TYPE planettracker_connections gauge\n"
                   "planettracker_connections %zu\n",
                   http_server_connections(st->server));
    struct live_stats ls;
    live_hub_stats(st->live, &ls);
    pt_buf_appendf(b,
                   "# HELP planettracker_live_subscribers Live push subscribers (SSE and "
                   "WebSocket).\n"
                   "# TYPE planettracker_live_subscribers gauge\n"
                   "planettracker_live_subscribers %zu\n"
                   "# HELP planettracker_live_ticks_total Push ticks run.\n"
                   "# TYPE planettracker_live_ticks_total counter\n"
                   "planettracker_live_ticks_total %llu\n"
                   "# HELP planettracker_live_messages_total Distinct messages serialized.\n"
                   "# TYPE planettracker_live_messages_total counter\n"
                   "planettracker_live_messages_total %llu\n"
                   "# HELP planettracker_live_deliveries_total Messages offered to "
                   "subscribers.\n"
                   "# TYPE planettracker_live_deliveries_total counter\n"
                   "planettracker_live_deliveries_total %llu\n"
                   "# HELP planettracker_live_dropped_total Older messages dropped for slow "
                   "readers.\n"
                   "# TYPE planettracker_live_dropped_total counter\n"
                   "planettracker_live_dropped_total %llu\n",
                   ls.subscribers, (unsigned long long)ls.ticks,
                   (unsigned long long)ls.messages, (unsigned long long)ls.deliveries,
                   (unsigned long long)ls.dropped);
    uint64_t hits, misses;
    microcache_stats(st->microcache, &hits, &misses);
    pt_buf_appendf(b,
                   "# HELP planettracker_microcache_hits_total Answers reused within their "
                   "millisecond.\n"
                   "# TYPE planettracker_microcache_hits_total counter\n"
                   "planettracker_microcache_hits_total %llu\n"
                   "# HELP planettracker_microcache_misses_total Answers computed.\n"
                   "# TYPE planettracker_microcache_misses_total counter\n"
                   "planettracker_microcache_misses_total %llu\n",
                   (unsigned long long)hits, (unsigned long long)misses);
    pt_buf_appendf(b,
                   "# HELP planettracker_ephemeris_files 1 if the Swiss Ephemeris files are "
                   "used, 0 on the Moshier fallback.\n"
                   "# TYPE planettracker_ephemeris_files gauge\n"
                   "planettracker_ephemeris_files %d\n"
                   "# HELP planettracker_uptime_seconds Seconds since the start.\n"
                   "# TYPE planettracker_uptime_seconds gauge\n"
                   "planettracker_uptime_seconds %.3f\n",
                   astro_ctx_has_files(st->astro) ? 1 : 0,
                   pt_clock_unix_s() - st->started_unix_s);
    web_header_add(ctx, "Cache-Control: no-store");
    return web_send(ctx, 200, "text/plain; version=0.0.4; charset=utf-8");
}
