/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * router_test.c -- unit tests of src/web/router.c: static and parameter
 * segments, regex parameters and their anchoring, percent-decoding of segments,
 * 404 versus 405 with the Allow list, HEAD on GET routes, registration order,
 * bad escapes, URL reversal, rejected patterns, and concurrent matching.
 *
 * Run: make SANITIZE=address,undefined build/san/tests/unit/web/router_test &&
 *      build/san/tests/unit/web/router_test
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "web/router.h"

/* Distinct addresses used as route data. */
static int data_root, data_planets, data_planets_slash, data_planet, data_events, data_stream,
    data_site_get, data_site_put, data_site_delete, data_sites_post, data_year, data_file,
    data_head_only, data_alt;

struct fixture {
    struct web_router *r;
    struct pt_arena arena;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return -1;
    f->r = web_router_new();
    pt_arena_init(&f->arena, 1024);
    struct web_router *r = f->r;
    if (web_router_add(r, "GET", "/", "index", &data_root) ||
        web_router_add(r, "GET", "/planets", "planets", &data_planets) ||
        web_router_add(r, "GET", "/planets/", NULL, &data_planets_slash) ||
        web_router_add(r, "GET", "/planets/stream", "stream", &data_stream) ||
        web_router_add(r, "GET", "/planets/{name}", "planet", &data_planet) ||
        web_router_add(r, "GET", "/planets/{name}/events", "events", &data_events) ||
        web_router_add(r, "POST", "/api/sites", "sites", &data_sites_post) ||
        web_router_add(r, "GET", "/api/sites/{id:\\d+}", "site", &data_site_get) ||
        web_router_add(r, "PUT", "/api/sites/{id:\\d+}", NULL, &data_site_put) ||
        web_router_add(r, "DELETE", "/api/sites/{id:\\d+}", NULL, &data_site_delete) ||
        web_router_add(r, "GET", "/archive/{year:\\d{4}}/{month:0[1-9]|1[0-2]}", "archive",
                       &data_year) ||
        web_router_add(r, "GET", "/files/{path:.+}", "file", &data_file) ||
        web_router_add(r, "HEAD", "/ping", NULL, &data_head_only) ||
        web_router_add(r, "POST", "/ping", NULL, &data_alt))
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    web_router_free(f->r);
    pt_arena_deinit(&f->arena);
    free(f);
    return 0;
}

static int match(struct fixture *f, const char *method, const char *path, struct web_route_match *m)
{
    return web_router_match(f->r, pt_str_c(method), pt_str_c(path), &f->arena, m);
}

static void expect_match(struct fixture *f, const char *method, const char *path, void *data,
                         size_t nparams, const char *const *kv)
{
    struct web_route_match m;
    int rc = match(f, method, path, &m);
    if (rc != 0)
        fail_msg("%s %s: rc %d (%s), wanted a match", method, path, rc, pt_error_name(rc));
    if (m.data != data)
        fail_msg("%s %s: matched the wrong route (%s)", method, path, m.name ? m.name : "?");
    assert_int_equal(m.num_params, nparams);
    for (size_t i = 0; i < nparams; i++) {
        if (!pt_str_eq(m.params[i].name, pt_str_c(kv[2 * i])) ||
            !pt_str_eq(m.params[i].value, pt_str_c(kv[2 * i + 1])))
            fail_msg("%s %s: param %zu is %.*s=\"%.*s\", wanted %s=\"%s\"", method, path, i,
                     (int)m.params[i].name.len, m.params[i].name.ptr, (int)m.params[i].value.len,
                     m.params[i].value.ptr, kv[2 * i], kv[2 * i + 1]);
    }
}

#define EXPECT_MATCH(method, path, data, ...)                                                      \
    do {                                                                                           \
        static const char *const kv_[] = {NULL, __VA_ARGS__};                                      \
        expect_match(f, method, path, data, (PT_ARRAY_SIZE(kv_) - 1) / 2, kv_ + 1);                \
    } while (0)

static void expect_error(struct fixture *f, const char *method, const char *path, int err,
                         const char *allow)
{
    struct web_route_match m;
    int rc = match(f, method, path, &m);
    if (rc != err)
        fail_msg("%s %s: rc %d (%s), wanted %s", method, path, rc, pt_error_name(rc),
                 pt_error_name(err));
    assert_null(m.data);
    if (allow != NULL)
        assert_string_equal(m.allow, allow);
}

/* ------------------------------------------------------------------------ */
/* Matching                                                                   */
/* ------------------------------------------------------------------------ */

static void test_static_routes(void **state)
{
    struct fixture *f = *state;
    EXPECT_MATCH("GET", "/", &data_root);
    EXPECT_MATCH("GET", "/planets", &data_planets);
    EXPECT_MATCH("GET", "/planets/", &data_planets_slash); /* a trailing slash is another path */
    EXPECT_MATCH("GET", "/pl%61nets", &data_planets);      /* static text is compared decoded */
    expect_error(f, "GET", "/nothing", PT_E_NOT_FOUND, NULL);
    expect_error(f, "GET", "//", PT_E_NOT_FOUND, NULL);
    expect_error(f, "GET", "/Planets", PT_E_NOT_FOUND, NULL);
    expect_error(f, "GET", "/planetsx", PT_E_NOT_FOUND, NULL);
    expect_error(f, "GET", "", PT_E_NOT_FOUND, NULL);
    expect_error(f, "GET", "*", PT_E_NOT_FOUND, NULL);
    expect_error(f, "GET", "planets", PT_E_NOT_FOUND, NULL);

    struct web_route_match m;
    assert_int_equal(match(f, "GET", "/planets", &m), 0);
    assert_string_equal(m.name, "planets");
    assert_int_equal(match(f, "GET", "/planets/", &m), 0);
    assert_null(m.name);
}

static void test_params(void **state)
{
    struct fixture *f = *state;
    EXPECT_MATCH("GET", "/planets/mars", &data_planet, "name", "mars");
    EXPECT_MATCH("GET", "/planets/m%61rs", &data_planet, "name", "mars");
    EXPECT_MATCH("GET", "/planets/a+b", &data_planet, "name", "a+b"); /* '+' is not a space */
    EXPECT_MATCH("GET", "/planets/%C3%A9t%C3%A9", &data_planet, "name", "\xc3\xa9t\xc3\xa9");
    EXPECT_MATCH("GET", "/planets/mars/events", &data_events, "name", "mars");
    expect_error(f, "GET", "/planets/mars/", PT_E_NOT_FOUND, NULL);
    expect_error(f, "GET", "/planets//events", PT_E_NOT_FOUND, NULL); /* empty parameter */
    expect_error(f, "GET", "/planets/mars/events/x", PT_E_NOT_FOUND, NULL);
    /* An encoded '/' stays inside its segment, but "{name}" refuses it. */
    expect_error(f, "GET", "/planets/a%2Fb", PT_E_NOT_FOUND, NULL);
    EXPECT_MATCH("GET", "/files/a%2Fb", &data_file, "path", "a/b");

    /* Undecoded values point into the path; decoded ones into the arena. */
    struct web_route_match m;
    const char *path = "/planets/venus";
    assert_int_equal(match(f, "GET", path, &m), 0);
    assert_ptr_equal(m.params[0].value.ptr, path + 9);
    path = "/planets/v%65nus";
    assert_int_equal(match(f, "GET", path, &m), 0);
    assert_true(m.params[0].value.ptr < path || m.params[0].value.ptr >= path + strlen(path));
}

static void test_static_wins_only_by_order(void **state)
{
    struct fixture *f = *state;
    /* "/planets/stream" was added before "/planets/{name}". */
    EXPECT_MATCH("GET", "/planets/stream", &data_stream);

    struct web_router *r = web_router_new();
    assert_int_equal(web_router_add(r, "GET", "/planets/{name}", NULL, &data_planet), 0);
    assert_int_equal(web_router_add(r, "GET", "/planets/stream", NULL, &data_stream), 0);
    struct web_route_match m;
    assert_int_equal(web_router_match(r, PT_STR("GET"), PT_STR("/planets/stream"), &f->arena, &m),
                     0);
    assert_ptr_equal(m.data, &data_planet);
    assert_int_equal(web_router_count(r), 2);
    web_router_free(r);
}

static void test_regex_params(void **state)
{
    struct fixture *f = *state;
    EXPECT_MATCH("GET", "/api/sites/42", &data_site_get, "id", "42");
    EXPECT_MATCH("GET", "/api/sites/%34%32", &data_site_get, "id", "42");
    expect_error(f, "GET", "/api/sites/abc", PT_E_NOT_FOUND, NULL);
    expect_error(f, "GET", "/api/sites/4a", PT_E_NOT_FOUND, NULL); /* anchored at the end */
    expect_error(f, "GET", "/api/sites/a4", PT_E_NOT_FOUND, NULL); /* and at the start */
    expect_error(f, "GET", "/api/sites/", PT_E_NOT_FOUND, NULL);
    expect_error(f, "GET", "/api/sites/%EF%BC%94", PT_E_NOT_FOUND, NULL); /* fullwidth 4 */

    /* Quantifier braces inside the regex; alternation anchored as a whole. */
    EXPECT_MATCH("GET", "/archive/2024/07", &data_year, "year", "2024", "month", "07");
    EXPECT_MATCH("GET", "/archive/1999/12", &data_year, "year", "1999", "month", "12");
    expect_error(f, "GET", "/archive/202/07", PT_E_NOT_FOUND, NULL);
    expect_error(f, "GET", "/archive/20245/07", PT_E_NOT_FOUND, NULL);
    expect_error(f, "GET", "/archive/2024/13", PT_E_NOT_FOUND, NULL);
    expect_error(f, "GET", "/archive/2024/071", PT_E_NOT_FOUND, NULL);
    expect_error(f, "GET", "/archive/2024/1", PT_E_NOT_FOUND, NULL);
}

static void test_regex_edge_patterns(void **state)
{
    struct fixture *f = *state;
    struct web_router *r = web_router_new();
    assert_int_equal(web_router_add(r, "GET", "/c/{x:[}a]+}", NULL, &data_root), 0);
    assert_int_equal(web_router_add(r, "GET", "/g/{x:(a)(b)(c)}", NULL, &data_planets), 0);
    assert_int_equal(web_router_add(r, "GET", "/e/{x:a\\}b}", NULL, &data_stream), 0);
    assert_int_equal(web_router_add(r, "GET", "/d/{x:(a+)+b}", NULL, &data_file), 0);
    assert_int_equal(web_router_add(r, "GET", "/s/{x:[^/]*}", NULL, &data_alt), 0);
    struct web_route_match m;
    assert_int_equal(web_router_match(r, PT_STR("GET"), PT_STR("/c/a}a"), &f->arena, &m), 0);
    assert_ptr_equal(m.data, &data_root);
    /* More groups than the match data holds is still a match. */
    assert_int_equal(web_router_match(r, PT_STR("GET"), PT_STR("/g/abc"), &f->arena, &m), 0);
    assert_ptr_equal(m.data, &data_planets);
    assert_int_equal(web_router_match(r, PT_STR("GET"), PT_STR("/e/a}b"), &f->arena, &m), 0);
    assert_ptr_equal(m.data, &data_stream);
    /* A regex may accept an empty segment; "{x}" never does. */
    assert_int_equal(web_router_match(r, PT_STR("GET"), PT_STR("/s/"), &f->arena, &m), 0);
    assert_ptr_equal(m.data, &data_alt);
    assert_int_equal(m.params[0].value.len, 0);
    /* Catastrophic backtracking stops at the match limit: no match, no hang. */
    char path[200] = "/d/";
    memset(path + 3, 'a', 60);
    path[63] = 'c';
    path[64] = '\0';
    assert_int_equal(web_router_match(r, PT_STR("GET"), pt_str_c(path), &f->arena, &m),
                     PT_E_NOT_FOUND);
    path[63] = 'b';
    assert_int_equal(web_router_match(r, PT_STR("GET"), pt_str_c(path), &f->arena, &m), 0);
    web_router_free(r);
}

static void test_methods(void **state)
{
    struct fixture *f = *state;
    EXPECT_MATCH("HEAD", "/planets/mars", &data_planet, "name", "mars");
    expect_error(f, "POST", "/planets/mars", PT_E_METHOD, "GET, HEAD");
    expect_error(f, "get", "/planets/mars", PT_E_METHOD, "GET, HEAD");
    expect_error(f, "GET", "/api/sites", PT_E_METHOD, "POST");
    expect_error(f, "HEAD", "/api/sites", PT_E_METHOD, "POST");
    EXPECT_MATCH("PUT", "/api/sites/7", &data_site_put, "id", "7");
    EXPECT_MATCH("DELETE", "/api/sites/7", &data_site_delete, "id", "7");
    expect_error(f, "PATCH", "/api/sites/7", PT_E_METHOD, "DELETE, GET, HEAD, PUT");
    /* 405 only when the path really matches: the regex still applies. */
    expect_error(f, "PATCH", "/api/sites/x", PT_E_NOT_FOUND, "");
    /* An explicit HEAD route; GET does not match it. */
    EXPECT_MATCH("HEAD", "/ping", &data_head_only);
    EXPECT_MATCH("POST", "/ping", &data_alt);
    expect_error(f, "GET", "/ping", PT_E_METHOD, "HEAD, POST");
}

static void test_allow_list_truncation(void **state)
{
    struct fixture *f = *state;
    struct web_router *r = web_router_new();
    const char *methods[] = {"EEEEEEEEEEEEEEE", "BBBBBBBBBBBBBBB", "DDDDDDDDDDDDDDD",
                             "AAAAAAAAAAAAAAA", "CCCCCCCCCCCCCCC", "BBBBBBBBBBBBBBB"};
    for (size_t i = 0; i < PT_ARRAY_SIZE(methods); i++)
        assert_int_equal(web_router_add(r, methods[i], "/x", NULL, &data_root), 0);
    struct web_route_match m;
    assert_int_equal(web_router_match(r, PT_STR("GET"), PT_STR("/x"), &f->arena, &m), PT_E_METHOD);
    /* Four names need 66 bytes: only whole names that fit in 63 are listed. */
    assert_string_equal(m.allow, "AAAAAAAAAAAAAAA, BBBBBBBBBBBBBBB, CCCCCCCCCCCCCCC");
    web_router_free(r);
}

static void test_bad_escapes(void **state)
{
    struct fixture *f = *state;
    const char *bad[] = {
        "/planets/%zz",
        "/planets/%4",
        "/planets/%",
        "/%00",
        "/planets/ma%00rs",
        "/pl%anets",
        "/planets/mars/%G1",
        "/api/sites/%2",
        /* Beyond the longest pattern: still a bad request, not a 404. */
        "/a/b/c/d/e/f/g/h/%zz",
    };
    for (size_t i = 0; i < PT_ARRAY_SIZE(bad); i++)
        expect_error(f, "GET", bad[i], PT_E_BAD_REQUEST, NULL);
    /* A raw NUL byte in the path. */
    struct web_route_match m;
    assert_int_equal(web_router_match(f->r, PT_STR("GET"), PT_STR("/planets/m\0rs"), &f->arena, &m),
                     PT_E_BAD_REQUEST);
}

static void test_many_segments(void **state)
{
    struct fixture *f = *state;
    char path[4 * WEB_ROUTER_MAX_SEGMENTS + 16] = "";
    for (int i = 0; i < WEB_ROUTER_MAX_SEGMENTS + 2; i++)
        strcat(path, "/a");
    expect_error(f, "GET", path, PT_E_NOT_FOUND, NULL);

    /* A pattern with the most segments allowed, and one more. */
    struct web_router *r = web_router_new();
    char pattern[4 * WEB_ROUTER_MAX_SEGMENTS + 16] = "";
    for (int i = 0; i < WEB_ROUTER_MAX_SEGMENTS; i++)
        strcat(pattern, "/a");
    assert_int_equal(web_router_add(r, "GET", pattern, NULL, &data_root), 0);
    struct web_route_match m;
    assert_int_equal(web_router_match(r, PT_STR("GET"), pt_str_c(pattern), &f->arena, &m), 0);
    strcat(pattern, "/a");
    assert_int_equal(web_router_add(r, "GET", pattern, NULL, &data_root), PT_E_INVALID);
    assert_int_equal(web_router_match(r, PT_STR("GET"), pt_str_c(pattern), &f->arena, &m),
                     PT_E_NOT_FOUND);
    web_router_free(r);
}

/* ------------------------------------------------------------------------ */
/* Patterns                                                                   */
/* ------------------------------------------------------------------------ */

static void test_invalid_patterns(void **state)
{
    (void)state;
    struct web_router *r = web_router_new();
    assert_int_equal(web_router_add(r, "GET", "/taken", "taken", &data_root), 0);
    const char *bad[] = {
        "",
        "planets",
        "{",
        "/{",
        "/{x",
        "/{x:",
        "/{x:(}",
        "/{x:}",
        "/{x:[}",
        "/{x:\\d+",
        "/{x:a\\",
        "/{}",
        "/{1x}",
        "/{x-y}",
        "/{x }",
        "/{x}/{x}",
        "/{x}/{x:\\d+}",
        "/a{x}",
        "/{x}b",
        "/a}",
        "/a{",
        "/{x:\\d+}z",
        "/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}",
    };
    for (size_t i = 0; i < PT_ARRAY_SIZE(bad); i++)
        if (web_router_add(r, "GET", bad[i], NULL, &data_root) != PT_E_INVALID)
            fail_msg("pattern \"%s\" was accepted", bad[i]);
    /* Eight parameters is the limit, not an error. */
    assert_int_equal(web_router_add(r, "GET", "/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}", NULL, NULL), 0);

    const char *bad_methods[] = {"", "GE T", "GET\r\n", "ABCDEFGHIJKLMNOP", "G/T"};
    for (size_t i = 0; i < PT_ARRAY_SIZE(bad_methods); i++)
        assert_int_equal(web_router_add(r, bad_methods[i], "/m", NULL, NULL), PT_E_INVALID);
    assert_int_equal(web_router_add(r, NULL, "/m", NULL, NULL), PT_E_INVALID);
    assert_int_equal(web_router_add(r, "GET", NULL, NULL, NULL), PT_E_INVALID);
    assert_int_equal(web_router_add(r, "ABCDEFGHIJKLMNO", "/m", NULL, NULL), 0);

    /* Duplicate names, even on another path or method. */
    assert_int_equal(web_router_add(r, "POST", "/other", "taken", &data_root), PT_E_INVALID);
    assert_int_equal(web_router_count(r), 3);

    web_router_free(r);
    web_router_free(NULL);
}

/* ------------------------------------------------------------------------ */
/* URL reversal                                                               */
/* ------------------------------------------------------------------------ */

static void expect_url(struct fixture *f, const char *name, const struct web_param *p, size_t n,
                       int want_rc, const char *want)
{
    struct pt_buf b;
    pt_buf_init(&b, 1024);
    pt_buf_append(&b, "http://h", 8);
    int rc = web_router_url_for(f->r, name, p, n, &b);
    if (rc != want_rc)
        fail_msg("url_for %s: rc %d, wanted %d", name, rc, want_rc);
    const char *full = want ? want : "";
    if (rc == 0) {
        assert_int_equal(b.len, 8 + strlen(full));
        assert_memory_equal(b.data + 8, full, strlen(full));
    } else {
        assert_int_equal(b.len, 8); /* unchanged on error */
    }
    pt_buf_deinit(&b);
}

#define P(k, v) ((struct web_param){PT_STR(k), PT_STR(v)})

static void test_url_for(void **state)
{
    struct fixture *f = *state;
    expect_url(f, "index", NULL, 0, 0, "/");
    expect_url(f, "planets", NULL, 0, 0, "/planets");
    struct web_param mars[] = {P("name", "mars")};
    expect_url(f, "planet", mars, 1, 0, "/planets/mars");
    expect_url(f, "events", mars, 1, 0, "/planets/mars/events");
    struct web_param odd[] = {P("other", "x"), P("name", "\xc3\xa9t\xc3\xa9 b?&%"),
                              P("name", "ignored")};
    expect_url(f, "planet", odd, 3, 0, "/planets/%C3%A9t%C3%A9%20b%3F%26%25");
    struct web_param id[] = {P("id", "42")};
    expect_url(f, "site", id, 1, 0, "/api/sites/42");
    struct web_param month[] = {P("month", "07"), P("year", "2024")};
    expect_url(f, "archive", month, 2, 0, "/archive/2024/07");
    struct web_param path[] = {P("path", "a/b c")};
    expect_url(f, "file", path, 1, 0, "/files/a%2Fb%20c");

    /* Errors leave the buffer as it was. */
    expect_url(f, "nope", mars, 1, PT_E_NOT_FOUND, NULL);
    expect_url(f, NULL, mars, 1, PT_E_NOT_FOUND, NULL);
    expect_url(f, "planet", NULL, 0, PT_E_INVALID, NULL);
    struct web_param empty[] = {P("name", "")};
    expect_url(f, "planet", empty, 1, PT_E_INVALID, NULL);
    struct web_param slash[] = {P("name", "a/b")};
    expect_url(f, "planet", slash, 1, PT_E_INVALID, NULL);
    struct web_param bad_id[] = {P("id", "4x")};
    expect_url(f, "site", bad_id, 1, PT_E_INVALID, NULL);
    struct web_param bad_month[] = {P("month", "13"), P("year", "2024")};
    expect_url(f, "archive", bad_month, 2, PT_E_INVALID, NULL);

    /* Buffer limit: "/planets/mars" is 13 bytes. */
    struct pt_buf b;
    pt_buf_init(&b, 12);
    assert_int_equal(web_router_url_for(f->r, "planet", mars, 1, &b), PT_E_NOMEM);
    assert_int_equal(b.len, 0);
    pt_buf_deinit(&b);
    pt_buf_init(&b, 13);
    assert_int_equal(web_router_url_for(f->r, "planet", mars, 1, &b), 0);
    pt_buf_deinit(&b);
}

/* What url_for builds, match takes apart into the same values. */
static void test_url_for_round_trip(void **state)
{
    struct fixture *f = *state;
    const char *values[] = {"mars", "a b", "é", "100%", "x+y", "~._-", "?#[]@!$&'()*,;="};
    for (size_t i = 0; i < PT_ARRAY_SIZE(values); i++) {
        struct web_param p = {PT_STR("name"), pt_str_c(values[i])};
        struct pt_buf b;
        pt_buf_init(&b, 256);
        assert_int_equal(web_router_url_for(f->r, "events", &p, 1, &b), 0);
        struct web_route_match m;
        assert_int_equal(web_router_match(f->r, PT_STR("GET"), pt_buf_str(&b), &f->arena, &m), 0);
        assert_ptr_equal(m.data, &data_events);
        assert_true(pt_str_eq(m.params[0].value, pt_str_c(values[i])));
        pt_buf_deinit(&b);
    }
}

/* ------------------------------------------------------------------------ */
/* Threads                                                                    */
/* ------------------------------------------------------------------------ */

static void *match_many(void *arg)
{
    const struct web_router *r = arg;
    struct pt_arena arena;
    pt_arena_init(&arena, 1024);
    long bad = 0;
    for (int i = 0; i < 5000; i++) {
        char path[64];
        snprintf(path, sizeof(path), "/archive/%04d/%02d", 1000 + i % 9000, 1 + i % 12);
        struct web_route_match m;
        if (web_router_match(r, PT_STR("GET"), pt_str_c(path), &arena, &m) != 0 ||
            m.data != &data_year || m.num_params != 2 || m.params[0].value.len != 4)
            bad++;
        if (web_router_match(r, PT_STR("GET"), PT_STR("/api/sites/x1"), &arena, &m) !=
            PT_E_NOT_FOUND)
            bad++;
        pt_arena_reset(&arena);
    }
    pt_arena_deinit(&arena);
    return (void *)bad;
}

static void test_concurrent_matching(void **state)
{
    struct fixture *f = *state;
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, match_many, f->r), 0);
    for (int i = 0; i < 4; i++) {
        void *bad;
        assert_int_equal(pthread_join(t[i], &bad), 0);
        assert_null(bad);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_static_routes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_params, setup, teardown),
        cmocka_unit_test_setup_teardown(test_static_wins_only_by_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_regex_params, setup, teardown),
        cmocka_unit_test_setup_teardown(test_regex_edge_patterns, setup, teardown),
        cmocka_unit_test_setup_teardown(test_methods, setup, teardown),
        cmocka_unit_test_setup_teardown(test_allow_list_truncation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_escapes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_segments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_patterns, setup, teardown),
        cmocka_unit_test_setup_teardown(test_url_for, setup, teardown),
        cmocka_unit_test_setup_teardown(test_url_for_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_matching, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
