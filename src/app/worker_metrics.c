/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * worker_metrics.c -- the workers' figures in memory shared through the
 * master, so that /metrics on any worker counts for all of them.
 *
 * The master makes one memfd of 2 x N slots (two generations live side by
 * side during a reload) and hands it to every worker as PT_METRICS_FD with
 * its slot number PT_METRICS_SLOT. A worker writes only its own slot (every
 * second and before answering /metrics), with relaxed atomic stores of whole
 * 64-bit counters; readers add up the slots of processes that are alive. A
 * worker that is replaced starts its slot from zero, so a sum may go down
 * after a restart, as a Prometheus counter does after a reset.
 */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "app/app.h"

#define STALE_MS 5000

struct app_worker_figures {
    _Atomic int64_t pid;
    _Atomic uint64_t generation;
    _Atomic uint64_t slot;
    _Atomic uint64_t updated_ms;
    _Atomic uint64_t responses[5];       /* by status class 1xx..5xx */
    _Atomic uint64_t accepted;
    _Atomic uint64_t connections;
    _Atomic uint64_t live_subscribers;
};

struct app_worker_metrics {
    struct app_worker_figures *slots;    /* mapped */
    size_t nslots;
    size_t mine;
};

static size_t metrics_size(unsigned nslots)
{
    return (size_t)nslots * sizeof(struct app_worker_figures);
}

int app_worker_metrics_create(unsigned nslots)
{
    int fd = memfd_create("planettracker-metrics", MFD_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (ftruncate(fd, (off_t)metrics_size(nslots)) != 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    return fd;
}

struct app_worker_metrics *app_worker_metrics_open(int fd, size_t slot)
{
    off_t size = lseek(fd, 0, SEEK_END);
    if (size <= 0 || (size_t)size % sizeof(struct app_worker_figures) != 0)
        return NULL;
    size_t nslots = (size_t)size / sizeof(struct app_worker_figures);
    if (slot >= nslots)
        return NULL;
    void *p = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED)
        return NULL;
    struct app_worker_metrics *m = pt_xcalloc(1, sizeof(*m));
    m->slots = p;
    m->nslots = nslots;
    m->mine = slot;
    return m;
}

void app_worker_metrics_close(struct app_worker_metrics *m)
{
    if (m == NULL)
        return;
    munmap(m->slots, m->nslots * sizeof(*m->slots));
    free(m);
}

void app_worker_metrics_publish(struct app_worker_metrics *m, const struct app_state *st,
                                const struct web_app *app)
{
    if (m == NULL)
        return;
    struct app_worker_figures *f = &m->slots[m->mine];
    unsigned generation = 0, slot = 0;
    if (st->worker_id != NULL)
        sscanf(st->worker_id, "%u.%u", &generation, &slot);
    atomic_store_explicit(&f->pid, (int64_t)getpid(), memory_order_relaxed);
    atomic_store_explicit(&f->generation, generation, memory_order_relaxed);
    atomic_store_explicit(&f->slot, slot, memory_order_relaxed);
    for (int c = 1; c <= 5; c++)
        atomic_store_explicit(&f->responses[c - 1], web_app_responses(app, c),
                              memory_order_relaxed);
    struct http_server_stats hs;
    http_server_stats(st->server, &hs);
    atomic_store_explicit(&f->accepted, hs.accepted, memory_order_relaxed);
    atomic_store_explicit(&f->connections, http_server_connections(st->server),
                          memory_order_relaxed);
    struct live_stats ls;
    live_hub_stats(st->live, &ls);
    atomic_store_explicit(&f->live_subscribers, ls.subscribers, memory_order_relaxed);
    atomic_store_explicit(&f->updated_ms, (uint64_t)(pt_clock_unix_s() * 1000.0),
                          memory_order_relaxed);
}

/* A slot of a process that is alive and wrote lately. */
static bool live_slot(const struct app_worker_figures *f, uint64_t now_ms)
{
    int64_t pid = atomic_load_explicit(&f->pid, memory_order_relaxed);
    uint64_t at = atomic_load_explicit(&f->updated_ms, memory_order_relaxed);
    if (pid <= 0 || at + STALE_MS < now_ms)
        return false;
    return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

#define LOAD(x) ((unsigned long long)atomic_load_explicit(&(x), memory_order_relaxed))

void app_worker_metrics_render(const struct app_worker_metrics *m, struct pt_buf *b)
{
    if (m == NULL)
        return;
    uint64_t now = (uint64_t)(pt_clock_unix_s() * 1000.0);
    unsigned long long sum[5] = {0}, accepted = 0, conns = 0, subs = 0, up = 0;
    pt_buf_appendf(b, "# HELP planettracker_worker_responses_total Answers sent by each "
                      "worker of this master, by status class.\n"
                      "# TYPE planettracker_worker_responses_total counter\n");
    for (size_t i = 0; i < m->nslots; i++) {
        const struct app_worker_figures *f = &m->slots[i];
        if (!live_slot(f, now))
            continue;
        up++;
        char label[64];
        snprintf(label, sizeof(label), "worker=\"%llu.%llu\",pid=\"%llu\"", LOAD(f->generation),
                 LOAD(f->slot), (unsigned long long)atomic_load(&f->pid));
        for (int c = 0; c < 5; c++) {
            sum[c] += LOAD(f->responses[c]);
            pt_buf_appendf(b, "planettracker_worker_responses_total{%s,class=\"%dxx\"} %llu\n",
                           label, c + 1, LOAD(f->responses[c]));
        }
        accepted += LOAD(f->accepted);
        conns += LOAD(f->connections);
        subs += LOAD(f->live_subscribers);
    }
    pt_buf_appendf(b, "# HELP planettracker_workers_up Workers of this master alive now.\n"
                      "# TYPE planettracker_workers_up gauge\n"
                      "planettracker_workers_up %llu\n"
                      "# HELP planettracker_workers_responses_total Answers sent by all the "
                      "workers, by status class.\n"
                      "# TYPE planettracker_workers_responses_total counter\n",
                   up);
    for (int c = 0; c < 5; c++)
        pt_buf_appendf(b, "planettracker_workers_responses_total{class=\"%dxx\"} %llu\n", c + 1,
                       sum[c]);
    pt_buf_appendf(b,
                   "# HELP planettracker_workers_connections_accepted_total Connections "
                   "accepted by all the workers.\n"
                   "# TYPE planettracker_workers_connections_accepted_total counter\n"
                   "planettracker_workers_connections_accepted_total %llu\n"
                   "# HELP planettracker_workers_connections Open connections, all workers.\n"
                   "# TYPE planettracker_workers_connections gauge\n"
                   "planettracker_workers_connections %llu\n"
                   "# HELP planettracker_workers_live_subscribers Live subscribers, all "
                   "workers.\n"
                   "# TYPE planettracker_workers_live_subscribers gauge\n"
                   "planettracker_workers_live_subscribers %llu\n",
                   accepted, conns, subs);
}
