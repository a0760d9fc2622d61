/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * sqlite.c -- the embedded engine of the data tier: one SQLite file (WAL,
 * synchronous=FULL, STRICT tables, migrations recorded in user_version),
 * served by one thread of its own so that the loop never waits on the file
 * or a lock.
 *
 * The loop hands requests to the thread through a mutex-guarded FIFO; the
 * thread takes everything queued (up to BATCH_MAX) and runs it as one group:
 * when the group holds a write it is one BEGIN IMMEDIATE ... COMMIT, each
 * write inside its own SAVEPOINT so that a refused write (a name taken, a
 * stale version) rolls back alone. The COMMIT is the one fsync of the group
 * (group commit): under load many writes share it. Every request's status is
 * final only after the COMMIT returned; if the COMMIT fails, every write of
 * the group is STORE_FAILED. Finished requests go back through a second FIFO
 * and a uv_async; the loop calls their done.
 *
 * Stopping: store_close sets `stopping`; the thread finishes the group it is
 * running, answers what is still queued with STORE_UNAVAILABLE, and exits; the
 * loop then joins it (it has already returned) and closes the async handle.
 */
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "store/store.h"

#define BATCH_MAX 64
#define ID_ATTEMPTS 4
#define BUSY_TIMEOUT_MS 5000

enum stmt_id {
    ST_OWNER_OF_TOKEN,
    ST_SITE_LIST,
    ST_SITE_GET,
    ST_SITE_COUNT,
    ST_SITE_INSERT,
    ST_SITE_VERSION,
    ST_SITE_UPDATE,
    ST_SITE_DELETE,
    ST_TOKEN_COUNT,
    ST_TOKEN_INSERT,
    ST_TOKEN_LIST,
    ST_TOKEN_DELETE,
    ST_COUNT
};

#define SITE_COLS                                                                          \
    "id, name, lat, lon, elevation, pressure, temperature, horizon_deg, timezone, notes, " \
    "created, updated, version"

static const char *const stmt_sql[ST_COUNT] = {
    [ST_OWNER_OF_TOKEN] = "SELECT owner FROM tokens WHERE hash = ?1",
    [ST_SITE_LIST] = "SELECT " SITE_COLS " FROM sites WHERE owner = ?1 ORDER BY name",
    [ST_SITE_GET] = "SELECT " SITE_COLS " FROM sites WHERE owner = ?1 AND id = ?2",
    [ST_SITE_COUNT] = "SELECT count(*) FROM sites WHERE owner = ?1",
    [ST_SITE_INSERT] = "INSERT INTO sites (id, owner, name, lat, lon, elevation, pressure, "
                       "temperature, horizon_deg, timezone, notes, created, updated, version) "
                       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12, 1)",
    [ST_SITE_VERSION] = "SELECT version FROM sites WHERE owner = ?1 AND id = ?2",
    [ST_SITE_UPDATE] = "UPDATE sites SET name = ?3, lat = ?4, lon = ?5, elevation = ?6, "
                       "pressure = ?7, temperature = ?8, horizon_deg = ?9, timezone = ?10, "
                       "notes = ?11, updated = ?12, version = version + 1 "
                       "WHERE owner = ?2 AND id = ?1",
    [ST_SITE_DELETE] = "DELETE FROM sites WHERE owner = ?1 AND id = ?2",
    [ST_TOKEN_COUNT] = "SELECT count(*) FROM tokens WHERE owner = ?1",
    [ST_TOKEN_INSERT] = "INSERT INTO tokens (id, owner, hash, name, created) "
                        "VALUES (?1, ?2, ?3, ?4, ?5)",
    [ST_TOKEN_LIST] = "SELECT id, name, created FROM tokens WHERE owner = ?1 "
                      "ORDER BY created, id",
    [ST_TOKEN_DELETE] = "DELETE FROM tokens WHERE owner = ?1 AND id = ?2",
};

/* The schema, one step per version; user_version records how far a file has come. */
static const char *const migrations[] = {
    /* 1: sites and tokens */
    "CREATE TABLE sites ("
    " id INTEGER PRIMARY KEY,"
    " owner TEXT NOT NULL,"
    " name TEXT NOT NULL,"
    " lat REAL NOT NULL, lon REAL NOT NULL, elevation REAL NOT NULL,"
    " pressure REAL, temperature REAL,"
    " horizon_deg REAL NOT NULL DEFAULT 0,"
    " timezone TEXT,"
    " notes TEXT NOT NULL DEFAULT '',"
    " created INTEGER NOT NULL, updated INTEGER NOT NULL,"
    " version INTEGER NOT NULL,"
    " UNIQUE (owner, name)"
    ") STRICT;"
    "CREATE TABLE tokens ("
    " id INTEGER PRIMARY KEY,"
    " owner TEXT NOT NULL,"
    " hash TEXT NOT NULL UNIQUE,"
    " name TEXT NOT NULL,"
    " created INTEGER NOT NULL"
    ") STRICT;"
    "CREATE INDEX tokens_owner ON tokens (owner);",
};

struct fifo {
    struct store_req *head;
    struct store_req *tail;
    size_t len;
};

struct sqlite_store {
    struct store base;
    sqlite3 *db;
    sqlite3_stmt *stmt[ST_COUNT];
    char path[1024];             /* the file (store_sqlite_open checks the length) */
    pthread_t thread;
    bool thread_started;
    uv_async_t async;
    bool async_open;

    pthread_mutex_t lock;        /* guards everything below */
    pthread_cond_t wake;
    struct fifo in;              /* submitted, not yet taken by the thread */
    struct fifo out;             /* finished, not yet delivered on the loop */
    bool stopping;
    bool thread_done;            /* the thread has returned */
    uint64_t commits;
    char last_error[200];

    /* loop thread only */
    uint64_t ops;
    uint64_t failed;
    size_t in_flight;            /* submitted and not yet delivered */
};

/* ------------------------------------------------------------------ fifo */

static void fifo_push(struct fifo *q, struct store_req *r)
{
    r->next = NULL;
    if (q->tail != NULL)
        q->tail->next = r;
    else
        q->head = r;
    q->tail = r;
    q->len++;
}

static struct store_req *fifo_take_all(struct fifo *q)
{
    struct store_req *r = q->head;
    q->head = q->tail = NULL;
    q->len = 0;
    return r;
}

/* ------------------------------------------------------------- the thread */

static void note_error(struct sqlite_store *s, const char *what)
{
    const char *msg = sqlite3_errmsg(s->db);
    pt_log_error("sqlite: %s: %s", what, msg);
    pthread_mutex_lock(&s->lock);
    snprintf(s->last_error, sizeof(s->last_error), "%s: %s", what, msg);
    pthread_mutex_unlock(&s->lock);
}

static int exec_sql(struct sqlite_store *s, const char *sql)
{
    char *err = NULL;
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, &err);
    if (rc != SQLITE_OK) {
        pt_log_error("sqlite: %s: %s", sql, err != NULL ? err : sqlite3_errstr(rc));
        sqlite3_free(err);
    }
    return rc;
}

static sqlite3_stmt *stmt(struct sqlite_store *s, enum stmt_id id)
{
    sqlite3_stmt *st = s->stmt[id];
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return st;
}

static void bind_text(sqlite3_stmt *st, int i, const char *text)
{
    sqlite3_bind_text(st, i, text, -1, SQLITE_STATIC);
}

static void bind_site(sqlite3_stmt *st, const struct store_site *site)
{
    bind_text(st, 3, site->name);
    sqlite3_bind_double(st, 4, site->lat);
    sqlite3_bind_double(st, 5, site->lon);
    sqlite3_bind_double(st, 6, site->elevation);
    if (site->has_pressure)
        sqlite3_bind_double(st, 7, site->pressure);
    if (site->has_temperature)
        sqlite3_bind_double(st, 8, site->temperature);
    sqlite3_bind_double(st, 9, site->horizon_deg);
    if (site->timezone[0] != '\0')
        bind_text(st, 10, site->timezone);
    bind_text(st, 11, site->notes != NULL ? site->notes : "");
}

static void copy_column(sqlite3_stmt *st, int col, char *out, size_t size)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    snprintf(out, size, "%s", t != NULL ? (const char *)t : "");
}

/* A row of SITE_COLS into *site (notes on the heap). */
static void read_site(sqlite3_stmt *st, struct store_site *site)
{
    memset(site, 0, sizeof(*site));
    site->id = sqlite3_column_int64(st, 0);
    copy_column(st, 1, site->name, sizeof(site->name));
    site->lat = sqlite3_column_double(st, 2);
    site->lon = sqlite3_column_double(st, 3);
    site->elevation = sqlite3_column_double(st, 4);
    site->has_pressure = sqlite3_column_type(st, 5) != SQLITE_NULL;
    site->pressure = sqlite3_column_double(st, 5);
    site->has_temperature = sqlite3_column_type(st, 6) != SQLITE_NULL;
    site->temperature = sqlite3_column_double(st, 6);
    site->horizon_deg = sqlite3_column_double(st, 7);
    copy_column(st, 8, site->timezone, sizeof(site->timezone));
    const unsigned char *notes = sqlite3_column_text(st, 9);
    site->notes = pt_xstrndup(notes != NULL ? (const char *)notes : "", (size_t)sqlite3_column_bytes(st, 9));
    site->created_ms = sqlite3_column_int64(st, 10);
    site->updated_ms = sqlite3_column_int64(st, 11);
    site->version = sqlite3_column_int64(st, 12);
}

/* A one-integer query (count, version): 1 with *v, 0 for no row, -1 on error. */
static int query_int(struct sqlite_store *s, sqlite3_stmt *st, int64_t *v)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *v = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
        return 1;
    }
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        return 0;
    note_error(s, "query");
    return -1;
}

/* The requester's owner id into req->auth.owner; false with req->status set otherwise. */
static bool resolve_owner(struct sqlite_store *s, struct store_req *req)
{
    if (!req->auth.bearer)
        return true;
    sqlite3_stmt *st = stmt(s, ST_OWNER_OF_TOKEN);
    bind_text(st, 1, req->auth.token_hash);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        copy_column(st, 0, req->auth.owner, sizeof(req->auth.owner));
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return true;
    if (rc == SQLITE_DONE) {
        req->status = STORE_UNAUTHORIZED;
    } else {
        note_error(s, "token lookup");
        req->status = STORE_FAILED;
    }
    return false;
}

static void op_site_get(struct sqlite_store *s, struct store_req *req)
{
    sqlite3_stmt *st = stmt(s, ST_SITE_GET);
    bind_text(st, 1, req->auth.owner);
    sqlite3_bind_int64(st, 2, req->id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        read_site(st, &req->site);
        req->notes_owned = true;
    } else if (rc == SQLITE_DONE) {
        req->status = STORE_NOT_FOUND;
    } else {
        note_error(s, "site get");
        req->status = STORE_FAILED;
    }
    sqlite3_reset(st);
}

static void op_site_list(struct sqlite_store *s, struct store_req *req)
{
    sqlite3_stmt *st = stmt(s, ST_SITE_LIST);
    bind_text(st, 1, req->auth.owner);
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (req->num_sites == cap) {
            cap = cap > 0 ? cap * 2 : 8;
            req->sites = pt_xrealloc(req->sites, cap * sizeof(*req->sites));
        }
        read_site(st, &req->sites[req->num_sites++]);
    }
    if (rc != SQLITE_DONE) {
        note_error(s, "site list");
        req->status = STORE_FAILED;
    }
    sqlite3_reset(st);
}

/* The owner's count of sites or tokens against the limit; false with status set. */
static bool under_limit(struct sqlite_store *s, struct store_req *req, enum stmt_id count_id)
{
    sqlite3_stmt *st = stmt(s, count_id);
    bind_text(st, 1, req->auth.owner);
    int64_t n = 0;
    if (query_int(s, st, &n) < 0) {
        req->status = STORE_FAILED;
        return false;
    }
    if (req->max_per_owner > 0 && (uint64_t)n >= req->max_per_owner) {
        req->status = STORE_LIMIT;
        return false;
    }
    return true;
}

/* The status for a failed write statement (a unique name, else a failure). */
static enum store_status write_failure(struct sqlite_store *s, const char *what)
{
    int ext = sqlite3_extended_errcode(s->db);
    if (ext == SQLITE_CONSTRAINT_UNIQUE)
        return STORE_NAME_TAKEN;
    note_error(s, what);
    return STORE_FAILED;
}

static void op_site_create(struct sqlite_store *s, struct store_req *req)
{
    if (!under_limit(s, req, ST_SITE_COUNT))
        return;
    for (int attempt = 0; attempt < ID_ATTEMPTS; attempt++) {
        int64_t id = store_random_id();
        sqlite3_stmt *st = stmt(s, ST_SITE_INSERT);
        sqlite3_bind_int64(st, 1, id);
        bind_text(st, 2, req->auth.owner);
        bind_site(st, &req->site);
        sqlite3_bind_int64(st, 12, req->now_ms);
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc == SQLITE_DONE) {
            req->id = id;
            op_site_get(s, req);
            return;
        }
        if (sqlite3_extended_errcode(s->db) != SQLITE_CONSTRAINT_PRIMARYKEY) {
            req->status = write_failure(s, "site insert");
            return;
        }
    }
    req->status = STORE_FAILED;
}

/* The row's version; false with status NOT_FOUND / STALE / FAILED. */
static bool check_version(struct sqlite_store *s, struct store_req *req)
{
    sqlite3_stmt *st = stmt(s, ST_SITE_VERSION);
    bind_text(st, 1, req->auth.owner);
    sqlite3_bind_int64(st, 2, req->id);
    int64_t v = 0;
    int rc = query_int(s, st, &v);
    if (rc <= 0) {
        req->status = rc == 0 ? STORE_NOT_FOUND : STORE_FAILED;
        return false;
    }
    if (req->if_version != 0 && v != req->if_version) {
        req->status = STORE_STALE;
        req->current_version = v;
        return false;
    }
    return true;
}

static void op_site_update(struct sqlite_store *s, struct store_req *req)
{
    if (!check_version(s, req))
        return;
    sqlite3_stmt *st = stmt(s, ST_SITE_UPDATE);
    sqlite3_bind_int64(st, 1, req->id);
    bind_text(st, 2, req->auth.owner);
    bind_site(st, &req->site);
    sqlite3_bind_int64(st, 12, req->now_ms);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        req->status = write_failure(s, "site update");
        return;
    }
    op_site_get(s, req);
}

static void op_site_delete(struct sqlite_store *s, struct store_req *req)
{
    if (!check_version(s, req))
        return;
    sqlite3_stmt *st = stmt(s, ST_SITE_DELETE);
    bind_text(st, 1, req->auth.owner);
    sqlite3_bind_int64(st, 2, req->id);
    if (sqlite3_step(st) != SQLITE_DONE)
        req->status = write_failure(s, "site delete");
    sqlite3_reset(st);
}

static void op_token_create(struct sqlite_store *s, struct store_req *req)
{
    if (!under_limit(s, req, ST_TOKEN_COUNT))
        return;
    for (int attempt = 0; attempt < ID_ATTEMPTS; attempt++) {
        int64_t id = store_random_id();
        sqlite3_stmt *st = stmt(s, ST_TOKEN_INSERT);
        sqlite3_bind_int64(st, 1, id);
        bind_text(st, 2, req->auth.owner);
        bind_text(st, 3, req->token_hash);
        bind_text(st, 4, req->token.name);
        sqlite3_bind_int64(st, 5, req->now_ms);
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc == SQLITE_DONE) {
            req->token.id = id;
            req->token.created_ms = req->now_ms;
            return;
        }
        if (sqlite3_extended_errcode(s->db) != SQLITE_CONSTRAINT_PRIMARYKEY) {
            note_error(s, "token insert");
            req->status = STORE_FAILED;
            return;
        }
    }
    req->status = STORE_FAILED;
}

static void op_token_list(struct sqlite_store *s, struct store_req *req)
{
    sqlite3_stmt *st = stmt(s, ST_TOKEN_LIST);
    bind_text(st, 1, req->auth.owner);
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (req->num_tokens == cap) {
            cap = cap > 0 ? cap * 2 : 4;
            req->tokens = pt_xrealloc(req->tokens, cap * sizeof(*req->tokens));
        }
        struct store_token *t = &req->tokens[req->num_tokens++];
        memset(t, 0, sizeof(*t));
        t->id = sqlite3_column_int64(st, 0);
        copy_column(st, 1, t->name, sizeof(t->name));
        t->created_ms = sqlite3_column_int64(st, 2);
    }
    if (rc != SQLITE_DONE) {
        note_error(s, "token list");
        req->status = STORE_FAILED;
    }
    sqlite3_reset(st);
}

static void op_token_delete(struct sqlite_store *s, struct store_req *req)
{
    sqlite3_stmt *st = stmt(s, ST_TOKEN_DELETE);
    bind_text(st, 1, req->auth.owner);
    sqlite3_bind_int64(st, 2, req->id);
    if (sqlite3_step(st) != SQLITE_DONE) {
        note_error(s, "token delete");
        req->status = STORE_FAILED;
    } else if (sqlite3_changes(s->db) == 0) {
        req->status = STORE_NOT_FOUND;
    }
    sqlite3_reset(st);
}

static bool is_write(enum store_op op)
{
    return op == STORE_SITE_CREATE || op == STORE_SITE_UPDATE || op == STORE_SITE_DELETE ||
           op == STORE_TOKEN_CREATE || op == STORE_TOKEN_DELETE;
}

static void run_op(struct sqlite_store *s, struct store_req *req)
{
    if (!resolve_owner(s, req))
        return;
    switch (req->op) {
    case STORE_SITE_LIST: op_site_list(s, req); break;
    case STORE_SITE_GET: op_site_get(s, req); break;
    case STORE_SITE_CREATE: op_site_create(s, req); break;
    case STORE_SITE_UPDATE: op_site_update(s, req); break;
    case STORE_SITE_DELETE: op_site_delete(s, req); break;
    case STORE_TOKEN_CREATE: op_token_create(s, req); break;
    case STORE_TOKEN_LIST: op_token_list(s, req); break;
    case STORE_TOKEN_DELETE: op_token_delete(s, req); break;
    }
}

/* A write inside its own savepoint: refused or failed, it leaves nothing behind. */
static void run_write(struct sqlite_store *s, struct store_req *req)
{
    if (exec_sql(s, "SAVEPOINT w") != SQLITE_OK) {
        req->status = STORE_FAILED;
        return;
    }
    run_op(s, req);
    if (req->status != STORE_OK) {
        store_req_release(req);
        exec_sql(s, "ROLLBACK TO w");
    }
    exec_sql(s, "RELEASE w");
}

/* Run one group (a NULL-terminated chain); writes commit together. */
static void run_group(struct sqlite_store *s, struct store_req *group)
{
    bool writes = false;
    for (struct store_req *r = group; r != NULL; r = r->next)
        writes |= is_write(r->op);
    if (!writes) {
        for (struct store_req *r = group; r != NULL; r = r->next)
            run_op(s, r);
        return;
    }
    if (exec_sql(s, "BEGIN IMMEDIATE") != SQLITE_OK) {
        note_error(s, "begin");
        for (struct store_req *r = group; r != NULL; r = r->next)
            r->status = STORE_FAILED;
        return;
    }
    for (struct store_req *r = group; r != NULL; r = r->next) {
        if (is_write(r->op))
            run_write(s, r);
        else
            run_op(s, r);
    }
    if (exec_sql(s, "COMMIT") == SQLITE_OK) {
        pthread_mutex_lock(&s->lock);
        s->commits++;
        pthread_mutex_unlock(&s->lock);
        return;
    }
    note_error(s, "commit");
    exec_sql(s, "ROLLBACK");
    for (struct store_req *r = group; r != NULL; r = r->next) {
        if (is_write(r->op)) {
            store_req_release(r);
            r->status = STORE_FAILED;
        }
    }
}

/* Up to BATCH_MAX requests off the front of the input queue (lock held). */
static struct store_req *take_group(struct sqlite_store *s)
{
    struct store_req *head = s->in.head, *last = head;
    size_t n = 1;
    while (last->next != NULL && n < BATCH_MAX) {
        last = last->next;
        n++;
    }
    s->in.head = last->next;
    if (s->in.head == NULL)
        s->in.tail = NULL;
    s->in.len -= n;
    last->next = NULL;
    return head;
}

static void deliver(struct sqlite_store *s, struct store_req *chain)
{
    pthread_mutex_lock(&s->lock);
    while (chain != NULL) {
        struct store_req *next = chain->next;
        fifo_push(&s->out, chain);
        chain = next;
    }
    pthread_mutex_unlock(&s->lock);
    uv_async_send(&s->async);
}

static void *store_thread(void *arg)
{
    struct sqlite_store *s = arg;
    pthread_mutex_lock(&s->lock);
    for (;;) {
        while (s->in.head == NULL && !s->stopping)
            pthread_cond_wait(&s->wake, &s->lock);
        if (s->stopping)
            break;
        struct store_req *group = take_group(s);
        pthread_mutex_unlock(&s->lock);
        run_group(s, group);
        deliver(s, group);
        pthread_mutex_lock(&s->lock);
    }
    /* Stopping: what is still queued is not run. */
    struct store_req *rest = fifo_take_all(&s->in);
    for (struct store_req *r = rest; r != NULL; r = r->next)
        r->status = STORE_UNAVAILABLE;
    while (rest != NULL) {
        struct store_req *next = rest->next;
        fifo_push(&s->out, rest);
        rest = next;
    }
    s->thread_done = true;
    pthread_mutex_unlock(&s->lock);
    uv_async_send(&s->async);
    return NULL;
}

/* --------------------------------------------------------------- the loop */

static void on_async_closed(uv_handle_t *h)
{
    (void)h;
}

static void on_async(uv_async_t *a)
{
    struct sqlite_store *s = a->data;
    pthread_mutex_lock(&s->lock);
    struct store_req *done = fifo_take_all(&s->out);
    bool finished = s->thread_done;
    pthread_mutex_unlock(&s->lock);
    while (done != NULL) {
        struct store_req *next = done->next;
        s->in_flight--;
        s->ops++;
        if (done->status == STORE_FAILED || done->status == STORE_UNAVAILABLE)
            s->failed++;
        done->next = NULL;
        done->done(done);
        done = next;
    }
    if (finished && s->thread_started) {
        pthread_join(s->thread, NULL); /* it has returned already */
        s->thread_started = false;
        uv_close((uv_handle_t *)&s->async, on_async_closed);
        s->async_open = false;
    }
}

static void sqlite_submit(struct store *base, struct store_req *req)
{
    struct sqlite_store *s = pt_container_of(base, struct sqlite_store, base);
    s->in_flight++;
    pthread_mutex_lock(&s->lock);
    fifo_push(&s->in, req);
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
}

static void sqlite_stats(const struct store *base, struct store_stats *out)
{
    /* A read, but it takes the lock: the one place the const is shed. */
    struct sqlite_store *s = pt_container_of((struct store *)(uintptr_t)base, struct sqlite_store, base);
    out->engine = "sqlite";
    out->available = !s->base.closing;
    out->ops = s->ops;
    out->failed = s->failed;
    out->connections = 1;
    pthread_mutex_lock(&s->lock);
    out->queued = s->in.len;
    out->commits = s->commits;
    snprintf(out->last_error, sizeof(out->last_error), "%s", s->last_error);
    pthread_mutex_unlock(&s->lock);
}

static void sqlite_close(struct store *base)
{
    struct sqlite_store *s = pt_container_of(base, struct sqlite_store, base);
    pthread_mutex_lock(&s->lock);
    s->stopping = true;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
}

static void close_db(struct sqlite_store *s)
{
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(s->stmt[i]);
    if (s->db != NULL && sqlite3_close(s->db) != SQLITE_OK)
        pt_log_error("sqlite: close %s: %s", s->path, sqlite3_errmsg(s->db));
    s->db = NULL;
}

static void sqlite_free(struct store *base)
{
    struct sqlite_store *s = pt_container_of(base, struct sqlite_store, base);
    if (s->thread_started) {
        /* Freed without a close (a start-up failure): stop the thread first. */
        sqlite_close(base);
        pthread_join(s->thread, NULL);
    }
    close_db(s);
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

static const struct store_engine sqlite_engine = {
    .submit = sqlite_submit,
    .stats = sqlite_stats,
    .close = sqlite_close,
    .free = sqlite_free,
};

/* ------------------------------------------------------------- opening */

/* The file's schema version (PRAGMA user_version). Returns 0 or -1. */
static int schema_version(struct sqlite_store *s, int64_t *version)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
        return -1;
    int rc = query_int(s, st, version);
    sqlite3_finalize(st);
    return rc < 0 ? -1 : 0;
}

/*
 * Bring the file to the newest schema, one step per write transaction. The
 * version is read inside BEGIN IMMEDIATE, so processes opening the same file at
 * once (the workers of a master) migrate it once: the others wait on the lock,
 * then find the step done.
 */
static int migrate(struct sqlite_store *s)
{
    for (;;) {
        int64_t version = 0;
        if (exec_sql(s, "BEGIN IMMEDIATE") != SQLITE_OK)
            return -1;
        if (schema_version(s, &version) < 0) {
            exec_sql(s, "ROLLBACK");
            return -1;
        }
        if (version > (int64_t)PT_ARRAY_SIZE(migrations)) {
            exec_sql(s, "ROLLBACK");
            pt_log_error("sqlite: %s has schema version %lld, newer than this program's %zu",
                         s->path, (long long)version, PT_ARRAY_SIZE(migrations));
            return -1;
        }
        if (version == (int64_t)PT_ARRAY_SIZE(migrations))
            return exec_sql(s, "COMMIT") == SQLITE_OK ? 0 : -1;
        char set[64];
        snprintf(set, sizeof(set), "PRAGMA user_version = %lld", (long long)version + 1);
        if (exec_sql(s, migrations[version]) != SQLITE_OK || exec_sql(s, set) != SQLITE_OK) {
            exec_sql(s, "ROLLBACK");
            return -1;
        }
        if (exec_sql(s, "COMMIT") != SQLITE_OK)
            return -1;
        pt_log_info("sqlite: %s migrated to schema version %lld", s->path, (long long)version + 1);
    }
}

/*
 * journal_mode = WAL needs the file to itself for a moment, and while another
 * connection writes (another worker migrating the new file) SQLite answers "database is
 * locked" at once: the busy handler is not called there. Ask again until the busy
 * timeout has passed.
 */
static int set_wal(struct sqlite_store *s)
{
    const struct timespec pause = {0, 10 * 1000 * 1000};
    int rc;
    for (int waited_ms = 0;; waited_ms += 10) {
        rc = sqlite3_exec(s->db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL);
        if ((rc & 0xff) != SQLITE_BUSY || waited_ms >= BUSY_TIMEOUT_MS)
            break;
        nanosleep(&pause, NULL);
    }
    if (rc != SQLITE_OK)
        pt_log_error("sqlite: PRAGMA journal_mode = WAL: %s", sqlite3_errmsg(s->db));
    return rc;
}

static int open_db(struct sqlite_store *s)
{
    int rc = sqlite3_open_v2(s->path, &s->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             NULL);
    if (rc != SQLITE_OK) {
        pt_log_error("sqlite: cannot open %s: %s", s->path,
                     s->db != NULL ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        return -1;
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
    if (set_wal(s) != SQLITE_OK ||
        exec_sql(s, "PRAGMA synchronous = FULL") != SQLITE_OK ||
        exec_sql(s, "PRAGMA foreign_keys = ON") != SQLITE_OK || migrate(s) < 0)
        return -1;
    for (int i = 0; i < ST_COUNT; i++) {
        if (sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->stmt[i],
                               NULL) != SQLITE_OK) {
            pt_log_error("sqlite: prepare %s: %s", stmt_sql[i], sqlite3_errmsg(s->db));
            return -1;
        }
    }
    return 0;
}

int store_sqlite_open(uv_loop_t *loop, const struct store_config *cfg, struct store **out)
{
    if (cfg->sqlite_path == NULL || strlen(cfg->sqlite_path) >= 1024) {
        pt_log_error("sqlite: no usable database path");
        return PT_E_INVALID;
    }
    struct sqlite_store *s = pt_xcalloc(1, sizeof(*s));
    s->base.engine = &sqlite_engine;
    s->base.loop = loop;
    snprintf(s->path, sizeof(s->path), "%s", cfg->sqlite_path);
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->wake, NULL);
    if (open_db(s) < 0) {
        sqlite_free(&s->base);
        return PT_E_INVALID;
    }
    if (uv_async_init(loop, &s->async, on_async) != 0) {
        sqlite_free(&s->base);
        return PT_E_NOMEM;
    }
    s->async.data = s;
    s->async_open = true;
    if (pthread_create(&s->thread, NULL, store_thread, s) != 0) {
        pt_log_error("sqlite: cannot start the store thread");
        abort(); /* start-up resource exhaustion, as a failed malloc */
    }
    s->thread_started = true;
    *out = &s->base;
    return 0;
}
