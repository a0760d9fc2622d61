/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * master.c -- `planettracker serve --workers N`: a small supervising process
 * that owns the listening socket and runs N workers, each the server as a
 * single process runs it, all accepting on that one socket.
 *
 * Workers are started by exec of the binary's real path (as it is on disk at
 * that moment: `make && kill -HUP <master>` upgrades), with the listening
 * socket as descriptor 3 and a control pipe as descriptor 4 (PT_LISTEN_FD,
 * PT_CONTROL_FD, PT_WORKER_ID in their environment). Over the pipe a worker
 * says "ready" once it serves, then "beat" every second; "sites <owner>" (an
 * owner's saved sites changed) is relayed by the master to every other
 * worker, so their streams of that owner re-read the list from the shared
 * store. The master closes the pipe when it goes away, which a worker takes
 * for SIGTERM.
 * The session key is made once here when SECRET_KEY is unset, so a session
 * made on one worker opens on every worker, across reloads too.
 *
 * Supervision: a worker that exits is started again after a back-off (100 ms,
 * doubling to 1 s); one that stops beating for --worker-timeout is killed and
 * replaced; two boot failures in a row (exit before "ready") stop the respawn
 * of that slot and are logged as such. A worker that has served
 * --max-requests says "retire": a successor is started in its slot, and once
 * that one is ready the retiring worker drains (SIGTERM).
 *
 * --reload (development): the binary's directory and the page's directory
 * (--static-dir, else ./web when it exists) are watched (uv_fs_event); a
 * change, once things are quiet for RELOAD_QUIET_MS, reloads as SIGHUP does.
 *
 * SIGHUP: a new generation is started beside the old one; when all of it is
 * ready the old one gets SIGTERM and drains (graceful, as a single process
 * does); if any new worker fails before it is ready, or the generation is not
 * ready within the boot timeout, the new generation is killed and the old one
 * keeps serving. SIGTERM / SIGINT: every worker gets SIGTERM; the master exits
 * when they have, SIGKILLing what is left after the graceful timeout plus a
 * margin. systemd: READY=1, RELOADING=1, STOPPING=1 over $NOTIFY_SOCKET.
 *
 * Loop thread only (the master's own loop); no global state.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "app/app.h"
#include "http/http.h"

#define MAX_WORKERS 256
#define BOOT_TIMEOUT_MS 60000     /* a new worker must be ready by then (sanitized builds are slow) */
#define RESPAWN_MIN_MS 100
#define RESPAWN_MAX_MS 1000
#define STOP_MARGIN_MS 5000
#define LISTEN_BACKLOG 4096
#define RELOAD_QUIET_MS 300       /* --reload: wait for a build to finish writing */

struct master;

struct worker {
    struct master *m;
    uv_process_t proc;
    uv_pipe_t ctl;
    int slot;
    unsigned generation;
    bool running;                 /* the process has not exited yet */
    bool proc_open;               /* its process handle is not closed yet */
    bool ctl_open;
    bool ready;
    bool retiring;                /* asked to stop (old generation, shutdown) */
    bool retire_asked;            /* it said "retire": a successor is on its way */
    struct worker *replaces;      /* the retiring worker this one succeeds, until ready */
    uint64_t last_beat_ms;
    char line[64];
    size_t line_len;
    struct worker *next;          /* in the master's list */
};

struct slot {
    unsigned boot_failures;       /* exits before "ready" in a row */
    uint64_t backoff_ms;
    bool given_up;
};

struct master {
    uv_loop_t loop;
    const struct app_config *cfg;
    char exe[PATH_MAX];
    char **argv;                  /* the workers' arguments: ours, unchanged */
    int listen_fd;
    int metrics_fd;               /* the workers' shared figures (worker_metrics.c), or -1 */
    unsigned nworkers;
    unsigned generation;          /* the serving generation */
    unsigned pending_generation;  /* a reload under way (0: none) */
    struct worker *workers;
    struct slot slots[MAX_WORKERS];
    uv_timer_t tick;              /* heartbeats, respawns, reload timeout, stop deadline */
    uv_signal_t sig_hup, sig_term, sig_int;
    uint64_t reload_deadline_ms;
    uint64_t respawn_at_ms[MAX_WORKERS];
    bool stopping;
    uint64_t stop_deadline_ms;
    bool notified_ready;
    uv_fs_event_t watch[2];       /* --reload: the binary's directory, the page's */
    size_t nwatch;
    uv_timer_t quiet;             /* --reload: a reload once changes stop */
    char exe_name[256];
};

/* ---------------------------------------------------------------- systemd */

/* One datagram to $NOTIFY_SOCKET ("READY=1"); nothing without it. */
static void sd_notify_text(const char *text)
{
    const char *path = getenv("NOTIFY_SOCKET");
    if (path == NULL || (path[0] != '/' && path[0] != '@') || strlen(path) >= 108)
        return;
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    size_t n = strlen(path);
    memcpy(addr.sun_path, path, n);
    if (path[0] == '@')
        addr.sun_path[0] = '\0'; /* abstract namespace */
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    if (sendto(fd, text, strlen(text), MSG_NOSIGNAL, (struct sockaddr *)&addr,
               (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)) < 0)
        pt_log_warn("master: NOTIFY_SOCKET: %s", strerror(errno));
    close(fd);
}

/* ---------------------------------------------------------------- workers */

static void spawn(struct master *m, int slot, unsigned generation);

static uint64_t now_ms(struct master *m)
{
    uv_update_time(&m->loop);
    return uv_now(&m->loop);
}

/* Free the worker once both of its handles are closed. */
static void maybe_free_worker(struct worker *w)
{
    if (w->ctl_open || w->proc_open)
        return;
    struct master *m = w->m;
    for (struct worker **p = &m->workers; *p != NULL; p = &(*p)->next) {
        if (*p == w) {
            *p = w->next;
            break;
        }
    }
    free(w);
}

static void on_ctl_closed(uv_handle_t *h)
{
    struct worker *w = h->data;
    w->ctl_open = false;
    maybe_free_worker(w);
}

static void on_proc_closed(uv_handle_t *h)
{
    struct worker *w = h->data;
    w->proc_open = false;
    maybe_free_worker(w);
}

static void close_ctl(struct worker *w)
{
    if (w->ctl_open && !uv_is_closing((uv_handle_t *)&w->ctl))
        uv_close((uv_handle_t *)&w->ctl, on_ctl_closed);
}

static void stop_worker(struct worker *w, int signum)
{
    w->retiring = true;
    if (w->running)
        uv_process_kill(&w->proc, signum);
}

static size_t count(struct master *m, unsigned generation, bool ready_only)
{
    size_t n = 0;
    for (struct worker *w = m->workers; w != NULL; w = w->next)
        if (w->running && !w->retiring && w->generation == generation && (!ready_only || w->ready))
            n++;
    return n;
}

/* A reload's new generation is all ready: it serves, the old one drains. */
static void promote(struct master *m)
{
    if (m->pending_generation == 0)
        return;
    unsigned old = m->generation;
    m->generation = m->pending_generation;
    m->pending_generation = 0;
    for (struct worker *w = m->workers; w != NULL; w = w->next)
        if (w->generation == old)
            stop_worker(w, SIGTERM);
    pt_log_info("master: generation %u serves (%u workers); generation %u drains", m->generation,
                m->nworkers, old);
    sd_notify_text("READY=1");
}

/* A reload failed: kill the new generation, keep the old one. */
static void abandon_reload(struct master *m, const char *why)
{
    pt_log_error("master: reload to generation %u failed (%s): generation %u keeps serving",
                 m->pending_generation, why, m->generation);
    for (struct worker *w = m->workers; w != NULL; w = w->next)
        if (w->generation == m->pending_generation)
            stop_worker(w, SIGKILL);
    m->pending_generation = 0;
    sd_notify_text("READY=1");
}

static void on_ready(struct master *m, struct worker *w)
{
    w->ready = true;
    if (w->replaces != NULL) {
        pt_log_info("master: worker %u.%d (pid %d) retires after --max-requests",
                    w->replaces->generation, w->replaces->slot, w->replaces->proc.pid);
        stop_worker(w->replaces, SIGTERM);
        w->replaces = NULL;
        return;
    }
    m->slots[w->slot].boot_failures = 0;
    m->slots[w->slot].backoff_ms = 0;
    pt_log_info("master: worker %u.%d (pid %d) ready", w->generation, w->slot, w->proc.pid);
    if (m->pending_generation != 0 && w->generation == m->pending_generation &&
        count(m, m->pending_generation, true) == m->nworkers) {
        promote(m);
    } else if (!m->notified_ready && count(m, m->generation, true) == m->nworkers) {
        m->notified_ready = true;
        pt_log_info("master: %u workers ready", m->nworkers);
        sd_notify_text("READY=1");
    }
}

/* One line of the control protocol written to a pipe, a copy of its own (dropped when
 * the pipe is gone or the line does not fit; lines are short: "sites <32 hex>"). */
struct line_write {
    uv_write_t req;
    char text[64];
};

static void on_line_written(uv_write_t *req, int status)
{
    (void)status;
    free(pt_container_of(req, struct line_write, req));
}

static void write_line(uv_stream_t *pipe, const char *line)
{
    size_t n = strlen(line);
    if (n + 1 > sizeof(((struct line_write *)0)->text))
        return;
    struct line_write *w = pt_xmalloc(sizeof(*w));
    memcpy(w->text, line, n);
    w->text[n] = '\n';
    uv_buf_t buf = uv_buf_init(w->text, (unsigned)n + 1);
    if (uv_write(&w->req, pipe, &buf, 1, on_line_written) != 0)
        free(w);
}

/* A line to every other worker (a copy each; a dead pipe drops it): "sites <owner>",
 * "supervisor degraded". */
static void relay(struct master *m, const struct worker *from, const char *line)
{
    for (struct worker *w = m->workers; w != NULL; w = w->next)
        if (w != from && w->running && w->ctl_open && !uv_is_closing((uv_handle_t *)&w->ctl))
            write_line((uv_stream_t *)&w->ctl, line);
}

/* A worker asked to retire: start its successor (same slot and generation) beside it. */
static void succeed(struct master *m, struct worker *w)
{
    if (w->retire_asked || w->retiring || m->stopping || w->generation != m->generation)
        return;
    w->retire_asked = true;
    spawn(m, w->slot, w->generation);
    if (m->workers != w && m->workers->slot == w->slot && m->workers->running)
        m->workers->replaces = w; /* spawn put the successor first in the list */
}

static void on_ctl_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct worker *w = h->data;
    buf->base = w->line + w->line_len;
    buf->len = sizeof(w->line) - w->line_len;
}

static void on_ctl_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    (void)buf;
    struct worker *w = s->data;
    if (n < 0) {
        close_ctl(w);
        return;
    }
    w->line_len += (size_t)n;
    char *nl;
    while ((nl = memchr(w->line, '\n', w->line_len)) != NULL) {
        *nl = '\0';
        w->last_beat_ms = now_ms(w->m);
        if (strcmp(w->line, "ready") == 0 && !w->ready)
            on_ready(w->m, w);
        else if (strncmp(w->line, "sites ", 6) == 0 && strlen(w->line) < 63)
            relay(w->m, w, w->line);
        else if (strcmp(w->line, "retire") == 0)
            succeed(w->m, w);
        size_t used = (size_t)(nl + 1 - w->line);
        memmove(w->line, nl + 1, w->line_len - used);
        w->line_len -= used;
    }
    if (w->line_len == sizeof(w->line))
        w->line_len = 0; /* a line this long is not ours */
}

static void on_worker_exit(uv_process_t *p, int64_t status, int signum)
{
    struct worker *w = p->data;
    struct master *m = w->m;
    w->running = false;
    for (struct worker *o = m->workers; o != NULL; o = o->next)
        if (o->replaces == w)
            o->replaces = NULL; /* gone before its successor was ready: nothing to stop */
    if (w->retire_asked && !w->retiring)
        w->retiring = true; /* its successor serves the slot: no respawn */
    bool current = w->generation == m->generation && !w->retiring;
    bool pending = m->pending_generation != 0 && w->generation == m->pending_generation;
    if (!w->retiring || !w->ready)
        pt_log_warn("master: worker %u.%d (pid %d) exited (status %lld, signal %d)%s",
                    w->generation, w->slot, p->pid, (long long)status, signum,
                    w->ready ? "" : " before it was ready");
    if (pending && !w->retiring) {
        abandon_reload(m, "a new worker exited before it was ready");
    } else if (current && !m->stopping) {
        struct slot *sl = &m->slots[w->slot];
        if (!w->ready && ++sl->boot_failures >= 2) {
            sl->given_up = true;
            pt_log_error("master: worker slot %d failed at boot twice in a row: not restarted "
                         "(fix the cause, then SIGHUP)", w->slot);
            relay(m, NULL, "supervisor degraded"); /* the others say so in /healthz */
        } else {
            sl->backoff_ms = sl->backoff_ms == 0 ? RESPAWN_MIN_MS
                                                 : PT_MIN(sl->backoff_ms * 2, RESPAWN_MAX_MS);
            if (w->ready)
                sl->backoff_ms = RESPAWN_MIN_MS; /* a crash after a good start: soon */
            m->respawn_at_ms[w->slot] = now_ms(m) + sl->backoff_ms;
        }
    }
    close_ctl(w);
    uv_close((uv_handle_t *)p, on_proc_closed);
}

static void spawn(struct master *m, int slot, unsigned generation)
{
    struct worker *w = pt_xcalloc(1, sizeof(*w));
    w->m = m;
    w->slot = slot;
    w->generation = generation;
    w->proc.data = w->ctl.data = w;
    uv_pipe_init(&m->loop, &w->ctl, 0);
    w->ctl_open = true;

    char id[32], listen_env[] = "PT_LISTEN_FD=3", control_env[] = "PT_CONTROL_FD=4";
    char worker_env[64], metrics_env[] = "PT_METRICS_FD=5", metrics_slot_env[64];
    /* Two generations live side by side during a reload: one half of the slots each. */
    snprintf(metrics_slot_env, sizeof(metrics_slot_env), "PT_METRICS_SLOT=%u",
             (generation & 1) * m->nworkers + (unsigned)slot);
    snprintf(id, sizeof(id), "%u.%d", generation, slot);
    snprintf(worker_env, sizeof(worker_env), "PT_WORKER_ID=%s", id);
    size_t n = 0;
    while (environ[n] != NULL)
        n++;
    char **env = pt_xcalloc(n + 6, sizeof(*env));
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "PT_LISTEN_FD=", 13) != 0 &&
            strncmp(environ[i], "PT_CONTROL_FD=", 14) != 0 &&
            strncmp(environ[i], "PT_WORKER_ID=", 13) != 0 &&
            strncmp(environ[i], "PT_METRICS_FD=", 14) != 0 &&
            strncmp(environ[i], "PT_METRICS_SLOT=", 16) != 0 &&
            strncmp(environ[i], "LISTEN_FDS=", 11) != 0 && strncmp(environ[i], "LISTEN_PID=", 11) != 0 &&
            strncmp(environ[i], "NOTIFY_SOCKET=", 14) != 0)
            env[k++] = environ[i];
    env[k++] = listen_env;
    env[k++] = control_env;
    env[k++] = worker_env;
    if (m->metrics_fd >= 0) {
        env[k++] = metrics_env;
        env[k++] = metrics_slot_env;
    }

    uv_stdio_container_t stdio[6] = {
        {.flags = UV_IGNORE},
        {.flags = UV_INHERIT_FD, .data.fd = 1},
        {.flags = UV_INHERIT_FD, .data.fd = 2},
        {.flags = UV_INHERIT_FD, .data.fd = m->listen_fd},
        {.flags = UV_CREATE_PIPE | UV_READABLE_PIPE | UV_WRITABLE_PIPE,
         .data.stream = (uv_stream_t *)&w->ctl},
        {.flags = m->metrics_fd >= 0 ? UV_INHERIT_FD : UV_IGNORE, .data.fd = m->metrics_fd},
    };
    uv_process_options_t opt = {
        .exit_cb = on_worker_exit,
        .file = m->exe,
        .args = m->argv,
        .env = env,
        .stdio_count = 6,
        .stdio = stdio,
    };
    int rc = uv_spawn(&m->loop, &w->proc, &opt);
    w->proc_open = true; /* initialized by uv_spawn even when it fails: closed either way */
    free(env);
    w->next = m->workers;
    m->workers = w;
    w->last_beat_ms = now_ms(m);
    if (rc != 0) {
        pt_log_error("master: cannot start %s: %s", m->exe, uv_strerror(rc));
        w->running = false;
        close_ctl(w);
        uv_close((uv_handle_t *)&w->proc, on_proc_closed);
        if (m->pending_generation == generation)
            abandon_reload(m, "the binary cannot be started");
        else
            m->respawn_at_ms[slot] = now_ms(m) + RESPAWN_MAX_MS;
        return;
    }
    w->running = true;
    uv_read_start((uv_stream_t *)&w->ctl, on_ctl_alloc, on_ctl_read);
}

/* ---------------------------------------------------------------- the tick */

static void finish_if_done(struct master *m)
{
    if (m->workers != NULL)
        return;
    for (size_t i = 0; i < m->nwatch; i++)
        uv_close((uv_handle_t *)&m->watch[i], NULL);
    if (m->cfg->reload)
        uv_close((uv_handle_t *)&m->quiet, NULL);
    uv_close((uv_handle_t *)&m->tick, NULL);
    uv_close((uv_handle_t *)&m->sig_hup, NULL);
    uv_close((uv_handle_t *)&m->sig_term, NULL);
    uv_close((uv_handle_t *)&m->sig_int, NULL);
}

static void on_tick(uv_timer_t *t)
{
    struct master *m = t->data;
    uint64_t now = now_ms(m);
    if (m->stopping) {
        if (now >= m->stop_deadline_ms)
            for (struct worker *w = m->workers; w != NULL; w = w->next)
                stop_worker(w, SIGKILL);
        finish_if_done(m);
        return;
    }
    uint64_t timeout = (uint64_t)m->cfg->worker_timeout_s * 1000;
    for (struct worker *w = m->workers; w != NULL; w = w->next) {
        uint64_t limit = w->ready ? timeout : BOOT_TIMEOUT_MS;
        if (w->running && !w->retiring && now - w->last_beat_ms > limit) {
            pt_log_error("master: worker %u.%d (pid %d) %s for %llu ms: killed", w->generation,
                         w->slot, w->proc.pid, w->ready ? "sent no heartbeat" : "not ready",
                         (unsigned long long)(now - w->last_beat_ms));
            uv_process_kill(&w->proc, SIGKILL); /* on_exit replaces it (or fails the reload) */
        }
    }
    for (unsigned s = 0; s < m->nworkers; s++) {
        if (m->respawn_at_ms[s] != 0 && now >= m->respawn_at_ms[s]) {
            m->respawn_at_ms[s] = 0;
            if (!m->slots[s].given_up)
                spawn(m, (int)s, m->generation);
        }
    }
    if (m->pending_generation != 0 && now >= m->reload_deadline_ms)
        abandon_reload(m, "not ready in time");
}

/* ---------------------------------------------------------------- signals */

static void reload(struct master *m)
{
    if (m->pending_generation != 0) {
        pt_log_warn("master: SIGHUP: a reload is already under way");
        return;
    }
    sd_notify_text("RELOADING=1");
    m->pending_generation = m->generation + 1;
    m->reload_deadline_ms = now_ms(m) + BOOT_TIMEOUT_MS;
    pt_log_info("master: SIGHUP: starting generation %u from %s", m->pending_generation, m->exe);
    for (unsigned s = 0; s < m->nworkers; s++) {
        m->slots[s] = (struct slot){0};
        m->respawn_at_ms[s] = 0;
    }
    for (unsigned s = 0; s < m->nworkers && m->pending_generation != 0; s++)
        spawn(m, (int)s, m->pending_generation);
}

/* --reload: things have been quiet since the last change. */
static void on_quiet(uv_timer_t *t)
{
    struct master *m = t->data;
    if (m->stopping)
        return;
    pt_log_info("master: --reload: files changed");
    if (m->pending_generation != 0)
        uv_timer_start(&m->quiet, on_quiet, RELOAD_QUIET_MS, 0); /* after the one under way */
    else
        reload(m);
}

static void on_change(uv_fs_event_t *h, const char *name, int events, int status)
{
    (void)events;
    struct master *m = h->data;
    if (status < 0 || m->stopping)
        return;
    /* In the binary's directory only the binary counts (not the objects beside it). */
    if (h == &m->watch[0] && (name == NULL || strcmp(name, m->exe_name) != 0))
        return;
    uv_timer_start(&m->quiet, on_quiet, RELOAD_QUIET_MS, 0);
}

static void watch_dir(struct master *m, const char *dir)
{
    uv_fs_event_t *h = &m->watch[m->nwatch];
    uv_fs_event_init(&m->loop, h);
    h->data = m;
    int rc = uv_fs_event_start(h, on_change, dir, 0);
    if (rc != 0) {
        pt_log_warn("master: --reload cannot watch %s: %s", dir, uv_strerror(rc));
        uv_close((uv_handle_t *)h, NULL);
        return;
    }
    pt_log_info("master: --reload: watching %s", dir);
    m->nwatch++;
}

static void start_watching(struct master *m)
{
    uv_timer_init(&m->loop, &m->quiet);
    m->quiet.data = m;
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", m->exe);
    char *slash = strrchr(dir, '/');
    if (slash == NULL)
        return;
    snprintf(m->exe_name, sizeof(m->exe_name), "%s", slash + 1);
    *slash = '\0';
    watch_dir(m, dir[0] != '\0' ? dir : "/");
    const char *page = m->cfg->static_dir != NULL ? m->cfg->static_dir : "web";
    if (access(page, R_OK) == 0)
        watch_dir(m, page);
}

static void on_signal(uv_signal_t *sig, int signum)
{
    struct master *m = sig->data;
    if (signum == SIGHUP) {
        if (!m->stopping)
            reload(m);
        return;
    }
    if (m->stopping) {
        pt_log_warn("master: signal %d again: killing the workers", signum);
        m->stop_deadline_ms = 0;
        return;
    }
    m->stopping = true;
    m->stop_deadline_ms = now_ms(m) + m->cfg->graceful_timeout_ms + STOP_MARGIN_MS;
    sd_notify_text("STOPPING=1");
    pt_log_info("master: signal %d: stopping %u workers", signum, m->nworkers);
    for (struct worker *w = m->workers; w != NULL; w = w->next)
        stop_worker(w, SIGTERM);
    finish_if_done(m);
}

/* ---------------------------------------------------------------- start */

/* systemd socket activation: the first passed descriptor, if it is ours. */
static int adopted_socket(void)
{
    const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
    if (pid == NULL || fds == NULL || atol(pid) != (long)getpid() || atoi(fds) < 1)
        return -1;
    return 3;
}

/* SECRET_KEY for every worker of every generation: the configured one, or made once now. */
static int session_secret(const struct app_config *cfg)
{
    if (cfg->secret_key != NULL)
        return 0;
    unsigned char raw[32];
    char hex[65];
    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return -1;
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(hex + 2 * i, 3, "%02x", raw[i]);
    return setenv("SECRET_KEY", hex, 1);
}

int app_master_run(const struct app_config *cfg, char **argv)
{
    struct master *m = pt_xcalloc(1, sizeof(*m));
    m->cfg = cfg;
    m->argv = argv;
    m->nworkers = cfg->workers;
    m->generation = 1;
    int rc = 1;
    if (m->nworkers > MAX_WORKERS) {
        pt_log_error("master: at most %d workers", MAX_WORKERS);
        goto out;
    }
    if (realpath("/proc/self/exe", m->exe) == NULL) {
        pt_log_error("master: cannot find the binary's path: %s", strerror(errno));
        goto out;
    }
    if (session_secret(cfg) != 0) {
        pt_log_error("master: no randomness for the session key");
        goto out;
    }
    m->listen_fd = adopted_socket();
    if (m->listen_fd < 0) {
        int err = http_listen_socket(cfg->host, cfg->port, LISTEN_BACKLOG, &m->listen_fd);
        if (err < 0) {
            pt_log_error("cannot listen on %s:%d: %s", cfg->host, cfg->port, uv_strerror(err));
            goto out;
        }
    }
    m->metrics_fd = app_worker_metrics_create(2 * m->nworkers);
    if (m->metrics_fd < 0)
        pt_log_warn("master: no shared memory for the workers' metrics: %s",
                    strerror(-m->metrics_fd));
    uv_loop_init(&m->loop);
    uv_timer_init(&m->loop, &m->tick);
    uv_signal_init(&m->loop, &m->sig_hup);
    uv_signal_init(&m->loop, &m->sig_term);
    uv_signal_init(&m->loop, &m->sig_int);
    m->tick.data = m->sig_hup.data = m->sig_term.data = m->sig_int.data = m;
    uv_signal_start(&m->sig_hup, on_signal, SIGHUP);
    uv_signal_start(&m->sig_term, on_signal, SIGTERM);
    uv_signal_start(&m->sig_int, on_signal, SIGINT);
    uv_timer_start(&m->tick, on_tick, 200, 200);
    if (cfg->reload)
        start_watching(m);
    struct sockaddr_storage addr;
    socklen_t alen = sizeof(addr);
    int port = cfg->port;
    if (getsockname(m->listen_fd, (struct sockaddr *)&addr, &alen) == 0)
        port = ntohs(addr.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&addr)->sin6_port
                                                : ((struct sockaddr_in *)&addr)->sin_port);
    pt_log_info("PlanetTracker %s master (pid %d): %u workers on http://%s:%d/", APP_VERSION,
                getpid(), m->nworkers, cfg->host, port);
    for (unsigned s = 0; s < m->nworkers; s++)
        spawn(m, (int)s, m->generation);
    uv_run(&m->loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&m->loop) != 0)
        pt_log_warn("master: handles still open at exit");
    close(m->listen_fd);
    if (m->metrics_fd >= 0)
        close(m->metrics_fd);
    pt_log_info("master: stopped");
    rc = 0;
out:
    free(m);
    return rc;
}

/* ---------------------------------------------------------------- the worker's side */

struct app_worker_link {
    uv_pipe_t pipe;
    uv_timer_t beat;
    char line[128];               /* what the master relays, one line at a time */
    size_t line_len;
    void (*on_master_gone)(void *data);
    void (*on_line)(void *data, const char *line);
    void *data;
    bool closed;
};

static void link_say(struct app_worker_link *l, const char *line)
{
    if (!l->closed)
        write_line((uv_stream_t *)&l->pipe, line);
}

static void on_beat(uv_timer_t *t)
{
    link_say(t->data, "beat");
}

static void on_link_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct app_worker_link *l = h->data;
    buf->base = l->line + l->line_len;
    buf->len = sizeof(l->line) - l->line_len;
}

static void on_link_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    (void)buf;
    struct app_worker_link *l = s->data;
    if (n >= 0) {
        l->line_len += (size_t)n;
        char *nl;
        while ((nl = memchr(l->line, '\n', l->line_len)) != NULL) {
            *nl = '\0';
            if (l->on_line != NULL && !l->closed)
                l->on_line(l->data, l->line);
            size_t used = (size_t)(nl + 1 - l->line);
            memmove(l->line, nl + 1, l->line_len - used);
            l->line_len -= used;
        }
        if (l->line_len == sizeof(l->line))
            l->line_len = 0; /* not a line of ours */
        return;
    }
    /* The master is gone (or closed the pipe): stop as on SIGTERM. */
    uv_read_stop(s);
    if (l->on_master_gone != NULL)
        l->on_master_gone(l->data);
}

struct app_worker_link *app_worker_link_open(uv_loop_t *loop, int fd,
                                             void (*on_master_gone)(void *data),
                                             void (*on_line)(void *data, const char *line),
                                             void *data)
{
    struct app_worker_link *l = pt_xcalloc(1, sizeof(*l));
    l->on_master_gone = on_master_gone;
    l->on_line = on_line;
    l->data = data;
    uv_pipe_init(loop, &l->pipe, 0);
    if (uv_pipe_open(&l->pipe, fd) != 0) {
        pt_log_error("worker: the control pipe does not open");
        uv_close((uv_handle_t *)&l->pipe, (uv_close_cb)free);
        return NULL;
    }
    l->pipe.data = l->beat.data = l;
    uv_timer_init(loop, &l->beat);
    uv_read_start((uv_stream_t *)&l->pipe, on_link_alloc, on_link_read);
    return l;
}

void app_worker_link_sites_changed(struct app_worker_link *l, const char *owner)
{
    if (l == NULL || strlen(owner) > 40)
        return;
    char line[64];
    snprintf(line, sizeof(line), "sites %s", owner);
    link_say(l, line);
}

void app_worker_link_retire(struct app_worker_link *l)
{
    link_say(l, "retire");
}

void app_worker_link_ready(struct app_worker_link *l)
{
    link_say(l, "ready");
    uv_timer_start(&l->beat, on_beat, 1000, 1000);
}

/* The pipe closes after the timer (close callbacks run in order): then both are done. */
static void on_link_closed(uv_handle_t *h)
{
    free(h->data);
}

void app_worker_link_close(struct app_worker_link *l)
{
    if (l == NULL || l->closed)
        return;
    l->closed = true;
    uv_close((uv_handle_t *)&l->beat, NULL);
    uv_close((uv_handle_t *)&l->pipe, on_link_closed);
}
