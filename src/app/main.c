/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * main.c -- PlanetTracker's entry point: read the configuration, open the
 * ephemeris, build the web application, serve until SIGINT or SIGTERM, then
 * stop gracefully and release everything.
 *
 * Signals: SIGTERM or SIGINT stops accepting, lets what was received finish,
 * ends live streams with a goodbye and exits within --graceful-timeout-ms
 * whatever the clients do; a second one exits at once. SIGHUP is logged and
 * ignored (a reload needs the master/worker runtime, not built yet): it must
 * never kill the server. Cleanup hooks run in reverse order of start.
 */
#include <curl/curl.h>
#include <errno.h>
#include <malloc.h>
#include <sys/stat.h>
#include <signal.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "app/app.h"
#include "store/store.h"

/* libuv's thread pool; one thread stays free of request jobs for the live rounds. */
#define POOL_THREADS "4"

struct main_ctx {
    uv_loop_t *loop;
    uv_signal_t sigint;
    uv_signal_t sigterm;
    uv_signal_t sighup;
    struct app_state state;
    struct app_worker_link *link;   /* under a master: the control pipe; else NULL */
    uv_timer_t worker_timer;        /* under a master: figures, --max-requests */
    bool retire_asked;
    struct web_app *app;
    bool stopping;
};

static void close_signals(struct main_ctx *m)
{
    uv_close((uv_handle_t *)&m->sigint, NULL);
    uv_close((uv_handle_t *)&m->sigterm, NULL);
    uv_close((uv_handle_t *)&m->sighup, NULL);
}

/* data is the main context (the stop callback's); the signal handles may close now. */
static void on_server_stopped(void *data)
{
    struct main_ctx *m = data;
    pt_log_info("stopped");
    /* Every request is answered: the store may stop (its handles close, the loop drains). */
    store_close(m->state.store);
    app_fanout_close(m->state.fanout);
    close_signals(m);
}

/* Stop taking work and finish what was received (SIGTERM, or the master went away). */
static void begin_stop(struct main_ctx *m, const char *why)
{
    m->stopping = true;
    pt_log_info("%s: finishing what was received (at most %llu ms)", why,
                (unsigned long long)m->state.cfg->graceful_timeout_ms);
    app_eop_updater_stop(&m->state);
    live_hub_stop(m->state.live);
    app_worker_link_close(m->link);
    m->link = NULL;
    m->state.link = NULL;
    if (m->worker_timer.data != NULL)
        uv_close((uv_handle_t *)&m->worker_timer, NULL);
    http_server_stop(m->state.server, on_server_stopped, m);
}

/* Every second under a master: publish this worker's figures; retire after --max-requests. */
static void on_worker_timer(uv_timer_t *t)
{
    struct main_ctx *m = t->data;
    app_worker_metrics_publish(m->state.shared_metrics, &m->state, m->app);
    uint64_t served = 0;
    for (int c = 1; c <= 5; c++)
        served += web_app_responses(m->app, c);
    if (m->state.cfg->max_requests > 0 && served >= m->state.cfg->max_requests &&
        !m->retire_asked && m->link != NULL) {
        m->retire_asked = true;
        pt_log_info("served %llu requests (--max-requests): asking the master for a successor",
                    (unsigned long long)served);
        app_worker_link_retire(m->link);
    }
}

/* A line relayed by the master from another worker. */
static void on_master_line(void *data, const char *line)
{
    struct main_ctx *m = data;
    if (strncmp(line, "sites ", 6) == 0)
        app_owner_changed(&m->state, line + 6);
    else if (strcmp(line, "supervisor degraded") == 0)
        m->state.supervisor_degraded = true; /* a worker slot is not restarted any more */
}

static void on_master_gone(void *data)
{
    struct main_ctx *m = data;
    if (!m->stopping)
        begin_stop(m, "the master is gone");
}

static void on_signal(uv_signal_t *sig, int signum)
{
    struct main_ctx *m = sig->data;
    if (signum == SIGHUP) {
        pt_log_warn("SIGHUP: ignored by a worker or a single process (a master started with "
                    "--workers N reloads its workers on SIGHUP)");
        return;
    }
    if (m->stopping) {
        pt_log_warn("signal %d again: exiting now", signum);
        _exit(1);
    }
    char why[32];
    snprintf(why, sizeof(why), "signal %d", signum);
    begin_stop(m, why);
}

static void free_live(void *data)
{
    live_hub_free(data);
}

static void free_owners(void *data)
{
    live_owners_free(data);
}

static void free_site_cache(void *data)
{
    app_site_cache_free(data);
}

static void free_tonight(void *data)
{
    tonight_cache_free(data);
}

static void free_riseset(void *data)
{
    riseset_cache_free(data);
}

static void free_instant(void *data)
{
    app_instant_free(data);
}

static void free_microcache(void *data)
{
    microcache_free(data);
}

/* Thousands of live subscribers need descriptors: raise the soft limit to the hard one. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            pt_log_warn("cannot raise the descriptor limit");
    }
}

/* The data tier: PostgreSQL with a DATABASE_URL, else SQLite in the data directory. */
static int open_store(const struct app_config *cfg, uv_loop_t *loop, struct store **out)
{
    char path[1024];
    struct store_config scfg = {
        .database_url = cfg->database_url != NULL && cfg->database_url[0] != '\0' ? cfg->database_url : NULL,
        .pool_size = cfg->db_pool,
    };
    if (cfg->database_url == NULL || cfg->database_url[0] == '\0') {
        const char *dir = cfg->data_dir != NULL ? cfg->data_dir : "var";
        if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
            pt_log_error("saved sites are unavailable: cannot create the data directory %s: %s",
                         dir, strerror(errno));
            *out = store_unavailable_new(loop, "the data directory cannot be created");
            return 0;
        }
        snprintf(path, sizeof(path), "%s/planettracker.db", dir);
        scfg.sqlite_path = path;
    }
    if (store_open(loop, &scfg, out) < 0) {
        if (scfg.database_url != NULL) {
            pt_log_error("DATABASE_URL is not usable (see above)");
            return -1;
        }
        /* The rest of the API serves; the store routes answer 503 and /healthz says why. */
        pt_log_error("saved sites are unavailable: %s does not open (see above)", path);
        *out = store_unavailable_new(loop, "the SQLite file does not open");
        return 0;
    }
    pt_log_info("saved sites: %s", cfg->database_url != NULL && cfg->database_url[0] != '\0'
                                       ? "PostgreSQL (DATABASE_URL)"
                                       : path);
    return 0;
}

static int make_session_key(const struct app_config *cfg, struct web_session_key *key)
{
    if (cfg->secret_key != NULL)
        return web_session_key_from_secret(pt_str_c(cfg->secret_key), key);
    pt_log_warn("SECRET_KEY is not set: using a random session key; sessions will not "
                "survive a restart or be shared between instances");
    return web_session_key_generate(key);
}

static int serve(const struct app_config *cfg, char **argv)
{
    const char *listen_fd = getenv("PT_LISTEN_FD");
    if (cfg->workers > 0 && listen_fd == NULL)
        return app_master_run(cfg, argv);
    struct main_ctx m = {0};
    m.state.worker_id = listen_fd != NULL ? getenv("PT_WORKER_ID") : NULL;
    /* Before the loop exists: libuv sizes its pool on first use. */
    setenv("UV_THREADPOOL_SIZE", POOL_THREADS, 0);
    m.loop = uv_default_loop();
    m.state.cfg = cfg;
    m.state.started_unix_s = pt_clock_unix_s();
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();

    int rc = astro_ctx_new(cfg->ephe_path, &m.state.astro);
    if (rc < 0) {
        pt_log_error("cannot open the ephemeris: %s", pt_error_message(rc));
        return 1;
    }
    pt_log_info("ephemeris: %s", astro_ctx_has_files(m.state.astro)
                                     ? "Swiss Ephemeris files (DE431)"
                                     : "Moshier fallback (files not found)");
    struct app_eop eop;
    if (app_eop_init(&eop, m.state.astro, cfg->data_dir) < 0) {
        astro_ctx_free(m.state.astro);
        return 1;
    }
    m.state.eop = &eop;

    struct web_app_config wcfg = {0};
    wcfg.static_dir = cfg->static_dir;
    wcfg.session_max_age_s = 30 * 24 * 3600;
    wcfg.access_log = cfg->access_log;
    wcfg.cookie_secure = cfg->cookie_secure;
    wcfg.trust_proxy = cfg->trust_proxy;
    wcfg.max_streams_per_client = cfg->max_streams_per_client;
    wcfg.executor_max_pending = cfg->executor_max_pending;
    wcfg.executor_max_per_client = cfg->executor_max_per_client;
    const char *pool = getenv("UV_THREADPOOL_SIZE");
    long threads = pool != NULL ? strtol(pool, NULL, 10) : 4;
    wcfg.executor_threads = threads > 1 ? (size_t)threads - 1 : 1;
    wcfg.data = &m.state;
    struct web_app *app = NULL;
    if (make_session_key(cfg, &wcfg.session_key) < 0) {
        pt_log_error("SECRET_KEY is empty or the random generator failed");
        rc = 1;
        goto out_free_astro;
    }
    app = web_app_new(&wcfg);
    m.app = app;
    if (app_routes_add(app) < 0) {
        pt_log_error("bad route table");
        rc = 1;
        goto out_free_app;
    }

    struct app_zones *zones = app_zones_load(cfg->zoneinfo);
    m.state.zones = zones;
    struct pt_buf openapi_gz; /* before the first jump to out_free_zones, which frees it */
    pt_buf_init(&openapi_gz, 4u << 20);
    char *openapi = app_openapi_build();
    if (openapi == NULL) {
        pt_log_error("the embedded openapi.json does not parse");
        rc = 1;
        goto out_free_zones;
    }
    m.state.openapi = pt_str_c(openapi);
    if (web_gzip(m.state.openapi, &openapi_gz) == 0)
        m.state.openapi_gz = pt_buf_str(&openapi_gz);
    if (open_store(cfg, m.loop, &m.state.store) < 0) {
        rc = 1;
        goto out_free_zones;
    }

    struct http_server_config hcfg;
    http_server_config_init(&hcfg);
    hcfg.host = cfg->host;
    hcfg.port = cfg->port;
    hcfg.head_timeout_ms = cfg->head_timeout_ms;
    hcfg.idle_timeout_ms = cfg->idle_timeout_ms;
    hcfg.graceful_timeout_ms = cfg->graceful_timeout_ms;
    hcfg.max_body_bytes = cfg->max_body_bytes;
    hcfg.stall_timeout_ms = cfg->stall_timeout_ms;
    hcfg.max_connections = cfg->max_connections;
    /* Behind a proxy every connection comes from the proxy: no per-address cap. */
    hcfg.max_conns_per_peer = cfg->trust_proxy ? 0 : cfg->max_conns_per_peer;
    hcfg.default_headers = web_app_default_headers();
    if (listen_fd != NULL) {
        /* A worker: the master's socket, shared with the other workers. One accept per
         * wake-up, so that the worker woken first does not take every connection. */
        hcfg.listen_fd = atoi(listen_fd);
        const char *apw = getenv("PT_ACCEPTS_PER_WAKEUP"); /* for bench/load/workers */
        hcfg.accepts_per_wakeup = apw != NULL && atoi(apw) > 0 ? (unsigned)atoi(apw) : 1;
    }
    hcfg.on_request = web_app_handle;
    hcfg.data = app;
    rc = http_server_start(m.loop, &hcfg, &m.state.server);
    if (rc < 0) {
        pt_log_error("cannot listen on %s:%d: %s", cfg->host, cfg->port, uv_strerror(rc));
        rc = 1;
        store_close(m.state.store);
        uv_run(m.loop, UV_RUN_DEFAULT);
        goto out_free_store;
    }
    struct live_config lcfg = {
        .ws_observe_per_s = cfg->ws_observe_per_s,
        .build_budget_ms = 800,
    };
    /* Started in this order; the cleanup hooks undo it in reverse. */
    m.state.live = live_hub_new(m.loop, &m.state, &lcfg);
    web_app_on_cleanup(app, free_live, m.state.live);
    m.state.owners = live_owners_new(&m.state, web_app_router(app));
    web_app_on_cleanup(app, free_owners, m.state.owners);
    m.state.site_cache = app_site_cache_new();
    web_app_on_cleanup(app, free_site_cache, m.state.site_cache);
    m.state.tonight = tonight_cache_new();
    web_app_on_cleanup(app, free_tonight, m.state.tonight);
    m.state.riseset = riseset_cache_new();
    web_app_on_cleanup(app, free_riseset, m.state.riseset);
    struct app_now_cache now_cache = {0};
    m.state.now = &now_cache;
    m.state.instant = app_instant_new();
    web_app_on_cleanup(app, free_instant, m.state.instant);
    m.state.microcache = cfg->no_microcache ? NULL : microcache_new();
    web_app_on_cleanup(app, free_microcache, m.state.microcache);
    m.state.fanout = app_fanout_open(m.loop, &m.state);
    if (cfg->redis_url != NULL && m.state.fanout == NULL)
        pt_log_warn("fan-out: REDIS_URL refused: live changes stay within this machine");
    if (app_eop_updater_start(&m.state, m.loop) < 0)
        pt_log_warn("Earth orientation: the updater could not start");
    uv_signal_init(m.loop, &m.sigint);
    uv_signal_init(m.loop, &m.sigterm);
    uv_signal_init(m.loop, &m.sighup);
    m.sigint.data = m.sigterm.data = m.sighup.data = &m;
    uv_signal_start(&m.sigint, on_signal, SIGINT);
    uv_signal_start(&m.sigterm, on_signal, SIGTERM);
    uv_signal_start(&m.sighup, on_signal, SIGHUP);
    pt_log_info("PlanetTracker %s listening on http://%s:%d/", APP_VERSION, cfg->host,
                http_server_port(m.state.server));
    const char *control_fd = getenv("PT_CONTROL_FD");
    if (listen_fd != NULL && control_fd != NULL &&
        (m.link = app_worker_link_open(m.loop, atoi(control_fd), on_master_gone, on_master_line,
                                       &m)) != NULL) {
        m.state.link = m.link;
        app_worker_link_ready(m.link);
    }
    const char *metrics_fd = getenv("PT_METRICS_FD"), *metrics_slot = getenv("PT_METRICS_SLOT");
    if (listen_fd != NULL && metrics_fd != NULL && metrics_slot != NULL)
        m.state.shared_metrics = app_worker_metrics_open(atoi(metrics_fd),
                                                         (size_t)atoi(metrics_slot));
    if (m.link != NULL) {
        uv_timer_init(m.loop, &m.worker_timer);
        m.worker_timer.data = &m;
        uv_timer_start(&m.worker_timer, on_worker_timer, 0, 1000);
    }

    uv_run(m.loop, UV_RUN_DEFAULT);
    rc = 0;
    if (uv_loop_close(m.loop) != 0)
        pt_log_warn("handles still open at exit");
    app_eop_updater_free(&m.state);
    app_worker_metrics_close(m.state.shared_metrics);
    app_fanout_free(m.state.fanout);
    web_app_cleanup(app);

out_free_store:
    store_free(m.state.store);
out_free_zones:
    free(openapi);
    pt_buf_deinit(&openapi_gz);
    app_zones_free(zones);
out_free_app:
    web_app_free(app);
out_free_astro:
    app_eop_deinit(&eop);
    astro_ctx_free(m.state.astro);
    return rc;
}

int main(int argc, char **argv)
{
    /* Once, before any thread: libcurl's global state (TLS, DNS). */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
        fprintf(stderr, "planettracker: libcurl does not initialize\n");
        return 1;
    }
    int rc;
    struct app_config cfg;
    if (argc > 1 && strcmp(argv[1], "now") == 0) {
        rc = app_cmd_now(argc - 1, argv + 1);
    } else if (argc > 1 && strcmp(argv[1], "announce") == 0) {
        signal(SIGPIPE, SIG_IGN); /* hiredis writes with write(2) */
        rc = app_cmd_announce(argc - 1, argv + 1);
    } else if (argc > 1 && strcmp(argv[1], "sites") == 0) {
        rc = app_cmd_sites(argc - 1, argv + 1);
    } else if ((rc = app_config_parse(&cfg, argc, argv)) != 0) {
        rc = rc > 0 ? 0 : 2;
    } else {
        pt_log_set_level((enum pt_log_level)cfg.log_level);
        /*
         * Live push allocates each tick's messages (about 6 KB per observer: 60 MB for
         * 10,000 distinct observers) and frees them once delivered. glibc would give the
         * freed top of the heap back to the kernel every tick and fault it in again the
         * next (8,000 page faults a tick, about 7 % of the server's CPU: bench/RESULTS.md).
         * Keep up to 256 MiB of freed memory for reuse. Setting a trim threshold turns off
         * glibc's adaptive mmap threshold: blocks up to 4 MiB stay on the heap. Before any
         * thread, so every arena sees it.
         */
        mallopt(M_TRIM_THRESHOLD, 256 << 20);
        mallopt(M_MMAP_THRESHOLD, 4 << 20);
        rc = serve(&cfg, argv);
    }
    curl_global_cleanup();
    return rc;
}
