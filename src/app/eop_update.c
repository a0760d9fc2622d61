/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * eop_update.c -- keeping the Earth-orientation data fresh while serving.
 *
 * A cycle: on the loop, fetch --eop-url (finals2000A, conditional on the last
 * ETag/Last-Modified) and --eop-leap-url (Leap_Second.dat) at once with the
 * asynchronous client; on the thread pool, parse both strictly, compare with
 * the table in use (a download that is older, covers less, or is the same is
 * not applied) and write the new files into --data-dir atomically (temporary
 * file, fsync, rename, fsync of the directory); back on the loop, swap the new
 * table into the astro context (lock-free: requests in flight finish on the
 * table they loaded). Whatever fails (refused, 404, stalled, truncated,
 * corrupt, older) leaves the data in use as it is, is logged and counted
 * (/metrics, /healthz), and the next cycle comes sooner (back-off from 10
 * minutes up to the refresh interval). Data that cannot be saved (a read-only
 * --data-dir) is still served, and the failure to keep it is said. A
 * leap-second file that cannot be had keeps the one in use; the update of UT1
 * goes on.
 *
 * Loop thread, except the job (parse_and_save), which touches only its own
 * struct update_job and the immutable tables.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app/app.h"
#include "client/client.h"

#define FIRST_DELAY_MS 1000
#define RETRY_MIN_MS (10 * 60 * 1000)
#define STALL_MS 20000
#define CONNECT_MS 15000

/* The job on the thread pool: inputs, then results. */
struct update_job {
    uv_work_t work;
    struct app_eop_updater *u;
    struct pt_buf finals;            /* the download */
    struct pt_buf leap;              /* downloaded, or a copy of the one in use */
    const struct astro_eop *current; /* the table in use (only the loop swaps it) */
    const char *data_dir;
    /* results */
    struct astro_eop *table; /* to apply, or NULL */
    bool unchanged;
    char why[200];
    char save_error[160]; /* applied, but not saved in data_dir: why */
    char etag[128];       /* the download's validators, kept once applied */
    char last_modified[64];
};

struct app_eop_updater {
    uv_loop_t *loop;
    struct app_state *st;
    struct client *client;
    uv_timer_t timer;
    struct client_fetch *finals_fetch;
    struct client_fetch *leap_fetch;
    struct client_result finals; /* the answers of this cycle */
    struct client_result leap;
    bool have_leap; /* the leap fetch ended (or none was asked) */
    bool have_finals;
    struct update_job *job; /* on the pool, or NULL */
    char etag[128];         /* validators of the finals applied last */
    char last_modified[64];
    unsigned failures_in_row;
    bool stopping;
    bool timer_closed;
    bool client_closed;
};

static void schedule(struct app_eop_updater *u, uint64_t delay_ms);

/* ------------------------------------------------------------- the record */

static void record_failure(struct app_eop_updater *u, const char *fmt, ...) PT_PRINTF(2, 3);

static void record_failure(struct app_eop_updater *u, const char *fmt, ...)
{
    struct app_eop *rec = u->st->eop;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rec->last_error, sizeof(rec->last_error), fmt, ap);
    va_end(ap);
    rec->updates_failed++;
    u->failures_in_row++;
    pt_log_warn("Earth orientation: update failed, keeping the data in use: %s", rec->last_error);
}

static uint64_t refresh_ms(const struct app_eop_updater *u)
{
    double ms = u->st->cfg->eop_refresh_hours * 3600e3;
    return ms < 1000 ? 1000 : (uint64_t)ms;
}

/* After a failure: 10 min, 20, 40 ... never more than the refresh interval. */
static uint64_t retry_ms(const struct app_eop_updater *u)
{
    uint64_t r = RETRY_MIN_MS;
    for (unsigned i = 1; i < u->failures_in_row && r < refresh_ms(u); i++)
        r *= 2;
    return PT_MIN(r, refresh_ms(u));
}

/* ------------------------------------------------------------- the job */

static int mkdir_p(const char *dir)
{
    char path[4096];
    if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path))
        return -ENAMETOOLONG;
    for (char *p = path + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        return -errno;
    return 0;
}

static int write_all(int fd, struct pt_str s)
{
    size_t off = 0;
    while (off < s.len) {
        ssize_t n = write(fd, s.ptr + off, s.len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        off += (size_t)n;
    }
    return 0;
}

/* dir/name := text, atomically: a reader sees the old file or the new one, whole. */
static int save_atomically(const char *dir, const char *name, struct pt_str text)
{
    char path[4096], tmp[4200];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    int rc = write_all(fd, text);
    if (rc == 0 && fsync(fd) != 0)
        rc = -errno;
    if (close(fd) != 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -errno;
    if (rc < 0) {
        unlink(tmp);
        return rc;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) { /* the rename itself survives a crash */
        fsync(dfd);
        close(dfd);
    }
    return 0;
}

/* Whether the new table is worth applying; else a reason in why. */
static bool is_newer(const struct astro_eop *cur, const struct astro_eop *next, bool *unchanged,
                     char *why, size_t len)
{
    struct astro_eop_info a, b;
    astro_eop_info(cur, &a);
    astro_eop_info(next, &b);
    char da[11], db[11];
    if (b.last_observed_mjd < a.last_observed_mjd) {
        astro_mjd_format(a.last_observed_mjd, da);
        astro_mjd_format(b.last_observed_mjd, db);
        snprintf(why, len, "the download is older than the data in use (observed to %s, not %s)",
                 db, da);
        return false;
    }
    if (b.first_mjd > a.first_mjd) {
        astro_mjd_format(a.first_mjd, da);
        astro_mjd_format(b.first_mjd, db);
        snprintf(why, len,
                 "the download starts on %s, the data in use on %s (use "
                 "finals2000A.all, not finals2000A.daily)",
                 db, da);
        return false;
    }
    if (b.last_observed_mjd == a.last_observed_mjd && b.last_mjd <= a.last_mjd &&
        b.leap_expires_mjd <= a.leap_expires_mjd) {
        *unchanged = true;
        return false;
    }
    return true;
}

static void parse_and_save(uv_work_t *w)
{
    struct update_job *job = w->data;
    struct astro_eop *t = NULL;
    if (astro_eop_parse(pt_buf_str(&job->finals), pt_buf_str(&job->leap), &t, job->why,
                        sizeof(job->why)) < 0)
        return;
    if (job->current != NULL &&
        !is_newer(job->current, t, &job->unchanged, job->why, sizeof(job->why))) {
        astro_eop_free(t);
        return;
    }
    int rc = mkdir_p(job->data_dir);
    if (rc == 0)
        rc = save_atomically(job->data_dir, APP_EOP_LEAP_FILE, pt_buf_str(&job->leap));
    if (rc == 0)
        rc = save_atomically(job->data_dir, APP_EOP_FINALS_FILE, pt_buf_str(&job->finals));
    /* Served anyway: better data now matters more than finding it again after a
     * restart; the failure to keep it is said in the log and /healthz. */
    if (rc < 0)
        snprintf(job->save_error, sizeof(job->save_error), "cannot write into %s: %s",
                 job->data_dir, strerror(-rc));
    job->table = t;
}

static void job_free(struct update_job *job)
{
    pt_buf_deinit(&job->finals);
    pt_buf_deinit(&job->leap);
    astro_eop_free(job->table);
    free(job);
}

static void apply(struct app_eop_updater *u, struct update_job *job)
{
    struct app_state *st = u->st;
    struct astro_eop_info before, after;
    astro_eop_info(job->current, &before);
    astro_eop_info(job->table, &after);
    astro_ctx_set_eop(st->astro, job->table);
    job->table = NULL;
    if (st->now != NULL)
        st->now->second = 0; /* the current second's instant was made with the old table */
    pt_buf_deinit(&st->eop->leap_text);
    st->eop->leap_text = job->leap;
    job->leap = (struct pt_buf){0};
    snprintf(st->eop->origin, sizeof(st->eop->origin), "%s", st->cfg->eop_url);
    st->eop->updates_ok++;
    st->eop->last_ok_unix_s = pt_clock_unix_s();
    if (job->save_error[0] != '\0') {
        snprintf(st->eop->last_error, sizeof(st->eop->last_error), "%s (the update is in use)",
                 job->save_error);
        pt_log_warn("Earth orientation: %s; the update is in use until a restart", job->save_error);
    }
    snprintf(u->etag, sizeof(u->etag), "%s", job->etag);
    snprintf(u->last_modified, sizeof(u->last_modified), "%s", job->last_modified);
    u->failures_in_row = 0;
    char b[11], a[11], p[11];
    astro_mjd_format(before.last_observed_mjd, b);
    astro_mjd_format(after.last_observed_mjd, a);
    astro_mjd_format(after.last_mjd, p);
    pt_log_info("Earth orientation: updated from %s: observed to %s (was %s), predicted to %s",
                st->cfg->eop_url, a, b, p);
}

static void on_job_done(uv_work_t *w, int status)
{
    struct update_job *job = w->data;
    struct app_eop_updater *u = job->u;
    u->job = NULL;
    if (u->stopping || status < 0) {
        job_free(job);
        return;
    }
    if (job->table != NULL) {
        apply(u, job);
        schedule(u, refresh_ms(u));
    } else if (job->unchanged) {
        u->st->eop->updates_unchanged++;
        u->failures_in_row = 0;
        snprintf(u->etag, sizeof(u->etag), "%s", job->etag);
        snprintf(u->last_modified, sizeof(u->last_modified), "%s", job->last_modified);
        pt_log_info("Earth orientation: %s has nothing newer than the data in use",
                    u->st->cfg->eop_url);
        schedule(u, refresh_ms(u));
    } else {
        record_failure(u, "%s: %s", u->st->cfg->eop_url, job->why);
        schedule(u, retry_ms(u));
    }
    job_free(job);
}

/* ------------------------------------------------------------- the cycle */

static void reset_answers(struct app_eop_updater *u)
{
    pt_buf_deinit(&u->finals.body);
    pt_buf_deinit(&u->leap.body);
    memset(&u->finals, 0, sizeof(u->finals));
    memset(&u->leap, 0, sizeof(u->leap));
    u->have_finals = u->have_leap = false;
}

/* A sentence for an answer that is not a whole 200, or NULL. */
static const char *answer_problem(const struct client_result *r, char *buf, size_t len)
{
    if (r->error != 0)
        snprintf(buf, len, "%s (%s)", r->message, pt_error_name(r->error));
    else if (r->status != 200)
        snprintf(buf, len, "HTTP %ld", r->status);
    else
        return NULL;
    return buf;
}

/* Both answers are in: hand them to the pool, or give up on this cycle. */
static void both_done(struct app_eop_updater *u)
{
    const struct app_config *cfg = u->st->cfg;
    char why[300];
    if (u->finals.error == 0 && u->finals.status == 304) {
        u->st->eop->updates_unchanged++;
        u->failures_in_row = 0;
        pt_log_info("Earth orientation: %s not modified", cfg->eop_url);
        reset_answers(u);
        schedule(u, refresh_ms(u));
        return;
    }
    if (answer_problem(&u->finals, why, sizeof(why)) != NULL) {
        record_failure(u, "%s: %s", cfg->eop_url, why);
        reset_answers(u);
        schedule(u, retry_ms(u));
        return;
    }
    struct update_job *job = pt_xcalloc(1, sizeof(*job));
    job->u = u;
    job->work.data = job;
    job->finals = u->finals.body;
    u->finals.body = (struct pt_buf){0};
    snprintf(job->etag, sizeof(job->etag), "%s", u->finals.etag);
    snprintf(job->last_modified, sizeof(job->last_modified), "%s", u->finals.last_modified);
    if (cfg->eop_leap_url != NULL && answer_problem(&u->leap, why, sizeof(why)) == NULL) {
        job->leap = u->leap.body;
        u->leap.body = (struct pt_buf){0};
    } else {
        if (cfg->eop_leap_url != NULL)
            pt_log_warn("Earth orientation: %s: %s; keeping the leap-second table in use",
                        cfg->eop_leap_url, why);
        pt_buf_init(&job->leap, APP_EOP_MAX_BYTES);
        pt_buf_append_str(&job->leap, pt_buf_str(&u->st->eop->leap_text));
    }
    job->current = astro_ctx_eop(u->st->astro);
    job->data_dir = cfg->data_dir;
    reset_answers(u);
    u->job = job;
    if (uv_queue_work(u->loop, &job->work, parse_and_save, on_job_done) != 0) {
        u->job = NULL;
        job_free(job);
        record_failure(u, "cannot queue the parse");
        schedule(u, retry_ms(u));
    }
}

static void on_finals(struct client_result *r, void *data)
{
    struct app_eop_updater *u = data;
    u->finals_fetch = NULL;
    u->finals = *r;
    r->body = (struct pt_buf){0};
    u->have_finals = true;
    if (u->have_leap)
        both_done(u);
}

static void on_leap(struct client_result *r, void *data)
{
    struct app_eop_updater *u = data;
    u->leap_fetch = NULL;
    u->leap = *r;
    r->body = (struct pt_buf){0};
    u->have_leap = true;
    if (u->have_finals)
        both_done(u);
}

static void start_cycle(struct app_eop_updater *u)
{
    const struct app_config *cfg = u->st->cfg;
    reset_answers(u);
    char inm[160], ims[96];
    const char *headers[3] = {NULL, NULL, NULL};
    size_t nh = 0;
    if (u->etag[0] != '\0') {
        snprintf(inm, sizeof(inm), "If-None-Match: %s", u->etag);
        headers[nh++] = inm;
    }
    if (u->last_modified[0] != '\0') {
        snprintf(ims, sizeof(ims), "If-Modified-Since: %s", u->last_modified);
        headers[nh++] = ims;
    }
    struct client_request req = {
        .url = cfg->eop_url,
        .headers = headers,
        .timeout_ms = cfg->eop_timeout_ms,
        .connect_timeout_ms = CONNECT_MS,
        .stall_timeout_ms = STALL_MS,
        .max_bytes = APP_EOP_MAX_BYTES,
    };
    int rc = client_get(u->client, &req, on_finals, u, &u->finals_fetch);
    if (rc < 0) {
        record_failure(u, "%s: %s", cfg->eop_url, pt_error_message(rc));
        schedule(u, retry_ms(u));
        return;
    }
    u->have_leap = cfg->eop_leap_url == NULL;
    if (!u->have_leap) {
        req.url = cfg->eop_leap_url;
        req.headers = NULL;
        if (client_get(u->client, &req, on_leap, u, &u->leap_fetch) < 0)
            u->have_leap = true; /* keep the table in use */
    }
}

static void on_timer(uv_timer_t *t)
{
    struct app_eop_updater *u = t->data;
    if (!u->stopping && u->job == NULL && u->finals_fetch == NULL && u->leap_fetch == NULL)
        start_cycle(u);
}

static void schedule(struct app_eop_updater *u, uint64_t delay_ms)
{
    if (!u->stopping)
        uv_timer_start(&u->timer, on_timer, delay_ms, 0);
}

/* ------------------------------------------------------------- life */

/* The first check: soon, unless the copy in use was saved less than a refresh ago. */
static uint64_t first_delay_ms(const struct app_eop_updater *u)
{
    const struct app_config *cfg = u->st->cfg;
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", cfg->data_dir, APP_EOP_FINALS_FILE);
    struct stat sb;
    if (strcmp(u->st->eop->origin, path) != 0 || stat(path, &sb) != 0)
        return FIRST_DELAY_MS;
    double age_ms = (pt_clock_unix_s() - (double)sb.st_mtime) * 1e3;
    double left = (double)refresh_ms(u) - age_ms;
    return left > FIRST_DELAY_MS ? (uint64_t)left : FIRST_DELAY_MS;
}

int app_eop_updater_start(struct app_state *st, uv_loop_t *loop)
{
    const struct app_config *cfg = st->cfg;
    if (cfg->eop_url == NULL) {
        pt_log_info("Earth orientation: no updates (--eop-url none)");
        return 0;
    }
    struct app_eop_updater *u = pt_xcalloc(1, sizeof(*u));
    u->loop = loop;
    u->st = st;
    struct client_config ccfg = {.user_agent =
                                     "PlanetTracker/" APP_VERSION " (Earth-orientation updater)"};
    if (client_new(loop, &ccfg, &u->client) < 0) {
        free(u);
        return PT_E_NOMEM;
    }
    uv_timer_init(loop, &u->timer);
    u->timer.data = u;
    st->eop->updater = u;
    uint64_t first = first_delay_ms(u);
    pt_log_info("Earth orientation: updates from %s every %g h (first in %.0f s)", cfg->eop_url,
                cfg->eop_refresh_hours, (double)first / 1000.0);
    schedule(u, first);
    return 0;
}

static void on_client_closed(void *data)
{
    struct app_eop_updater *u = data;
    u->client_closed = true;
}

static void on_timer_closed(uv_handle_t *h)
{
    struct app_eop_updater *u = h->data;
    u->timer_closed = true;
}

void app_eop_updater_stop(struct app_state *st)
{
    struct app_eop_updater *u = st->eop->updater;
    if (u == NULL || u->stopping)
        return;
    u->stopping = true;
    uv_timer_stop(&u->timer);
    uv_close((uv_handle_t *)&u->timer, on_timer_closed);
    u->finals_fetch = u->leap_fetch = NULL; /* abandoned with the client */
    client_close(u->client, on_client_closed, u);
    u->client = NULL;
}

void app_eop_updater_free(struct app_state *st)
{
    struct app_eop_updater *u = st->eop->updater;
    if (u == NULL)
        return;
    /* After the loop has run dry: the handles are closed and no job is left. */
    reset_answers(u);
    free(u);
    st->eop->updater = NULL;
}
