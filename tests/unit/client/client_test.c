/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * client_test.c -- the asynchronous HTTP client of src/client against a real
 * HTTP/1.1 server written here on the same libuv loop (real loopback sockets):
 * a good answer with its ETag, a 404, a body over the limit, an answer that
 * stalls half-way, a refused connection, a redirect to a forbidden scheme, many
 * fetches at once over a few pooled keep-alive connections, a cancel, and a
 * close with fetches in flight. Every test runs the loop dry and checks that
 * uv_loop_close() returns 0 (no handle left open); ASan checks the rest.
 *
 * Run: make SANITIZE=address,undefined build/san/tests/unit/client/client_test &&
 *      build/san/tests/unit/client/client_test
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client/client.h"

/* Generous: sanitized builds on a loaded machine. Conditions are waited for, never times. */
#define WAIT_MS 30000
#define BIG_BYTES (2u * 1024 * 1024)

/* ------------------------------------------------------------- the server */

struct server {
    uv_loop_t *loop;
    uv_tcp_t listener;
    int port;
    int accepted; /* connections */
    int requests;
    int open; /* connections not yet closed */
};

struct peer {
    uv_tcp_t tcp;
    struct server *s;
    char head[4096];
    size_t len;
};

struct wreq {
    uv_write_t w;
    char *data;
};

static void on_peer_closed(uv_handle_t *h)
{
    struct peer *p = h->data;
    p->s->open--;
    free(p);
}

static void on_written(uv_write_t *w, int status)
{
    (void)status;
    struct wreq *r = (struct wreq *)w;
    free(r->data);
    free(r);
}

static void send_bytes(struct peer *p, const char *data, size_t len)
{
    struct wreq *r = malloc(sizeof(*r));
    r->data = malloc(len);
    memcpy(r->data, data, len);
    uv_buf_t b = uv_buf_init(r->data, (unsigned)len);
    if (uv_write(&r->w, (uv_stream_t *)&p->tcp, &b, 1, on_written) != 0) {
        free(r->data);
        free(r);
    }
}

static void answer(struct peer *p, const char *status, const char *extra, const char *body,
                   size_t body_len)
{
    char head[512];
    int n = snprintf(head, sizeof(head), "HTTP/1.1 %s\r\nContent-Length: %zu\r\n%s\r\n", status,
                     body_len, extra);
    send_bytes(p, head, (size_t)n);
    if (body_len > 0)
        send_bytes(p, body, body_len);
}

/* One request head (path only; the client sends GETs without bodies). */
static void serve_one(struct peer *p, const char *path)
{
    p->s->requests++;
    if (strcmp(path, "/ok") == 0) {
        answer(p, "200 OK", "ETag: \"v1\"\r\nLast-Modified: Tue, 18 Aug 2026 00:00:00 GMT\r\n",
               "hello", 5);
    } else if (strcmp(path, "/big") == 0) {
        char *big = malloc(BIG_BYTES);
        memset(big, 'x', BIG_BYTES);
        answer(p, "200 OK", "", big, BIG_BYTES);
        free(big);
    } else if (strcmp(path, "/stall") == 0) {
        /* Promise 100 bytes, send 10, then nothing. */
        const char *h = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789";
        send_bytes(p, h, strlen(h));
    } else if (strcmp(path, "/redirect") == 0) {
        answer(p, "302 Found", "Location: file:///etc/passwd\r\n", "", 0);
    } else {
        answer(p, "404 Not Found", "", "no", 2);
    }
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    buf->base = malloc(suggested);
    buf->len = suggested;
}

static void on_peer_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    struct peer *p = st->data;
    if (n < 0) {
        free(buf->base);
        uv_close((uv_handle_t *)st, on_peer_closed);
        return;
    }
    size_t take =
        (size_t)n < sizeof(p->head) - p->len - 1 ? (size_t)n : sizeof(p->head) - p->len - 1;
    memcpy(p->head + p->len, buf->base, take);
    p->len += take;
    p->head[p->len] = '\0';
    free(buf->base);
    char *end;
    while ((end = strstr(p->head, "\r\n\r\n")) != NULL) {
        char path[256] = "";
        sscanf(p->head, "GET %255s", path);
        serve_one(p, path);
        size_t used = (size_t)(end + 4 - p->head);
        memmove(p->head, end + 4, p->len - used + 1);
        p->len -= used;
    }
}

static void on_connection(uv_stream_t *l, int status)
{
    struct server *s = l->data;
    if (status < 0)
        return;
    struct peer *p = calloc(1, sizeof(*p));
    p->s = s;
    uv_tcp_init(s->loop, &p->tcp);
    p->tcp.data = p;
    if (uv_accept(l, (uv_stream_t *)&p->tcp) != 0) {
        uv_close((uv_handle_t *)&p->tcp, on_peer_closed);
        s->open++;
        return;
    }
    s->accepted++;
    s->open++;
    uv_read_start((uv_stream_t *)&p->tcp, alloc_cb, on_peer_read);
}

static void server_start(struct server *s, uv_loop_t *loop)
{
    memset(s, 0, sizeof(*s));
    s->loop = loop;
    uv_tcp_init(loop, &s->listener);
    s->listener.data = s;
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", 0, &a);
    assert_int_equal(uv_tcp_bind(&s->listener, (struct sockaddr *)&a, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&s->listener, 128, on_connection), 0);
    struct sockaddr_in got;
    int len = sizeof(got);
    uv_tcp_getsockname(&s->listener, (struct sockaddr *)&got, &len);
    s->port = ntohs(got.sin_port);
}

static void close_peer(uv_handle_t *h, void *arg)
{
    (void)arg;
    /* The listener is closing already: every other TCP handle is a peer. */
    if (h->type == UV_TCP && !uv_is_closing(h))
        uv_close(h, on_peer_closed);
}

/* ------------------------------------------------------------- fixture */

struct fixture {
    uv_loop_t loop;
    uv_timer_t tick; /* keeps uv_run(ONCE) returning: it runs due timers, then waits */
    struct server server;
    struct client *client;
    int done; /* callbacks */
    int closed;
    struct client_result last;
    char url[128];
};

static void url(struct fixture *f, const char *path)
{
    snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%d%s", f->server.port, path);
}

static void on_done(struct client_result *r, void *data)
{
    struct fixture *f = data;
    f->done++;
    pt_buf_deinit(&f->last.body);
    f->last = *r;
    r->body = (struct pt_buf){0}; /* taken */
}

static void on_closed(void *data)
{
    struct fixture *f = data;
    f->closed++;
}

static void on_tick(uv_timer_t *t)
{
    (void)t;
}

static void setup(struct fixture *f)
{
    memset(f, 0, sizeof(*f));
    assert_int_equal(uv_loop_init(&f->loop), 0);
    uv_timer_init(&f->loop, &f->tick);
    uv_timer_start(&f->tick, on_tick, 10, 10);
    server_start(&f->server, &f->loop);
    assert_int_equal(client_new(&f->loop, NULL, &f->client), 0);
}

static bool run_until(struct fixture *f, const int *counter, int want)
{
    uint64_t end = uv_now(&f->loop) + WAIT_MS;
    while (*counter < want && uv_now(&f->loop) < end)
        uv_run(&f->loop, UV_RUN_ONCE);
    return *counter >= want;
}

static void listener_closed(uv_handle_t *h)
{
    (void)h;
}

static void teardown(struct fixture *f)
{
    if (f->client != NULL) {
        client_close(f->client, on_closed, f);
        f->client = NULL;
        assert_true(run_until(f, &f->closed, 1));
    }
    uv_close((uv_handle_t *)&f->tick, NULL);
    uv_close((uv_handle_t *)&f->server.listener, listener_closed);
    uv_walk(&f->loop, close_peer, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(f->server.open, 0);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    pt_buf_deinit(&f->last.body);
}

static void get(struct fixture *f, const char *path, const struct client_request *base)
{
    url(f, path);
    struct client_request req = base != NULL ? *base : (struct client_request){0};
    req.url = f->url;
    assert_int_equal(client_get(f->client, &req, on_done, f, NULL), 0);
}

/* ------------------------------------------------------------- tests */

static void test_ok_with_validators(void **state)
{
    (void)state;
    struct fixture f;
    setup(&f);
    const char *hdr[] = {"If-None-Match: \"v0\"", NULL};
    struct client_request req = {.headers = hdr};
    get(&f, "/ok", &req);
    assert_int_equal(f.done, 0); /* never from inside client_get */
    assert_true(run_until(&f, &f.done, 1));
    assert_int_equal(f.last.error, 0);
    assert_int_equal(f.last.status, 200);
    assert_int_equal(f.last.body.len, 5);
    assert_memory_equal(f.last.body.data, "hello", 5);
    assert_string_equal(f.last.etag, "\"v1\"");
    assert_string_equal(f.last.last_modified, "Tue, 18 Aug 2026 00:00:00 GMT");
    assert_int_equal(client_pending(f.client), 0);
    teardown(&f);
}

static void test_404_is_an_answer(void **state)
{
    (void)state;
    struct fixture f;
    setup(&f);
    get(&f, "/missing", NULL);
    assert_true(run_until(&f, &f.done, 1));
    assert_int_equal(f.last.error, 0);
    assert_int_equal(f.last.status, 404);
    teardown(&f);
}

static void test_body_over_the_limit(void **state)
{
    (void)state;
    struct fixture f;
    setup(&f);
    struct client_request req = {.max_bytes = BIG_BYTES / 2};
    get(&f, "/big", &req);
    assert_true(run_until(&f, &f.done, 1));
    assert_int_equal(f.last.error, PT_E_BODY_TOO_LARGE);
    assert_int_equal(f.last.body.len, 0);
    assert_true(strlen(f.last.message) > 0);
    /* The same limit with room: the whole body. */
    req.max_bytes = BIG_BYTES;
    get(&f, "/big", &req);
    assert_true(run_until(&f, &f.done, 2));
    assert_int_equal(f.last.error, 0);
    assert_int_equal(f.last.body.len, BIG_BYTES);
    teardown(&f);
}

static void test_stalled_answer_times_out(void **state)
{
    (void)state;
    struct fixture f;
    setup(&f);
    struct client_request req = {.timeout_ms = 1500, .stall_timeout_ms = 1000};
    get(&f, "/stall", &req);
    assert_true(run_until(&f, &f.done, 1));
    assert_int_equal(f.last.error, PT_E_TIMEOUT);
    assert_true(f.last.seconds >= 0.9);
    teardown(&f);
}

static void test_refused_connection(void **state)
{
    (void)state;
    struct fixture f;
    setup(&f);
    /* A port that was just free: bind, read its number, close. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    socklen_t len = sizeof(a);
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    snprintf(f.url, sizeof(f.url), "http://127.0.0.1:%d/ok", ntohs(a.sin_port));
    struct client_request req = {.url = f.url};
    assert_int_equal(client_get(f.client, &req, on_done, &f, NULL), 0);
    assert_true(run_until(&f, &f.done, 1));
    assert_int_equal(f.last.error, PT_E_INVALID);
    assert_int_equal(f.last.status, 0);
    teardown(&f);
}

static void test_redirect_to_another_scheme_is_refused(void **state)
{
    (void)state;
    struct fixture f;
    setup(&f);
    get(&f, "/redirect", NULL);
    assert_true(run_until(&f, &f.done, 1));
    assert_int_equal(f.last.error, PT_E_INVALID);
    assert_int_equal(f.last.body.len, 0);
    struct client_request req = {.url = "file:///etc/passwd"};
    int rc = client_get(f.client, &req, on_done, &f, NULL);
    if (rc == 0) /* refused when the transfer starts */
        assert_true(run_until(&f, &f.done, 2));
    assert_true(rc == PT_E_INVALID || f.last.error == PT_E_INVALID);
    teardown(&f);
}

static void test_many_at_once_share_pooled_connections(void **state)
{
    (void)state;
    struct fixture f;
    setup(&f);
    enum { N = 64 };
    for (int i = 0; i < N; i++)
        get(&f, "/ok", NULL);
    assert_int_equal(client_pending(f.client), N);
    assert_true(run_until(&f, &f.done, N));
    assert_int_equal(f.server.requests, N);
    /* At most 4 connections to one host, reused by keep-alive. */
    assert_true(f.server.accepted >= 1);
    assert_true(f.server.accepted <= 4);
    int before = f.server.accepted;
    get(&f, "/ok", NULL);
    assert_true(run_until(&f, &f.done, N + 1));
    assert_int_equal(f.server.accepted, before); /* the pool answered */
    teardown(&f);
}

static void test_cancel_and_close_with_fetches_in_flight(void **state)
{
    (void)state;
    struct fixture f;
    setup(&f);
    struct client_fetch *one = NULL;
    url(&f, "/stall");
    struct client_request req = {.url = f.url};
    assert_int_equal(client_get(f.client, &req, on_done, &f, &one), 0);
    assert_non_null(one);
    get(&f, "/stall", NULL);
    assert_true(run_until(&f, &f.server.requests, 2));
    client_fetch_cancel(one);
    assert_int_equal(client_pending(f.client), 1);
    client_close(f.client, on_closed, &f);
    f.client = NULL;
    assert_true(run_until(&f, &f.closed, 1));
    assert_int_equal(f.done, 0); /* neither callback ran */
    teardown(&f);
}

/* Closing the client from its own callback. */
static void on_done_close(struct client_result *r, void *data)
{
    struct fixture *f = data;
    on_done(r, data);
    client_close(f->client, on_closed, f);
    f->client = NULL;
}

static void test_close_from_a_callback(void **state)
{
    (void)state;
    struct fixture f;
    setup(&f);
    url(&f, "/ok");
    struct client_request req = {.url = f.url};
    assert_int_equal(client_get(f.client, &req, on_done_close, &f, NULL), 0);
    assert_int_equal(client_get(f.client, &req, on_done_close, &f, NULL), 0);
    assert_true(run_until(&f, &f.closed, 1));
    assert_int_equal(f.done, 1); /* the second was abandoned with the client */
    teardown(&f);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ok_with_validators),
        cmocka_unit_test(test_404_is_an_answer),
        cmocka_unit_test(test_body_over_the_limit),
        cmocka_unit_test(test_stalled_answer_times_out),
        cmocka_unit_test(test_refused_connection),
        cmocka_unit_test(test_redirect_to_another_scheme_is_refused),
        cmocka_unit_test(test_many_at_once_share_pooled_connections),
        cmocka_unit_test(test_cancel_and_close_with_fetches_in_flight),
        cmocka_unit_test(test_close_from_a_callback),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
