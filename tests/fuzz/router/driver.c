/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * driver.c -- libFuzzer target for web_router_match() and web_router_url_for()
 * (src/web/router.c) over a fixed route table shaped like PlanetTracker's.
 *
 * The input is "METHOD PATH": everything up to the first space is the method
 * (the whole input is the path if there is none). Checked on every input: the
 * result is one of the documented codes; on a match the route data, name and
 * parameters are consistent (names are the route's, values hold no NUL, plain
 * parameters are non-empty without '/'), and reversing the match with
 * web_router_url_for gives a path that matches the same route with the same
 * values; on PT_E_METHOD the Allow list is non-empty and NUL-terminated.
 * A broken invariant aborts, which libFuzzer reports as a crash.
 *
 * Build and run:
 *   make SANITIZE=address,undefined build/san/fuzz/router
 *   build/san/fuzz/router -dict=tests/fuzz/router/dict -max_total_time=90 \
 *       tests/fuzz/router/corpus
 * Replay the seeds and regressions: pass the files (not the directories) as arguments.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web/router.h"
#include "../check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct {
    const char *method;
    const char *pattern;
    const char *name;
} routes[] = {
    {"GET", "/", "index"},
    {"GET", "/healthz", "healthz"},
    {"GET", "/metrics", "metrics"},
    {"GET", "/planets", "planets"},
    {"GET", "/planets/", NULL},
    {"GET", "/planets/stream", "stream"},
    {"GET", "/planets/{name}", "planet"},
    {"GET", "/planets/{name:[a-z]+}/events", "events"},
    {"POST", "/geo_location", "geo_location"},
    {"GET", "/api/sites", "sites"},
    {"POST", "/api/sites", NULL},
    {"GET", "/api/sites/{id:\\d{1,9}}", "site"},
    {"PUT", "/api/sites/{id:\\d{1,9}}", NULL},
    {"DELETE", "/api/sites/{id:\\d{1,9}}", NULL},
    {"GET", "/static/{dir}/{file:[A-Za-z0-9_.-]+\\.(js|css|svg)}", "asset"},
    {"GET", "/a/{p1}/{p2}/{p3}/{p4}/{p5}/{p6}/{p7}/{p8}", "eight"},
    {"GET", "/x/{any:.*}", "any"},
};

static struct web_router *router;
static int route_data[PT_ARRAY_SIZE(routes)];

static void build_router(void)
{
    router = web_router_new();
    for (size_t i = 0; i < PT_ARRAY_SIZE(routes); i++)
        CHECK(web_router_add(router, routes[i].method, routes[i].pattern, routes[i].name,
                             &route_data[i]) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (router == NULL)
        build_router(); /* read-only afterwards, like the server's */

    const char *in = (const char *)data;
    const char *space = memchr(in, ' ', size);
    struct pt_str method = space ? pt_str_make(in, (size_t)(space - in)) : PT_STR("GET");
    struct pt_str path =
        space ? pt_str_make(space + 1, size - (size_t)(space - in) - 1) : pt_str_make(in, size);

    struct pt_arena arena;
    pt_arena_init(&arena, 512);
    struct web_route_match m;
    int rc = web_router_match(router, method, path, &arena, &m);
    CHECK(rc == 0 || rc == PT_E_NOT_FOUND || rc == PT_E_METHOD || rc == PT_E_BAD_REQUEST);
    CHECK(memchr(m.allow, '\0', sizeof(m.allow)) != NULL);
    if (rc == PT_E_METHOD)
        CHECK(m.allow[0] != '\0');
    if (rc != 0) {
        CHECK(m.data == NULL);
        pt_arena_deinit(&arena);
        return 0;
    }

    size_t r = (size_t)((int *)m.data - route_data);
    CHECK(r < PT_ARRAY_SIZE(routes));
    CHECK((m.name == NULL) == (routes[r].name == NULL));
    CHECK(m.name == NULL || strcmp(m.name, routes[r].name) == 0);
    CHECK(m.num_params <= WEB_MAX_PARAMS);
    for (size_t i = 0; i < m.num_params; i++) {
        struct pt_str v = m.params[i].value;
        CHECK(v.len == 0 || memchr(v.ptr, '\0', v.len) == NULL);
        char brace[40];
        snprintf(brace, sizeof(brace), "{%.*s}", (int)m.params[i].name.len, m.params[i].name.ptr);
        if (strstr(routes[r].pattern, brace) != NULL)
            CHECK(v.len > 0 && memchr(v.ptr, '/', v.len) == NULL);
    }

    if (routes[r].name != NULL) {
        struct pt_buf url;
        pt_buf_init(&url, 1 << 16);
        CHECK(web_router_url_for(router, routes[r].name, m.params, m.num_params, &url) == 0);
        struct web_route_match again;
        CHECK(web_router_match(router, method, pt_buf_str(&url), &arena, &again) == 0);
        CHECK(again.num_params == m.num_params);
        for (size_t i = 0; i < m.num_params; i++)
            CHECK(pt_str_eq(again.params[i].value, m.params[i].value));
        /* Both paths decode to the same segments, so the same route wins. */
        CHECK(again.data == m.data);
        pt_buf_deinit(&url);
    }
    pt_arena_deinit(&arena);
    return 0;
}
