/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * server.c -- listening socket, accepting, the per-second Date cache and the
 * graceful stop of the http layer. Loop thread only.
 *
 * Invariant: the server is freed only after its listener and date timer are
 * closed and its connection list is empty, then stop_cb runs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <malloc.h>
#include <time.h>

#include "http/internal.h"

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
    cfg->max_connections = 100000;
    cfg->stall_timeout_ms = 30 * 1000;
}

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

/* Re-aligned on every tick, so Date never lags the wall clock by a second. */
static void on_date_timer(uv_timer_t *timer)
{
    struct http_server *server = pt_container_of(timer, struct http_server, date_timer);
    update_date(server);
    /* After a wave of connections closes, give the freed heap back to the system. */
    if (server->conns_peak > server->num_conns + HTTP_TRIM_AFTER_CLOSES) {
        malloc_trim(0);
        server->conns_peak = server->num_conns;
    }
    uv_timer_start(timer, on_date_timer, ms_to_next_second(), 0);
}

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

static void maybe_finish_stop(struct http_server *server)
{
    if (!server->stopping || server->num_conns > 0 || server->handles_open > 0)
        return;
    drain_pools(server);
    http_server_stop_cb cb = server->stop_cb;
    void *data = server->cfg.data;
    free(server);
    if (cb != NULL)
        cb(data);
}

static void on_server_handle_close(uv_handle_t *handle)
{
    struct http_server *server = handle->data;
    server->handles_open--;
    maybe_finish_stop(server);
}

void http__server_conn_closed(struct http_server *server)
{
    server->num_conns--;
    maybe_finish_stop(server);
}

static void on_connection(uv_stream_t *listener, int status)
{
    struct http_server *server = pt_container_of(listener, struct http_server, listener);
    if (status < 0) {
        pt_log_warn("accept: %s", uv_strerror(status));
        return;
    }
    struct http_conn *conn = pt_xcalloc(1, sizeof(*conn));
    uv_tcp_init(server->loop, &conn->tcp);
    if (uv_accept(listener, (uv_stream_t *)&conn->tcp) != 0) {
        /* Nothing was accepted: the handle only needs closing. */
        conn->tcp.data = conn;
        uv_close((uv_handle_t *)&conn->tcp, (uv_close_cb)free);
        return;
    }
    http__conn_start(server, conn);
}

static int bind_address(struct http_server *server)
{
    struct sockaddr_storage addr;
    const struct http_server_config *cfg = &server->cfg;
    int rc = uv_ip4_addr(cfg->host, cfg->port, (struct sockaddr_in *)&addr);
    if (rc != 0)
        rc = uv_ip6_addr(cfg->host, cfg->port, (struct sockaddr_in6 *)&addr);
    if (rc != 0)
        return rc;
    return uv_tcp_bind(&server->listener, (const struct sockaddr *)&addr, 0);
}

int http_server_start(uv_loop_t *loop, const struct http_server_config *cfg,
                      struct http_server **out)
{
    struct http_server *server = pt_xcalloc(1, sizeof(*server));
    server->loop = loop;
    server->cfg = *cfg;
    update_date(server);

    uv_tcp_init(loop, &server->listener);
    server->listener.data = server;
    server->handles_open = 1;
    int rc = bind_address(server);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&server->listener, cfg->backlog, on_connection);
    if (rc != 0)
        goto out_close_listener;

    uv_timer_init(loop, &server->date_timer);
    server->date_timer.data = server;
    server->handles_open++;
    uv_update_time(loop);
    uv_timer_start(&server->date_timer, on_date_timer, ms_to_next_second(), 0);
    *out = server;
    return 0;

out_close_listener:
    /* The stop callback is NULL: the server is freed silently on close. */
    server->stopping = true;
    uv_close((uv_handle_t *)&server->listener, on_server_handle_close);
    return rc;
}

int http_server_port(const struct http_server *server)
{
    struct sockaddr_storage addr;
    int len = sizeof(addr);
    if (uv_tcp_getsockname(&server->listener, (struct sockaddr *)&addr, &len) != 0)
        return -1;
    if (addr.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&addr)->sin6_port);
    return ntohs(((struct sockaddr_in *)&addr)->sin_port);
}

size_t http_server_connections(const struct http_server *server)
{
    return server->num_conns;
}

void http_server_stop(struct http_server *server, http_server_stop_cb cb)
{
    if (server->stopping)
        return;
    server->stopping = true;
    server->stop_cb = cb;
    uv_close((uv_handle_t *)&server->listener, on_server_handle_close);
    uv_close((uv_handle_t *)&server->date_timer, on_server_handle_close);
    /* Idle connections close now; busy ones close after their current answer. */
    struct http_conn *next;
    for (struct http_conn *c = server->conns; c != NULL; c = next) {
        next = c->next;
        if (c->state == HTTP_CONN_STREAMING)
            http__conn_shutdown_stream(c);
        else if (http__conn_is_idle(c))
            http__conn_close(c);
        else
            c->close_after_write = true;
    }
}
