/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * pg.c -- the PostgreSQL engine of the data tier: a pool of libpq connections
 * driven on the loop by libpq's asynchronous API, so that the loop never waits
 * on the network, a name lookup or the server.
 *
 * Each connection is its own state machine (enum conn_state): DOWN (back-off
 * timer) -> RESOLVING (the store's shared host lookup) -> CONNECTING
 * (PQconnectStartParams, then PQconnectPoll at each uv_poll event; the socket
 * may change between steps, so the poll handle follows PQsocket and the
 * socket's inode) -> MIGRATING (the first connection up only; the others wait
 * in SCHEMA_WAIT) -> PREPARING (one PQsendPrepare per statement) -> READY <->
 * BUSY (one request at a time). Every waiting state arms the connection's one
 * timer: the back-off, the bring-up deadline, or the answer deadline
 * (statement_timeout plus a grace, for a peer that vanished without a reset).
 * A connection that fails anywhere goes back to DOWN with a doubling, jittered
 * back-off; the request it was running finishes STORE_UNAVAILABLE.
 *
 * libpq's own name lookup blocks, so a host name is resolved first with
 * uv_getaddrinfo (one lookup at a time for the whole pool, cached briefly) and
 * the connection is made with hostaddr= set to the addresses found, host=
 * kept for TLS and the password file.
 *
 * Every operation is one call of a PL/pgSQL function (created by the
 * migration) through one prepared statement: one round trip, one implicit
 * transaction. The function resolves a bearer token to its owner, checks the
 * owner, the version and the per-owner limit (under a transaction-scoped
 * advisory lock on the owner, so concurrent creates on several connections or
 * processes cannot pass it together) and answers with a header row: a status
 * code, the owner, the current version. A request is finished only when
 * PQgetResult returned NULL, that is after ReadyForQuery, so a write is
 * reported STORE_OK only once its COMMIT is done.
 *
 * Requests wait in a bounded FIFO (max_queued) for a READY connection, each at
 * most queue_timeout_ms. done is always called from a loop callback (a
 * zero-delay timer that delivers finished requests), never from inside
 * store_submit, and exactly once per request.
 *
 * Migrations: schema_version records the versions applied; the migrating
 * connection takes a transaction-scoped advisory lock first, so several
 * processes starting at once apply each step once.
 */
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <libpq-fe.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "store/store.h"

#define DEFAULT_POOL_SIZE 4
#define DEFAULT_STATEMENT_TIMEOUT_MS 5000
#define DEFAULT_QUEUE_TIMEOUT_MS 2000
#define DEFAULT_MAX_QUEUED 1024
#define CONNECT_TIMEOUT_MS 10000 /* resolve + connect, when the URL sets no connect_timeout */
#define ANSWER_GRACE_MS 5000     /* beyond statement_timeout before a silent peer is dropped */
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define RESOLVE_TTL_MS 10000 /* how long a host lookup serves new connections */
#define ID_ATTEMPTS 4        /* random ids offered per create (primary-key collisions) */
#define MAX_ADDRS_PER_HOST 8
#define MAX_PARAMS 16
#define LIST_LIMIT (64 * 1024) /* bytes of a host, hostaddr or port list */

/* ------------------------------------------------------------------ schema */

/* Status codes the SQL functions answer with, in their header row's r_st. */
enum sql_status {
    SQL_OK = 0,
    SQL_NOT_FOUND = 1,
    SQL_UNAUTHORIZED = 2,
    SQL_NAME_TAKEN = 3,
    SQL_STALE = 4,
    SQL_LIMIT = 5,
};

#define AUTH_ARGS "p_bearer boolean, p_owner text, p_hash text"
#define SITE_ARGS                                                                                  \
    "p_name text, p_lat double precision, p_lon double precision, "                                \
    "p_elevation double precision, p_pressure double precision, "                                  \
    "p_temperature double precision, p_horizon double precision, p_tz text, p_notes text, "        \
    "p_now bigint"
#define SITE_OUT                                                                                   \
    "TABLE (r_st integer, r_owner text, r_cur bigint, r_id bigint, r_name text, "                  \
    "r_lat double precision, r_lon double precision, r_elevation double precision, "               \
    "r_pressure double precision, r_temperature double precision, "                                \
    "r_horizon double precision, r_tz text, r_notes text, r_created bigint, "                      \
    "r_updated bigint, r_version bigint)"
#define SITE_COLS                                                                                  \
    "s.id, s.name, s.lat, s.lon, s.elevation, s.pressure, s.temperature, s.horizon_deg, "          \
    "coalesce(s.timezone, ''), s.notes, s.created_ms, s.updated_ms, s.version"
#define SITE_INTO                                                                                  \
    "r_id, r_name, r_lat, r_lon, r_elevation, r_pressure, r_temperature, r_horizon, r_tz, "        \
    "r_notes, r_created, r_updated, r_version"
#define TOKEN_OUT                                                                                  \
    "TABLE (r_st integer, r_owner text, r_cur bigint, r_id bigint, r_name text, "                  \
    "r_created bigint)"
/* The owner, or NULL for an unknown bearer token; every function starts with it. */
#define RESOLVE_OWNER "DECLARE o text := pt_owner(p_bearer, p_owner, p_hash); "
#define REFUSE_UNKNOWN_BEARER                                                                      \
    "IF o IS NULL THEN r_st := 2; RETURN NEXT; RETURN; END IF; r_owner := o; "
/* Locks the owner's row for a version check: sets v, answers NOT_FOUND or STALE. */
#define CHECK_VERSION                                                                              \
    "SELECT s.version INTO v FROM sites s WHERE s.owner = o AND s.id = p_id FOR UPDATE; "          \
    "IF NOT FOUND THEN r_st := 1; RETURN NEXT; RETURN; END IF; "                                   \
    "IF p_if_version <> 0 AND v <> p_if_version THEN "                                             \
    "r_st := 4; r_cur := v; RETURN NEXT; RETURN; END IF; "
/* Advisory-lock namespaces (the first key of the two-key form). */
#define LOCK_MIGRATION "1347682304"
#define LOCK_SITES "1347682305"
#define LOCK_TOKENS "1347682306"

/* The schema, one step per version; schema_version records how far a database has come. */
static const char *const migrations[] = {
    /* 1: sites, tokens and one function per operation */
    "CREATE TABLE IF NOT EXISTS sites ("
    " id bigint CONSTRAINT sites_pkey PRIMARY KEY,"
    " owner text COLLATE \"C\" NOT NULL,"
    " name text COLLATE \"C\" NOT NULL,"
    " lat double precision NOT NULL, lon double precision NOT NULL,"
    " elevation double precision NOT NULL,"
    " pressure double precision, temperature double precision,"
    " horizon_deg double precision NOT NULL DEFAULT 0,"
    " timezone text,"
    " notes text NOT NULL DEFAULT '',"
    " created_ms bigint NOT NULL, updated_ms bigint NOT NULL,"
    " version bigint NOT NULL,"
    " CONSTRAINT sites_owner_name_key UNIQUE (owner, name));"
    "CREATE TABLE IF NOT EXISTS tokens ("
    " id bigint CONSTRAINT tokens_pkey PRIMARY KEY,"
    " owner text COLLATE \"C\" NOT NULL,"
    " hash text COLLATE \"C\" NOT NULL CONSTRAINT tokens_hash_key UNIQUE,"
    " name text NOT NULL,"
    " created_ms bigint NOT NULL);"
    "CREATE INDEX IF NOT EXISTS tokens_owner_idx ON tokens (owner);"

    "CREATE OR REPLACE FUNCTION pt_owner(" AUTH_ARGS ") RETURNS text LANGUAGE sql STABLE AS "
    "$f$ SELECT CASE WHEN p_bearer THEN (SELECT t.owner FROM tokens t WHERE t.hash = p_hash)"
    " ELSE p_owner END $f$;"

    "CREATE OR REPLACE FUNCTION pt_site_list(" AUTH_ARGS ") RETURNS " SITE_OUT
    " LANGUAGE plpgsql STABLE AS $f$ " RESOLVE_OWNER "BEGIN " REFUSE_UNKNOWN_BEARER
    "r_st := 0; RETURN NEXT; "
    "RETURN QUERY SELECT 0, o, 0::bigint, " SITE_COLS " FROM sites s WHERE s.owner = o; "
    "END $f$;"

    "CREATE OR REPLACE FUNCTION pt_site_get(" AUTH_ARGS ", p_id bigint) RETURNS " SITE_OUT
    " LANGUAGE plpgsql STABLE AS $f$ " RESOLVE_OWNER "BEGIN " REFUSE_UNKNOWN_BEARER
    "SELECT " SITE_COLS " INTO " SITE_INTO " FROM sites s WHERE s.owner = o AND s.id = p_id; "
    "r_st := CASE WHEN FOUND THEN 0 ELSE 1 END; RETURN NEXT; "
    "END $f$;"

    "CREATE OR REPLACE FUNCTION pt_site_create(" AUTH_ARGS
    ", p_ids bigint[], p_max bigint, " SITE_ARGS ") RETURNS " SITE_OUT
    " LANGUAGE plpgsql AS $f$ " RESOLVE_OWNER
    "n bigint; k integer; c text; BEGIN " REFUSE_UNKNOWN_BEARER "IF p_max > 0 THEN "
    " PERFORM pg_advisory_xact_lock(" LOCK_SITES ", hashtext(o)); "
    " SELECT count(*) INTO n FROM sites s WHERE s.owner = o; "
    " IF n >= p_max THEN r_st := 5; RETURN NEXT; RETURN; END IF; "
    "END IF; "
    "FOR k IN 1 .. coalesce(array_length(p_ids, 1), 0) LOOP "
    " BEGIN "
    "  INSERT INTO sites AS s (id, owner, name, lat, lon, elevation, pressure, temperature,"
    "   horizon_deg, timezone, notes, created_ms, updated_ms, version)"
    "  VALUES (p_ids[k], o, p_name, p_lat, p_lon, p_elevation, p_pressure, p_temperature,"
    "   p_horizon, nullif(p_tz, ''), p_notes, p_now, p_now, 1)"
    "  RETURNING " SITE_COLS " INTO " SITE_INTO "; "
    "  r_st := 0; RETURN NEXT; RETURN; "
    " EXCEPTION WHEN unique_violation THEN "
    "  GET STACKED DIAGNOSTICS c = CONSTRAINT_NAME; "
    "  IF c IS DISTINCT FROM 'sites_pkey' THEN r_st := 3; RETURN NEXT; RETURN; END IF; "
    " END; "
    "END LOOP; "
    "RAISE EXCEPTION 'no free site id in % attempts', coalesce(array_length(p_ids, 1), 0); "
    "END $f$;"

    "CREATE OR REPLACE FUNCTION pt_site_update(" AUTH_ARGS
    ", p_id bigint, p_if_version bigint, " SITE_ARGS ") RETURNS " SITE_OUT
    " LANGUAGE plpgsql AS $f$ " RESOLVE_OWNER "v bigint; BEGIN " REFUSE_UNKNOWN_BEARER CHECK_VERSION
    "BEGIN "
    " UPDATE sites AS s SET name = p_name, lat = p_lat, lon = p_lon, elevation = p_elevation,"
    "  pressure = p_pressure, temperature = p_temperature, horizon_deg = p_horizon,"
    "  timezone = nullif(p_tz, ''), notes = p_notes, updated_ms = p_now,"
    "  version = s.version + 1"
    " WHERE s.id = p_id RETURNING " SITE_COLS " INTO " SITE_INTO "; "
    "EXCEPTION WHEN unique_violation THEN r_st := 3; RETURN NEXT; RETURN; "
    "END; "
    "r_st := 0; RETURN NEXT; "
    "END $f$;"

    "CREATE OR REPLACE FUNCTION pt_site_delete(" AUTH_ARGS ", p_id bigint, p_if_version bigint) "
    "RETURNS " SITE_OUT " LANGUAGE plpgsql AS $f$ " RESOLVE_OWNER
    "v bigint; BEGIN " REFUSE_UNKNOWN_BEARER CHECK_VERSION "DELETE FROM sites s WHERE s.id = p_id; "
    "r_st := 0; RETURN NEXT; "
    "END $f$;"

    "CREATE OR REPLACE FUNCTION pt_token_create(" AUTH_ARGS ", p_ids bigint[], p_max bigint, "
    "p_new_hash text, p_name text, p_now bigint) RETURNS " TOKEN_OUT
    " LANGUAGE plpgsql AS $f$ " RESOLVE_OWNER
    "n bigint; k integer; c text; BEGIN " REFUSE_UNKNOWN_BEARER "IF p_max > 0 THEN "
    " PERFORM pg_advisory_xact_lock(" LOCK_TOKENS ", hashtext(o)); "
    " SELECT count(*) INTO n FROM tokens t WHERE t.owner = o; "
    " IF n >= p_max THEN r_st := 5; RETURN NEXT; RETURN; END IF; "
    "END IF; "
    "FOR k IN 1 .. coalesce(array_length(p_ids, 1), 0) LOOP "
    " BEGIN "
    "  INSERT INTO tokens AS t (id, owner, hash, name, created_ms)"
    "  VALUES (p_ids[k], o, p_new_hash, p_name, p_now)"
    "  RETURNING t.id, t.name, t.created_ms INTO r_id, r_name, r_created; "
    "  r_st := 0; RETURN NEXT; RETURN; "
    " EXCEPTION WHEN unique_violation THEN "
    "  GET STACKED DIAGNOSTICS c = CONSTRAINT_NAME; "
    "  IF c IS DISTINCT FROM 'tokens_pkey' THEN RAISE; END IF; "
    " END; "
    "END LOOP; "
    "RAISE EXCEPTION 'no free token id in % attempts', coalesce(array_length(p_ids, 1), 0); "
    "END $f$;"

    "CREATE OR REPLACE FUNCTION pt_token_list(" AUTH_ARGS ") RETURNS " TOKEN_OUT
    " LANGUAGE plpgsql STABLE AS $f$ " RESOLVE_OWNER "BEGIN " REFUSE_UNKNOWN_BEARER
    "r_st := 0; RETURN NEXT; "
    "RETURN QUERY SELECT 0, o, 0::bigint, t.id, t.name, t.created_ms FROM tokens t"
    " WHERE t.owner = o; "
    "END $f$;"

    "CREATE OR REPLACE FUNCTION pt_token_delete(" AUTH_ARGS ", p_id bigint) RETURNS " TOKEN_OUT
    " LANGUAGE plpgsql AS $f$ " RESOLVE_OWNER "BEGIN " REFUSE_UNKNOWN_BEARER
    "DELETE FROM tokens t WHERE t.owner = o AND t.id = p_id; "
    "r_st := CASE WHEN FOUND THEN 0 ELSE 1 END; RETURN NEXT; "
    "END $f$;",

    /*
     * 2: pt_owner in PL/pgSQL. As a SQL function with a sub-SELECT it could not be
     * inlined into its PL/pgSQL callers and was parsed, analysed and planned again on
     * every call: 44 % of the database's CPU under GET /planets?site= (bench/RESULTS.md).
     * PL/pgSQL keeps the plan for the session.
     */
    "CREATE OR REPLACE FUNCTION pt_owner(" AUTH_ARGS ") RETURNS text LANGUAGE plpgsql STABLE AS "
    "$f$ BEGIN IF p_bearer THEN RETURN (SELECT t.owner FROM tokens t WHERE t.hash = p_hash); "
    "END IF; RETURN p_owner; END $f$;",
};

/* Phase 1 of a migration: lock, make sure the version table exists, read the version. */
static const char migrate_begin_sql[] =
    "BEGIN;"
    "SELECT pg_advisory_xact_lock(" LOCK_MIGRATION ", 0);"
    "CREATE TABLE IF NOT EXISTS schema_version ("
    " version integer CONSTRAINT schema_version_pkey PRIMARY KEY,"
    " applied_ms bigint NOT NULL);"
    "SELECT coalesce(max(version), 0) FROM schema_version";

enum stmt_id {
    ST_SITE_LIST,
    ST_SITE_GET,
    ST_SITE_CREATE,
    ST_SITE_UPDATE,
    ST_SITE_DELETE,
    ST_TOKEN_CREATE,
    ST_TOKEN_LIST,
    ST_TOKEN_DELETE,
    ST_COUNT
};

static const char *const stmt_name[ST_COUNT] = {
    [ST_SITE_LIST] = "pt_site_list",     [ST_SITE_GET] = "pt_site_get",
    [ST_SITE_CREATE] = "pt_site_create", [ST_SITE_UPDATE] = "pt_site_update",
    [ST_SITE_DELETE] = "pt_site_delete", [ST_TOKEN_CREATE] = "pt_token_create",
    [ST_TOKEN_LIST] = "pt_token_list",   [ST_TOKEN_DELETE] = "pt_token_delete",
};

/* Lists put their header row (r_id NULL) first, then the rows in the contract's order. */
static const char *const stmt_sql[ST_COUNT] = {
    [ST_SITE_LIST] = "SELECT * FROM pt_site_list($1, $2, $3)"
                     " ORDER BY r_id IS NOT NULL, r_name COLLATE \"C\"",
    [ST_SITE_GET] = "SELECT * FROM pt_site_get($1, $2, $3, $4)",
    [ST_SITE_CREATE] = "SELECT * FROM pt_site_create($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,"
                       " $11, $12, $13, $14, $15)",
    [ST_SITE_UPDATE] = "SELECT * FROM pt_site_update($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,"
                       " $11, $12, $13, $14, $15)",
    [ST_SITE_DELETE] = "SELECT * FROM pt_site_delete($1, $2, $3, $4, $5)",
    [ST_TOKEN_CREATE] = "SELECT * FROM pt_token_create($1, $2, $3, $4, $5, $6, $7, $8)",
    [ST_TOKEN_LIST] = "SELECT * FROM pt_token_list($1, $2, $3)"
                      " ORDER BY r_id IS NOT NULL, r_created, r_id",
    [ST_TOKEN_DELETE] = "SELECT * FROM pt_token_delete($1, $2, $3, $4)",
};

/* Columns of the answers: the header (all), then a site's or a token's. */
enum { COL_ST, COL_OWNER, COL_CUR, COL_ID, COL_NAME };
enum {
    COL_LAT = COL_NAME + 1,
    COL_LON,
    COL_ELEVATION,
    COL_PRESSURE,
    COL_TEMPERATURE,
    COL_HORIZON,
    COL_TZ,
    COL_NOTES,
    COL_CREATED,
    COL_UPDATED,
    COL_VERSION,
    SITE_NCOLS
};
enum { COL_TOKEN_CREATED = COL_NAME + 1, TOKEN_NCOLS };

/* ------------------------------------------------------------------ types */

enum conn_state {
    CONN_DOWN,        /* waiting for the back-off timer */
    CONN_RESOLVING,   /* waiting for the store's host lookup */
    CONN_CONNECTING,  /* PQconnectPoll steps */
    CONN_SCHEMA_WAIT, /* up; another connection is migrating */
    CONN_MIGRATING,   /* up; running the migration (migrate_phase 0, then 1) */
    CONN_PREPARING,   /* up; preparing statement prepare_next */
    CONN_READY,       /* idle: takes the next request */
    CONN_BUSY,        /* running req */
    CONN_CLOSED,      /* the store is closing: handles closed or closing */
};

enum schema_state { SCHEMA_UNKNOWN, SCHEMA_MIGRATING, SCHEMA_READY };

struct pg_store;
struct pg_conn;

/* A poll handle on one socket; heap, because a replaced one lives on until its close callback. */
struct pg_poll {
    uv_poll_t handle;
    struct pg_conn *conn;
};

struct pg_conn {
    struct pg_store *store;
    unsigned index; /* for logs */
    enum conn_state state;
    PGconn *pg;           /* owned; NULL while down */
    struct pg_poll *poll; /* owned until its close callback; NULL when not watching */
    int poll_fd;          /* what poll watches: descriptor, device and inode */
    dev_t poll_dev;
    ino_t poll_ino;
    int poll_events;     /* UV_READABLE | UV_WRITABLE as started */
    uv_timer_t timer;    /* the state's deadline: back-off, bring-up or answer */
    uint64_t backoff_ms; /* the next back-off (before jitter) */
    bool had_failure;    /* lost or failed since last READY: the next READY is a reconnect */
    bool cmd_active;     /* a command was sent and its results are not all in */
    bool flushing;       /* PQflush had more to send: poll for writable too */
    int migrate_phase;
    size_t prepare_next;
    PGresult *res;         /* the running command's last successful result */
    PGresult *err;         /* its first error */
    struct store_req *req; /* CONN_BUSY: the request running (borrowed) */
};

/* One host of the URL's host list. */
struct host_entry {
    char *host;                      /* owned: a name, an IP literal or a socket directory */
    char *port;                      /* owned: its own port, or NULL (one port for all) */
    bool lookup;                     /* a name: resolved before connecting */
    bool literal;                    /* an IP address (neither a name nor a socket directory) */
    char *addrs[MAX_ADDRS_PER_HOST]; /* owned: what the last lookup found */
    size_t num_addrs;
};

struct waiter {
    struct store_req *req; /* borrowed */
    uint64_t deadline_ms;  /* uv_now time */
};

/* Requests waiting for a connection: a ring, grown on demand up to max_queued. */
struct wait_queue {
    struct waiter *slots;
    size_t cap;
    size_t head;
    size_t len;
};

struct pg_store {
    struct store base;

    /* configuration */
    uint64_t statement_timeout_ms;
    uint64_t queue_timeout_ms;
    uint64_t bringup_ms; /* resolve, connect, migrate and prepare within this */
    size_t max_queued;

    /* connection parameters */
    PQconninfoOption *opts;     /* owned: the parsed DATABASE_URL */
    PQconninfoOption *defaults; /* owned: libpq's defaults (environment) */
    char *options;              /* owned: the URL's options plus statement_timeout */
    const char **kw;            /* owned array of borrowed strings; all but host/port */
    const char **val;
    size_t num_kw;
    const char **conn_kw; /* owned scratch arrays: kw plus host, hostaddr, port */
    const char **conn_val;
    const char *fixed_host; /* borrowed: passed as is when nothing is looked up */
    const char *fixed_hostaddr;
    const char *fixed_port;

    /* host lookup */
    struct host_entry *hosts; /* owned */
    size_t num_hosts;
    const char *single_port; /* borrowed: the URL's port when one serves every host */
    bool needs_lookup;
    uv_getaddrinfo_t lookup;
    bool lookup_busy;
    size_t lookup_index;
    bool resolved; /* host_list etc. hold a fresh lookup's result */
    uint64_t resolved_ms;
    struct pt_buf host_list; /* NUL-terminated lists for the connection parameters */
    struct pt_buf hostaddr_list;
    struct pt_buf port_list;
    char lookup_error[200];

    /* the pool */
    struct pg_conn *conns; /* owned array */
    size_t num_conns;
    enum schema_state schema;
    bool newer_schema_logged;

    /* requests */
    struct wait_queue queue;
    uv_timer_t queue_timer;     /* fires at the queue head's deadline */
    struct store_req *finished; /* done not yet called, in order */
    struct store_req *finished_tail;
    uv_timer_t deliver_timer; /* zero-delay: calls done for what is finished */
    bool deliver_armed;
    bool deliver_closed;
    size_t handles_open; /* uv handles not yet through their close callback */

    /* counters */
    uint64_t ops;
    uint64_t failed;
    uint64_t reconnects;
    char last_error[200];
    char logged_error[200]; /* the last message logged at warn (repeats go to debug) */
};

/* ------------------------------------------------------------- helpers */

/* snprintf for messages that may be cut short (a message longer than out is cut). */
PT_PRINTF(3, 4) static void format_cut(char *out, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, size, fmt, ap);
    va_end(ap);
}

/* msg on one line (newlines and tabs become spaces, runs collapse), trimmed, into out. */
static void one_line(char *out, size_t size, const char *msg)
{
    size_t n = 0;
    bool space = false;
    for (const char *p = msg != NULL ? msg : ""; *p != '\0' && n + 1 < size; p++) {
        bool ws = *p == ' ' || *p == '\n' || *p == '\t' || *p == '\r';
        if (ws) {
            space = n > 0;
            continue;
        }
        if (space && n + 2 < size)
            out[n++] = ' ';
        space = false;
        out[n++] = *p;
    }
    out[n] = '\0';
}

/*
 * Record an error for stats (what: where, msg: libpq's message) and log it:
 * at warn, or at debug when it repeats the last message logged (an outage
 * makes every connection fail the same way at every attempt).
 */
static void note_error(struct pg_store *s, const char *what, const char *msg, bool repeatable)
{
    char line[200];
    one_line(line, sizeof(line), msg);
    format_cut(s->last_error, sizeof(s->last_error), "%s%s%s", what, line[0] ? ": " : "", line);
    if (repeatable && strcmp(line, s->logged_error) == 0) {
        pt_log_debug("postgresql: %s", s->last_error);
        return;
    }
    memcpy(s->logged_error, line, sizeof(s->logged_error));
    pt_log_warn("postgresql: %s", s->last_error);
}

/* An error result as "SEVERITY: message" (without libpq's context lines). OUT: out. */
static void result_message(const PGresult *r, char *out, size_t size)
{
    const char *sev = PQresultErrorField(r, PG_DIAG_SEVERITY);
    const char *primary = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    if (primary == NULL) {
        one_line(out, size, PQresultErrorMessage(r));
        return;
    }
    format_cut(out, size, "%s%s%s", sev != NULL ? sev : "", sev != NULL ? ": " : "", primary);
}

static void on_notice(void *arg, const char *message)
{
    (void)arg;
    char line[200];
    one_line(line, sizeof(line), message);
    pt_log_debug("postgresql: %s", line);
}

static bool has_nul(const char *p, size_t size)
{
    return memchr(p, '\0', size) != NULL;
}

static bool parse_i64(const char *t, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(t, &end, 10);
    if (end == t || *end != '\0' || errno != 0)
        return false;
    *out = v;
    return true;
}

static bool parse_f64(const char *t, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(t, &end);
    if (end == t || *end != '\0' || errno == ERANGE)
        return false;
    *out = v;
    return true;
}

static const char *opt_get(const PQconninfoOption *o, const char *kw)
{
    for (; o != NULL && o->keyword != NULL; o++) {
        if (strcmp(o->keyword, kw) == 0)
            return o->val != NULL && o->val[0] != '\0' ? o->val : NULL;
    }
    return NULL;
}

/* A random delay in [d/2, d]. */
static uint64_t jitter(uint64_t d)
{
    uint64_t r = (uint64_t)store_random_id();
    return d / 2 + r % (d / 2 + 1);
}

/* ------------------------------------------------------------- the queue */

static bool queue_push(struct pg_store *s, struct store_req *req, uint64_t deadline_ms)
{
    struct wait_queue *q = &s->queue;
    if (q->len >= s->max_queued)
        return false;
    if (q->len == q->cap) {
        size_t cap = q->cap > 0 ? q->cap * 2 : 16;
        if (cap > s->max_queued)
            cap = s->max_queued;
        struct waiter *slots = pt_xcalloc(cap, sizeof(*slots));
        for (size_t i = 0; i < q->len; i++)
            slots[i] = q->slots[(q->head + i) % q->cap];
        free(q->slots);
        q->slots = slots;
        q->cap = cap;
        q->head = 0;
    }
    q->slots[(q->head + q->len) % q->cap] = (struct waiter){req, deadline_ms};
    q->len++;
    return true;
}

static const struct waiter *queue_front(const struct pg_store *s)
{
    return s->queue.len > 0 ? &s->queue.slots[s->queue.head] : NULL;
}

static struct store_req *queue_pop(struct pg_store *s)
{
    struct wait_queue *q = &s->queue;
    struct store_req *req = q->slots[q->head].req;
    q->head = (q->head + 1) % q->cap;
    q->len--;
    return req;
}

/* ------------------------------------------------------------- delivery */

static void on_deliver(uv_timer_t *t);

/* The request is finished with st; its done runs from the delivery timer, soon. */
static void finish(struct pg_store *s, struct store_req *req, enum store_status st)
{
    req->status = st;
    req->next = NULL;
    if (s->finished_tail != NULL)
        s->finished_tail->next = req;
    else
        s->finished = req;
    s->finished_tail = req;
    if (!s->deliver_armed && !s->deliver_closed) {
        uv_timer_start(&s->deliver_timer, on_deliver, 0, 0);
        s->deliver_armed = true;
    }
}

static void on_handle_closed(uv_handle_t *h)
{
    struct pg_store *s = h->data;
    s->handles_open--;
}

static bool all_conns_closed(const struct pg_store *s)
{
    for (size_t i = 0; i < s->num_conns; i++) {
        if (s->conns[i].state != CONN_CLOSED)
            return false;
    }
    return true;
}

static void on_deliver(uv_timer_t *t)
{
    struct pg_store *s = t->data;
    s->deliver_armed = false;
    struct store_req *req = s->finished;
    s->finished = s->finished_tail = NULL;
    while (req != NULL) {
        struct store_req *next = req->next;
        req->next = NULL;
        s->ops++;
        if (req->status == STORE_FAILED || req->status == STORE_UNAVAILABLE)
            s->failed++;
        req->done(req); /* may submit more, or close the store */
        req = next;
    }
    /* Closing: the last delivery after the last connection closed closes this timer. */
    if (s->base.closing && s->finished == NULL && all_conns_closed(s) && !s->deliver_closed) {
        s->deliver_closed = true;
        uv_timer_stop(&s->deliver_timer);
        uv_close((uv_handle_t *)&s->deliver_timer, on_handle_closed);
    }
}

static void on_queue_timer(uv_timer_t *t)
{
    struct pg_store *s = t->data;
    uint64_t now = uv_now(s->base.loop);
    const struct waiter *w;
    while ((w = queue_front(s)) != NULL && w->deadline_ms <= now)
        finish(s, queue_pop(s), STORE_UNAVAILABLE);
    if (w != NULL)
        uv_timer_start(&s->queue_timer, on_queue_timer, w->deadline_ms - now, 0);
}

/* ------------------------------------------------------------- polling */

static void on_poll_closed(uv_handle_t *h)
{
    struct pg_poll *p = pt_container_of((uv_poll_t *)h, struct pg_poll, handle);
    struct pg_store *s = h->data;
    s->handles_open--;
    free(p);
}

/* Stop watching the socket (before libpq closes it: libuv must not poll a closed fd). */
static void unwatch(struct pg_conn *c)
{
    if (c->poll == NULL)
        return;
    c->poll->conn = NULL;
    uv_close((uv_handle_t *)&c->poll->handle, on_poll_closed);
    c->poll = NULL;
    c->poll_events = 0;
}

static void on_poll(uv_poll_t *h, int status, int events);

/*
 * Poll libpq's socket for events. libpq may have replaced the socket (another
 * address, SSL fallback), possibly under the same descriptor number: the inode
 * tells, and a new socket gets a new poll handle. Returns 0 or a negative error.
 */
static int watch(struct pg_conn *c, int events)
{
    int fd = PQsocket(c->pg);
    if (fd < 0)
        return PT_E_CLOSED;
    struct stat st;
    if (fstat(fd, &st) != 0)
        return -errno;
    if (c->poll != NULL &&
        (c->poll_fd != fd || c->poll_dev != st.st_dev || c->poll_ino != st.st_ino))
        unwatch(c);
    if (c->poll == NULL) {
        struct pg_poll *p = pt_xcalloc(1, sizeof(*p));
        int rc = uv_poll_init_socket(c->store->base.loop, &p->handle, fd);
        if (rc != 0) {
            free(p);
            return rc;
        }
        p->handle.data = c->store;
        p->conn = c;
        c->store->handles_open++;
        c->poll = p;
        c->poll_fd = fd;
        c->poll_dev = st.st_dev;
        c->poll_ino = st.st_ino;
        c->poll_events = 0;
    }
    if (events != c->poll_events) {
        int rc = uv_poll_start(&c->poll->handle, events, on_poll);
        if (rc != 0)
            return rc;
        c->poll_events = events;
    }
    return 0;
}

/* ------------------------------------------------------------- connection life */

static bool conn_is_up(const struct pg_conn *c)
{
    return c->state == CONN_READY || c->state == CONN_BUSY;
}

static void clear_results(struct pg_conn *c)
{
    PQclear(c->res);
    PQclear(c->err);
    c->res = NULL;
    c->err = NULL;
}

static void drop_pg(struct pg_conn *c)
{
    unwatch(c);
    PQfinish(c->pg);
    c->pg = NULL;
    clear_results(c);
    c->cmd_active = false;
    c->flushing = false;
}

static void on_conn_timer_closed(uv_handle_t *h)
{
    struct pg_conn *c = h->data;
    c->store->handles_open--;
}

/* Store closing: the connection's resources go; its timer closes through the loop. */
static void close_conn(struct pg_conn *c)
{
    drop_pg(c);
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, on_conn_timer_closed);
    c->state = CONN_CLOSED;
}

static void on_conn_timer(uv_timer_t *t);
static void start_migration(struct pg_conn *c);
static void dispatch(struct pg_store *s);

static void arm(struct pg_conn *c, uint64_t ms)
{
    uv_timer_start(&c->timer, on_conn_timer, ms, 0);
}

/* The migrating connection went away: another one up takes over, or the next to come up. */
static void hand_over_migration(struct pg_store *s)
{
    s->schema = SCHEMA_UNKNOWN;
    for (size_t i = 0; i < s->num_conns; i++) {
        if (s->conns[i].state == CONN_SCHEMA_WAIT) {
            start_migration(&s->conns[i]);
            return;
        }
    }
}

/*
 * The connection failed or was lost (why: libpq's message). The request it ran
 * finishes STORE_UNAVAILABLE (a write may or may not have committed); the
 * connection backs off and reconnects, or closes when the store is closing.
 */
static void conn_down(struct pg_conn *c, const char *why)
{
    struct pg_store *s = c->store;
    char what[64];
    bool lost = conn_is_up(c);
    snprintf(what, sizeof(what), "connection %u %s", c->index, lost ? "lost" : "failed");
    note_error(s, what, why, !lost);
    bool was_migrating = c->state == CONN_MIGRATING;
    c->had_failure = true;
    struct store_req *req = c->req;
    c->req = NULL;
    drop_pg(c);
    uv_timer_stop(&c->timer);
    c->state = CONN_DOWN;
    s->resolved = false; /* the server may have moved: look it up again */
    if (req != NULL)
        finish(s, req, STORE_UNAVAILABLE);
    if (s->base.closing) {
        close_conn(c);
        return;
    }
    uint64_t delay = jitter(c->backoff_ms);
    c->backoff_ms = PT_MIN(c->backoff_ms * 2, BACKOFF_MAX_MS);
    arm(c, delay);
    if (was_migrating)
        hand_over_migration(s);
}

static void send_prepare(struct pg_conn *c);

/* Send what libpq buffered; false after the connection failed. */
static bool flush(struct pg_conn *c)
{
    int rc = PQflush(c->pg);
    if (rc < 0) {
        conn_down(c, PQerrorMessage(c->pg));
        return false;
    }
    c->flushing = rc == 1;
    rc = watch(c, UV_READABLE | (c->flushing ? UV_WRITABLE : 0));
    if (rc != 0) {
        conn_down(c, rc == PT_E_CLOSED ? PQerrorMessage(c->pg) : uv_strerror(rc));
        return false;
    }
    return true;
}

/* A simple-protocol query (several statements allowed); false after a failure. */
static bool send_query(struct pg_conn *c, const char *sql)
{
    if (PQsendQuery(c->pg, sql) == 0) {
        conn_down(c, PQerrorMessage(c->pg));
        return false;
    }
    c->cmd_active = true;
    return flush(c);
}

static void start_prepare(struct pg_conn *c)
{
    c->state = CONN_PREPARING;
    c->prepare_next = 0;
    send_prepare(c);
}

static void send_prepare(struct pg_conn *c)
{
    size_t i = c->prepare_next;
    if (PQsendPrepare(c->pg, stmt_name[i], stmt_sql[i], 0, NULL) == 0) {
        conn_down(c, PQerrorMessage(c->pg));
        return;
    }
    c->cmd_active = true;
    flush(c);
}

static void start_migration(struct pg_conn *c)
{
    c->store->schema = SCHEMA_MIGRATING;
    c->state = CONN_MIGRATING;
    c->migrate_phase = 0;
    arm(c, c->store->bringup_ms); /* a fresh deadline: it may have waited in SCHEMA_WAIT */
    send_query(c, migrate_begin_sql);
}

/* libpq says the connection is made. */
static void conn_connected(struct pg_conn *c)
{
    struct pg_store *s = c->store;
    if (PQsetnonblocking(c->pg, 1) != 0) {
        conn_down(c, PQerrorMessage(c->pg));
        return;
    }
    switch (s->schema) {
    case SCHEMA_READY:
        start_prepare(c);
        break;
    case SCHEMA_MIGRATING:
        /* Parked: the migrating connection's deadline covers the wait. */
        uv_timer_stop(&c->timer);
        c->state = CONN_SCHEMA_WAIT;
        if (!flush(c))
            return;
        break;
    case SCHEMA_UNKNOWN:
        start_migration(c);
        break;
    }
}

static void conn_ready(struct pg_conn *c)
{
    struct pg_store *s = c->store;
    uv_timer_stop(&c->timer);
    c->state = CONN_READY;
    c->backoff_ms = BACKOFF_MIN_MS;
    s->logged_error[0] = '\0';
    if (c->had_failure) {
        s->reconnects++;
        pt_log_info("postgresql: connection %u reconnected", c->index);
    } else {
        pt_log_debug("postgresql: connection %u up", c->index);
    }
    c->had_failure = false;
    dispatch(s);
}

static void continue_connect(struct pg_conn *c)
{
    int rc;
    switch (PQconnectPoll(c->pg)) {
    case PGRES_POLLING_READING:
        rc = watch(c, UV_READABLE);
        break;
    case PGRES_POLLING_WRITING:
        rc = watch(c, UV_WRITABLE);
        break;
    case PGRES_POLLING_OK:
        conn_connected(c);
        return;
    default:
        conn_down(c, PQerrorMessage(c->pg));
        return;
    }
    if (rc != 0)
        conn_down(c, rc == PT_E_CLOSED ? PQerrorMessage(c->pg) : uv_strerror(rc));
}

/* Start connecting with the parameters as they are now (the lookup's, if any). */
static void conn_connect(struct pg_conn *c)
{
    struct pg_store *s = c->store;
    size_t n = s->num_kw;
    memcpy(s->conn_kw, s->kw, n * sizeof(*s->kw));
    memcpy(s->conn_val, s->val, n * sizeof(*s->val));
    const char *host = s->fixed_host, *hostaddr = s->fixed_hostaddr, *port = s->fixed_port;
    if (s->needs_lookup) {
        host = s->host_list.data;
        hostaddr = s->hostaddr_list.data;
        port = s->port_list.len > 0 ? s->port_list.data : s->single_port;
    }
    const char *const extra_kw[] = {"host", "hostaddr", "port"};
    const char *const extra_val[] = {host, hostaddr, port};
    for (size_t i = 0; i < PT_ARRAY_SIZE(extra_kw); i++) {
        if (extra_val[i] != NULL) {
            s->conn_kw[n] = extra_kw[i];
            s->conn_val[n++] = extra_val[i];
        }
    }
    s->conn_kw[n] = NULL;
    s->conn_val[n] = NULL;
    c->pg = PQconnectStartParams(s->conn_kw, s->conn_val, 0);
    if (c->pg == NULL) {
        conn_down(c, "out of memory");
        return;
    }
    PQsetNoticeProcessor(c->pg, on_notice, c);
    if (PQstatus(c->pg) == CONNECTION_BAD) {
        conn_down(c, PQerrorMessage(c->pg));
        return;
    }
    c->state = CONN_CONNECTING;
    /* As libpq's documentation says: start as if PQconnectPoll had asked for writable. */
    int rc = watch(c, UV_WRITABLE);
    if (rc != 0)
        conn_down(c, rc == PT_E_CLOSED ? PQerrorMessage(c->pg) : uv_strerror(rc));
}

/* ------------------------------------------------------------- host lookup */

static void lookup_next(struct pg_store *s);

/* Append item (after a comma unless first) to a list; 0 or PT_E_NOMEM (the list's limit). */
static int add_list(struct pt_buf *b, const char *item, bool first)
{
    if (!first && pt_buf_append(b, ",", 1) < 0)
        return PT_E_NOMEM;
    return pt_buf_append(b, item, strlen(item));
}

/* Make host_list, hostaddr_list (and port_list, for per-host ports) from the lookup. */
static bool build_lists(struct pg_store *s)
{
    s->host_list.len = s->hostaddr_list.len = s->port_list.len = 0;
    size_t count = 0;
    int rc = 0;
    for (size_t i = 0; i < s->num_hosts; i++) {
        const struct host_entry *e = &s->hosts[i];
        size_t n = e->lookup ? e->num_addrs : 1;
        for (size_t k = 0; k < n; k++) {
            /* A literal is its own address; a socket directory's is empty (host= alone). */
            const char *addr = e->lookup ? e->addrs[k] : e->literal ? e->host : "";
            rc |= add_list(&s->host_list, e->host, count == 0);
            rc |= add_list(&s->hostaddr_list, addr, count == 0);
            if (e->port != NULL)
                rc |= add_list(&s->port_list, e->port, count == 0);
            count++;
        }
    }
    rc |= pt_buf_append(&s->host_list, "", 1);
    rc |= pt_buf_append(&s->hostaddr_list, "", 1);
    if (s->port_list.len > 0)
        rc |= pt_buf_append(&s->port_list, "", 1);
    return rc == 0 && count > 0;
}

static void lookup_finished(struct pg_store *s)
{
    bool ok = build_lists(s);
    if (!ok && s->lookup_error[0] == '\0')
        snprintf(s->lookup_error, sizeof(s->lookup_error), "no usable address for the host");
    s->resolved = ok;
    s->resolved_ms = uv_now(s->base.loop);
    for (size_t i = 0; i < s->num_conns; i++) {
        struct pg_conn *c = &s->conns[i];
        if (c->state != CONN_RESOLVING)
            continue;
        if (ok)
            conn_connect(c);
        else
            conn_down(c, s->lookup_error);
    }
}

static void keep_address(struct host_entry *e, const struct addrinfo *ai)
{
    char name[INET6_ADDRSTRLEN];
    int rc;
    if (ai->ai_family == AF_INET)
        rc = uv_ip4_name((const struct sockaddr_in *)(const void *)ai->ai_addr, name, sizeof(name));
    else if (ai->ai_family == AF_INET6)
        rc =
            uv_ip6_name((const struct sockaddr_in6 *)(const void *)ai->ai_addr, name, sizeof(name));
    else
        return;
    if (rc != 0 || e->num_addrs == MAX_ADDRS_PER_HOST)
        return;
    for (size_t i = 0; i < e->num_addrs; i++) {
        if (strcmp(e->addrs[i], name) == 0)
            return;
    }
    e->addrs[e->num_addrs++] = pt_xstrndup(name, strlen(name));
}

static void clear_addresses(struct host_entry *e)
{
    for (size_t i = 0; i < e->num_addrs; i++)
        free(e->addrs[i]);
    e->num_addrs = 0;
}

static void on_lookup(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct pg_store *s = req->data;
    s->lookup_busy = false;
    if (s->base.closing) {
        uv_freeaddrinfo(res);
        return;
    }
    struct host_entry *e = &s->hosts[s->lookup_index];
    clear_addresses(e);
    if (status == 0) {
        for (const struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next)
            keep_address(e, ai);
    } else {
        snprintf(s->lookup_error, sizeof(s->lookup_error), "could not resolve host \"%s\": %s",
                 e->host, uv_strerror(status));
    }
    uv_freeaddrinfo(res);
    s->lookup_index++;
    lookup_next(s);
}

static void lookup_next(struct pg_store *s)
{
    while (s->lookup_index < s->num_hosts) {
        struct host_entry *e = &s->hosts[s->lookup_index];
        if (!e->lookup) {
            s->lookup_index++;
            continue;
        }
        /* As libpq asks getaddrinfo: any family, a stream socket. */
        struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
        int rc = uv_getaddrinfo(s->base.loop, &s->lookup, on_lookup, e->host, NULL, &hints);
        if (rc == 0) {
            s->lookup_busy = true;
            return;
        }
        clear_addresses(e);
        snprintf(s->lookup_error, sizeof(s->lookup_error), "could not resolve host \"%s\": %s",
                 e->host, uv_strerror(rc));
        s->lookup_index++;
    }
    lookup_finished(s);
}

/* Bring the connection up: after a fresh lookup, or straight away. */
static void conn_start(struct pg_conn *c)
{
    struct pg_store *s = c->store;
    arm(c, s->bringup_ms);
    uint64_t now = uv_now(s->base.loop);
    if (!s->needs_lookup || (s->resolved && now - s->resolved_ms < RESOLVE_TTL_MS)) {
        conn_connect(c);
        return;
    }
    c->state = CONN_RESOLVING;
    if (s->lookup_busy)
        return; /* the lookup under way will start this connection too */
    s->lookup_index = 0;
    s->lookup_error[0] = '\0';
    lookup_next(s);
}

static void on_conn_timer(uv_timer_t *t)
{
    struct pg_conn *c = t->data;
    char why[96];
    switch (c->state) {
    case CONN_DOWN:
        conn_start(c);
        break;
    case CONN_RESOLVING:
    case CONN_CONNECTING:
    case CONN_MIGRATING:
    case CONN_PREPARING:
        snprintf(why, sizeof(why), "not ready within %llu ms",
                 (unsigned long long)c->store->bringup_ms);
        conn_down(c, why);
        break;
    case CONN_BUSY:
        snprintf(why, sizeof(why), "no answer within %llu ms",
                 (unsigned long long)(c->store->statement_timeout_ms + ANSWER_GRACE_MS));
        conn_down(c, why);
        break;
    case CONN_SCHEMA_WAIT:
    case CONN_READY:
    case CONN_CLOSED:
        break;
    }
}

/* ------------------------------------------------------------- migrations */

static void migrate_apply(struct pg_conn *c)
{
    struct pg_store *s = c->store;
    const PGresult *r = c->res;
    int64_t version = 0;
    if (r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1 ||
        PQnfields(r) != 1 || !parse_i64(PQgetvalue(r, 0, 0), &version) || version < 0) {
        conn_down(c, "migration: unexpected answer reading schema_version");
        return;
    }
    const size_t known = PT_ARRAY_SIZE(migrations);
    if ((uint64_t)version > known && !s->newer_schema_logged) {
        /* A newer release migrated this database; its changes are meant to be additive. */
        pt_log_warn("postgresql: schema version %lld is newer than this program's %zu",
                    (long long)version, known);
        s->newer_schema_logged = true;
    }
    struct pt_buf sql;
    pt_buf_init(&sql, 1u << 20);
    for (size_t v = (size_t)PT_MIN((uint64_t)version, known); v < known; v++) {
        pt_buf_append(&sql, migrations[v], strlen(migrations[v]));
        pt_buf_appendf(&sql,
                       ";INSERT INTO schema_version (version, applied_ms) VALUES (%zu,"
                       " (extract(epoch FROM clock_timestamp()) * 1000)::bigint);",
                       v + 1);
        pt_log_info("postgresql: migrating to schema version %zu", v + 1);
    }
    int rc = pt_buf_append(&sql, "COMMIT", sizeof("COMMIT")); /* with its NUL */
    c->migrate_phase = 1;
    clear_results(c);
    if (rc < 0)
        conn_down(c, "migration: the script is too large");
    else
        send_query(c, sql.data);
    pt_buf_deinit(&sql);
}

static void migrate_done(struct pg_conn *c)
{
    struct pg_store *s = c->store;
    if (c->err != NULL) {
        char msg[200];
        result_message(c->err, msg, sizeof(msg));
        char why[240];
        snprintf(why, sizeof(why), "migration: %s", msg);
        conn_down(c, why);
        return;
    }
    if (c->migrate_phase == 0) {
        migrate_apply(c);
        return;
    }
    if (PQtransactionStatus(c->pg) != PQTRANS_IDLE) {
        conn_down(c, "migration: the transaction did not commit");
        return;
    }
    clear_results(c);
    s->schema = SCHEMA_READY;
    for (size_t i = 0; i < s->num_conns; i++) {
        struct pg_conn *w = &s->conns[i];
        if (w->state == CONN_SCHEMA_WAIT) {
            arm(w, s->bringup_ms);
            start_prepare(w);
        }
    }
    start_prepare(c);
}

static void prepare_done(struct pg_conn *c)
{
    if (c->err != NULL) {
        const char *code = PQresultErrorField(c->err, PG_DIAG_SQLSTATE);
        /* The functions are gone (a restored or recreated database): migrate again. */
        if (code != NULL && (strcmp(code, "42883") == 0 || strcmp(code, "42P01") == 0) &&
            c->store->schema == SCHEMA_READY)
            c->store->schema = SCHEMA_UNKNOWN;
        char msg[200];
        result_message(c->err, msg, sizeof(msg));
        conn_down(c, msg);
        return;
    }
    clear_results(c);
    if (++c->prepare_next < ST_COUNT)
        send_prepare(c);
    else
        conn_ready(c);
}

/* ------------------------------------------------------------- requests */

struct params {
    const char *values[MAX_PARAMS];
    int n;
    char num[MAX_PARAMS][32]; /* formatted numbers */
    char ids[ID_ATTEMPTS * 24 + 4];
};

static void param(struct params *p, const char *v)
{
    assert(p->n < MAX_PARAMS);
    p->values[p->n++] = v;
}

static void param_i64(struct params *p, int64_t v)
{
    snprintf(p->num[p->n], sizeof(p->num[p->n]), "%lld", (long long)v);
    param(p, p->num[p->n]);
}

static void param_f64(struct params *p, double v)
{
    snprintf(p->num[p->n], sizeof(p->num[p->n]), "%.17g", v);
    param(p, p->num[p->n]);
}

static void param_limit(struct params *p, size_t max)
{
    param_i64(p, max > (size_t)INT64_MAX ? INT64_MAX : (int64_t)max);
}

/* Fresh random ids, tried in turn by the SQL function on a primary-key collision. */
static void param_ids(struct params *p)
{
    size_t n = 0;
    p->ids[n++] = '{';
    for (int i = 0; i < ID_ATTEMPTS; i++)
        n += (size_t)snprintf(p->ids + n, sizeof(p->ids) - n, "%s%lld", i > 0 ? "," : "",
                              (long long)store_random_id());
    snprintf(p->ids + n, sizeof(p->ids) - n, "}");
    param(p, p->ids);
}

static void param_auth(struct params *p, const struct store_req *req)
{
    param(p, req->auth.bearer ? "t" : "f");
    param(p, req->auth.bearer ? NULL : req->auth.owner);
    param(p, req->auth.bearer ? req->auth.token_hash : NULL);
}

static void param_site(struct params *p, const struct store_site *site, int64_t now_ms)
{
    param(p, site->name);
    param_f64(p, site->lat);
    param_f64(p, site->lon);
    param_f64(p, site->elevation);
    if (site->has_pressure)
        param_f64(p, site->pressure);
    else
        param(p, NULL);
    if (site->has_temperature)
        param_f64(p, site->temperature);
    else
        param(p, NULL);
    param_f64(p, site->horizon_deg);
    param(p, site->timezone);
    param(p, site->notes != NULL ? site->notes : "");
    param_i64(p, now_ms);
}

/* The strings the engine will read are terminated inside their arrays. */
static bool req_is_sound(const struct store_req *req)
{
    const struct store_auth *a = &req->auth;
    if (a->bearer ? !has_nul(a->token_hash, sizeof(a->token_hash))
                  : !has_nul(a->owner, sizeof(a->owner)))
        return false;
    switch (req->op) {
    case STORE_SITE_CREATE:
    case STORE_SITE_UPDATE:
        return has_nul(req->site.name, sizeof(req->site.name)) &&
               has_nul(req->site.timezone, sizeof(req->site.timezone));
    case STORE_TOKEN_CREATE:
        return has_nul(req->token.name, sizeof(req->token.name)) &&
               has_nul(req->token_hash, sizeof(req->token_hash));
    case STORE_SITE_LIST:
    case STORE_SITE_GET:
    case STORE_SITE_DELETE:
    case STORE_TOKEN_LIST:
    case STORE_TOKEN_DELETE:
        return true;
    }
    return false; /* not an operation */
}

/* The statement and its parameters for req. */
static enum stmt_id build_params(const struct store_req *req, struct params *p)
{
    param_auth(p, req);
    switch (req->op) {
    case STORE_SITE_LIST:
        return ST_SITE_LIST;
    case STORE_SITE_GET:
        param_i64(p, req->id);
        return ST_SITE_GET;
    case STORE_SITE_CREATE:
        param_ids(p);
        param_limit(p, req->max_per_owner);
        param_site(p, &req->site, req->now_ms);
        return ST_SITE_CREATE;
    case STORE_SITE_UPDATE:
        param_i64(p, req->id);
        param_i64(p, req->if_version);
        param_site(p, &req->site, req->now_ms);
        return ST_SITE_UPDATE;
    case STORE_SITE_DELETE:
        param_i64(p, req->id);
        param_i64(p, req->if_version);
        return ST_SITE_DELETE;
    case STORE_TOKEN_CREATE:
        param_ids(p);
        param_limit(p, req->max_per_owner);
        param(p, req->token_hash);
        param(p, req->token.name);
        param_i64(p, req->now_ms);
        return ST_TOKEN_CREATE;
    case STORE_TOKEN_LIST:
        return ST_TOKEN_LIST;
    case STORE_TOKEN_DELETE:
        param_i64(p, req->id);
        return ST_TOKEN_DELETE;
    }
    return ST_COUNT; /* unreachable: req_is_sound refused it */
}

static void start_request(struct pg_conn *c, struct store_req *req)
{
    struct pg_store *s = c->store;
    if (!req_is_sound(req)) {
        pt_log_error("postgresql: a request with unterminated strings or an unknown op");
        finish(s, req, STORE_FAILED);
        return;
    }
    struct params p = {.n = 0};
    enum stmt_id st = build_params(req, &p);
    c->req = req;
    c->state = CONN_BUSY;
    arm(c, s->statement_timeout_ms + ANSWER_GRACE_MS);
    if (PQsendQueryPrepared(c->pg, stmt_name[st], p.n, p.values, NULL, NULL, 0) == 0) {
        conn_down(c, PQerrorMessage(c->pg));
        return;
    }
    c->cmd_active = true;
    flush(c);
}

static bool copy_text(const PGresult *r, int row, int col, char *out, size_t size)
{
    if (PQgetisnull(r, row, col))
        return false;
    int len = PQgetlength(r, row, col);
    if (len < 0 || (size_t)len >= size)
        return false;
    memcpy(out, PQgetvalue(r, row, col), (size_t)len);
    out[len] = '\0';
    return true;
}

static bool get_i64(const PGresult *r, int row, int col, int64_t *out)
{
    return !PQgetisnull(r, row, col) && parse_i64(PQgetvalue(r, row, col), out);
}

static bool get_f64(const PGresult *r, int row, int col, double *out)
{
    return !PQgetisnull(r, row, col) && parse_f64(PQgetvalue(r, row, col), out);
}

/* A nullable double: has says whether it is there. */
static bool get_opt_f64(const PGresult *r, int row, int col, bool *has, double *out)
{
    *has = !PQgetisnull(r, row, col);
    *out = 0;
    return !*has || parse_f64(PQgetvalue(r, row, col), out);
}

/* One site of an answer into *site (notes on the heap); false on a malformed row. */
static bool read_site(const PGresult *r, int row, struct store_site *site)
{
    memset(site, 0, sizeof(*site));
    if (!get_i64(r, row, COL_ID, &site->id) ||
        !copy_text(r, row, COL_NAME, site->name, sizeof(site->name)) ||
        !get_f64(r, row, COL_LAT, &site->lat) || !get_f64(r, row, COL_LON, &site->lon) ||
        !get_f64(r, row, COL_ELEVATION, &site->elevation) ||
        !get_opt_f64(r, row, COL_PRESSURE, &site->has_pressure, &site->pressure) ||
        !get_opt_f64(r, row, COL_TEMPERATURE, &site->has_temperature, &site->temperature) ||
        !get_f64(r, row, COL_HORIZON, &site->horizon_deg) ||
        !copy_text(r, row, COL_TZ, site->timezone, sizeof(site->timezone)) ||
        PQgetisnull(r, row, COL_NOTES) || !get_i64(r, row, COL_CREATED, &site->created_ms) ||
        !get_i64(r, row, COL_UPDATED, &site->updated_ms) ||
        !get_i64(r, row, COL_VERSION, &site->version))
        return false;
    site->notes =
        pt_xstrndup(PQgetvalue(r, row, COL_NOTES), (size_t)PQgetlength(r, row, COL_NOTES));
    return true;
}

static bool read_token(const PGresult *r, int row, struct store_token *t)
{
    memset(t, 0, sizeof(*t));
    return get_i64(r, row, COL_ID, &t->id) &&
           copy_text(r, row, COL_NAME, t->name, sizeof(t->name)) &&
           get_i64(r, row, COL_TOKEN_CREATED, &t->created_ms);
}

static bool is_site_op(enum store_op op)
{
    return op == STORE_SITE_LIST || op == STORE_SITE_GET || op == STORE_SITE_CREATE ||
           op == STORE_SITE_UPDATE || op == STORE_SITE_DELETE;
}

/* The header row: status, the resolved owner, the current version. STORE_FAILED if malformed. */
static enum store_status read_header(const PGresult *r, struct store_req *req)
{
    int ncols = is_site_op(req->op) ? SITE_NCOLS : TOKEN_NCOLS;
    int64_t code;
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQnfields(r) != ncols || PQntuples(r) < 1 ||
        !get_i64(r, 0, COL_ST, &code))
        return STORE_FAILED;
    if (req->auth.bearer && !PQgetisnull(r, 0, COL_OWNER) &&
        !copy_text(r, 0, COL_OWNER, req->auth.owner, sizeof(req->auth.owner)))
        return STORE_FAILED;
    switch (code) {
    case SQL_OK:
        return STORE_OK;
    case SQL_NOT_FOUND:
        return STORE_NOT_FOUND;
    case SQL_UNAUTHORIZED:
        return STORE_UNAUTHORIZED;
    case SQL_NAME_TAKEN:
        return STORE_NAME_TAKEN;
    case SQL_LIMIT:
        return STORE_LIMIT;
    case SQL_STALE:
        return get_i64(r, 0, COL_CUR, &req->current_version) ? STORE_STALE : STORE_FAILED;
    }
    return STORE_FAILED;
}

static bool read_site_list(const PGresult *r, struct store_req *req)
{
    size_t n = (size_t)PQntuples(r) - 1;
    if (n == 0)
        return true;
    req->sites = pt_xcalloc(n, sizeof(*req->sites));
    for (size_t i = 0; i < n; i++) {
        if (!read_site(r, (int)i + 1, &req->sites[i]))
            return false;
        req->num_sites = i + 1;
    }
    return true;
}

static bool read_token_list(const PGresult *r, struct store_req *req)
{
    size_t n = (size_t)PQntuples(r) - 1;
    if (n == 0)
        return true;
    req->tokens = pt_xcalloc(n, sizeof(*req->tokens));
    for (size_t i = 0; i < n; i++) {
        if (!read_token(r, (int)i + 1, &req->tokens[i]))
            return false;
        req->num_tokens = i + 1;
    }
    return true;
}

/* The answer's objects into req (status STORE_OK so far); false on a malformed answer. */
static bool read_objects(const PGresult *r, struct store_req *req)
{
    switch (req->op) {
    case STORE_SITE_LIST:
        return read_site_list(r, req);
    case STORE_SITE_GET:
    case STORE_SITE_CREATE:
    case STORE_SITE_UPDATE:
        if (!read_site(r, 0, &req->site))
            return false;
        req->notes_owned = true;
        return true;
    case STORE_TOKEN_CREATE:
        return read_token(r, 0, &req->token);
    case STORE_TOKEN_LIST:
        return read_token_list(r, req);
    case STORE_SITE_DELETE:
    case STORE_TOKEN_DELETE:
        return true;
    }
    return false;
}

/* An error answer: does it mean the server is going away (drop the connection)? */
static bool error_means_down(const PGresult *err)
{
    const char *code = PQresultErrorField(err, PG_DIAG_SQLSTATE);
    if (code == NULL)
        return true; /* libpq's own: the connection broke */
    /* 08: connection exceptions; 57P0x: shutdown, crash, starting up; 25006: a standby. */
    return strncmp(code, "08", 2) == 0 || strncmp(code, "57P0", 4) == 0 ||
           strcmp(code, "25006") == 0;
}

static const char *op_name(enum store_op op)
{
    switch (op) {
    case STORE_SITE_LIST:
        return "site list";
    case STORE_SITE_GET:
        return "site get";
    case STORE_SITE_CREATE:
        return "site create";
    case STORE_SITE_UPDATE:
        return "site update";
    case STORE_SITE_DELETE:
        return "site delete";
    case STORE_TOKEN_CREATE:
        return "token create";
    case STORE_TOKEN_LIST:
        return "token list";
    case STORE_TOKEN_DELETE:
        return "token delete";
    }
    return "?";
}

/* Every result of the request's statement is in (ReadyForQuery: committed or not). */
static void request_done(struct pg_conn *c)
{
    struct pg_store *s = c->store;
    struct store_req *req = c->req;
    c->req = NULL;
    char msg[200] = "";
    if (c->err != NULL)
        result_message(c->err, msg, sizeof(msg));
    if (c->err != NULL && error_means_down(c->err)) {
        finish(s, req, STORE_UNAVAILABLE);
        conn_down(c, msg);
        return;
    }
    enum store_status st;
    if (c->err != NULL) {
        note_error(s, op_name(req->op), msg, false);
        st = STORE_FAILED;
    } else if (c->res == NULL || (st = read_header(c->res, req)) == STORE_FAILED) {
        note_error(s, op_name(req->op), "malformed answer", false);
        st = STORE_FAILED;
    } else if (st == STORE_OK && !read_objects(c->res, req)) {
        store_req_release(req); /* what was read before the bad row */
        note_error(s, op_name(req->op), "malformed answer", false);
        st = STORE_FAILED;
    }
    clear_results(c);
    finish(s, req, st);
    if (PQstatus(c->pg) != CONNECTION_OK || PQtransactionStatus(c->pg) != PQTRANS_IDLE) {
        conn_down(c, PQerrorMessage(c->pg));
        return;
    }
    uv_timer_stop(&c->timer);
    c->state = CONN_READY;
    if (s->base.closing) {
        close_conn(c);
        return;
    }
    dispatch(s);
}

static void command_done(struct pg_conn *c)
{
    switch (c->state) {
    case CONN_MIGRATING:
        migrate_done(c);
        break;
    case CONN_PREPARING:
        prepare_done(c);
        break;
    case CONN_BUSY:
        request_done(c);
        break;
    default:
        clear_results(c);
        break;
    }
}

/* Keep the command's last good result and its first error. */
static void keep_result(struct pg_conn *c, PGresult *r)
{
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE || st == PGRES_NONFATAL_ERROR) {
        if (c->err == NULL)
            c->err = r;
        else
            PQclear(r);
        return;
    }
    PQclear(c->res);
    c->res = r;
}

/* Read what arrived; a command whose results are all in moves its state on. */
static void read_results(struct pg_conn *c)
{
    while (!PQisBusy(c->pg)) {
        PGresult *r = PQgetResult(c->pg);
        if (r == NULL) {
            c->cmd_active = false;
            command_done(c);
            return;
        }
        keep_result(c, r);
    }
    if (PQstatus(c->pg) == CONNECTION_BAD)
        conn_down(c, PQerrorMessage(c->pg));
}

static void on_io(struct pg_conn *c, int events)
{
    if ((events & UV_READABLE) && PQconsumeInput(c->pg) == 0) {
        conn_down(c, PQerrorMessage(c->pg));
        return;
    }
    if (c->flushing && !flush(c))
        return;
    if (c->cmd_active) {
        read_results(c);
        return;
    }
    /* Idle: let libpq parse notices; a closed socket shows up here. */
    PQisBusy(c->pg);
    if (PQstatus(c->pg) == CONNECTION_BAD)
        conn_down(c, PQerrorMessage(c->pg));
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    struct pg_poll *p = pt_container_of(h, struct pg_poll, handle);
    struct pg_conn *c = p->conn;
    if (c == NULL)
        return;
    if (status < 0) {
        /*
         * A socket error (libuv says UV_EBADF for POLLERR, a refused connect
         * among them) and libuv has stopped the handle: libpq reads the error
         * itself (and may try the next address); the handle is started again.
         */
        c->poll_events = 0;
        events = UV_READABLE | UV_WRITABLE;
    }
    switch (c->state) {
    case CONN_CONNECTING:
        continue_connect(c); /* watches again, for what libpq asks */
        return;
    case CONN_SCHEMA_WAIT:
    case CONN_MIGRATING:
    case CONN_PREPARING:
    case CONN_READY:
    case CONN_BUSY:
        on_io(c, events);
        break;
    case CONN_DOWN:
    case CONN_RESOLVING:
    case CONN_CLOSED:
        return;
    }
    /* Still up with the handle stopped (the error above): watch again. */
    if (c->pg != NULL && c->poll_events == 0)
        flush(c);
}

static struct pg_conn *idle_conn(struct pg_store *s)
{
    for (size_t i = 0; i < s->num_conns; i++) {
        if (s->conns[i].state == CONN_READY)
            return &s->conns[i];
    }
    return NULL;
}

/* Give waiting requests to idle connections, oldest first. */
static void dispatch(struct pg_store *s)
{
    while (s->queue.len > 0 && !s->base.closing) {
        struct pg_conn *c = idle_conn(s);
        if (c == NULL)
            return;
        start_request(c, queue_pop(s));
    }
}

/* ------------------------------------------------------------- the engine */

static void pg_submit(struct store *base, struct store_req *req)
{
    struct pg_store *s = pt_container_of(base, struct pg_store, base);
    struct pg_conn *c = s->queue.len == 0 ? idle_conn(s) : NULL;
    if (c != NULL) {
        start_request(c, req);
        return;
    }
    bool was_empty = s->queue.len == 0;
    if (!queue_push(s, req, uv_now(s->base.loop) + s->queue_timeout_ms)) {
        finish(s, req, STORE_UNAVAILABLE); /* done runs from the loop, not from here */
        return;
    }
    if (was_empty)
        uv_timer_start(&s->queue_timer, on_queue_timer, s->queue_timeout_ms, 0);
}

static void pg_stats(const struct store *base, struct store_stats *out)
{
    const struct pg_store *s =
        (const struct pg_store *)(const void *)((const char *)base -
                                                offsetof(struct pg_store, base));
    size_t up = 0;
    for (size_t i = 0; i < s->num_conns; i++)
        up += conn_is_up(&s->conns[i]);
    out->engine = "postgresql";
    out->available = up > 0 && !s->base.closing;
    out->ops = s->ops;
    out->failed = s->failed;
    out->queued = s->queue.len;
    out->connections = up;
    out->reconnects = s->reconnects;
    snprintf(out->last_error, sizeof(out->last_error), "%s", s->last_error);
}

static void pg_close(struct store *base)
{
    struct pg_store *s = pt_container_of(base, struct pg_store, base);
    while (s->queue.len > 0)
        finish(s, queue_pop(s), STORE_UNAVAILABLE);
    uv_timer_stop(&s->queue_timer);
    uv_close((uv_handle_t *)&s->queue_timer, on_handle_closed);
    if (s->lookup_busy)
        uv_cancel((uv_req_t *)&s->lookup); /* on_lookup runs either way */
    /* What runs finishes (its COMMIT is waited for, within the answer deadline). */
    for (size_t i = 0; i < s->num_conns; i++) {
        if (s->conns[i].state != CONN_BUSY && s->conns[i].state != CONN_CLOSED)
            close_conn(&s->conns[i]);
    }
    /* The delivery timer closes itself once everything is delivered. */
    if (!s->deliver_armed) {
        uv_timer_start(&s->deliver_timer, on_deliver, 0, 0);
        s->deliver_armed = true;
    }
}

static void free_hosts(struct pg_store *s)
{
    for (size_t i = 0; i < s->num_hosts; i++) {
        clear_addresses(&s->hosts[i]);
        free(s->hosts[i].host);
        free(s->hosts[i].port);
    }
    free(s->hosts);
    s->hosts = NULL;
    s->num_hosts = 0;
}

/* Everything but the uv handles (which store_pg_open's failures never created). */
static void free_store(struct pg_store *s)
{
    free_hosts(s);
    pt_buf_deinit(&s->host_list);
    pt_buf_deinit(&s->hostaddr_list);
    pt_buf_deinit(&s->port_list);
    free(s->kw);
    free(s->val);
    free(s->conn_kw);
    free(s->conn_val);
    free(s->options);
    PQconninfoFree(s->opts);
    PQconninfoFree(s->defaults);
    free(s->conns);
    free(s->queue.slots);
    free(s);
}

static void pg_free(struct store *base)
{
    struct pg_store *s = pt_container_of(base, struct pg_store, base);
    /* Only after store_close and a loop run dry: every handle is through its close callback. */
    assert(s->handles_open == 0 && !s->lookup_busy);
    for (size_t i = 0; i < s->num_conns; i++)
        drop_pg(&s->conns[i]);
    free_store(s);
}

static const struct store_engine pg_engine = {
    .submit = pg_submit,
    .stats = pg_stats,
    .close = pg_close,
    .free = pg_free,
};

/* ------------------------------------------------------------- opening */

static bool is_ip_literal(const char *h)
{
    unsigned char buf[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, h, buf) == 1 || inet_pton(AF_INET6, h, buf) == 1;
}

/* Split a comma-separated list into owned strings. OUT: *items (owned), returns the count. */
static size_t split_list(const char *list, char ***items)
{
    size_t n = 1;
    for (const char *p = list; *p != '\0'; p++)
        n += *p == ',';
    char **v = pt_xcalloc(n, sizeof(*v));
    const char *start = list;
    for (size_t i = 0; i < n; i++) {
        const char *end = strchr(start, ',');
        size_t len = end != NULL ? (size_t)(end - start) : strlen(start);
        v[i] = pt_xstrndup(start, len);
        start = end != NULL ? end + 1 : start + len;
    }
    *items = v;
    return n;
}

static void free_list(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/*
 * Decide how hosts are reached: given hostaddr= (or no host): as they are;
 * otherwise each host of the list is a socket directory, an IP literal, or a
 * name to look up. Returns 0 or PT_E_INVALID (ports that match no hosts).
 */
static int plan_hosts(struct pg_store *s)
{
    const char *host = opt_get(s->opts, "host");
    const char *hostaddr = opt_get(s->opts, "hostaddr");
    const char *port = opt_get(s->opts, "port");
    if (host == NULL && hostaddr == NULL) {
        host = opt_get(s->defaults, "host");
        hostaddr = opt_get(s->defaults, "hostaddr");
    }
    if (port == NULL)
        port = opt_get(s->defaults, "port");
    s->fixed_host = host;
    s->fixed_hostaddr = hostaddr;
    s->fixed_port = port;
    if (host == NULL || hostaddr != NULL)
        return 0;
    char **hosts, **ports = NULL;
    size_t nh = split_list(host, &hosts), np = port != NULL ? split_list(port, &ports) : 0;
    if (np > 1 && np != nh) {
        pt_log_error("postgresql: DATABASE_URL has %zu ports for %zu hosts", np, nh);
        free_list(hosts, nh);
        free_list(ports, np);
        return PT_E_INVALID;
    }
    s->hosts = pt_xcalloc(nh, sizeof(*s->hosts));
    s->num_hosts = nh;
    s->single_port = np == 1 ? port : NULL;
    for (size_t i = 0; i < nh; i++) {
        struct host_entry *e = &s->hosts[i];
        e->host = hosts[i];
        e->port = np > 1 ? pt_xstrndup(ports[i], strlen(ports[i])) : NULL;
        e->literal = is_ip_literal(e->host);
        e->lookup = e->host[0] != '\0' && e->host[0] != '/' && e->host[0] != '@' && !e->literal;
        s->needs_lookup |= e->lookup;
    }
    free(hosts); /* the strings now belong to the entries */
    free_list(ports, np);
    return 0;
}

static bool overridden(const char *kw)
{
    static const char *const ours[] = {
        "host",
        "hostaddr",
        "port",
        "options",
        "user",
        "application_name",
        "client_encoding",
        "gssencmode",
        "keepalives_idle",
        "keepalives_interval",
        "keepalives_count",
    };
    for (size_t i = 0; i < PT_ARRAY_SIZE(ours); i++) {
        if (strcmp(kw, ours[i]) == 0)
            return true;
    }
    return false;
}

static void add_kw(struct pg_store *s, const char *kw, const char *val)
{
    if (val == NULL)
        return;
    s->kw[s->num_kw] = kw;
    s->val[s->num_kw++] = val;
}

/* The URL's value of kw, else ours. */
static void add_kw_default(struct pg_store *s, const char *kw, const char *ours)
{
    const char *v = opt_get(s->opts, kw);
    add_kw(s, kw, v != NULL ? v : ours);
}

/*
 * The connection parameters, but host/hostaddr/port (set per connect): the
 * URL's, plus statement_timeout and exact float output in options, an
 * application name, UTF-8, TCP keepalives, and no GSSAPI encryption (its
 * Kerberos calls may block) unless the URL says otherwise.
 */
static void plan_params(struct pg_store *s)
{
    size_t n = 0;
    for (const PQconninfoOption *o = s->opts; o->keyword != NULL; o++)
        n++;
    size_t cap = n + 16;
    s->kw = pt_xcalloc(cap, sizeof(*s->kw));
    s->val = pt_xcalloc(cap, sizeof(*s->val));
    s->conn_kw = pt_xcalloc(cap, sizeof(*s->conn_kw));
    s->conn_val = pt_xcalloc(cap, sizeof(*s->conn_val));
    for (const PQconninfoOption *o = s->opts; o->keyword != NULL; o++) {
        if (o->val != NULL && !overridden(o->keyword))
            add_kw(s, o->keyword, o->val);
    }
    const char *user = opt_get(s->opts, "user");
    add_kw(s, "user", user != NULL ? user : opt_get(s->defaults, "user"));
    const char *options = opt_get(s->opts, "options");
    char buf[64];
    snprintf(buf, sizeof(buf), "-c statement_timeout=%llu -c extra_float_digits=3",
             (unsigned long long)s->statement_timeout_ms);
    size_t len = (options != NULL ? strlen(options) + 1 : 0) + strlen(buf) + 1;
    s->options = pt_xmalloc(len);
    snprintf(s->options, len, "%s%s%s", options != NULL ? options : "", options != NULL ? " " : "",
             buf);
    add_kw(s, "options", s->options);
    add_kw_default(s, "application_name", "planettracker");
    add_kw_default(s, "client_encoding", "UTF8");
    add_kw_default(s, "gssencmode", "disable");
    add_kw_default(s, "keepalives_idle", "30");
    add_kw_default(s, "keepalives_interval", "10");
    add_kw_default(s, "keepalives_count", "3");
    assert(s->num_kw + 3 < cap);
}

static uint64_t connect_timeout_ms(const struct pg_store *s)
{
    const char *t = opt_get(s->opts, "connect_timeout");
    int64_t sec;
    if (t == NULL || !parse_i64(t, &sec) || sec <= 0)
        return CONNECT_TIMEOUT_MS;
    return (uint64_t)PT_MAX(sec, 2) * 1000; /* libpq's own minimum */
}

/* The store's timers and each connection's (uv_timer_init cannot fail on Unix). */
static void init_timers(struct pg_store *s)
{
    uv_loop_t *loop = s->base.loop;
    uv_timer_init(loop, &s->queue_timer);
    s->queue_timer.data = s;
    uv_timer_init(loop, &s->deliver_timer);
    s->deliver_timer.data = s;
    s->handles_open += 2;
    for (size_t i = 0; i < s->num_conns; i++) {
        struct pg_conn *c = &s->conns[i];
        uv_timer_init(loop, &c->timer);
        c->timer.data = c;
        s->handles_open++;
    }
}

int store_pg_open(uv_loop_t *loop, const struct store_config *cfg, struct store **out)
{
    char *err = NULL;
    PQconninfoOption *opts = PQconninfoParse(cfg->database_url, &err);
    if (opts == NULL) {
        /* libpq's message may quote the URL, password included: not logged. */
        PQfreemem(err);
        pt_log_error("postgresql: DATABASE_URL is not a connection URI or string libpq accepts");
        return PT_E_INVALID;
    }
    struct pg_store *s = pt_xcalloc(1, sizeof(*s));
    s->base.engine = &pg_engine;
    s->base.loop = loop;
    s->opts = opts;
    s->defaults = PQconndefaults();
    s->statement_timeout_ms =
        cfg->statement_timeout_ms ? cfg->statement_timeout_ms : DEFAULT_STATEMENT_TIMEOUT_MS;
    s->queue_timeout_ms = cfg->queue_timeout_ms ? cfg->queue_timeout_ms : DEFAULT_QUEUE_TIMEOUT_MS;
    s->max_queued = cfg->max_queued ? cfg->max_queued : DEFAULT_MAX_QUEUED;
    s->bringup_ms = connect_timeout_ms(s) + s->statement_timeout_ms;
    pt_buf_init(&s->host_list, LIST_LIMIT);
    pt_buf_init(&s->hostaddr_list, LIST_LIMIT);
    pt_buf_init(&s->port_list, LIST_LIMIT);
    if (plan_hosts(s) < 0) {
        free_store(s);
        return PT_E_INVALID;
    }
    plan_params(s);
    s->num_conns = cfg->pool_size ? cfg->pool_size : DEFAULT_POOL_SIZE;
    s->conns = pt_xcalloc(s->num_conns, sizeof(*s->conns));
    for (size_t i = 0; i < s->num_conns; i++) {
        s->conns[i].store = s;
        s->conns[i].index = (unsigned)i;
        s->conns[i].state = CONN_DOWN;
        s->conns[i].backoff_ms = BACKOFF_MIN_MS;
    }
    s->lookup.data = s;
    init_timers(s);
    for (size_t i = 0; i < s->num_conns; i++)
        conn_start(&s->conns[i]);
    *out = &s->base;
    return 0;
}
