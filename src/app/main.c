/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * main.c -- PlanetTracker's entry point: read the configuration, open the
 * ephemeris, build the web application, serve until SIGINT or SIGTERM, then
 * stop gracefully (in-flight requests finish) and release everything.
 */
#include <signal.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>

#include "app/app.h"

struct main_ctx {
    uv_loop_t *loop;
    uv_signal_t sigint;
    uv_signal_t sigterm;
    struct app_state state;
    bool stopping;
};

/* data is the web app (the server's request data); nothing to do but say so. */
static void on_server_stopped(void *data)
{
    (void)data;
    pt_log_info("stopped");
}

static void on_signal(uv_signal_t *sig, int signum)
{
    struct main_ctx *m = sig->data;
    if (m->stopping) {
        pt_log_warn("second signal: exiting now");
        exit(1);
    }
    m->stopping = true;
    pt_log_info("signal %d: finishing in-flight requests", signum);
    uv_close((uv_handle_t *)&m->sigint, NULL);
    uv_close((uv_handle_t *)&m->sigterm, NULL);
    live_hub_stop(m->state.live);
    http_server_stop(m->state.server, on_server_stopped);
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

static int make_session_key(const struct app_config *cfg, struct web_session_key *key)
{
    if (cfg->secret_key != NULL)
        return web_session_key_from_secret(pt_str_c(cfg->secret_key), key);
    pt_log_warn("SECRET_KEY is not set: using a random session key; sessions will not "
                "survive a restart or be shared between instances");
    return web_session_key_generate(key);
}

static int serve(const struct app_config *cfg)
{
    struct main_ctx m = {0};
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

    struct web_app_config wcfg = {0};
    wcfg.static_dir = cfg->static_dir;
    wcfg.session_max_age_s = 30 * 24 * 3600;
    wcfg.access_log = cfg->access_log;
    wcfg.data = &m.state;
    struct web_app *app = NULL;
    if (make_session_key(cfg, &wcfg.session_key) < 0) {
        pt_log_error("SECRET_KEY is empty or the random generator failed");
        rc = 1;
        goto out_free_astro;
    }
    app = web_app_new(&wcfg);
    if (app_routes_add(app) < 0) {
        pt_log_error("bad route table");
        rc = 1;
        goto out_free_app;
    }

    struct http_server_config hcfg;
    http_server_config_init(&hcfg);
    hcfg.host = cfg->host;
    hcfg.port = cfg->port;
    hcfg.head_timeout_ms = cfg->head_timeout_ms;
    hcfg.idle_timeout_ms = cfg->idle_timeout_ms;
    hcfg.max_body_bytes = cfg->max_body_bytes;
    hcfg.stall_timeout_ms = cfg->stall_timeout_ms;
    hcfg.on_request = web_app_handle;
    hcfg.data = app;
    rc = http_server_start(m.loop, &hcfg, &m.state.server);
    if (rc < 0) {
        pt_log_error("cannot listen on %s:%d: %s", cfg->host, cfg->port, uv_strerror(rc));
        uv_run(m.loop, UV_RUN_DEFAULT); /* let the failed listener finish closing */
        rc = 1;
        goto out_free_app;
    }
    m.state.live = live_hub_new(m.loop, &m.state);
    m.state.riseset = riseset_cache_new();
    struct app_now_cache now_cache = {0};
    m.state.now = &now_cache;
    m.state.microcache = cfg->no_microcache ? NULL : microcache_new();
    uv_signal_init(m.loop, &m.sigint);
    uv_signal_init(m.loop, &m.sigterm);
    m.sigint.data = m.sigterm.data = &m;
    uv_signal_start(&m.sigint, on_signal, SIGINT);
    uv_signal_start(&m.sigterm, on_signal, SIGTERM);
    pt_log_info("PlanetTracker %s listening on http://%s:%d/", APP_VERSION, cfg->host,
                http_server_port(m.state.server));

    uv_run(m.loop, UV_RUN_DEFAULT);
    rc = 0;
    if (uv_loop_close(m.loop) != 0)
        pt_log_warn("handles still open at exit");

    live_hub_free(m.state.live);
    riseset_cache_free(m.state.riseset);
    microcache_free(m.state.microcache);
out_free_app:
    web_app_free(app);
out_free_astro:
    astro_ctx_free(m.state.astro);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "now") == 0)
        return app_cmd_now(argc - 1, argv + 1);
    struct app_config cfg;
    int rc = app_config_parse(&cfg, argc, argv);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    pt_log_set_level((enum pt_log_level)cfg.log_level);
    return serve(&cfg);
}
