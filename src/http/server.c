/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * server.c -- the listening socket and its accept loop, descriptor exhaustion,
 * per-client accounting, the per-second Date cache, posted connections and the
 * graceful stop of the http layer. Loop thread only.
 *
 * The accept loop is ours (accept4 on a uv_poll) rather than uv_listen's, so
 * that running out of descriptors is seen, counted and logged: libuv's own
 * EMFILE handling closes the excess connections without telling its user.
 *
 * Invariant: the server is freed only after its four handles are closed and
 * every connection has been freed, then stop_cb runs.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "http/internal.h"

/* Connections accepted per readiness event before the loop serves others. */
#define ACCEPTS_PER_WAKEUP 128
/* Refusals are summarized in the log at most this often. */
#define REFUSED_LOG_EVERY_MS 10000

void http_server_config_init(struct http_server_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->host = "127.0.0.1";
    cfg->port = 8000;
    cfg->backlog = 4096;
    cfg->limits = HTTP_LIMITS_DEFAULT;
    cfg->max_body_bytes = 1024 * 1024;
    cfg->head_timeout_ms = 10 * 1000;
    cfg->idle_timeout_ms = 60 * 1000;
    cfg->graceful_timeout_ms = 20 * 1000;
    cfg->max_connections = 100000;
    cfg->max_conns_per_peer = 256;
    cfg->stall_timeout_ms = 30 * 1000;
    cfg->listen_fd = -1;
}

/* ------------------------------------------------------------- pools */

struct pt_arena *http__arena_take(struct http_server *server)
{
    if (server->arena_pool_len > 0)
        return server->arena_pool[--server->arena_pool_len];
    struct pt_arena *a = pt_xmalloc(sizeof(*a));
    pt_arena_init(a, 4096);
    return a;
}

void http__arena_give(struct http_server *server, struct pt_arena *arena)
{
    pt_arena_reset(arena);
    if (server->arena_pool_len < HTTP_POOL_SIZE) {
        server->arena_pool[server->arena_pool_len++] = arena;
        return;
    }
    pt_arena_deinit(arena);
    free(arena);
}

void http__buf_give(struct http_server *server, struct pt_buf *b)
{
    if (b->data == NULL)
        return;
    if (server->buf_pool_len < HTTP_POOL_SIZE && b->cap <= HTTP_POOL_MAX_BUF) {
        server->buf_pool[server->buf_pool_len].data = b->data;
        server->buf_pool[server->buf_pool_len].cap = b->cap;
        server->buf_pool_len++;
    } else {
        free(b->data);
    }
    b->data = NULL;
    b->cap = 0;
    b->len = 0;
}

void http__buf_take(struct http_server *server, struct pt_buf *b)
{
    if (b->data != NULL || server->buf_pool_len == 0)
        return;
    server->buf_pool_len--;
    b->data = server->buf_pool[server->buf_pool_len].data;
    b->cap = server->buf_pool[server->buf_pool_len].cap;
    b->len = 0;
    if (b->cap > b->limit) {
        /* Pooled from a connection with a larger limit: trim to this one's. */
        b->data = pt_xrealloc(b->data, b->limit > 0 ? b->limit : 1);
        b->cap = b->limit;
    }
}

static void drain_pools(struct http_server *server)
{
    while (server->arena_pool_len > 0) {
        struct pt_arena *a = server->arena_pool[--server->arena_pool_len];
        pt_arena_deinit(a);
        free(a);
    }
    while (server->buf_pool_len > 0)
        free(server->buf_pool[--server->buf_pool_len].data);
}

/* ------------------------------------------------------------- peers */

/*
 * The accounting key of a client: its IPv4 address, or the /64 prefix of its
 * IPv6 address (one subscriber line holds a whole /64). IPv4-mapped IPv6
 * addresses count as the IPv4 address.
 */
static uint64_t peer_id_of(const struct sockaddr_storage *addr)
{
    if (addr->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)addr;
        const uint8_t *b = a6->sin6_addr.s6_addr;
        static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        uint64_t id = 0;
        if (memcmp(b, mapped, sizeof(mapped)) == 0) {
            for (int i = 12; i < 16; i++)
                id = id << 8 | b[i];
            return id;
        }
        for (int i = 0; i < 8; i++)
            id = id << 8 | b[i];
        return id | 1ull << 63 | 1; /* never equal to an IPv4 id */
    }
    const struct sockaddr_in *a4 = (const struct sockaddr_in *)addr;
    return ntohl(a4->sin_addr.s_addr);
}

static size_t peer_bucket(const struct http_server *server, uint64_t id)
{
    return pt_hash_bytes(server->hash_seed, &id, sizeof(id)) % HTTP_PEER_BUCKETS;
}

struct http_peer *http__peer_get(struct http_server *server, uint64_t id)
{
    struct http_peer **head = &server->peers[peer_bucket(server, id)];
    for (struct http_peer *p = *head; p != NULL; p = p->next)
        if (p->id == id)
            return p;
    struct http_peer *p = pt_xcalloc(1, sizeof(*p));
    p->id = id;
    p->next = *head;
    *head = p;
    return p;
}

void http__peer_release(struct http_server *server, struct http_peer *peer)
{
    if (peer->conns > 0)
        return;
    for (struct http_peer **pp = &server->peers[peer_bucket(server, peer->id)]; *pp != NULL;
         pp = &(*pp)->next) {
        if (*pp == peer) {
            *pp = peer->next;
            free(peer);
            return;
        }
    }
}

/* ------------------------------------------------------------- stopping */

static void close_server_handle(struct http_server *server, uv_handle_t *h);

/*
 * Once a stopping server has no connection left, its last handles close; when
 * they all have, the server is freed and the stop callback runs.
 */
static void maybe_finish_stop(struct http_server *server)
{
    if (!server->stopping || server->num_conns > 0)
        return;
    uv_timer_stop(&server->stop_timer);
    uv_timer_stop(&server->date_timer);
    uv_idle_stop(&server->post_idle);
    close_server_handle(server, (uv_handle_t *)&server->stop_timer);
    close_server_handle(server, (uv_handle_t *)&server->date_timer);
    close_server_handle(server, (uv_handle_t *)&server->post_idle);
    if (server->handles_open > 0)
        return;
    drain_pools(server);
    for (size_t i = 0; i < HTTP_PEER_BUCKETS; i++) {
        while (server->peers[i] != NULL) {
            struct http_peer *p = server->peers[i];
            server->peers[i] = p->next;
            free(p);
        }
    }
    if (server->reserve_fd >= 0)
        close(server->reserve_fd);
    http_server_stop_cb cb = server->stop_cb;
    void *data = server->stop_data;
    free(server);
    if (cb != NULL)
        cb(data);
}

static void on_server_handle_close(uv_handle_t *handle)
{
    struct http_server *server = handle->data;
    if (handle == (uv_handle_t *)&server->listen_poll && server->listen_fd >= 0) {
        close(server->listen_fd);
        server->listen_fd = -1;
    }
    server->handles_open--;
    maybe_finish_stop(server);
}

static void close_server_handle(struct http_server *server, uv_handle_t *h)
{
    (void)server;
    if (!uv_is_closing(h))
        uv_close(h, on_server_handle_close);
}

void http__server_conn_freed(struct http_server *server)
{
    server->num_conns--;
    maybe_finish_stop(server);
}

/* The graceful deadline: whatever is still open is closed now. */
static void on_stop_timer(uv_timer_t *timer)
{
    struct http_server *server = timer->data;
    size_t n = 0;
    while (server->conns != NULL) {
        http__conn_close(server->conns); /* unlinks it */
        n++;
    }
    if (n > 0)
        pt_log_warn("graceful timeout (%llu ms): closed %zu connections still open",
                    (unsigned long long)server->cfg.graceful_timeout_ms, n);
}

void http_server_stop(struct http_server *server, http_server_stop_cb cb, void *data)
{
    if (server->stopping)
        return;
    server->stopping = true;
    server->stop_cb = cb;
    server->stop_data = data;
    uv_update_time(server->loop);
    server->stop_deadline_ms = uv_now(server->loop) + server->cfg.graceful_timeout_ms;
    close_server_handle(server, (uv_handle_t *)&server->listen_poll);
    /* The Date timer runs on: answers are still written during the stop. */
    uv_timer_start(&server->stop_timer, on_stop_timer, server->cfg.graceful_timeout_ms, 0);
    /* http__conn_stop may unlink the connection it is given, never another. */
    struct http_conn *next;
    for (struct http_conn *c = server->conns; c != NULL; c = next) {
        next = c->next;
        http__conn_stop(c);
    }
    maybe_finish_stop(server);
}

/* ------------------------------------------------------------- posted */

static void on_post_idle(uv_idle_t *idle);

void http__server_post(struct http_server *server, struct http_conn *conn)
{
    if (conn->posted)
        return;
    conn->posted = true;
    conn->posted_next = NULL;
    conn->posted_prev = server->posted_last;
    if (server->posted_last != NULL)
        server->posted_last->posted_next = conn;
    else
        server->posted = conn;
    server->posted_last = conn;
    if (!uv_is_closing((uv_handle_t *)&server->post_idle))
        uv_idle_start(&server->post_idle, on_post_idle);
}

void http__server_unpost(struct http_server *server, struct http_conn *conn)
{
    if (!conn->posted)
        return;
    conn->posted = false;
    if (conn->posted_prev != NULL)
        conn->posted_prev->posted_next = conn->posted_next;
    else
        server->posted = conn->posted_next;
    if (conn->posted_next != NULL)
        conn->posted_next->posted_prev = conn->posted_prev;
    else
        server->posted_last = conn->posted_prev;
    conn->posted_prev = conn->posted_next = NULL;
}

/*
 * Run what was posted before this callback began; connections posted while it
 * runs wait for the next loop iteration, so a connection that keeps posting
 * itself cannot starve the others.
 */
static void on_post_idle(uv_idle_t *idle)
{
    struct http_server *server = idle->data;
    struct http_conn *last = server->posted_last;
    while (server->posted != NULL) {
        struct http_conn *c = server->posted;
        bool was_last = c == last;
        http__server_unpost(server, c);
        http__conn_run_posted(c);
        if (was_last)
            break;
    }
    if (server->posted == NULL)
        uv_idle_stop(idle);
}

/* ------------------------------------------------------------- date and logs */

static void update_date(struct http_server *server)
{
    pt_format_http_date((int64_t)time(NULL), server->date);
}

/* Milliseconds until just after the next wall-clock second begins. */
static uint64_t ms_to_next_second(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return 1000 - (uint64_t)(ts.tv_nsec / 1000000) + 1;
}

static uint64_t refused_total(const struct http_server_stats *s)
{
    return s->refused_capacity + s->refused_peer + s->refused_emfile;
}

/* One line for a wave of refusals, not one per connection. */
static void log_refusals(struct http_server *server)
{
    uint64_t total = refused_total(&server->stats);
    uint64_t now = uv_now(server->loop);
    if (total == server->refused_logged ||
        (server->refused_log_ms != 0 && now - server->refused_log_ms < REFUSED_LOG_EVERY_MS))
        return;
    const struct http_server_stats *s = &server->stats;
    pt_log_warn("refused %llu connections since the last report (all time: %llu at capacity "
                "(max %zu), %llu over the per-address limit (%zu), %llu out of descriptors)",
                (unsigned long long)(total - server->refused_logged),
                (unsigned long long)s->refused_capacity, server->cfg.max_connections,
                (unsigned long long)s->refused_peer, server->cfg.max_conns_per_peer,
                (unsigned long long)s->refused_emfile);
    server->refused_logged = total;
    server->refused_log_ms = now;
}

/* Re-aligned on every tick, so Date never lags the wall clock by a second. */
static void on_date_timer(uv_timer_t *timer)
{
    struct http_server *server = pt_container_of(timer, struct http_server, date_timer);
    update_date(server);
    log_refusals(server);
    /* After a wave of connections closes, give the freed heap back to the system. */
    if (server->conns_peak > server->num_conns + HTTP_TRIM_AFTER_CLOSES) {
        malloc_trim(0);
        server->conns_peak = server->num_conns;
    }
    uv_timer_start(timer, on_date_timer, ms_to_next_second(), 0);
}

/* ------------------------------------------------------------- accepting */

/*
 * Out of descriptors: the pending connections cannot be accepted, and left in
 * the queue they would wake the loop forever. Spend the reserve descriptor to
 * accept and close them, then take the reserve back.
 */
static void shed_connections(struct http_server *server)
{
    if (server->reserve_fd < 0)
        return;
    close(server->reserve_fd);
    server->reserve_fd = -1;
    for (int i = 0; i < ACCEPTS_PER_WAKEUP; i++) {
        int fd = accept4(server->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            break;
        close(fd);
        server->stats.refused_emfile++;
    }
    server->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    log_refusals(server);
}

static void on_listen_readable(uv_poll_t *poll, int status, int events)
{
    (void)events;
    struct http_server *server = poll->data;
    if (status < 0) {
        pt_log_warn("listening socket: %s", uv_strerror(status));
        return;
    }
    unsigned budget = server->cfg.accepts_per_wakeup ? server->cfg.accepts_per_wakeup
                                                     : ACCEPTS_PER_WAKEUP;
    for (unsigned i = 0; i < budget && !server->stopping; i++) {
        struct sockaddr_storage addr;
        socklen_t len = sizeof(addr);
        int fd = accept4(server->listen_fd, (struct sockaddr *)&addr, &len,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE) {
                server->stats.refused_emfile++;
                shed_connections(server);
            } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
                pt_log_warn("accept: %s", strerror(errno));
            }
            return;
        }
        struct http_conn *conn = pt_xcalloc(1, sizeof(*conn));
        uv_tcp_init(server->loop, &conn->tcp);
        int rc = uv_tcp_open(&conn->tcp, fd);
        if (rc != 0) {
            pt_log_warn("accept: cannot open the socket: %s", uv_strerror(rc));
            close(fd);
            uv_close((uv_handle_t *)&conn->tcp, (uv_close_cb)free);
            continue;
        }
        server->stats.accepted++;
        http__conn_start(server, conn, &addr, peer_id_of(&addr));
    }
}

int http_listen_socket(const char *host, int port, int backlog, int *out)
{
    struct sockaddr_storage addr;
    memset(&addr, 0, sizeof(addr));
    int rc = uv_ip4_addr(host, port, (struct sockaddr_in *)&addr);
    if (rc != 0)
        rc = uv_ip6_addr(host, port, (struct sockaddr_in6 *)&addr);
    if (rc != 0)
        return rc;
    socklen_t len =
        addr.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&addr, len) != 0 || listen(fd, backlog) != 0) {
        rc = -errno;
        close(fd);
        return rc;
    }
    *out = fd;
    return 0;
}

/* The configured socket (made non-blocking: it may come from another process), or a new one. */
static int open_listener(struct http_server *server)
{
    const struct http_server_config *cfg = &server->cfg;
    if (cfg->listen_fd < 0)
        return http_listen_socket(cfg->host, cfg->port, cfg->backlog, &server->listen_fd);
    int flags = fcntl(cfg->listen_fd, F_GETFL);
    if (flags < 0 || fcntl(cfg->listen_fd, F_SETFL, flags | O_NONBLOCK) != 0 ||
        fcntl(cfg->listen_fd, F_SETFD, FD_CLOEXEC) != 0)
        return -errno;
    server->listen_fd = cfg->listen_fd;
    return 0;
}

/* Fit max_connections under the descriptor limit, so the limit answers before EMFILE. */
static void fit_connection_limit(struct http_server_config *cfg)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return;
    size_t fit = rl.rlim_cur > HTTP_FD_RESERVE + HTTP_REFUSE_SLACK
                     ? (size_t)rl.rlim_cur - HTTP_FD_RESERVE - HTTP_REFUSE_SLACK
                     : 16;
    if (cfg->max_connections > fit) {
        pt_log_info("max connections %zu (descriptor limit %llu)", fit,
                    (unsigned long long)rl.rlim_cur);
        cfg->max_connections = fit;
    }
}

int http_server_start(uv_loop_t *loop, const struct http_server_config *cfg,
                      struct http_server **out)
{
    struct http_server *server = pt_xcalloc(1, sizeof(*server));
    server->loop = loop;
    server->cfg = *cfg;
    server->listen_fd = -1;
    fit_connection_limit(&server->cfg);
    if (getrandom(&server->hash_seed, sizeof(server->hash_seed), 0) !=
        (ssize_t)sizeof(server->hash_seed))
        server->hash_seed = PT_HASH_SEED ^ (uint64_t)time(NULL);
    update_date(server);
    int rc = open_listener(server);
    if (rc != 0) {
        free(server);
        return rc;
    }
    server->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

    uv_poll_init(loop, &server->listen_poll, server->listen_fd);
    uv_timer_init(loop, &server->date_timer);
    uv_timer_init(loop, &server->stop_timer);
    uv_idle_init(loop, &server->post_idle);
    server->listen_poll.data = server->date_timer.data = server;
    server->stop_timer.data = server->post_idle.data = server;
    server->handles_open = 4;
    uv_poll_start(&server->listen_poll, UV_READABLE, on_listen_readable);
    uv_update_time(loop);
    uv_timer_start(&server->date_timer, on_date_timer, ms_to_next_second(), 0);
    *out = server;
    return 0;
}

int http_server_port(const struct http_server *server)
{
    struct sockaddr_storage addr;
    socklen_t len = sizeof(addr);
    if (getsockname(server->listen_fd, (struct sockaddr *)&addr, &len) != 0)
        return -1;
    if (addr.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&addr)->sin6_port);
    return ntohs(((struct sockaddr_in *)&addr)->sin_port);
}

size_t http_server_connections(const struct http_server *server)
{
    return server->num_conns;
}

void http_server_stats(const struct http_server *server, struct http_server_stats *out)
{
    *out = server->stats;
    out->connections = server->num_conns;
}
