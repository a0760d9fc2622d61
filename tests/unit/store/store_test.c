/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * store_test.c -- the data tier's contract (src/store/store.h), the same cases
 * against both engines: SQLite in a temporary file, always; PostgreSQL when
 * PT_TEST_DATABASE_URL names a database (scripts/run-tests starts a throwaway
 * cluster with pg_virtualenv and sets it; without it the PostgreSQL group
 * fails, it is not skipped, unless PT_TEST_NO_POSTGRES=1 says so on purpose).
 *
 * Every case runs the loop until its requests are done and checks that the
 * store closes with no handle left (uv_loop_close returns 0).
 *
 * Run: make SANITIZE=address,undefined build/san/tests/unit/store/store_test &&
 *      PT_TEST_DATABASE_URL=postgresql://... build/san/tests/unit/store/store_test
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"

struct fixture {
    uv_loop_t loop;
    struct store *store;
    struct store_config cfg;
    char path[256];
    char owner_a[STORE_OWNER_LEN + 1];
    char owner_b[STORE_OWNER_LEN + 1];
};

static void random_hex(char *out, size_t digits)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < digits; i += 13) {
        uint64_t v = (uint64_t)store_random_id();
        for (size_t k = 0; k < 13 && i + k < digits; k++, v >>= 4)
            out[i + k] = hex[v & 15];
    }
    out[digits] = '\0';
}

static void open_store(struct fixture *f)
{
    assert_int_equal(store_open(&f->loop, &f->cfg, &f->store), 0);
}

static void close_store(struct fixture *f)
{
    store_close(f->store);
    assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
    store_free(f->store);
    f->store = NULL;
}

static int setup(void **state, bool pg)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    if (pg) {
        f->cfg.database_url = getenv("PT_TEST_DATABASE_URL");
        assert_non_null(f->cfg.database_url);
        f->cfg.pool_size = 3;
    } else {
        snprintf(f->path, sizeof(f->path), "/tmp/pt-store-test-%d-XXXXXX", (int)getpid());
        int fd = mkstemp(f->path);
        assert_true(fd >= 0);
        close(fd);
        unlink(f->path); /* a new file: the store creates and migrates it */
        f->cfg.sqlite_path = f->path;
    }
    random_hex(f->owner_a, STORE_OWNER_LEN);
    random_hex(f->owner_b, STORE_OWNER_LEN);
    open_store(f);
    *state = f;
    return 0;
}

static int setup_sqlite(void **state)
{
    return setup(state, false);
}

static int setup_pg(void **state)
{
    return setup(state, true);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (f->store != NULL)
        close_store(f);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    if (f->path[0] != '\0') {
        char p[300];
        unlink(f->path);
        snprintf(p, sizeof(p), "%s-wal", f->path);
        unlink(p);
        snprintf(p, sizeof(p), "%s-shm", f->path);
        unlink(p);
    }
    free(f);
    return 0;
}

/* ------------------------------------------------------------- helpers */

static void on_done(struct store_req *req)
{
    int *pending = req->data;
    (*pending)--;
}

/* Submit and run the loop until done. */
static void run(struct fixture *f, struct store_req *req)
{
    int pending = 1;
    req->done = on_done;
    req->data = &pending;
    store_submit(f->store, req);
    while (pending > 0)
        uv_run(&f->loop, UV_RUN_ONCE);
}

static void as_owner(struct store_req *req, const char *owner)
{
    req->auth.bearer = false;
    snprintf(req->auth.owner, sizeof(req->auth.owner), "%s", owner);
}

static void fill_site(struct store_site *s, const char *name, double lat)
{
    memset(s, 0, sizeof(*s));
    snprintf(s->name, sizeof(s->name), "%s", name);
    s->lat = lat;
    s->lon = 2.35;
    s->elevation = 35;
    s->notes = (char *)"";
}

static enum store_status create(struct fixture *f, const char *owner, const char *name, double lat,
                                int64_t *id)
{
    struct store_req req = {.op = STORE_SITE_CREATE, .max_per_owner = 100};
    as_owner(&req, owner);
    fill_site(&req.site, name, lat);
    run(f, &req);
    if (id != NULL)
        *id = req.site.id;
    enum store_status st = req.status;
    store_req_release(&req);
    return st;
}

static enum store_status get(struct fixture *f, const char *owner, int64_t id,
                             struct store_site *out)
{
    struct store_req req = {.op = STORE_SITE_GET, .id = id};
    as_owner(&req, owner);
    run(f, &req);
    if (out != NULL && req.status == STORE_OK) {
        *out = req.site;
        out->notes = NULL;
    }
    enum store_status st = req.status;
    store_req_release(&req);
    return st;
}

static size_t count(struct fixture *f, const char *owner)
{
    struct store_req req = {.op = STORE_SITE_LIST};
    as_owner(&req, owner);
    run(f, &req);
    assert_int_equal(req.status, STORE_OK);
    size_t n = req.num_sites;
    store_req_release(&req);
    return n;
}

/* ------------------------------------------------------------- cases */

static void test_create_get_list_update_delete(void **state)
{
    struct fixture *f = *state;
    struct store_req req = {.op = STORE_SITE_CREATE, .max_per_owner = 100};
    as_owner(&req, f->owner_a);
    fill_site(&req.site, "Home \xc3\xa9toile", 48.85);
    req.site.has_pressure = true;
    req.site.pressure = 990.5;
    req.site.horizon_deg = 7.5;
    snprintf(req.site.timezone, sizeof(req.site.timezone), "Europe/Paris");
    req.site.notes = (char *)"the roof\n\"north\" side";
    run(f, &req);
    assert_int_equal(req.status, STORE_OK);
    int64_t id = req.site.id;
    assert_true(id > 0 && id < (INT64_C(1) << 53));
    assert_int_equal(req.site.version, 1);
    assert_true(req.site.created_ms > 1700000000000);
    assert_int_equal(req.site.created_ms, req.site.updated_ms);
    store_req_release(&req);

    struct store_req g = {.op = STORE_SITE_GET, .id = id};
    as_owner(&g, f->owner_a);
    run(f, &g);
    assert_int_equal(g.status, STORE_OK);
    assert_string_equal(g.site.name, "Home \xc3\xa9toile");
    assert_true(g.site.lat == 48.85 && g.site.lon == 2.35 && g.site.elevation == 35);
    assert_true(g.site.has_pressure && g.site.pressure == 990.5);
    assert_false(g.site.has_temperature);
    assert_true(g.site.horizon_deg == 7.5);
    assert_string_equal(g.site.timezone, "Europe/Paris");
    assert_string_equal(g.site.notes, "the roof\n\"north\" side");
    store_req_release(&g);

    assert_int_equal(create(f, f->owner_a, "Dark site", -33.9, NULL), STORE_OK);
    struct store_req l = {.op = STORE_SITE_LIST};
    as_owner(&l, f->owner_a);
    run(f, &l);
    assert_int_equal(l.status, STORE_OK);
    assert_int_equal(l.num_sites, 2);
    /* By name. */
    assert_string_equal(l.sites[0].name, "Dark site");
    assert_string_equal(l.sites[1].name, "Home \xc3\xa9toile");
    assert_string_equal(l.sites[1].notes, "the roof\n\"north\" side");
    store_req_release(&l);

    struct store_req u = {.op = STORE_SITE_UPDATE, .id = id, .if_version = 1};
    as_owner(&u, f->owner_a);
    fill_site(&u.site, "Home", 48.86);
    u.now_ms = g.site.created_ms + 5000;
    run(f, &u);
    assert_int_equal(u.status, STORE_OK);
    assert_int_equal(u.site.version, 2);
    assert_int_equal(u.site.id, id);
    assert_string_equal(u.site.name, "Home");
    assert_false(u.site.has_pressure);
    assert_string_equal(u.site.timezone, "");
    assert_int_equal(u.site.created_ms, g.site.created_ms);
    assert_int_equal(u.site.updated_ms, g.site.created_ms + 5000);
    store_req_release(&u);

    struct store_req d = {.op = STORE_SITE_DELETE, .id = id, .if_version = 2};
    as_owner(&d, f->owner_a);
    run(f, &d);
    assert_int_equal(d.status, STORE_OK);
    assert_int_equal(get(f, f->owner_a, id, NULL), STORE_NOT_FOUND);
    assert_int_equal(count(f, f->owner_a), 1);
    /* Deleting again: gone. */
    run(f, &d);
    assert_int_equal(d.status, STORE_NOT_FOUND);
}

static void test_names_are_unique_per_owner(void **state)
{
    struct fixture *f = *state;
    int64_t id1, id2;
    assert_int_equal(create(f, f->owner_a, "Club", 10, &id1), STORE_OK);
    assert_int_equal(create(f, f->owner_a, "Club", 11, NULL), STORE_NAME_TAKEN);
    /* Another owner may use the same name. */
    assert_int_equal(create(f, f->owner_b, "Club", 12, NULL), STORE_OK);
    assert_int_equal(create(f, f->owner_a, "Dome", 13, &id2), STORE_OK);
    struct store_req u = {.op = STORE_SITE_UPDATE, .id = id2};
    as_owner(&u, f->owner_a);
    fill_site(&u.site, "Club", 13);
    run(f, &u);
    assert_int_equal(u.status, STORE_NAME_TAKEN);
    store_req_release(&u);
    struct store_site s;
    assert_int_equal(get(f, f->owner_a, id2, &s), STORE_OK);
    assert_string_equal(s.name, "Dome");
    assert_int_equal(s.version, 1);
}

static void test_owners_are_isolated(void **state)
{
    struct fixture *f = *state;
    int64_t id;
    assert_int_equal(create(f, f->owner_a, "Mine", 1, &id), STORE_OK);
    assert_int_equal(get(f, f->owner_b, id, NULL), STORE_NOT_FOUND);
    assert_int_equal(count(f, f->owner_b), 0);
    struct store_req u = {.op = STORE_SITE_UPDATE, .id = id};
    as_owner(&u, f->owner_b);
    fill_site(&u.site, "Stolen", 2);
    run(f, &u);
    assert_int_equal(u.status, STORE_NOT_FOUND);
    store_req_release(&u);
    struct store_req d = {.op = STORE_SITE_DELETE, .id = id};
    as_owner(&d, f->owner_b);
    run(f, &d);
    assert_int_equal(d.status, STORE_NOT_FOUND);
    struct store_site s;
    assert_int_equal(get(f, f->owner_a, id, &s), STORE_OK);
    assert_string_equal(s.name, "Mine");
    assert_true(s.lat == 1);
}

static void test_stale_versions_are_refused(void **state)
{
    struct fixture *f = *state;
    int64_t id;
    assert_int_equal(create(f, f->owner_a, "Tab", 5, &id), STORE_OK);
    struct store_req u = {.op = STORE_SITE_UPDATE, .id = id, .if_version = 1};
    as_owner(&u, f->owner_a);
    fill_site(&u.site, "Tab one", 5);
    run(f, &u);
    assert_int_equal(u.status, STORE_OK);
    store_req_release(&u);
    /* The second tab still holds version 1. */
    fill_site(&u.site, "Tab two", 6);
    run(f, &u);
    assert_int_equal(u.status, STORE_STALE);
    assert_int_equal(u.current_version, 2);
    store_req_release(&u);
    struct store_req d = {.op = STORE_SITE_DELETE, .id = id, .if_version = 1};
    as_owner(&d, f->owner_a);
    run(f, &d);
    assert_int_equal(d.status, STORE_STALE);
    assert_int_equal(d.current_version, 2);
    struct store_site s;
    assert_int_equal(get(f, f->owner_a, id, &s), STORE_OK);
    assert_string_equal(s.name, "Tab one");
}

static void test_limit_per_owner(void **state)
{
    struct fixture *f = *state;
    struct store_req req = {.op = STORE_SITE_CREATE, .max_per_owner = 3};
    as_owner(&req, f->owner_a);
    for (int i = 0; i < 4; i++) {
        char name[16];
        snprintf(name, sizeof(name), "s%d", i);
        fill_site(&req.site, name, i);
        run(f, &req);
        assert_int_equal(req.status, i < 3 ? STORE_OK : STORE_LIMIT);
        store_req_release(&req);
    }
    assert_int_equal(count(f, f->owner_a), 3);
    assert_int_equal(create(f, f->owner_b, "s0", 0, NULL), STORE_OK);
}

static void test_tokens(void **state)
{
    struct fixture *f = *state;
    int64_t site_id;
    assert_int_equal(create(f, f->owner_a, "Scope", 3, &site_id), STORE_OK);
    char hash[STORE_TOKEN_HASH_LEN + 1];
    random_hex(hash, STORE_TOKEN_HASH_LEN);

    struct store_req t = {.op = STORE_TOKEN_CREATE, .max_per_owner = 2};
    as_owner(&t, f->owner_a);
    memcpy(t.token_hash, hash, sizeof(hash));
    snprintf(t.token.name, sizeof(t.token.name), "telescope");
    run(f, &t);
    assert_int_equal(t.status, STORE_OK);
    int64_t token_id = t.token.id;
    assert_true(token_id > 0);
    assert_string_equal(t.token.name, "telescope");

    /* The bearer's requests are the owner's. */
    struct store_req l = {.op = STORE_SITE_LIST};
    l.auth.bearer = true;
    memcpy(l.auth.token_hash, hash, sizeof(hash));
    run(f, &l);
    assert_int_equal(l.status, STORE_OK);
    assert_int_equal(l.num_sites, 1);
    assert_string_equal(l.auth.owner, f->owner_a);
    store_req_release(&l);

    /* Token limit. (A later token is made later: the list is by creation.) */
    random_hex(t.token_hash, STORE_TOKEN_HASH_LEN);
    t.now_ms += 1;
    run(f, &t);
    assert_int_equal(t.status, STORE_OK);
    random_hex(t.token_hash, STORE_TOKEN_HASH_LEN);
    run(f, &t);
    assert_int_equal(t.status, STORE_LIMIT);

    struct store_req tl = {.op = STORE_TOKEN_LIST};
    as_owner(&tl, f->owner_a);
    run(f, &tl);
    assert_int_equal(tl.status, STORE_OK);
    assert_int_equal(tl.num_tokens, 2);
    assert_int_equal(tl.tokens[0].id, token_id);
    store_req_release(&tl);

    /* Another owner cannot revoke it. */
    struct store_req d = {.op = STORE_TOKEN_DELETE, .id = token_id};
    as_owner(&d, f->owner_b);
    run(f, &d);
    assert_int_equal(d.status, STORE_NOT_FOUND);
    as_owner(&d, f->owner_a);
    run(f, &d);
    assert_int_equal(d.status, STORE_OK);

    /* Revoked: the bearer is nobody now, for reads and writes alike. */
    struct store_req l2 = {.op = STORE_SITE_LIST};
    l2.auth.bearer = true;
    memcpy(l2.auth.token_hash, hash, sizeof(hash));
    run(f, &l2);
    assert_int_equal(l2.status, STORE_UNAUTHORIZED);
    store_req_release(&l2);
    struct store_req c = {.op = STORE_SITE_CREATE, .max_per_owner = 100};
    c.auth = l2.auth;
    fill_site(&c.site, "Sneaky", 1);
    run(f, &c);
    assert_int_equal(c.status, STORE_UNAUTHORIZED);
    store_req_release(&c);
    assert_int_equal(count(f, f->owner_a), 1);
}

/* Many writes in flight at once (the SQLite engine commits them in groups). */
static void test_many_writes_at_once(void **state)
{
    struct fixture *f = *state;
    enum { N = 60 };
    struct store_req *reqs = calloc(N, sizeof(*reqs));
    assert_non_null(reqs);
    int pending = N;
    for (int i = 0; i < N; i++) {
        reqs[i].op = STORE_SITE_CREATE;
        reqs[i].max_per_owner = 100;
        as_owner(&reqs[i], f->owner_a);
        char name[16];
        snprintf(name, sizeof(name), "n%02d", i % 50); /* ten names twice */
        fill_site(&reqs[i].site, name, i);
        reqs[i].done = on_done;
        reqs[i].data = &pending;
        store_submit(f->store, &reqs[i]);
    }
    while (pending > 0)
        uv_run(&f->loop, UV_RUN_ONCE);
    int ok = 0, taken = 0;
    for (int i = 0; i < N; i++) {
        ok += reqs[i].status == STORE_OK;
        taken += reqs[i].status == STORE_NAME_TAKEN;
        store_req_release(&reqs[i]);
    }
    free(reqs);
    assert_int_equal(ok, 50);
    assert_int_equal(taken, 10);
    assert_int_equal(count(f, f->owner_a), 50);
    struct store_stats s;
    store_stats(f->store, &s);
    assert_true(s.available);
    assert_true(s.ops >= N);
}

static void test_data_survives_a_reopen(void **state)
{
    struct fixture *f = *state;
    int64_t id;
    assert_int_equal(create(f, f->owner_a, "Kept", 42, &id), STORE_OK);
    close_store(f);
    open_store(f);
    struct store_site s;
    assert_int_equal(get(f, f->owner_a, id, &s), STORE_OK);
    assert_string_equal(s.name, "Kept");
    assert_true(s.lat == 42);
}

static void test_closed_store_answers_unavailable(void **state)
{
    struct fixture *f = *state;
    struct store_req req = {.op = STORE_SITE_LIST};
    as_owner(&req, f->owner_a);
    int pending = 1;
    req.done = on_done;
    req.data = &pending;
    store_submit(f->store, &req);
    store_close(f->store);
    while (pending > 0)
        uv_run(&f->loop, UV_RUN_ONCE);
    /* Queued before the close: answered or unavailable, never lost. */
    assert_true(req.status == STORE_OK || req.status == STORE_UNAVAILABLE);
    store_req_release(&req);
    pending = 1;
    store_submit(f->store, &req);
    assert_int_equal(pending, 0);
    assert_int_equal(req.status, STORE_UNAVAILABLE);
    assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
    store_free(f->store);
    f->store = NULL;
}

/* Ends the other process's write transaction a little later. */
static void *commit_later(void *arg)
{
    struct timespec d = {0, 300 * 1000 * 1000};
    nanosleep(&d, NULL);
    assert_int_equal(sqlite3_exec(arg, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    return NULL;
}

/*
 * Two workers opening a new database at once: one is migrating it (a write
 * transaction) while the other asks for WAL, which SQLite refuses at once with "database
 * is locked" whatever the busy timeout. The open must wait for the other writer, not
 * fail (a worker without saved sites answered 503: found by test_90_workers).
 */
static void test_open_waits_for_another_writer(void **state)
{
    struct fixture *f = *state;
    close_store(f);
    unlink(f->path);
    sqlite3 *other;
    assert_int_equal(sqlite3_open(f->path, &other), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(other, "BEGIN IMMEDIATE; CREATE TABLE held(x);", NULL, NULL, NULL),
        SQLITE_OK);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, commit_later, other), 0);
    open_store(f); /* asserts that the open succeeds */
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(sqlite3_close(other), SQLITE_OK);
    int64_t id;
    assert_int_equal(create(f, f->owner_a, "After the wait", 1, &id), STORE_OK);
}

#define BOTH(fn)                                                                          \
    cmocka_unit_test_setup_teardown(fn, setup_sqlite, teardown)
#define PG(fn) cmocka_unit_test_setup_teardown(fn, setup_pg, teardown)

int main(void)
{
    const struct CMUnitTest sqlite_tests[] = {
        BOTH(test_create_get_list_update_delete), BOTH(test_names_are_unique_per_owner),
        BOTH(test_owners_are_isolated),           BOTH(test_stale_versions_are_refused),
        BOTH(test_limit_per_owner),               BOTH(test_tokens),
        BOTH(test_many_writes_at_once),           BOTH(test_data_survives_a_reopen),
        BOTH(test_closed_store_answers_unavailable),
        cmocka_unit_test_setup_teardown(test_open_waits_for_another_writer, setup_sqlite,
                                        teardown),
    };
    const struct CMUnitTest pg_tests[] = {
        PG(test_create_get_list_update_delete), PG(test_names_are_unique_per_owner),
        PG(test_owners_are_isolated),           PG(test_stale_versions_are_refused),
        PG(test_limit_per_owner),               PG(test_tokens),
        PG(test_many_writes_at_once),           PG(test_data_survives_a_reopen),
        PG(test_closed_store_answers_unavailable),
    };
    int rc = cmocka_run_group_tests_name("sqlite", sqlite_tests, NULL, NULL);
    const char *url = getenv("PT_TEST_DATABASE_URL");
    if (url != NULL && url[0] != '\0') {
        rc |= cmocka_run_group_tests_name("postgresql", pg_tests, NULL, NULL);
    } else {
        const char *skip = getenv("PT_TEST_NO_POSTGRES");
        if (skip == NULL || strcmp(skip, "1") != 0) {
            fprintf(stderr, "store_test: PT_TEST_DATABASE_URL is not set: the PostgreSQL "
                            "engine was not tested (set PT_TEST_NO_POSTGRES=1 to allow)\n");
            rc |= 1;
        }
    }
    return rc;
}
