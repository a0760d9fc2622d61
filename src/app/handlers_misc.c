/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * handlers_misc.c -- the page (GET /) and the health check (GET /healthz).
 */
#include "app/app.h"

int app_handle_index(struct web_ctx *ctx)
{
    return web_static_serve(ctx, PT_STR("index.html"));
}

int app_handle_healthz(struct web_ctx *ctx)
{
    const struct app_state *st = ctx->app_data;
    struct web_json j;
    web_json_begin(ctx, &j);
    web_json_object_begin(&j);
    web_json_key(&j, "status");
    web_json_cstring(&j, "ok");
    web_json_key(&j, "version");
    web_json_cstring(&j, APP_VERSION);
    web_json_key(&j, "ephemeris");
    web_json_cstring(&j, astro_ctx_ephemeris(st->astro));
    web_json_key(&j, "ephemeris_files");
    web_json_bool(&j, astro_ctx_has_files(st->astro));
    if (!astro_ctx_has_files(st->astro)) {
        web_json_key(&j, "warning");
        web_json_cstring(&j, "Swiss Ephemeris files not found: using the Moshier fallback "
                             "(errors up to a few arcseconds)");
    }
    web_json_key(&j, "uptime_s");
    web_json_double(&j, pt_clock_unix_s() - st->started_unix_s);
    web_json_key(&j, "connections");
    web_json_int(&j, (int64_t)http_server_connections(st->server));
    web_json_object_end(&j);
    web_header_add(ctx, "Cache-Control: no-store");
    return web_send_json(ctx, 200, &j);
}
