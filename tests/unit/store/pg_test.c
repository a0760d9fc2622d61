/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * pg_test.c -- what only the PostgreSQL engine (src/store/pg.c) has to survive:
 * the server going away and coming back, backends killed with requests in
 * flight, a host name that does not resolve, a wrong password, a store closed
 * during an outage, the waiting queue's bound, and statement_timeout. The
 * contract every engine shares is store_test.c. Also: a close with requests
 * in flight (they finish and commit), and two stores migrating one fresh
 * schema at once (each step applied once).
 *
 * It needs a throwaway cluster it may stop and start: PT_TEST_DATABASE_URL
 * names its database and PT_TEST_PG_CLUSTER its pg_ctlcluster "version name"
 * (scripts/run-tests sets both inside pg_virtualenv). Without them the test
 * fails, it is not skipped, unless PT_TEST_NO_POSTGRES=1 says so on purpose.
 * Conditions are waited for with generous deadlines, never fixed sleeps.
 *
 * Run: make SANITIZE=address,undefined build/san/tests/unit/store/pg_test &&
 *      pg_virtualenv -t sh -c
 * 'PT_TEST_DATABASE_URL="postgresql://$PGUSER:$PGPASSWORD@$PGHOST:$PGPORT/$PGDATABASE" \
 *          PT_TEST_PG_CLUSTER="$PGVERSION regress" build/san/tests/unit/store/pg_test'
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "store/store.h"

#define WAIT_MS 30000         /* a busy 2-core CI box, sanitizers on */
#define APP_NAME "pt_pg_test" /* our backends, for pg_stat_activity */
#define LOCK_SITES 1347682305 /* pg.c's advisory-lock namespace of site creates */

struct fixture {
    uv_loop_t loop;
    struct store *store;
    struct store_config cfg;
    char url[1024];
    char owner[STORE_OWNER_LEN + 1];
    uv_timer_t ticker; /* keeps uv_run(UV_RUN_ONCE) returning while waiting */
};

/* One request and how many times its done ran. */
struct call {
    struct store_req req;
    int done_calls;
    int order;     /* when it finished: 1, 2, ... */
    int *finished; /* the fixture's count of finished calls */
};

/* ------------------------------------------------------------- helpers */

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

static const char *cluster(void)
{
    return getenv("PT_TEST_PG_CLUSTER");
}

/* pg_ctlcluster <cluster> <action>; its exit status. */
static int pg_ctl(const char *action)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "pg_ctlcluster %s %s%s >/dev/null 2>&1", cluster(), action,
             strcmp(action, "stop") == 0 ? " -m fast" : "");
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/*
 * The test database's URL with another password or host (NULL: keep), our
 * application name, and extra query parameters ("" or "&k=v"). OUT: out.
 */
static void make_url(char *out, size_t size, const char *password, const char *host,
                     const char *extra)
{
    char *err = NULL;
    PQconninfoOption *o = PQconninfoParse(getenv("PT_TEST_DATABASE_URL"), &err);
    assert_non_null(o);
    const char *user = "", *pw = "", *h = "", *port = "5432", *db = "postgres";
    for (PQconninfoOption *p = o; p->keyword != NULL; p++) {
        if (p->val == NULL)
            continue;
        if (strcmp(p->keyword, "user") == 0)
            user = p->val;
        else if (strcmp(p->keyword, "password") == 0)
            pw = p->val;
        else if (strcmp(p->keyword, "host") == 0)
            h = p->val;
        else if (strcmp(p->keyword, "port") == 0)
            port = p->val;
        else if (strcmp(p->keyword, "dbname") == 0)
            db = p->val;
    }
    snprintf(out, size, "postgresql://%s:%s@%s:%s/%s?application_name=" APP_NAME "%s", user,
             password != NULL ? password : pw, host != NULL ? host : h, port, db, extra);
    PQconninfoFree(o);
}

static void on_tick(uv_timer_t *t)
{
    (void)t;
}

static void open_store(struct fixture *f)
{
    f->cfg.database_url = f->url;
    assert_int_equal(store_open(&f->loop, &f->cfg, &f->store), 0);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    make_url(f->url, sizeof(f->url), NULL, NULL, "");
    random_hex(f->owner, STORE_OWNER_LEN);
    f->cfg.pool_size = 2;
    *state = f;
    return 0;
}

static void close_store(struct fixture *f)
{
    store_close(f->store);
    assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
    store_free(f->store);
    f->store = NULL;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (f->store != NULL)
        close_store(f);
    int rc = uv_loop_close(&f->loop);
    free(f);
    /* Whatever happened, the next test (and suite) finds the server up. */
    if (pg_ctl("status") != 0)
        pg_ctl("start");
    assert_int_equal(rc, 0);
    return 0;
}

static void on_call_done(struct store_req *req)
{
    struct call *c = req->data;
    c->done_calls++;
    c->order = ++*c->finished;
}

static void submit(struct fixture *f, struct call *c, int *finished)
{
    c->done_calls = 0;
    c->order = 0;
    c->finished = finished;
    c->req.done = on_call_done;
    c->req.data = c;
    store_submit(f->store, &c->req);
}

static void start_ticking(struct fixture *f)
{
    assert_int_equal(uv_timer_init(&f->loop, &f->ticker), 0);
    assert_int_equal(uv_timer_start(&f->ticker, on_tick, 5, 5), 0);
}

static void stop_ticking(struct fixture *f)
{
    uv_close((uv_handle_t *)&f->ticker, NULL);
    uv_run(&f->loop, UV_RUN_NOWAIT);
}

/* Run the loop until *finished reaches n, or WAIT_MS go by. True if it did. */
static bool wait_finished(struct fixture *f, const int *finished, int n)
{
    start_ticking(f);
    uint64_t end = uv_now(&f->loop) + WAIT_MS;
    while (*finished < n && uv_now(&f->loop) < end)
        uv_run(&f->loop, UV_RUN_ONCE);
    stop_ticking(f);
    return *finished >= n;
}

typedef bool (*stats_pred)(const struct store_stats *st);

/* Run the loop until pred holds for the store's stats, or WAIT_MS go by. */
static bool wait_stats(struct fixture *f, stats_pred pred)
{
    start_ticking(f);
    uint64_t end = uv_now(&f->loop) + WAIT_MS;
    struct store_stats st;
    store_stats(f->store, &st);
    while (!pred(&st) && uv_now(&f->loop) < end) {
        uv_run(&f->loop, UV_RUN_ONCE);
        store_stats(f->store, &st);
    }
    stop_ticking(f);
    return pred(&st);
}

static bool is_unavailable(const struct store_stats *st)
{
    return !st->available;
}

static bool has_reconnected(const struct store_stats *st)
{
    return st->reconnects > 0;
}

static bool pool_of_two_up(const struct store_stats *st)
{
    return st->connections == 2;
}

static enum store_status run_one(struct fixture *f, struct call *c)
{
    int finished = 0;
    submit(f, c, &finished);
    assert_true(wait_finished(f, &finished, 1));
    assert_int_equal(c->done_calls, 1);
    return c->req.status;
}

static void make_list(struct call *c, const char *owner)
{
    memset(c, 0, sizeof(*c));
    c->req.op = STORE_SITE_LIST;
    snprintf(c->req.auth.owner, sizeof(c->req.auth.owner), "%s", owner);
}

static void make_create(struct call *c, const char *owner, const char *name)
{
    memset(c, 0, sizeof(*c));
    c->req.op = STORE_SITE_CREATE;
    c->req.max_per_owner = 100;
    snprintf(c->req.auth.owner, sizeof(c->req.auth.owner), "%s", owner);
    snprintf(c->req.site.name, sizeof(c->req.site.name), "%s", name);
    c->req.site.lat = 45.5;
    c->req.site.lon = -73.6;
    c->req.site.notes = (char *)"";
}

static size_t count_sites(struct fixture *f)
{
    struct call c;
    make_list(&c, f->owner);
    assert_int_equal(run_one(f, &c), STORE_OK);
    size_t n = c.req.num_sites;
    store_req_release(&c.req);
    return n;
}

static void ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* A blocking connection of the test's own (not the engine's), for what the server is asked aside.
 */
static PGconn *side_connect(void)
{
    const char *const kw[] = {"dbname", "application_name", NULL};
    const char *const val[] = {getenv("PT_TEST_DATABASE_URL"), "pt_pg_test_side", NULL};
    PGconn *pg = PQconnectdbParams(kw, val, 1);
    assert_non_null(pg);
    if (PQstatus(pg) != CONNECTION_OK)
        fail_msg("side connection: %s", PQerrorMessage(pg));
    PQsetNoticeProcessor(pg, ignore_notice, NULL); /* "drop cascades to ..." */
    return pg;
}

static void side_exec(PGconn *pg, const char *sql)
{
    PGresult *r = PQexec(pg, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(pg));
    PQclear(r);
}

/* Hold (or let go of) the lock the engine takes for an owner's site creates. */
static void side_lock_creates(PGconn *pg, const char *owner, bool lock)
{
    char sql[256];
    snprintf(sql, sizeof(sql), "SELECT 1 FROM pg_advisory_%s(%d, hashtext('%s'))",
             lock ? "lock" : "unlock", LOCK_SITES, owner);
    PGresult *r = PQexec(pg, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(pg));
    PQclear(r);
}

/* A one-value query on the side connection, as a number. */
static long long side_value(PGconn *pg, const char *sql)
{
    PGresult *r = PQexec(pg, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
        fail_msg("%s: %s", sql, PQerrorMessage(pg));
    long long v = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

/* Run the loop until n of the engine's backends wait on a lock (asked on the side connection). */
static void wait_lock_waiters(struct fixture *f, PGconn *side, long long n)
{
    const char *waiting =
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = '" APP_NAME
        "' AND wait_event_type = 'Lock'";
    start_ticking(f);
    uint64_t end = uv_now(&f->loop) + WAIT_MS;
    while (side_value(side, waiting) < n && uv_now(&f->loop) < end)
        uv_run(&f->loop, UV_RUN_ONCE);
    stop_ticking(f);
    assert_int_equal(side_value(side, waiting), n);
}

/* ------------------------------------------------------------- cases */

static void test_outage_and_recovery(void **state)
{
    struct fixture *f = *state;
    f->cfg.queue_timeout_ms = 1500;
    open_store(f);
    struct call c;
    make_create(&c, f->owner, "Before the outage");
    assert_int_equal(run_one(f, &c), STORE_OK);
    int64_t id = c.req.site.id;
    store_req_release(&c.req);

    assert_int_equal(pg_ctl("stop"), 0);
    assert_true(wait_stats(f, is_unavailable));

    /* Every request finishes, unavailable, within the queue timeout (and the deadline). */
    enum { N = 5 };
    struct call calls[N];
    int finished = 0;
    for (int i = 0; i < N; i++) {
        make_list(&calls[i], f->owner);
        submit(f, &calls[i], &finished);
    }
    assert_true(wait_finished(f, &finished, N));
    for (int i = 0; i < N; i++) {
        assert_int_equal(calls[i].done_calls, 1);
        assert_int_equal(calls[i].req.status, STORE_UNAVAILABLE);
        store_req_release(&calls[i].req);
    }
    struct store_stats st;
    store_stats(f->store, &st);
    assert_false(st.available);
    assert_int_equal(st.queued, 0);
    assert_true(st.failed >= N);
    assert_true(st.last_error[0] != '\0');
    assert_int_equal(st.connections, 0);

    /* The server comes back: the store recovers by itself. */
    assert_int_equal(pg_ctl("start"), 0);
    uint64_t end = uv_now(&f->loop) + WAIT_MS;
    enum store_status status;
    do {
        memset(&c, 0, sizeof(c));
        c.req.op = STORE_SITE_GET;
        c.req.id = id;
        snprintf(c.req.auth.owner, sizeof(c.req.auth.owner), "%s", f->owner);
        status = run_one(f, &c);
        if (status != STORE_OK)
            assert_int_equal(status, STORE_UNAVAILABLE);
    } while (status != STORE_OK && uv_now(&f->loop) < end);
    assert_int_equal(status, STORE_OK);
    assert_string_equal(c.req.site.name, "Before the outage");
    store_req_release(&c.req);
    assert_true(wait_stats(f, has_reconnected));
    store_stats(f->store, &st);
    assert_true(st.available);
}

static void test_backends_killed_mid_flight(void **state)
{
    struct fixture *f = *state;
    f->cfg.queue_timeout_ms = WAIT_MS; /* the queued ones outlast the reconnect */
    open_store(f);
    assert_int_equal(count_sites(f), 0);
    assert_true(wait_stats(f, pool_of_two_up));

    /* Hold the owner's create lock aside: both connections' creates wait on it, in flight. */
    PGconn *side = side_connect();
    side_lock_creates(side, f->owner, true);
    enum { N = 6 };
    struct call calls[N];
    int finished = 0;
    for (int i = 0; i < N; i++) {
        char name[16];
        snprintf(name, sizeof(name), "k%d", i);
        make_create(&calls[i], f->owner, name);
        submit(f, &calls[i], &finished);
    }
    wait_lock_waiters(f, side, 2);

    /* Kill both backends (waiting until they are gone), then let the lock go. */
    assert_int_equal(
        side_value(side, "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, "
                         "20000)) FROM pg_stat_activity WHERE application_name = '" APP_NAME "'"),
        2);
    side_lock_creates(side, f->owner, false);
    PQfinish(side);

    /* No request is left without its done: the two in flight are unavailable, the rest ran. */
    assert_true(wait_finished(f, &finished, N));
    int ok = 0, unavailable = 0;
    for (int i = 0; i < N; i++) {
        assert_int_equal(calls[i].done_calls, 1);
        ok += calls[i].req.status == STORE_OK;
        unavailable += calls[i].req.status == STORE_UNAVAILABLE;
        store_req_release(&calls[i].req);
    }
    assert_int_equal(unavailable, 2);
    assert_int_equal(ok, N - 2);
    assert_int_equal(count_sites(f), (size_t)(N - 2));
    struct store_stats st;
    store_stats(f->store, &st);
    assert_true(st.reconnects >= 1);
    assert_true(st.available);
}

static bool says_resolve(const struct store_stats *st)
{
    return strstr(st->last_error, "resolve") != NULL;
}

static void test_unresolvable_host(void **state)
{
    struct fixture *f = *state;
    make_url(f->url, sizeof(f->url), NULL, "pt-no-such-host.invalid", "");
    f->cfg.queue_timeout_ms = 500;
    open_store(f);
    enum { N = 3 };
    struct call calls[N];
    int finished = 0;
    for (int i = 0; i < N; i++) {
        make_list(&calls[i], f->owner);
        submit(f, &calls[i], &finished);
    }
    assert_true(wait_finished(f, &finished, N));
    for (int i = 0; i < N; i++) {
        assert_int_equal(calls[i].done_calls, 1);
        assert_int_equal(calls[i].req.status, STORE_UNAVAILABLE);
    }
    assert_true(wait_stats(f, says_resolve));
    struct store_stats st;
    store_stats(f->store, &st);
    assert_false(st.available);
    assert_int_equal(st.connections, 0);
    assert_true(st.failed >= N);
}

static bool says_password(const struct store_stats *st)
{
    return strstr(st->last_error, "password") != NULL;
}

static void test_bad_password(void **state)
{
    struct fixture *f = *state;
    make_url(f->url, sizeof(f->url), "not-the-password", NULL, "");
    f->cfg.queue_timeout_ms = 500;
    open_store(f);
    struct call c;
    make_list(&c, f->owner);
    assert_int_equal(run_one(f, &c), STORE_UNAVAILABLE);
    assert_true(wait_stats(f, says_password));
    struct store_stats st;
    store_stats(f->store, &st);
    assert_false(st.available);
    assert_string_equal(st.engine, "postgresql");
}

static void test_close_during_outage(void **state)
{
    struct fixture *f = *state;
    f->cfg.queue_timeout_ms = WAIT_MS; /* still queued when the store closes */
    open_store(f);
    assert_int_equal(count_sites(f), 0);
    assert_int_equal(pg_ctl("stop"), 0);
    assert_true(wait_stats(f, is_unavailable));
    enum { N = 3 };
    struct call calls[N];
    int finished = 0;
    for (int i = 0; i < N; i++) {
        make_list(&calls[i], f->owner);
        submit(f, &calls[i], &finished);
    }
    struct store_stats st;
    store_stats(f->store, &st);
    assert_int_equal(st.queued, N);
    store_close(f->store);
    /* The loop runs dry: every request answered, every handle closed. */
    assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(finished, N);
    for (int i = 0; i < N; i++) {
        assert_int_equal(calls[i].done_calls, 1);
        assert_int_equal(calls[i].req.status, STORE_UNAVAILABLE);
    }
    store_free(f->store);
    f->store = NULL;
    /* teardown: uv_loop_close returns 0, and the server is started again. */
}

/* max_queued waiting, one more is refused at once (before the others time out). */
static void test_queue_limit(void **state)
{
    struct fixture *f = *state;
    make_url(f->url, sizeof(f->url), NULL, "pt-no-such-host.invalid", "");
    f->cfg.max_queued = 2;
    f->cfg.queue_timeout_ms = WAIT_MS;
    open_store(f);
    struct call calls[3];
    int finished = 0;
    for (int i = 0; i < 3; i++) {
        make_list(&calls[i], f->owner);
        submit(f, &calls[i], &finished);
    }
    /* Not from inside store_submit: from the loop. */
    assert_int_equal(finished, 0);
    assert_true(wait_finished(f, &finished, 1));
    assert_int_equal(calls[2].order, 1);
    assert_int_equal(calls[2].req.status, STORE_UNAVAILABLE);
    assert_int_equal(calls[0].done_calls + calls[1].done_calls, 0);
    struct store_stats st;
    store_stats(f->store, &st);
    assert_int_equal(st.queued, 2);
    store_close(f->store);
    assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(calls[i].done_calls, 1);
        assert_int_equal(calls[i].req.status, STORE_UNAVAILABLE);
    }
    store_free(f->store);
    f->store = NULL;
}

/* statement_timeout reaches the server: a create stuck on a lock fails, the connection lives. */
static void test_statement_timeout(void **state)
{
    struct fixture *f = *state;
    f->cfg.pool_size = 1;
    f->cfg.statement_timeout_ms = 300;
    open_store(f);
    assert_int_equal(count_sites(f), 0);
    PGconn *side = side_connect();
    side_lock_creates(side, f->owner, true);
    struct call c;
    make_create(&c, f->owner, "Stuck");
    assert_int_equal(run_one(f, &c), STORE_FAILED);
    PQfinish(side); /* the lock goes with the session */
    struct store_stats st;
    store_stats(f->store, &st);
    assert_non_null(strstr(st.last_error, "statement timeout"));
    assert_true(st.available);
    assert_int_equal(st.reconnects, 0);
    make_create(&c, f->owner, "Unstuck");
    assert_int_equal(run_one(f, &c), STORE_OK);
    store_req_release(&c.req);
}

/* Closing: what is queued is unavailable at once, what runs finishes and commits. */
static void test_close_waits_for_requests_in_flight(void **state)
{
    struct fixture *f = *state;
    open_store(f);
    assert_int_equal(count_sites(f), 0);
    assert_true(wait_stats(f, pool_of_two_up));
    PGconn *side = side_connect();
    side_lock_creates(side, f->owner, true);
    struct call calls[3];
    int finished = 0;
    make_create(&calls[0], f->owner, "In flight 1");
    make_create(&calls[1], f->owner, "In flight 2");
    make_list(&calls[2], f->owner); /* queued behind them */
    for (int i = 0; i < 3; i++)
        submit(f, &calls[i], &finished);
    wait_lock_waiters(f, side, 2);
    store_close(f->store);
    assert_true(wait_finished(f, &finished, 1));
    assert_int_equal(calls[2].order, 1);
    assert_int_equal(calls[2].req.status, STORE_UNAVAILABLE);
    assert_int_equal(calls[0].done_calls + calls[1].done_calls, 0);
    side_lock_creates(side, f->owner, false);
    assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(calls[i].done_calls, 1);
        assert_int_equal(calls[i].req.status, STORE_OK);
        store_req_release(&calls[i].req);
    }
    char sql[256];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM sites WHERE owner = '%s'", f->owner);
    assert_int_equal(side_value(side, sql), 2);
    PQfinish(side);
    store_free(f->store);
    f->store = NULL;
}

/* Two stores (as two processes) migrate a fresh schema at once: each step is applied once. */
static void test_concurrent_migrations(void **state)
{
    struct fixture *f = *state;
    char schema[32], sql[256], extra[96];
    snprintf(schema, sizeof(schema), "pt_mig_");
    random_hex(schema + strlen(schema), 12);
    PGconn *side = side_connect();
    snprintf(sql, sizeof(sql), "CREATE SCHEMA %s", schema);
    side_exec(side, sql);
    snprintf(extra, sizeof(extra), "&options=-csearch_path%%3D%s", schema);
    make_url(f->url, sizeof(f->url), NULL, NULL, extra);
    f->cfg.pool_size = 3;
    open_store(f);
    struct store *second;
    assert_int_equal(store_open(&f->loop, &f->cfg, &second), 0);
    struct call calls[2];
    int finished = 0;
    make_create(&calls[0], f->owner, "First");
    make_create(&calls[1], f->owner, "Second");
    submit(f, &calls[0], &finished);
    calls[1].finished = &finished;
    calls[1].req.done = on_call_done;
    calls[1].req.data = &calls[1];
    store_submit(second, &calls[1].req);
    assert_true(wait_finished(f, &finished, 2));
    for (int i = 0; i < 2; i++) {
        assert_int_equal(calls[i].req.status, STORE_OK);
        store_req_release(&calls[i].req);
    }
    store_close(second);
    close_store(f);
    store_free(second);
    /* One row per step of pg.c's migrations (2), each applied once. */
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s.schema_version", schema);
    assert_int_equal(side_value(side, sql), 2);
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
             "JOIN pg_language l ON l.oid = p.prolang WHERE n.nspname = '%s' AND "
             "p.proname = 'pt_owner' AND l.lanname = 'plpgsql'", schema);
    assert_int_equal(side_value(side, sql), 1);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s.sites WHERE owner = '%s'", schema,
             f->owner);
    assert_int_equal(side_value(side, sql), 2);
    snprintf(sql, sizeof(sql), "DROP SCHEMA %s CASCADE", schema);
    side_exec(side, sql);
    PQfinish(side);
}

#define CASE(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const char *url = getenv("PT_TEST_DATABASE_URL");
    const char *name = cluster();
    if (url == NULL || url[0] == '\0' || name == NULL || name[0] == '\0') {
        const char *skip = getenv("PT_TEST_NO_POSTGRES");
        if (skip != NULL && strcmp(skip, "1") == 0) {
            fprintf(stderr, "pg_test: PT_TEST_NO_POSTGRES=1: not run\n");
            return 0;
        }
        fprintf(stderr, "pg_test: PT_TEST_DATABASE_URL and PT_TEST_PG_CLUSTER must name a "
                        "throwaway cluster (set PT_TEST_NO_POSTGRES=1 to allow not testing)\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        CASE(test_outage_and_recovery),   CASE(test_backends_killed_mid_flight),
        CASE(test_unresolvable_host),     CASE(test_bad_password),
        CASE(test_close_during_outage),   CASE(test_queue_limit),
        CASE(test_statement_timeout),     CASE(test_close_waits_for_requests_in_flight),
        CASE(test_concurrent_migrations),
    };
    return cmocka_run_group_tests_name("postgresql", tests, NULL, NULL);
}
