/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * handlers_misc.c -- the page (GET /) and the health check (GET /healthz).
 */
#include <unistd.h>

#include "app/app.h"
#include "store/store.h"

/*
 * The page, with the sky it will show first inlined (a JSON data block, not a
 * script: the CSP allows it), so the first paint has real data without a
 * second round trip: the observer and time of the page's own URL (?lat=&lon=,
 * ?time=) or the session's, else Greenwich, now. Bad parameters: the plain page
 * (it says what is wrong itself).
 */
int app_handle_index(struct web_ctx *ctx)
{
    const struct app_state *st = ctx->app_data;
    struct app_observer obs;
    struct astro_time t;
    struct pt_buf json;
    pt_buf_init(&json, 1 << 20);
    struct web_json j;
    web_json_init(&j, &json);
    bool have = app_sky_from_request(ctx, &obs, &t) == 0 &&
                app_render_sky(&j, st, &obs, &t, APP_ALL_BODIES, NULL) == 0 && web_json_finish(&j) == 0;
    memset(&ctx->error, 0, sizeof(ctx->error)); /* a refused parameter is not this answer's */
    struct pt_buf block;
    pt_buf_init(&block, 1 << 20);
    if (have) {
        static const char open_tag[] = "<script type=\"application/json\" id=\"pt-first-snapshot\">";
        pt_buf_append(&block, open_tag, sizeof(open_tag) - 1);
        /* "<" never appears raw inside the block: no "</script>" can end it early. */
        for (size_t i = 0; i < json.len; i++) {
            if (json.data[i] == '<')
                pt_buf_append(&block, "\\u003c", 6);
            else
                pt_buf_append(&block, json.data + i, 1);
        }
        pt_buf_append(&block, "</script>\n  ", 12);
    }
    int rc = web_static_serve_with(ctx, PT_STR("index.html"), PT_STR("<script"),
                                   pt_buf_str(&block));
    pt_buf_deinit(&block);
    pt_buf_deinit(&json);
    return rc;
}

/* The service worker must come from the root to control the page (its scope is its path). */
int app_handle_service_worker(struct web_ctx *ctx)
{
    return web_static_serve(ctx, PT_STR("sw.js"));
}

int app_handle_manifest(struct web_ctx *ctx)
{
    return web_static_serve(ctx, PT_STR("manifest.webmanifest"));
}

int app_handle_openapi(struct web_ctx *ctx)
{
    const struct app_state *st = ctx->app_data;
    web_header_add(ctx, "Cache-Control: public, max-age=300");
    ctx->cache_control_set = true;
    return web_send_maybe_gzip(ctx, 200, "application/json", st->openapi, st->openapi_gz);
}

int app_handle_healthz(struct web_ctx *ctx)
{
    const struct app_state *st = ctx->app_data;
    struct web_json j;
    web_json_begin(ctx, &j);
    web_json_object_begin(&j);
    struct store_stats ss;
    store_stats(st->store, &ss);
    bool ok = astro_ctx_has_files(st->astro) && app_eop_health(st, NULL) && ss.available &&
              app_fanout_health(st->fanout, NULL) && !st->supervisor_degraded;
    WEB_JSON_KEY(&j, "status");
    web_json_cstring(&j, ok ? "ok" : "degraded");
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
    WEB_JSON_KEY(&j, "pid");
    web_json_int(&j, (int64_t)getpid());
    WEB_JSON_KEY(&j, "worker");
    web_json_cstring(&j, st->worker_id); /* "generation.slot", null for a single process */
    if (st->worker_id != NULL) {
        WEB_JSON_KEY(&j, "supervisor");
        web_json_cstring(&j, st->supervisor_degraded ? "degraded: a worker failed at boot "
                                                       "twice and is not restarted"
                                                     : "ok");
    }
    WEB_JSON_KEY(&j, "uptime_s");
    web_json_double(&j, pt_clock_unix_s() - st->started_unix_s);
    WEB_JSON_KEY(&j, "connections");
    web_json_int(&j, (int64_t)http_server_connections(st->server));
    app_eop_health(st, &j);
    app_fanout_health(st->fanout, &j);
    WEB_JSON_KEY(&j, "store");
    web_json_object_begin(&j);
    WEB_JSON_KEY(&j, "engine");
    web_json_cstring(&j, ss.engine);
    WEB_JSON_KEY(&j, "available");
    web_json_bool(&j, ss.available);
    WEB_JSON_KEY(&j, "connections");
    web_json_int(&j, (int64_t)ss.connections);
    WEB_JSON_KEY(&j, "queued");
    web_json_int(&j, (int64_t)ss.queued);
    WEB_JSON_KEY(&j, "last_error");
    web_json_cstring(&j, ss.last_error[0] != '\0' ? ss.last_error : NULL);
    web_json_object_end(&j);
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
    app_fanout_metrics(st->fanout, b);
    /* Under a master: this worker's figures first (fresh), then every worker's. */
    app_worker_metrics_publish(st->shared_metrics, st, ctx->app);
    app_worker_metrics_render(st->shared_metrics, b);
    struct store_stats ss;
    store_stats(st->store, &ss);
    pt_buf_appendf(b,
                   "# HELP planettracker_store_operations_total Data-store operations finished "
                   "(failed: the store failed or was unavailable).\n"
                   "# TYPE planettracker_store_operations_total counter\n"
                   "planettracker_store_operations_total{engine=\"%s\"} %llu\n"
                   "planettracker_store_operations_failed_total{engine=\"%s\"} %llu\n"
                   "# HELP planettracker_store_available Whether the data store can serve now.\n"
                   "# TYPE planettracker_store_available gauge\n"
                   "planettracker_store_available %d\n"
                   "# HELP planettracker_store_queued Store operations waiting now.\n"
                   "# TYPE planettracker_store_queued gauge\n"
                   "planettracker_store_queued %zu\n"
                   "# HELP planettracker_store_commits_total SQLite write transactions (a group "
                   "commit counts once).\n"
                   "# TYPE planettracker_store_commits_total counter\n"
                   "planettracker_store_commits_total %llu\n"
                   "# HELP planettracker_store_reconnects_total PostgreSQL connections made again "
                   "after a loss.\n"
                   "# TYPE planettracker_store_reconnects_total counter\n"
                   "planettracker_store_reconnects_total %llu\n",
                   ss.engine, (unsigned long long)ss.ops, ss.engine,
                   (unsigned long long)ss.failed, ss.available ? 1 : 0, ss.queued,
                   (unsigned long long)ss.commits, (unsigned long long)ss.reconnects);
    uint64_t sc_hits = 0, sc_misses = 0;
    if (st->site_cache != NULL)
        app_site_cache_stats(st->site_cache, &sc_hits, &sc_misses);
    pt_buf_appendf(b,
                   "# HELP planettracker_site_cache_total site= lookups answered from the "
                   "cache (hit) or the store (miss).\n"
                   "# TYPE planettracker_site_cache_total counter\n"
                   "planettracker_site_cache_total{result=\"hit\"} %llu\n"
                   "planettracker_site_cache_total{result=\"miss\"} %llu\n",
                   (unsigned long long)sc_hits, (unsigned long long)sc_misses);
    struct live_owners_stats os = {0};
    if (st->owners != NULL)
        live_owners_stats(st->owners, &os);
    pt_buf_appendf(b,
                   "# HELP planettracker_live_owners Owners with an open stream (their saved "
                   "sites are pushed to it).\n"
                   "# TYPE planettracker_live_owners gauge\n"
                   "planettracker_live_owners %zu\n"
                   "# HELP planettracker_live_sites_pushes_total Lists of saved sites sent to "
                   "streams.\n"
                   "# TYPE planettracker_live_sites_pushes_total counter\n"
                   "planettracker_live_sites_pushes_total %llu\n"
                   "# HELP planettracker_live_sites_reads_total Lists of saved sites read for "
                   "streams (failed: the store did not answer).\n"
                   "# TYPE planettracker_live_sites_reads_total counter\n"
                   "planettracker_live_sites_reads_total %llu\n"
                   "planettracker_live_sites_reads_failed_total %llu\n",
                   os.owners, (unsigned long long)os.pushes, (unsigned long long)os.reads,
                   (unsigned long long)os.failed);
    pt_buf_appendf(b,
                   "# HELP planettracker_connections Open client connections.\n"
                   "# TYPE planettracker_connections gauge\n"
                   "planettracker_connections %zu\n",
                   http_server_connections(st->server));
    struct http_server_stats hs;
    http_server_stats(st->server, &hs);
    pt_buf_appendf(b,
                   "# HELP planettracker_connections_accepted_total Connections accepted.\n"
                   "# TYPE planettracker_connections_accepted_total counter\n"
                   "planettracker_connections_accepted_total %llu\n"
                   "# HELP planettracker_connections_refused_total Connections refused, by "
                   "reason: capacity (503), per-address limit (429), out of file descriptors "
                   "(EMFILE: closed unanswered).\n"
                   "# TYPE planettracker_connections_refused_total counter\n"
                   "planettracker_connections_refused_total{reason=\"capacity\"} %llu\n"
                   "planettracker_connections_refused_total{reason=\"peer_limit\"} %llu\n"
                   "planettracker_connections_refused_total{reason=\"emfile\"} %llu\n"
                   "# HELP planettracker_requests_aborted_total Requests whose client went away "
                   "before the answer.\n"
                   "# TYPE planettracker_requests_aborted_total counter\n"
                   "planettracker_requests_aborted_total %llu\n",
                   (unsigned long long)hs.accepted, (unsigned long long)hs.refused_capacity,
                   (unsigned long long)hs.refused_peer, (unsigned long long)hs.refused_emfile,
                   (unsigned long long)hs.aborted);
    struct web_app_stats ws;
    web_app_stats(ctx->app, &ws);
    pt_buf_appendf(b,
                   "# HELP planettracker_executor_running Slow requests running on the thread "
                   "pool.\n"
                   "# TYPE planettracker_executor_running gauge\n"
                   "planettracker_executor_running %zu\n"
                   "# HELP planettracker_executor_queued Slow requests waiting for a thread.\n"
                   "# TYPE planettracker_executor_queued gauge\n"
                   "planettracker_executor_queued %zu\n"
                   "# HELP planettracker_executor_jobs_total Slow requests run.\n"
                   "# TYPE planettracker_executor_jobs_total counter\n"
                   "planettracker_executor_jobs_total %llu\n"
                   "# HELP planettracker_executor_refused_total Slow requests refused (503 "
                   "total cap, 429 per-client cap).\n"
                   "# TYPE planettracker_executor_refused_total counter\n"
                   "planettracker_executor_refused_total %llu\n"
                   "# HELP planettracker_executor_abandoned_total Slow requests whose client "
                   "left first.\n"
                   "# TYPE planettracker_executor_abandoned_total counter\n"
                   "planettracker_executor_abandoned_total %llu\n"
                   "# HELP planettracker_streams_refused_total Live streams refused over the "
                   "per-client limit.\n"
                   "# TYPE planettracker_streams_refused_total counter\n"
                   "planettracker_streams_refused_total %llu\n"
                   "# HELP planettracker_origin_refused_total State-changing requests refused "
                   "for a foreign Origin.\n"
                   "# TYPE planettracker_origin_refused_total counter\n"
                   "planettracker_origin_refused_total %llu\n",
                   ws.executor_running, ws.executor_queued,
                   (unsigned long long)ws.executor_jobs, (unsigned long long)ws.executor_refused,
                   (unsigned long long)ws.executor_abandoned,
                   (unsigned long long)ws.streams_refused, (unsigned long long)ws.origin_refused);
    struct live_stats ls;
    live_hub_stats(st->live, &ls);
    pt_buf_appendf(b,
                   "# HELP planettracker_live_subscribers Live push subscribers (SSE and "
                   "WebSocket).\n"
                   "# TYPE planettracker_live_subscribers gauge\n"
                   "planettracker_live_subscribers %zu\n"
                   "# HELP planettracker_live_pending Subscribers waiting for their next "
                   "message.\n"
                   "# TYPE planettracker_live_pending gauge\n"
                   "planettracker_live_pending %zu\n"
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
                   "planettracker_live_dropped_total %llu\n"
                   "# HELP planettracker_live_rounds_total Message build rounds run off the "
                   "loop.\n"
                   "# TYPE planettracker_live_rounds_total counter\n"
                   "planettracker_live_rounds_total %llu\n"
                   "# HELP planettracker_live_deferred_total Message groups left to a later "
                   "round by the time budget.\n"
                   "# TYPE planettracker_live_deferred_total counter\n"
                   "planettracker_live_deferred_total %llu\n"
                   "# HELP planettracker_live_build_seconds_total Worker time spent building "
                   "messages.\n"
                   "# TYPE planettracker_live_build_seconds_total counter\n"
                   "planettracker_live_build_seconds_total %.6f\n"
                   "# HELP planettracker_live_observe_refused_total WebSocket observe messages "
                   "over the per-second cap.\n"
                   "# TYPE planettracker_live_observe_refused_total counter\n"
                   "planettracker_live_observe_refused_total %llu\n"
                   "# HELP planettracker_live_observers_cached Observers whose next events "
                   "are remembered.\n"
                   "# TYPE planettracker_live_observers_cached gauge\n"
                   "planettracker_live_observers_cached %zu\n",
                   ls.subscribers, ls.pending, (unsigned long long)ls.ticks,
                   (unsigned long long)ls.messages, (unsigned long long)ls.deliveries,
                   (unsigned long long)ls.dropped, (unsigned long long)ls.rounds,
                   (unsigned long long)ls.deferred, (double)ls.build_us / 1e6,
                   (unsigned long long)ls.observe_refused, ls.events_cached);
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
    app_eop_metrics(st, b);
    web_header_add(ctx, "Cache-Control: no-store");
    return web_send(ctx, 200, "text/plain; version=0.0.4; charset=utf-8");
}
