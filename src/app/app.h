/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * app.h -- PlanetTracker itself: configuration, the shared application state
 * handed to every handler, the route table and the handlers. Only src/app/
 * includes this header.
 */
#ifndef PT_APP_H
#define PT_APP_H

#include "astro/astro.h"
#include "web/web.h"

#define APP_VERSION "0.1.0"

/* Greenwich, the original app's default observer. */
#define APP_DEFAULT_LAT_DEG 51.4769
#define APP_DEFAULT_LON_DEG (-0.0005)
#define APP_DEFAULT_PRESSURE_HPA 1010.0
#define APP_DEFAULT_TEMP_C 15.0

/* Accepted ranges of the API's observer parameters. */
#define APP_ELEV_MIN_M (-500.0)
#define APP_ELEV_MAX_M 10000.0
#define APP_PRESSURE_MIN_HPA 0.0
#define APP_PRESSURE_MAX_HPA 1100.0
#define APP_TEMP_MIN_C (-90.0)
#define APP_TEMP_MAX_C 60.0

struct app_config {
    const char *command;        /* "serve", "now" */
    const char *host;
    int port;
    const char *static_dir;     /* NULL: embedded assets */
    const char *ephe_path;      /* NULL: $EPHE_PATH or the Debian location */
    const char *secret_key;     /* NULL: a random key, with a warning */
    bool access_log;
    int log_level;
    uint64_t head_timeout_ms;
    uint64_t idle_timeout_ms;
    size_t max_body_bytes;
    uint64_t stall_timeout_ms;
    uint64_t graceful_timeout_ms;
    size_t max_connections;
    size_t max_conns_per_peer;      /* 0: no limit */
    size_t max_streams_per_client;
    size_t executor_max_pending;
    size_t executor_max_per_client;
    unsigned ws_observe_per_s;
    bool trust_proxy;
    bool cookie_secure;
    bool no_microcache;
    const char *data_dir;           /* downloaded data (Earth orientation); default ./var */
    const char *eop_url;            /* finals2000A to fetch; NULL: none (offline) */
    const char *eop_leap_url;       /* Leap_Second.dat to fetch; NULL: none */
    double eop_refresh_hours;
    uint64_t eop_timeout_ms;        /* one download, start to end */
    const char *database_url;       /* DATABASE_URL: PostgreSQL; NULL: SQLite in data_dir */
    size_t db_pool;                 /* PostgreSQL connections */
    size_t max_sites_per_owner;
    size_t max_tokens_per_owner;
    const char *zoneinfo;           /* tzdata.zi: the valid time-zone names */
    unsigned workers;               /* --workers: 0 = one process, no master */
    unsigned worker_timeout_s;      /* a worker silent this long is killed and replaced */
    uint64_t max_requests;          /* a worker retires after this many answers; 0: never */
    bool reload;                    /* --reload: a new generation when the binary or web/ change */
    const char *redis_url;          /* REDIS_URL: live fan-out across processes; NULL: none */
    const char *redis_prefix;       /* channel names start with this (one per deployment) */
};

/* Earth-orientation data: where the table in use came from, and the updater's record. */
#define APP_EOP_FINALS_FILE "finals2000A.all"
#define APP_EOP_LEAP_FILE "Leap_Second.dat"
#define APP_EOP_MAX_BYTES (16u * 1024 * 1024)
#define APP_EOP_DEFAULT_URL "https://datacenter.iers.org/products/eop/rapid/standard/finals2000A.all"
#define APP_EOP_DEFAULT_LEAP_URL "https://hpiers.obspm.fr/iers/bul/bulc/Leap_Second.dat"

struct app_eop_updater;

struct app_eop {
    char origin[256];               /* "built-in (data/iers)", a path or a URL */
    struct pt_buf leap_text;        /* Leap_Second.dat of the table in use */
    uint64_t updates_ok;
    uint64_t updates_failed;
    uint64_t updates_unchanged;     /* downloads not newer than the table in use */
    double last_ok_unix_s;
    char last_error[200];
    struct app_eop_updater *updater; /* NULL when offline */
};

struct live_hub;
struct tonight_cache;
struct riseset_cache;
struct microcache;
struct store;
struct app_zones;

/* The instant of the current whole second, reused for every request in it. */
struct app_now_cache {
    int64_t second;          /* Unix second the entry is for; 0 = empty */
    struct astro_time t;
    double sun_jd_ut1;       /* the instant of sun_gha/sun_dec; 0 = none */
    double sun_gha_deg;      /* the Sun's Greenwich hour angle, apparent */
    double sun_sin_dec;      /* and the sine and cosine of its declination (seen from */
    double sun_cos_dec;      /* the equator: within 9") */
    bool have_lat;           /* the last observer's latitude, its sine and cosine */
    double lat_deg, sin_lat, cos_lat;
};

/*
 * The Sun's geometric (airless) altitude for obs at t, for visibility: from
 * its Greenwich hour angle and declination, the same for every observer at an
 * instant and remembered for the last instant asked (st->now: loop thread
 * only), to about 0.005 degrees (the Sun's parallax). OUT: *alt_deg. Returns 0
 * or an astro error.
 */
struct app_state;
struct app_instant;
int app_sun_altitude(const struct app_state *st, const struct astro_time *t,
                     const struct astro_observer *obs, double *alt_deg);

/* What every handler reaches through ctx->app_data. Owned by main(). */
struct app_state {
    const struct app_config *cfg;
    struct astro_ctx *astro;
    struct http_server *server;
    struct live_hub *live;
    struct riseset_cache *riseset;   /* loop thread only */
    struct app_now_cache *now;       /* loop thread only: the current second's instant */
    struct app_instant *instant;     /* loop thread only: what answers at one instant share */
    struct microcache *microcache;   /* loop thread only; NULL when disabled */
    struct app_eop *eop;             /* loop thread only (the table is in astro) */
    struct store *store;             /* saved sites and tokens (src/store) */
    const char *worker_id;           /* "generation.slot" under a master; NULL: one process */
    struct app_worker_link *link;    /* loop thread only: the master's pipe; NULL: none */
    bool supervisor_degraded;        /* the master gave up restarting a worker */
    struct app_worker_metrics *shared_metrics; /* every worker's figures; NULL: one process */
    struct live_owners *owners;      /* loop thread only: streams by owner (live_sites.c) */
    struct app_site_cache *site_cache; /* loop thread only: sites asked for by site= */
    struct app_fanout *fanout;       /* loop thread only: Redis fan-out (fanout.c); NULL: none */
    struct tonight_cache *tonight;   /* loop thread only: answers of /planets/tonight */
    const struct app_zones *zones;   /* valid time-zone names (read-only) */
    struct pt_str openapi;           /* the /openapi.json document (read-only) */
    struct pt_str openapi_gz;        /* the same, gzip-compressed at start (read-only) */
    double started_unix_s;
};

/*
 * Choose the Earth-orientation table: the one compiled in, or the copy an earlier
 * download left in data_dir (may be NULL) if it is at least as recent; set it in
 * astro. Returns 0, or PT_E_INVALID if even the compiled-in data does not parse.
 */
int app_eop_init(struct app_eop *eop, struct astro_ctx *astro, const char *data_dir);
void app_eop_deinit(struct app_eop *eop);

/* Seconds rounded to 0.1 us for display (time offsets in answers). */
double app_round_us(double s);

/* The provenance members of an answer (ut1_utc_s, polar_motion_as, eop). Any thread. */
void app_render_eop(struct web_json *j, const struct astro_ctx *astro, const struct astro_time *t);

/*
 * Whether the Earth-orientation data is healthy today (recent predictions, leap
 * table not expired); with j not NULL also writes the "eop" member of /healthz.
 */
bool app_eop_health(const struct app_state *st, struct web_json *j);

/* The Earth-orientation gauges and the updater's counters, in Prometheus text, into b. */
void app_eop_metrics(const struct app_state *st, struct pt_buf *b);

/*
 * The updater (eop_update.c): with --eop-url, fetch and apply newer data every
 * --eop-refresh-hours (the first check about a second after the start). Returns
 * 0 (also when offline) or PT_E_NOMEM. Stop closes its handles and abandons what
 * is in flight (call on shutdown); free after the loop has run dry.
 */
int app_eop_updater_start(struct app_state *st, uv_loop_t *loop);
void app_eop_updater_stop(struct app_state *st);
void app_eop_updater_free(struct app_state *st);

/* Today's MJD (UTC). */
int32_t app_mjd_now(void);


/*
 * Fill cfg from the environment (HOST, PORT, SECRET_KEY, EPHE_PATH, STATIC_DIR)
 * and then argv. Returns 0, 1 when --help was printed (exit 0), or -1 after
 * printing a usage error to stderr (exit 2).
 */
int app_config_parse(struct app_config *cfg, int argc, char **argv);

/* The Earth-orientation data compiled in (data/iers/): finals2000A.all and Leap_Second.dat. */
struct pt_str app_eop_embedded_finals(void);
struct pt_str app_eop_embedded_leap_seconds(void);

/* `planettracker now ...` (argv[0] is "now"). Returns the process exit status. */
int app_cmd_now(int argc, char **argv);

/* `planettracker sites list|add|rm ...` (argv[0] is "sites"), a client of /api/sites.
 * Returns the process exit status: 0, 1 refused, 2 unreachable, 64 usage. */
int app_cmd_sites(int argc, char **argv);

/* Register every route and middleware of PlanetTracker (the visible table). */
int app_routes_add(struct web_app *app);

/* The observer of a request: query parameters, else the session, else Greenwich. */
struct app_observer {
    struct astro_observer astro;
    struct pt_str lat_text;     /* as given (query or session), or the default */
    struct pt_str lon_text;
    const char *source;         /* "query", "session", "site" or "default" */
    double horizon_deg;         /* a site's obstructed horizon (0: none), for visibility */
};

/*
 * Read lat, lon, elevation, pressure, temperature from the query (or session),
 * validating each. Returns 0, or an error status with ctx->error filled.
 */
int app_observer_from_request(struct web_ctx *ctx, struct app_observer *out);

/* The observer at a saved site: its place and weather (the defaults where it has none). */
struct store_site;
void app_observer_from_site(const struct store_site *site, struct astro_observer *out);

/*
 * Read time and timescale from the query (default: now, UTC, from st->now, which
 * must be set). Same contract.
 */
int app_time_from_request(struct web_ctx *ctx, struct astro_time *out);

/* Both of the above: the observer, then the instant. Same contract. */
int app_sky_from_request(struct web_ctx *ctx, struct app_observer *obs, struct astro_time *t);

/*
 * Validate a latitude, longitude or elevation given as text; `name` is the
 * parameter's name for the error. OUT: *value. Returns 0 or 400 with ctx->error.
 */
int app_parse_lat(struct web_ctx *ctx, const char *name, struct pt_str text, double *value);
int app_parse_lon(struct web_ctx *ctx, const char *name, struct pt_str text, double *value);
int app_parse_number(struct web_ctx *ctx, const char *name, struct pt_str text, double min,
                     double max, const char *unit, double *value);

/* The rise/transit/set cache (riseset_cache.c). */
struct riseset_cache *riseset_cache_new(void);
void riseset_cache_free(struct riseset_cache *c);

/* Events as ISO 8601 text, formatted once: rise, transit, set ("" = not kept, format it). */
#define APP_ISO_ROOM 25 /* "YYYY-MM-DDTHH:MM:SS.mmmZ" and its NUL */
struct app_event_texts {
    char iso[3][APP_ISO_ROOM];
    unsigned char len[3]; /* strlen(iso[i]) */
};

/* Until when (jd_ut1) ev, searched from from_jd, are the next events: the earliest of
 * them that happens, or from_jd + 1 day when none does (circumpolar...). */
double app_events_valid_until(const struct astro_riseset *ev, double from_jd);

/* The ISO text of ev's rise, transit and set ("" for an event that does not happen). */
void app_event_texts_format(const struct astro_riseset *ev, struct app_event_texts *out);

/*
 * The next rise/transit/set of body after t for obs, from the cache when an
 * earlier answer for the same observer is still valid. Same contract as
 * astro_riseset_next(); *texts (may be NULL) gets the events' ISO text, kept with
 * them. Loop thread only.
 */
int riseset_cache_get(struct riseset_cache *c, const struct astro_ctx *astro,
                      enum astro_body body, const struct astro_time *t,
                      const struct astro_observer *obs, struct astro_riseset *out,
                      struct app_event_texts *texts);

/* The same-millisecond answer cache (microcache.c). Loop thread only. */
struct microcache *microcache_new(void);
void microcache_free(struct microcache *c);

/* The answer cached for key in millisecond now_ms, if any (borrowed until the next put). */
bool microcache_get(struct microcache *c, struct pt_str key, int64_t now_ms, struct pt_str *body);

/* Remember an answer (copied); too long keys or bodies are not cached. */
void microcache_put(struct microcache *c, struct pt_str key, int64_t now_ms, struct pt_str body);

void microcache_stats(const struct microcache *c, uint64_t *hits, uint64_t *misses);

/* Every body, as a bit mask over enum astro_body. */
#define APP_ALL_BODIES ((1u << ASTRO_BODY_COUNT) - 1)

/*
 * What a body's answer carries beyond its position: the observer-independent
 * details (magnitude, phase, elongation, constellation) and the observer's next
 * rise/transit/set. A PT_E_RANGE in either rc renders those fields as null.
 */
struct app_body_info {
    int details_rc;
    struct astro_details details;
    struct pt_str details_json; /* the details serialized (instant.c, borrowed), or empty */
    int events_rc;
    struct astro_riseset events;
    struct app_event_texts texts; /* events as text when known (riseset cache), or "" */
};

/* Whether a body can be seen now, and with what (visibility.c). */
enum app_verdict {
    APP_VERDICT_NAKED_EYE,
    APP_VERDICT_BINOCULARS,
    APP_VERDICT_TELESCOPE,
    APP_VERDICT_TOO_LOW,
    APP_VERDICT_DAYLIGHT,
    APP_VERDICT_GLARE,
    APP_VERDICT_BELOW_HORIZON,
};

struct app_visibility {
    enum app_verdict verdict;
    char reason[112];                 /* for people: "naked eye: magnitude -2.3, 39° up" */
};

const char *app_verdict_name(enum app_verdict v);

/*
 * Judge body at apparent altitude alt (degrees) with the Sun's centre at
 * geometric (airless) altitude sun_alt, for a
 * site whose horizon is obstructed up to horizon_deg (0: none), from its
 * magnitude and elongation in info. OUT: *out. Any thread.
 */
void app_visibility_judge(enum astro_body body, double alt, double sun_alt, double horizon_deg,
                          const struct app_body_info *info, struct app_visibility *out);

/* The faintest magnitude the naked eye reaches with the Sun at sun_alt degrees. */
double app_naked_eye_limit(double sun_alt);

/* Magnitudes lost to the air for a body at alt degrees (> 0). */
double app_extinction_mag(double alt);

/*
 * Fill *out for body at t for obs: the details from `in` when it holds t (may be
 * NULL), the events from st->riseset when it is set, else computed. Returns 0 or
 * an astro error other than PT_E_RANGE. Loop thread when st->riseset is set or in
 * is the loop's; any thread otherwise.
 */
int app_body_info_get(const struct app_state *st, struct app_instant *in, enum astro_body body,
                      const struct astro_time *t, const struct astro_observer *obs,
                      struct app_body_info *out);

/*
 * The members of one body's object: name, position, magnitude, phase,
 * elongation, constellation and the next rise/transit/set. Any thread.
 */
void app_render_body(struct web_json *j, enum astro_body body, const struct astro_position *p,
                     const struct app_body_info *info, const struct app_visibility *vis);

/* magnitude, phase, elongation, constellation, constellation_name (null without details). */
void app_render_details_members(struct web_json *j, const struct app_body_info *info);

/* A member `key` holding an event time as ISO 8601 UTC, or null when it does not happen. */
void app_render_event(struct web_json *j, const char *key, const struct astro_time *t);

/*
 * The members shared by every answer: time, timescale, provenance, observer;
 * the instant's copied from `in` when it holds t, the observer's when it is the
 * last one `in` rendered (in may be NULL). The thread that owns `in`.
 */
void app_render_context(struct web_json *j, const struct app_state *st,
                        const struct app_observer *obs, const struct astro_time *t,
                        struct app_instant *in);

/* The observer member: {lat, lon, elevation, pressure, temperature, horizon_deg, source}. */
void app_render_observer(struct web_json *j, const struct app_observer *obs);

/* The members of the instant alone: time, timescale, jd_ut1, deltat_s, provenance, ephemeris. */
void app_render_instant_members(struct web_json *j, const struct app_state *st,
                                const struct astro_time *t);

/*
 * What answers at one instant share, whatever their observer (instant.c): the
 * instant members and each body's details, serialized once. Not thread-safe:
 * one per rendering thread.
 */
struct app_instant *app_instant_new(void);
void app_instant_free(struct app_instant *in);

/* Make `in` hold t (a no-op when it does; forgets the instant it held). */
void app_instant_use(struct app_instant *in, const struct app_state *st,
                     const struct astro_time *t);

/*
 * body's details at t into info (details_rc, details, details_json): from `in`,
 * computed there on first use, when it holds t; else computed, details_json empty.
 */
void app_instant_details(struct app_instant *in, const struct astro_ctx *astro,
                         enum astro_body body, const struct astro_time *t,
                         struct app_body_info *info);

/*
 * astro_position_compute() / astro_position_compute_all() of obs at t: with the
 * instant's own part (astro_moment) kept in `in`, set on first use, when `in` holds
 * t (in may be NULL). The same results and errors either way.
 */
int app_instant_position(struct app_instant *in, const struct app_state *st, enum astro_body body,
                         const struct astro_time *t, const struct astro_observer *obs,
                         struct astro_position *out);
int app_instant_positions(struct app_instant *in, const struct app_state *st,
                          const struct astro_time *t, const struct astro_observer *obs,
                          struct astro_position out[ASTRO_BODY_COUNT]);

/* The observer member serialized (borrowed from `in`; kept for the last observer). */
struct pt_str app_instant_observer(struct app_instant *in, const struct app_observer *obs);

/* The instant members serialized (borrowed from `in`), or empty unless it holds t. */
struct pt_str app_instant_context(const struct app_instant *in, const struct astro_time *t);

/*
 * A whole sky object {time, ..., observer, bodies: [...]} for the bodies in the
 * mask. Returns 0 or the astro error of the first body that failed.
 */
int app_render_sky(struct web_json *j, const struct app_state *st, const struct app_observer *obs,
                   const struct astro_time *t, unsigned bodies, struct app_instant *in);

/*
 * The same sky object from positions and infos the caller computed (indexed by
 * body; only the bodies in the mask are read). Reads only st->astro: any thread.
 */
void app_render_sky_from(struct web_json *j, const struct app_state *st,
                         const struct app_observer *obs, const struct astro_time *t,
                         unsigned bodies, const struct astro_position pos[ASTRO_BODY_COUNT],
                         const struct app_body_info info[ASTRO_BODY_COUNT],
                         struct app_instant *in);

/* ------------------------------------------------------------ live push */

enum live_channel { LIVE_SSE, LIVE_WS };

/* What a subscriber asked for; compared and hashed as bytes (keep it padding-free). */
struct live_key {
    struct astro_observer obs;
    double horizon_deg;               /* the site's obstructed horizon, for visibility */
    unsigned bodies;                  /* mask over enum astro_body */
    enum live_channel channel;
};

/* One live subscriber (SSE or WebSocket). Owned by its channel's handler code. */
struct live_sub {
    struct live_hub *hub;
    struct live_sub *prev;            /* in the hub's list */
    struct live_sub *next;
    struct web_sse *sse;              /* the stream, per key.channel */
    struct web_ws *ws;
    struct live_key key;              /* subscribers with equal keys share one message */
    const char *source;               /* "query", "session", "default" (static) */
    unsigned interval_s;
    int64_t next_due_s;
    int64_t last_sent_s;              /* for the SSE keep-alive comment */
    bool pending;                     /* waits for the newest positions (see live.c) */
    int64_t pending_since_s;
    int64_t observe_second;           /* WebSocket: the second observes are counted in */
    unsigned observes;                /* observe messages in that second */
    /* The owner's saved sites pushed to this stream (live_sites.c); all NULL/0 without one. */
    struct live_owners *owners;
    struct live_owner *owner;
    struct live_sub *owner_prev;
    struct live_sub *owner_next;
    uint64_t sites_want;              /* the owner's read that will satisfy it; 0: none */
    struct owner_resolve *resolving;  /* a bearer stream: its owner is being looked up */
    int64_t site_id;                  /* observing this saved site: follows its changes; 0 none */
    struct store_auth *auth;          /* WebSocket of an owner: for observe by site (heap) */
    struct site_lookup *lookup;       /* WebSocket: an observe by site waiting for the store */
};

struct live_config {
    unsigned ws_observe_per_s;        /* observe messages one WebSocket may send a second */
    uint64_t build_budget_ms;         /* worker time one build round may take */
};

struct live_stats {
    size_t subscribers;
    size_t pending;                   /* subscribers waiting for a message now */
    uint64_t ticks;
    uint64_t messages;                /* distinct messages built, all ticks */
    uint64_t deliveries;              /* messages offered to subscribers */
    uint64_t dropped;                 /* older messages replaced before a slow reader took them */
    uint64_t rounds;                  /* build rounds run on the thread pool */
    uint64_t deferred;                /* groups left for the next round by the time budget */
    uint64_t build_us;                /* worker time spent building, microseconds */
    uint64_t observe_refused;         /* WebSocket observes over the per-second cap */
    size_t events_cached;             /* observers whose next events are remembered */
};

/*
 * Create the hub and start its once-a-second timer on loop. st and cfg are
 * borrowed (cfg is copied).
 */
struct live_hub *live_hub_new(uv_loop_t *loop, const struct app_state *st,
                              const struct live_config *cfg);

/* Stop the timer and the deliveries (on shutdown); streams are ended by the http layer. */
void live_hub_stop(struct live_hub *hub);

/*
 * Free a stopped hub whose subscribers are all gone and whose last build round
 * has come back (the loop has run dry). NULL does nothing.
 */
void live_hub_free(struct live_hub *hub);

/* Link / unlink a subscriber (the hub does not free it). */
void live_hub_add(struct live_hub *hub, struct live_sub *sub);
void live_hub_remove(struct live_hub *hub, struct live_sub *sub);

/*
 * The subscriber wants the newest positions as soon as they are built (it just
 * joined, or changed its observer): from a message of this second if one is at
 * hand, else from the next build round, off the loop.
 */
void live_hub_want(struct live_hub *hub, struct live_sub *sub);

/*
 * The second to label an immediate answer with: the wall clock's, but never
 * earlier than the last tick (the tick rounds to the nearest second).
 */
int64_t live_hub_now_s(const struct live_hub *hub);

/* Counters for /metrics and benchmarks. */
void live_hub_stats(const struct live_hub *hub, struct live_stats *out);

/*
 * Count one WebSocket observe message of sub against cfg.ws_observe_per_s.
 * Returns false (and counts the refusal) when it is over the cap for this second.
 */
bool live_hub_observe_allowed(struct live_hub *hub, struct live_sub *sub);

/* The application state the hub serves (borrowed). */
const struct app_state *live_hub_state(const struct live_hub *hub);

/* The hub's configuration (borrowed). */
const struct live_config *live_hub_config(const struct live_hub *hub);

/* Parse "mars,venus" into a body mask (OUT: *mask). False on an unknown or empty name. */
bool live_bodies_from_list(struct pt_str list, unsigned *mask);

/*
 * The next rise/transit/set of every body for many observers (live_events.c),
 * remembered per observer until the first of them passes. Not thread-safe: one
 * thread at a time (the hub's build round).
 */
struct live_events;
struct live_events *live_events_new(void);
void live_events_free(struct live_events *e);

/*
 * The body infos of observer obs at t: details[] (the same for every observer
 * at t, computed by the caller) and the observer's next events (remembered).
 * OUT: info[b] for the bodies in the mask. Returns 0 or an astro error.
 */
int live_events_infos(struct live_events *e, const struct astro_ctx *astro,
                      const struct astro_time *t, const struct astro_observer *obs,
                      unsigned bodies, const struct app_body_info details[ASTRO_BODY_COUNT],
                      struct app_body_info info[ASTRO_BODY_COUNT]);

/* Forget observers not asked about since before second (bounded memory). */
void live_events_forget(struct live_events *e, int64_t second);

/* Observers remembered. */
size_t live_events_count(const struct live_events *e);

/*
 * The owners' saved sites on their open streams (live_sites.c): an index of
 * streams by owner, and the list read from the store and pushed when a stream
 * joins and after every change. Loop thread only.
 */
struct live_owners;
struct store_auth;

struct live_owners_stats {
    size_t owners;                    /* owners with an open stream now */
    uint64_t changes;                 /* changes announced */
    uint64_t reads;                   /* lists read from the store */
    uint64_t pushes;                  /* lists sent to streams */
    uint64_t failed;                  /* reads the store did not answer */
};

/* st->store must be open; st and router are borrowed. */
struct live_owners *live_owners_new(const struct app_state *st, const struct web_router *router);

/* Free once every stream has left and the store has answered (the loop ran dry). NULL: nothing. */
void live_owners_free(struct live_owners *o);

/*
 * A stream of an owner (a session's, or a bearer token's: resolved first)
 * opened: it gets the owner's list now and after every change.
 */
void live_owners_join(struct live_owners *o, struct live_sub *sub, const struct store_auth *auth);

/* The stream closes (from its on_close; nothing when it never joined). */
void live_owners_leave(struct live_sub *sub);

/* owner's sites changed (a write committed): push the new list to their streams. */
void live_owners_changed(struct live_owners *o, const char *owner);

/* Every owner with an open stream gets its list again (after a fan-out loss). */
void live_owners_resync(struct live_owners *o);

void live_owners_stats(const struct live_owners *o, struct live_owners_stats *out);

/* ------------------------------------------------------------ workers */

/* The master of `serve --workers N` (master.c): runs until SIGTERM. argv: the workers'. */
int app_master_run(const struct app_config *cfg, char **argv);

/*
 * A worker's end of the control pipe (fd, from PT_CONTROL_FD): say "ready",
 * then beat every second; on_master_gone when the master closes it.
 */
struct app_worker_link;
struct app_worker_link *app_worker_link_open(uv_loop_t *loop, int fd,
                                             void (*on_master_gone)(void *data),
                                             void (*on_line)(void *data, const char *line),
                                             void *data);
void app_worker_link_ready(struct app_worker_link *l);

/* Ask the master for a successor; it sends SIGTERM once that one serves. */
void app_worker_link_retire(struct app_worker_link *l);

/*
 * The workers' figures in shared memory (worker_metrics.c): the master makes
 * the memfd (a descriptor, or a negative errno); a worker maps it and writes
 * its slot; /metrics adds up every live slot. NULL handles do nothing.
 */
struct app_worker_metrics;
int app_worker_metrics_create(unsigned nslots);
struct app_worker_metrics *app_worker_metrics_open(int fd, size_t slot);
void app_worker_metrics_close(struct app_worker_metrics *m);
void app_worker_metrics_publish(struct app_worker_metrics *m, const struct app_state *st,
                                const struct web_app *app);
void app_worker_metrics_render(const struct app_worker_metrics *m, struct pt_buf *b);

/* Tell the other workers (through the master) that owner's saved sites changed. NULL: none. */
void app_worker_link_sites_changed(struct app_worker_link *l, const char *owner);
void app_worker_link_close(struct app_worker_link *l);

/* ------------------------------------------------------------ fan-out */

/*
 * Live fan-out across processes and machines through Redis PUBSUB (fanout.c):
 * an owner's site change and operator announcements published by one process
 * reach the streams of every process. After the subscription comes back from
 * a loss every owner's list is pushed again (PUBSUB loses what was published
 * meanwhile: state, not deltas). Loop thread only.
 */
struct app_fanout;
struct app_fanout *app_fanout_open(uv_loop_t *loop, struct app_state *st);
void app_fanout_close(struct app_fanout *f);   /* handles close through the loop */
void app_fanout_free(struct app_fanout *f);    /* after the loop ran dry; NULL: nothing */
void app_fanout_sites_changed(struct app_fanout *f, const char *owner);
/* The "pubsub" member of /healthz; false when configured and not up. NULL: nothing, true. */
bool app_fanout_health(const struct app_fanout *f, struct web_json *j);
void app_fanout_metrics(const struct app_fanout *f, struct pt_buf *b);

/*
 * Send a message that must not be dropped to one stream: SSE `event` with data sse, or
 * the WebSocket text ws; a stream whose bounded backlog is full is closed.
 */
void live_sub_send(struct live_sub *sub, const char *event, struct pt_str sse, struct pt_str ws);

/* An operator's announcement as JSON {"text", "id", "expires"}: every open stream shows it. */
void live_hub_announce(struct live_hub *hub, struct pt_str json, double expires_unix_s);

/* `planettracker announce TEXT [--ttl S]` (cli_announce.c): publish one through Redis. */
int app_cmd_announce(int argc, char **argv);

/* Handlers. */
int app_handle_stream(struct web_ctx *ctx);
int app_handle_events(struct web_ctx *ctx);
int app_handle_tonight(struct web_ctx *ctx);

/* The answers of GET /planets/tonight by place and night (tonight.c). Loop thread only. */
struct tonight_cache *tonight_cache_new(void);
void tonight_cache_free(struct tonight_cache *c);
int app_handle_ws(struct web_ctx *ctx);
int app_handle_index(struct web_ctx *ctx);
int app_handle_service_worker(struct web_ctx *ctx);
int app_handle_manifest(struct web_ctx *ctx);
int app_handle_healthz(struct web_ctx *ctx);
int app_handle_metrics(struct web_ctx *ctx);
int app_handle_openapi(struct web_ctx *ctx);
int app_handle_planet(struct web_ctx *ctx);
int app_handle_planets(struct web_ctx *ctx);
int app_handle_geo_location(struct web_ctx *ctx);

/* ------------------------------------------------------------ saved sites */

/* One member of a site body: the schema that drives validation, errors and /openapi.json. */
enum app_field_kind {
    APP_FIELD_TEXT,      /* a string of min..max characters */
    APP_FIELD_LAT,       /* an angle: number, or decimal degrees / D:M:S text */
    APP_FIELD_LON,
    APP_FIELD_NUMBER,
    APP_FIELD_TIMEZONE,  /* an IANA zone name of the system's zoneinfo */
};

struct app_site_field {
    const char *name;
    enum app_field_kind kind;
    bool required;       /* in POST and PUT (PATCH requires nothing) */
    bool nullable;
    double min;          /* range of the value, or of the length in characters */
    double max;
    const char *unit;
    const char *description;
};

extern const struct app_site_field app_site_fields[];
extern const size_t app_site_num_fields;

/* The whole /openapi.json (web/openapi.json and the sites routes), malloc'd; NULL on error. */
char *app_openapi_build(void);

/* The time-zone names of a tzdata.zi file (plus "UTC"); a missing file leaves only UTC. */
struct app_zones *app_zones_load(const char *path);
void app_zones_free(struct app_zones *z);
bool app_zone_valid(const struct app_zones *z, const char *name);
size_t app_zones_count(const struct app_zones *z);

/*
 * Who asks, for a stream: 1 with *auth when there is an owner (the session's,
 * or a well-formed bearer token, not yet checked), 0 when none, or an error
 * status (401 for a malformed Authorization).
 */
int app_stream_auth(struct web_ctx *ctx, struct store_auth *auth);

/* One site as the API shows it, and the members {"sites": [...], "limit": n} of a list. */
struct store_site;
void app_render_site(struct web_json *j, const struct web_router *router,
                     const struct store_site *s);
void app_render_sites(struct web_json *j, const struct app_state *st,
                      const struct web_router *router, const struct store_site *sites, size_t n);

/*
 * The sites site= asked for lately (site_cache.c), by who asked and id; an
 * owner's entries are forgotten on every change of theirs. Loop thread only.
 */
struct app_site_cache;
struct app_site_cache *app_site_cache_new(void);
void app_site_cache_free(struct app_site_cache *c);
const struct store_site *app_site_cache_get(struct app_site_cache *c,
                                            const struct store_auth *auth, int64_t id);
void app_site_cache_put(struct app_site_cache *c, const struct store_auth *auth,
                        const char *owner, const struct store_site *site);
void app_site_cache_forget_owner(struct app_site_cache *c, const char *owner);
void app_site_cache_stats(const struct app_site_cache *c, uint64_t *hits, uint64_t *misses);

/* owner's sites changed (here or in another process): forget cached ones, push to streams. */
void app_owner_changed(const struct app_state *st, const char *owner);

/* The session's owner id (32 hex digits), if it has one. */
bool app_session_owner(struct web_ctx *ctx, char owner[33]);

/*
 * Middleware: `site={id}` on the observer routes (/planets..., /ws) loads that
 * site of the requester (404 for anyone else's) into ctx->local (a struct
 * store_site) before the handler runs.
 */
int app_mw_site(struct web_ctx *ctx);

int app_handle_sites_list(struct web_ctx *ctx);
int app_handle_site_create(struct web_ctx *ctx);
int app_handle_site_get(struct web_ctx *ctx);
int app_handle_site_put(struct web_ctx *ctx);
int app_handle_site_patch(struct web_ctx *ctx);
int app_handle_site_delete(struct web_ctx *ctx);
int app_handle_tokens_list(struct web_ctx *ctx);
int app_handle_token_create(struct web_ctx *ctx);
int app_handle_token_delete(struct web_ctx *ctx);

#endif /* PT_APP_H */
