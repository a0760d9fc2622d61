/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * store.h -- the data tier: saved observing sites and API tokens, one
 * interface over two engines. SQLite (sqlite.c) is the embedded default, one
 * file under the data directory, run on a thread of its own; PostgreSQL
 * (pg.c) is chosen by a DATABASE_URL and driven by libpq's asynchronous API on
 * the loop, through a pool of connections.
 *
 * Every operation is asynchronous: the caller fills a struct store_req, hands
 * it to store_submit() on the loop thread, and gets req->done(req) back on the
 * loop thread once the engine has finished with it -- for a write, only after
 * its COMMIT returned. The loop never waits on a lock, a file or a socket.
 *
 * Ownership: the request belongs to the caller and must stay valid (and
 * untouched) from store_submit() until done runs; done runs exactly once for
 * every submitted request, also when the store is unavailable or closing
 * (status STORE_UNAVAILABLE). What the engine returns in req->sites and
 * req->tokens is heap memory the request owns: store_req_release() frees it.
 *
 * Everything belongs to an owner: an opaque 32-hex-digit id the web layer
 * keeps in the session, or the owner of a bearer token. No operation reads or
 * changes a row of another owner: a site or token id of someone else is
 * STORE_NOT_FOUND, exactly as an id that does not exist.
 */
#ifndef PT_STORE_H
#define PT_STORE_H

#include <uv.h>

#include "base/base.h"

#define STORE_OWNER_LEN 32        /* hex digits of an owner id */
#define STORE_TOKEN_HASH_LEN 64   /* hex digits of a token's SHA-256 */
#define STORE_NAME_MAX_BYTES 256  /* a site name: 1..64 characters of UTF-8 */
#define STORE_TZ_MAX_BYTES 64     /* an IANA zone name ("America/Argentina/Buenos_Aires") */
#define STORE_NOTES_MAX_BYTES 4000 /* notes: up to 1,000 characters of UTF-8 */
#define STORE_TOKEN_NAME_MAX_BYTES 256

/* One saved site. Strings are NUL-terminated and, in input, already validated. */
struct store_site {
    int64_t id;                   /* random, 1..2^53-1 (exact in JavaScript) */
    char name[STORE_NAME_MAX_BYTES + 1];
    double lat;                   /* degrees */
    double lon;
    double elevation;             /* metres */
    bool has_pressure;
    double pressure;              /* hPa, when has_pressure */
    bool has_temperature;
    double temperature;           /* degrees Celsius, when has_temperature */
    double horizon_deg;           /* the site's obstructed horizon, 0..30 */
    char timezone[STORE_TZ_MAX_BYTES + 1]; /* "" when not set */
    char *notes;                  /* never NULL in output ("" when none); input: borrowed */
    int64_t created_ms;           /* Unix milliseconds */
    int64_t updated_ms;
    int64_t version;              /* 1 when created, +1 on every change */
};

/* One API token: what is kept of it (the token itself is never stored, only its hash). */
struct store_token {
    int64_t id;                   /* random, as site ids */
    char name[STORE_TOKEN_NAME_MAX_BYTES + 1];
    int64_t created_ms;
};

enum store_op {
    STORE_SITE_LIST,              /* the owner's sites by name -> sites[], num_sites */
    STORE_SITE_GET,               /* id -> site */
    STORE_SITE_CREATE,            /* site (id ignored; max_per_owner) -> site */
    STORE_SITE_UPDATE,            /* id, site, if_version -> site (version + 1) */
    STORE_SITE_DELETE,            /* id, if_version */
    STORE_TOKEN_CREATE,           /* token_hash, token.name (max_per_owner) -> token */
    STORE_TOKEN_LIST,             /* -> tokens[], num_tokens, by created */
    STORE_TOKEN_DELETE,           /* id */
};

enum store_status {
    STORE_OK = 0,
    STORE_NOT_FOUND,              /* no such id for this owner */
    STORE_UNAUTHORIZED,           /* auth.bearer: no token has that hash (revoked or never issued) */
    STORE_NAME_TAKEN,             /* the owner has another site with that name */
    STORE_STALE,                  /* if_version given and the row's version differs */
    STORE_LIMIT,                  /* the owner already has max_per_owner sites or tokens */
    STORE_UNAVAILABLE,            /* the database is unreachable or the store is closing */
    STORE_FAILED,                 /* anything else (logged with the engine's message) */
};

/*
 * Who asks: an owner id from the session, or a bearer token's hash, which the
 * engine resolves to its owner within the same operation (STORE_UNAUTHORIZED
 * when no token matches). The owner is written back into owner on success.
 */
struct store_auth {
    bool bearer;
    char owner[STORE_OWNER_LEN + 1];
    char token_hash[STORE_TOKEN_HASH_LEN + 1];
};

struct store_req;
typedef void (*store_done_fn)(struct store_req *req);

struct store_req {
    /* in */
    enum store_op op;
    struct store_auth auth;
    int64_t id;                   /* GET, UPDATE, DELETE (site or token) */
    int64_t if_version;           /* UPDATE, DELETE: 0 = unconditional */
    size_t max_per_owner;         /* SITE_CREATE, TOKEN_CREATE */
    struct store_site site;       /* CREATE, UPDATE in; GET, CREATE, UPDATE out */
    struct store_token token;     /* TOKEN_CREATE in (name) and out */
    char token_hash[STORE_TOKEN_HASH_LEN + 1]; /* TOKEN_CREATE: the new token's hash */
    int64_t now_ms;               /* the time of the change, set by store_submit */
    store_done_fn done;
    void *data;                   /* the caller's */

    /* out */
    enum store_status status;
    int64_t current_version;      /* STORE_STALE: the row's version now */
    struct store_site *sites;     /* SITE_LIST: heap, owned by the request */
    size_t num_sites;
    struct store_token *tokens;   /* TOKEN_LIST: heap, owned by the request */
    size_t num_tokens;
    bool notes_owned;             /* site.notes is heap memory the request owns */

    /* private: the engine's queue */
    struct store_req *next;
};

/* Counters for /metrics and /healthz. Loop thread. */
struct store_stats {
    const char *engine;           /* "sqlite" or "postgresql" */
    bool available;               /* the engine can serve now (PostgreSQL: a connection is up) */
    uint64_t ops;                 /* operations finished */
    uint64_t failed;              /* ... with STORE_FAILED or STORE_UNAVAILABLE */
    size_t queued;                /* waiting for the engine now */
    size_t connections;           /* PostgreSQL: connections up now; SQLite: 1 */
    uint64_t reconnects;          /* PostgreSQL: connections (re)made after a loss */
    uint64_t commits;             /* SQLite: write transactions (a group commit counts once) */
    char last_error[200];         /* the engine's last error message, or "" */
};

struct store_config {
    const char *database_url;     /* postgresql://... selects PostgreSQL; NULL: SQLite */
    const char *sqlite_path;      /* the SQLite file (its directory must exist) */
    size_t pool_size;             /* PostgreSQL connections; 0 = 4 */
    uint64_t statement_timeout_ms; /* PostgreSQL statement_timeout; 0 = 5000 */
    uint64_t queue_timeout_ms;    /* how long a request may wait for a connection
                                     before STORE_UNAVAILABLE; 0 = 2000 */
    size_t max_queued;            /* requests waiting at most; beyond: STORE_UNAVAILABLE; 0 = 1024 */
};

struct store;

/* The engine operations behind struct store (sqlite.c, pg.c). */
struct store_engine {
    void (*submit)(struct store *s, struct store_req *req);
    void (*stats)(const struct store *s, struct store_stats *out);
    void (*close)(struct store *s);     /* stop; every queued request gets done(UNAVAILABLE) */
    void (*free)(struct store *s);
};

struct store {
    const struct store_engine *engine;
    uv_loop_t *loop;
    bool closing;
};

/*
 * Open the store on loop: SQLite (open, migrate; synchronous, at start-up) or
 * PostgreSQL (starts connecting in the background; the first requests wait
 * for a connection up to queue_timeout_ms). OUT: *out. Returns 0, or a
 * negative error after logging why (the SQLite file cannot be opened or
 * migrated, a malformed DATABASE_URL).
 */
int store_open(uv_loop_t *loop, const struct store_config *cfg, struct store **out);

/*
 * A store that refuses everything with STORE_UNAVAILABLE (engine "none",
 * never available; why is its last_error): what serves when the configured
 * one cannot open, so that the rest of the API still answers. Never fails.
 */
struct store *store_unavailable_new(uv_loop_t *loop, const char *why);

/* Submit a request (see above). Loop thread. After store_close: done(UNAVAILABLE) at once. */
void store_submit(struct store *s, struct store_req *req);

/* Counters. Loop thread. */
void store_stats(const struct store *s, struct store_stats *out);

/*
 * Stop: no new work; what is queued finishes with STORE_UNAVAILABLE, what is
 * running finishes normally (a COMMIT under way is waited for). Handles close
 * through the loop: run it until it is dry, then store_free.
 */
void store_close(struct store *s);
void store_free(struct store *s);

/* Free what the engine put into req (sites, tokens, notes). Safe twice. */
void store_req_release(struct store_req *req);

/* A random id 1..2^53-1 for a new row (OpenSSL's RAND_bytes). */
int64_t store_random_id(void);

/* "ok", "not_found", ... for logs and metrics. */
const char *store_status_name(enum store_status st);

/* Engines: the SQLite file at cfg->sqlite_path; PostgreSQL at cfg->database_url. */
int store_sqlite_open(uv_loop_t *loop, const struct store_config *cfg, struct store **out);
int store_pg_open(uv_loop_t *loop, const struct store_config *cfg, struct store **out);

#endif /* PT_STORE_H */
