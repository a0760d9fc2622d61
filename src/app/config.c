/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * config.c -- the command line and environment of PlanetTracker. Flags win
 * over environment variables, which win over the embedded defaults.
 */
#include <stdio.h>
#include <stdlib.h>

#include "app/app.h"

static const char usage[] =
    "usage: planettracker serve [options]\n"
    "       planettracker now [BODY...] --lat DEG --lon DEG [--elevation M] [--time T] [--json]\n"
    "       planettracker sites list|add|rm ... [--url URL] [--token TOKEN] [--json]\n"
    "       planettracker --help\n"
    "\n"
    "Serve PlanetTracker: where the Sun, the Moon and the planets are in your sky.\n"
    "\n"
    "options (environment variable in brackets):\n"
    "  --host ADDR           address to listen on, IPv4 or IPv6 [HOST] (default 127.0.0.1)\n"
    "  --port N              TCP port, 0 = any free port [PORT] (default 8000)\n"
    "  --ephe-path DIR       Swiss Ephemeris data files [EPHE_PATH]\n"
    "                        (default /usr/share/libswe/ephe; without files the built-in\n"
    "                        Moshier theory is used and /healthz says so)\n"
    "  --secret-key TEXT     key for the encrypted session cookie [SECRET_KEY]\n"
    "                        (default: a random key per start, with a warning: sessions\n"
    "                        then do not survive a restart)\n"
    "  --static-dir DIR      serve the page's files from DIR instead of the copy embedded\n"
    "                        in the binary (development) [STATIC_DIR]\n"
    "  --access-log          log one line per request [ACCESS_LOG=1]\n"
    "  --no-microcache       compute every answer, even identical requests in the same\n"
    "                        millisecond (default: computed once per millisecond)\n"
    "  --log-level LEVEL     error, warn, info or debug [LOG_LEVEL] (default info)\n"
    "  --head-timeout-ms N   time allowed for a request head or body (default 10000)\n"
    "  --idle-timeout-ms N   keep-alive idle time before closing (default 60000)\n"
    "  --max-body-bytes N    largest request body accepted (default 1048576)\n"
    "  --stall-timeout-ms N  close a live stream whose reader makes no progress this long\n"
    "                        (default 30000)\n"
    "  --graceful-timeout-ms N  on SIGTERM, everything is closed within this (default 20000)\n"
    "  --max-connections N   open connections; more get 503 (default 100000, lowered to\n"
    "                        fit the descriptor limit)\n"
    "  --max-conns-per-peer N  connections per client address (IPv6: per /64); more get\n"
    "                        429; 0 = no limit (default 256; none with --trust-proxy)\n"
    "  --max-streams-per-client N  live streams (SSE, WebSocket) per client (default 64)\n"
    "  --executor-max-pending N  slow requests (events) queued or running (default 256)\n"
    "  --executor-max-per-client N  of which per client (default 8)\n"
    "  --ws-observe-rate N   WebSocket observe messages per second and connection\n"
    "                        (default 10)\n"
    "  --trust-proxy         a proxy is in front: take the client from X-Forwarded-For and\n"
    "                        HTTPS from X-Forwarded-Proto [TRUST_PROXY=1]\n"
    "  --cookie-secure       always mark the session cookie Secure [COOKIE_SECURE=1]\n"
    "  --data-dir DIR        downloaded data (Earth orientation) [DATA_DIR] (default ./var)\n"
    "  --eop-url URL         IERS finals2000A to download, or none [EOP_URL]\n"
    "                        (default the IERS Rapid Service's finals2000A.all)\n"
    "  --eop-leap-url URL    IERS Leap_Second.dat to download, or none [EOP_LEAP_URL]\n"
    "  --eop-refresh-hours H how often to download them (default 24)\n"
    "  --eop-timeout-ms N    a download must finish within this (default 60000)\n"
    "  --database-url URL    saved sites in PostgreSQL (postgresql://user:pass@host/db)\n"
    "                        [DATABASE_URL] (default: SQLite, DATA_DIR/planettracker.db)\n"
    "  --db-pool N           PostgreSQL connections (default 4)\n"
    "  --max-sites-per-owner N  saved sites per owner (default 100)\n"
    "  --max-tokens-per-owner N  API tokens per owner (default 10)\n"
    "  --zoneinfo FILE       tzdata.zi naming the valid time zones\n"
    "                        (default /usr/share/zoneinfo/tzdata.zi)\n"
    "  --workers N|auto      a master and N worker processes on one socket (auto: one per\n"
    "                        core); SIGHUP reloads them with no downtime [WORKERS]\n"
    "                        (default: one process, no master)\n"
    "  --worker-timeout S    a worker that sends no heartbeat this long is replaced\n"
    "                        (default 30)\n"
    "  --reload              (development, with --workers) a new generation of workers\n"
    "                        when the binary or the page's files change\n"
    "  --max-requests N      a worker is replaced (gracefully) after N answers\n"
    "                        (default 0: never)\n"
    "  --redis-url URL       redis://[:password@]host[:port]: live fan-out (site changes,\n"
    "                        announcements) across processes and machines [REDIS_URL]\n"
    "  --redis-prefix TEXT   channel names start with TEXT (default planettracker:)\n"
    "  -h, --help            print this help\n";

static int parse_level(const char *s)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

static int parse_uint(const char *s, uint64_t max, uint64_t *out)
{
    char *end;
    if (s == NULL || *s == '\0' || *s == '-')
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end != '\0' || v > max)
        return -1;
    *out = v;
    return 0;
}

/* Hours as a decimal number, more than a second and at most a year. */
static int parse_hours(const char *s, double *out)
{
    double v;
    if (pt_str_to_double(pt_str_c(s), &v) < 0 || !(v >= 1.0 / 3600 && v <= 8760))
        return -1;
    *out = v;
    return 0;
}

/* --workers N (1..256) or "auto" (one per core). Returns 0 or -1. */
static int parse_workers(const char *v, struct app_config *cfg)
{
    uint64_t n;
    if (strcmp(v, "auto") == 0)
        n = uv_available_parallelism();
    else if (parse_uint(v, 256, &n) != 0 || n == 0)
        return -1;
    cfg->workers = (unsigned)n;
    return 0;
}

static void from_env(struct app_config *cfg)
{
    const char *v;
    if ((v = getenv("HOST")) != NULL && *v)
        cfg->host = v;
    uint64_t port;
    if ((v = getenv("PORT")) != NULL && *v && parse_uint(v, 65535, &port) == 0)
        cfg->port = (int)port;
    if ((v = getenv("EPHE_PATH")) != NULL && *v)
        cfg->ephe_path = v;
    if ((v = getenv("SECRET_KEY")) != NULL && *v)
        cfg->secret_key = v;
    if ((v = getenv("STATIC_DIR")) != NULL && *v)
        cfg->static_dir = v;
    if ((v = getenv("ACCESS_LOG")) != NULL && strcmp(v, "1") == 0)
        cfg->access_log = true;
    if ((v = getenv("TRUST_PROXY")) != NULL && strcmp(v, "1") == 0)
        cfg->trust_proxy = true;
    if ((v = getenv("COOKIE_SECURE")) != NULL && strcmp(v, "1") == 0)
        cfg->cookie_secure = true;
    if ((v = getenv("DATA_DIR")) != NULL && *v)
        cfg->data_dir = v;
    if ((v = getenv("EOP_URL")) != NULL && *v)
        cfg->eop_url = v;
    if ((v = getenv("EOP_LEAP_URL")) != NULL && *v)
        cfg->eop_leap_url = v;
    if ((v = getenv("WORKERS")) != NULL && *v)
        (void)parse_workers(v, cfg);
    if ((v = getenv("REDIS_URL")) != NULL && *v)
        cfg->redis_url = v;
    if ((v = getenv("DATABASE_URL")) != NULL && *v)
        cfg->database_url = v;
    if ((v = getenv("LOG_LEVEL")) != NULL && parse_level(v) >= 0)
        cfg->log_level = parse_level(v);
}

/* NULL (none) or an http(s) URL with a host. */
static bool is_http_url(const char *u)
{
    if (u == NULL)
        return true;
    size_t n = strncmp(u, "http://", 7) == 0 ? 7 : strncmp(u, "https://", 8) == 0 ? 8 : 0;
    return n > 0 && u[n] != '\0' && u[n] != '/';
}

int app_config_parse(struct app_config *cfg, int argc, char **argv)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->host = "127.0.0.1";
    cfg->port = 8000;
    cfg->log_level = PT_LOG_INFO;
    cfg->head_timeout_ms = 10000;
    cfg->idle_timeout_ms = 60000;
    cfg->max_body_bytes = 1024 * 1024;
    cfg->stall_timeout_ms = 30000;
    cfg->graceful_timeout_ms = 20000;
    cfg->max_connections = 100000;
    cfg->max_conns_per_peer = 256;
    cfg->max_streams_per_client = 64;
    cfg->executor_max_pending = 256;
    cfg->executor_max_per_client = 8;
    cfg->ws_observe_per_s = 10;
    cfg->data_dir = "var";
    cfg->eop_url = APP_EOP_DEFAULT_URL;
    cfg->eop_leap_url = APP_EOP_DEFAULT_LEAP_URL;
    cfg->eop_refresh_hours = 24;
    cfg->eop_timeout_ms = 60000;
    cfg->db_pool = 4;
    cfg->max_sites_per_owner = 100;
    cfg->max_tokens_per_owner = 10;
    cfg->zoneinfo = "/usr/share/zoneinfo/tzdata.zi";
    cfg->worker_timeout_s = 30;
    cfg->redis_prefix = "planettracker:";
    from_env(cfg);

    int i = 1;
    if (argc > 1 && argv[1][0] != '-')
        cfg->command = argv[i++];
    for (; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t n;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(usage, stdout);
            return 1;
        } else if (strcmp(a, "--access-log") == 0) {
            cfg->access_log = true;
            continue;
        } else if (strcmp(a, "--reload") == 0) {
            cfg->reload = true;
            continue;
        } else if (strcmp(a, "--no-microcache") == 0) {
            cfg->no_microcache = true;
            continue;
        } else if (strcmp(a, "--trust-proxy") == 0) {
            cfg->trust_proxy = true;
            continue;
        } else if (strcmp(a, "--cookie-secure") == 0) {
            cfg->cookie_secure = true;
            continue;
        } else if (val == NULL) {
            fprintf(stderr, "planettracker: %s needs a value or is unknown\n%s", a, usage);
            return -1;
        } else if (strcmp(a, "--host") == 0) {
            cfg->host = val;
        } else if (strcmp(a, "--port") == 0 && parse_uint(val, 65535, &n) == 0) {
            cfg->port = (int)n;
        } else if (strcmp(a, "--ephe-path") == 0) {
            cfg->ephe_path = val;
        } else if (strcmp(a, "--secret-key") == 0) {
            cfg->secret_key = val;
        } else if (strcmp(a, "--static-dir") == 0) {
            cfg->static_dir = val;
        } else if (strcmp(a, "--log-level") == 0 && parse_level(val) >= 0) {
            cfg->log_level = parse_level(val);
        } else if (strcmp(a, "--head-timeout-ms") == 0 &&
                   parse_uint(val, 3600000, &n) == 0 && n > 0) {
            cfg->head_timeout_ms = n;
        } else if (strcmp(a, "--idle-timeout-ms") == 0 &&
                   parse_uint(val, 3600000, &n) == 0 && n > 0) {
            cfg->idle_timeout_ms = n;
        } else if (strcmp(a, "--stall-timeout-ms") == 0 &&
                   parse_uint(val, 3600000, &n) == 0 && n > 0) {
            cfg->stall_timeout_ms = n;
        } else if (strcmp(a, "--max-body-bytes") == 0 &&
                   parse_uint(val, 64 * 1024 * 1024, &n) == 0) {
            cfg->max_body_bytes = n;
        } else if (strcmp(a, "--graceful-timeout-ms") == 0 &&
                   parse_uint(val, 3600000, &n) == 0 && n > 0) {
            cfg->graceful_timeout_ms = n;
        } else if (strcmp(a, "--max-connections") == 0 && parse_uint(val, 10000000, &n) == 0 &&
                   n > 0) {
            cfg->max_connections = n;
        } else if (strcmp(a, "--max-conns-per-peer") == 0 &&
                   parse_uint(val, 10000000, &n) == 0) {
            cfg->max_conns_per_peer = n;
        } else if (strcmp(a, "--max-streams-per-client") == 0 &&
                   parse_uint(val, 10000000, &n) == 0 && n > 0) {
            cfg->max_streams_per_client = n;
        } else if (strcmp(a, "--executor-max-pending") == 0 &&
                   parse_uint(val, 1000000, &n) == 0 && n > 0) {
            cfg->executor_max_pending = n;
        } else if (strcmp(a, "--executor-max-per-client") == 0 &&
                   parse_uint(val, 1000000, &n) == 0 && n > 0) {
            cfg->executor_max_per_client = n;
        } else if (strcmp(a, "--ws-observe-rate") == 0 && parse_uint(val, 100000, &n) == 0 &&
                   n > 0) {
            cfg->ws_observe_per_s = (unsigned)n;
        } else if (strcmp(a, "--data-dir") == 0) {
            cfg->data_dir = val;
        } else if (strcmp(a, "--eop-url") == 0) {
            cfg->eop_url = val;
        } else if (strcmp(a, "--eop-leap-url") == 0) {
            cfg->eop_leap_url = val;
        } else if (strcmp(a, "--eop-refresh-hours") == 0 &&
                   parse_hours(val, &cfg->eop_refresh_hours) == 0) {
            /* parsed into the config */
        } else if (strcmp(a, "--eop-timeout-ms") == 0 && parse_uint(val, 3600000, &n) == 0 &&
                   n > 0) {
            cfg->eop_timeout_ms = n;
        } else if (strcmp(a, "--database-url") == 0) {
            cfg->database_url = val;
        } else if (strcmp(a, "--db-pool") == 0 && parse_uint(val, 256, &n) == 0 && n > 0) {
            cfg->db_pool = n;
        } else if (strcmp(a, "--max-sites-per-owner") == 0 && parse_uint(val, 100000, &n) == 0 &&
                   n > 0) {
            cfg->max_sites_per_owner = n;
        } else if (strcmp(a, "--max-tokens-per-owner") == 0 &&
                   parse_uint(val, 10000, &n) == 0 && n > 0) {
            cfg->max_tokens_per_owner = n;
        } else if (strcmp(a, "--workers") == 0 && val != NULL && parse_workers(val, cfg) == 0) {
            /* parsed into the config */
        } else if (strcmp(a, "--worker-timeout") == 0 && parse_uint(val, 3600, &n) == 0 &&
                   n > 0) {
            cfg->worker_timeout_s = (unsigned)n;
        } else if (strcmp(a, "--redis-url") == 0 && val != NULL) {
            cfg->redis_url = val;
        } else if (strcmp(a, "--redis-prefix") == 0 && val != NULL) {
            cfg->redis_prefix = val;
        } else if (strcmp(a, "--max-requests") == 0 && parse_uint(val, UINT64_MAX / 2, &n) == 0) {
            cfg->max_requests = n;
        } else if (strcmp(a, "--zoneinfo") == 0) {
            cfg->zoneinfo = val;
        } else {
            fprintf(stderr, "planettracker: bad option or value: %s %s\n%s", a, val, usage);
            return -1;
        }
        i++;
    }
    if (cfg->eop_url != NULL && strcmp(cfg->eop_url, "none") == 0)
        cfg->eop_url = NULL;
    if (cfg->eop_leap_url != NULL && strcmp(cfg->eop_leap_url, "none") == 0)
        cfg->eop_leap_url = NULL;
    if (!is_http_url(cfg->eop_url) || !is_http_url(cfg->eop_leap_url)) {
        fprintf(stderr, "planettracker: --eop-url and --eop-leap-url take an http:// or "
                        "https:// URL, or none\n");
        return -1;
    }
    if (cfg->reload && cfg->workers == 0)
        cfg->workers = 1; /* reloads are the master's */
    if (cfg->command == NULL)
        cfg->command = "serve";
    if (strcmp(cfg->command, "serve") != 0) {
        fprintf(stderr, "planettracker: unknown command '%s'\n%s", cfg->command, usage);
        return -1;
    }
    return 0;
}
