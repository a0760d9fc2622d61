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
    bool no_microcache;
};

struct live_hub;
struct riseset_cache;
struct microcache;

/* The instant of the current whole second, reused for every request in it. */
struct app_now_cache {
    int64_t second;          /* Unix second the entry is for; 0 = empty */
    struct astro_time t;
};

/* What every handler reaches through ctx->app_data. Owned by main(). */
struct app_state {
    const struct app_config *cfg;
    struct astro_ctx *astro;
    struct http_server *server;
    struct live_hub *live;
    struct riseset_cache *riseset;   /* loop thread only */
    struct app_now_cache *now;       /* loop thread only: the current second's instant */
    struct microcache *microcache;   /* loop thread only; NULL when disabled */
    double started_unix_s;
};

/*
 * Fill cfg from the environment (HOST, PORT, SECRET_KEY, EPHE_PATH, STATIC_DIR)
 * and then argv. Returns 0, 1 when --help was printed (exit 0), or -1 after
 * printing a usage error to stderr (exit 2).
 */
int app_config_parse(struct app_config *cfg, int argc, char **argv);

/* `planettracker now ...` (argv[0] is "now"). Returns the process exit status. */
int app_cmd_now(int argc, char **argv);

/* Register every route and middleware of PlanetTracker (the visible table). */
int app_routes_add(struct web_app *app);

/* The observer of a request: query parameters, else the session, else Greenwich. */
struct app_observer {
    struct astro_observer astro;
    struct pt_str lat_text;     /* as given (query or session), or the default */
    struct pt_str lon_text;
    const char *source;         /* "query", "session" or "default" */
};

/*
 * Read lat, lon, elevation, pressure, temperature from the query (or session),
 * validating each. Returns 0, or an error status with ctx->error filled.
 */
int app_observer_from_request(struct web_ctx *ctx, struct app_observer *out);

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

/*
 * The next rise/transit/set of body after t for obs, from the cache when an
 * earlier answer for the same observer is still valid. Same contract as
 * astro_riseset_next(). Loop thread only.
 */
int riseset_cache_get(struct riseset_cache *c, const struct astro_ctx *astro,
                      enum astro_body body, const struct astro_time *t,
                      const struct astro_observer *obs, struct astro_riseset *out);

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
 * The members of one body's object: name, position, magnitude, phase,
 * elongation, constellation and the next rise/transit/set (from st->riseset
 * when it is set, else computed). Returns 0 or an astro error.
 */
int app_render_body(struct web_json *j, const struct app_state *st, enum astro_body body,
                    const struct astro_position *p, const struct app_observer *obs,
                    const struct astro_time *t);

/* A member `key` holding an event time as ISO 8601 UTC, or null when it does not happen. */
void app_render_event(struct web_json *j, const char *key, const struct astro_time *t);

/* The members shared by every answer: time, timescale, provenance, observer. */
void app_render_context(struct web_json *j, const struct app_state *st,
                        const struct app_observer *obs, const struct astro_time *t);

/*
 * A whole sky object {time, ..., observer, bodies: [...]} for the bodies in the
 * mask. Returns 0 or the astro error of the first body that failed.
 */
int app_render_sky(struct web_json *j, const struct app_state *st, const struct app_observer *obs,
                   const struct astro_time *t, unsigned bodies);

/* ------------------------------------------------------------ live push */

enum live_channel { LIVE_SSE, LIVE_WS };

/* What a subscriber asked for; compared and hashed as bytes (keep it padding-free). */
struct live_key {
    struct astro_observer obs;
    unsigned bodies;                  /* mask over enum astro_body */
    enum live_channel channel;
};

/* One live subscriber (SSE or WebSocket). Owned by the hub while linked. */
struct live_sub {
    struct live_hub *hub;
    struct live_sub *prev;
    struct live_sub *next;
    struct http_stream *stream;
    struct live_key key;              /* subscribers with equal keys share one message */
    const char *source;               /* "query", "session", "default" (static) */
    unsigned interval_s;
    int64_t next_due_s;
    int64_t last_sent_s;
    void *channel_data;               /* per-channel state (WebSocket decoder) */
    const struct app_state *st;       /* borrowed */
};

struct live_stats {
    size_t subscribers;
    uint64_t ticks;
    uint64_t messages;
    uint64_t deliveries;
    uint64_t dropped;
};

/* Create the hub and start its once-a-second timer on loop. st is borrowed. */
struct live_hub *live_hub_new(uv_loop_t *loop, const struct app_state *st);

/* Stop the timer (on shutdown); streams are ended by the http layer. */
void live_hub_stop(struct live_hub *hub);

/* Free a stopped hub whose subscribers are all gone. NULL does nothing. */
void live_hub_free(struct live_hub *hub);

/* Link / unlink a subscriber (the hub does not free it). */
void live_hub_add(struct live_hub *hub, struct live_sub *sub);
void live_hub_remove(struct live_hub *hub, struct live_sub *sub);

/*
 * The second to label an immediate answer with: the wall clock's, but never
 * earlier than the last tick (the tick rounds to the nearest second).
 */
int64_t live_hub_now_s(const struct live_hub *hub);

/* Counters for /metrics and benchmarks. */
void live_hub_stats(const struct live_hub *hub, struct live_stats *out);

/*
 * The positions message for sub's group at `second` (one reference for the
 * caller), shared with every subscriber of the group in that second: built at
 * most once per group and second. NULL if it cannot be built.
 */
struct pt_shared *live_hub_message(struct live_hub *hub, const struct live_sub *sub,
                                   int64_t second);

/* Parse "mars,venus" into a body mask (OUT: *mask). False on an unknown or empty name. */
bool live_bodies_from_list(struct pt_str list, unsigned *mask);

/* Handlers. */
int app_handle_stream(struct web_ctx *ctx);
int app_handle_events(struct web_ctx *ctx);
int app_handle_ws(struct web_ctx *ctx);
int app_handle_index(struct web_ctx *ctx);
int app_handle_healthz(struct web_ctx *ctx);
int app_handle_metrics(struct web_ctx *ctx);
int app_handle_openapi(struct web_ctx *ctx);
int app_handle_planet(struct web_ctx *ctx);
int app_handle_planets(struct web_ctx *ctx);
int app_handle_geo_location(struct web_ctx *ctx);

#endif /* PT_APP_H */
