/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * routes.c -- PlanetTracker's route table and middleware chain, in one visible
 * place (STYLE.md §10: no registration through constructors).
 */
#include "app/app.h"

static const struct {
    const char *method;
    const char *pattern;
    const char *name;
    web_handler_fn handler;
} routes[] = {
    {"GET", "/", "index", app_handle_index},
    {"GET", "/sw.js", "service_worker", app_handle_service_worker},
    {"GET", "/manifest.webmanifest", "manifest", app_handle_manifest},
    {"GET", "/healthz", "healthz", app_handle_healthz},
    {"GET", "/metrics", "metrics", app_handle_metrics},
    {"GET", "/openapi.json", "openapi", app_handle_openapi},
    {"GET", "/planets", "planets", app_handle_planets},
    {"GET", "/planets/stream", "stream", app_handle_stream},
    {"GET", "/planets/tonight", "tonight", app_handle_tonight},
    {"GET", "/planets/{name}", "planet", app_handle_planet},
    {"GET", "/planets/{name}/events", "events", app_handle_events},
    {"POST", "/geo_location", "geo_location", app_handle_geo_location},
    {"GET", "/ws", "ws", app_handle_ws},
    {"GET", "/api/sites", "sites", app_handle_sites_list},
    {"POST", "/api/sites", "sites_create", app_handle_site_create},
    {"GET", "/api/sites/{id:\\d+}", "site", app_handle_site_get},
    {"PUT", "/api/sites/{id:\\d+}", "site_put", app_handle_site_put},
    {"PATCH", "/api/sites/{id:\\d+}", "site_patch", app_handle_site_patch},
    {"DELETE", "/api/sites/{id:\\d+}", "site_delete", app_handle_site_delete},
    {"GET", "/api/tokens", "tokens", app_handle_tokens_list},
    {"POST", "/api/tokens", "tokens_create", app_handle_token_create},
    {"DELETE", "/api/tokens/{id:\\d+}", "token_delete", app_handle_token_delete},
};

int app_routes_add(struct web_app *app)
{
    web_app_use(app, web_mw_access_log);
    web_app_use(app, web_mw_origin);
    web_app_use(app, web_mw_static);
    web_app_use(app, app_mw_site);
    for (size_t i = 0; i < PT_ARRAY_SIZE(routes); i++) {
        int rc = web_app_route(app, routes[i].method, routes[i].pattern, routes[i].name,
                               routes[i].handler);
        if (rc < 0)
            return rc;
    }
    return 0;
}
