/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * conn_test.c -- the connection code of src/http (conn.c, server.c) driven by
 * a real libuv loop and real loopback sockets, through every way a connection
 * can close while it is busy: a reset while a handler holds the request, while
 * a job on the thread pool writes into the request's arena (the pipelined
 * request, then reset, of issue 8), while an answer is being flushed, while
 * streaming; and the graceful stop, which must be bounded whatever the client
 * does and must still finish a partly received head.
 *
 * The client's reset is made deterministic by doing it from inside the
 * server's request callback (SO_LINGER {1, 0} and close on the client's
 * socket: the RST is queued on the server's socket before its next write).
 * Every test counts callbacks, stops the server, runs the loop dry and checks
 * that uv_loop_close() returns 0 (every handle closed); AddressSanitizer checks
 * every byte touched.
 *
 * Run: make SANITIZE=address,undefined build/san/tests/unit/http/conn_test &&
 *      build/san/tests/unit/http/conn_test
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "http/http.h"

/* Generous: sanitized builds on a loaded machine. Conditions are waited for, never times. */
#define WAIT_MS 20000

enum mode {
    MODE_SYNC,            /* answer at once */
    MODE_SUSPEND,         /* keep the request; the test answers later */
    MODE_RESET_THEN_WORK, /* request 1: reset the client, answer; request 2: a pool job */
    MODE_STREAM,          /* take the connection as a stream */
    MODE_BIG,             /* a 4 MiB answer */
};

struct fixture {
    uv_loop_t loop;
    uv_timer_t tick; /* keeps uv_run(ONCE) returning */
    struct http_server *server;
    int port;
    enum mode mode;
    int client_fd; /* the test's client, -1 when closed */
    int requests;  /* on_request calls */
    int depth;     /* on_request nesting: must never exceed 1 */
    int max_depth;
    struct http_request *held; /* a suspended request */
    int aborts;                /* abort callbacks */
    int respond_rc;            /* the result of the late http_respond */
    bool responded;
    /* MODE_RESET_THEN_WORK */
    uv_work_t work;
    uv_sem_t release; /* lets the job finish */
    char *job_buf;    /* in the request's arena */
    bool job_done;
    /* MODE_STREAM */
    struct http_stream *stream;
    int stream_closes;
    bool in_stream_call;    /* inside an http_stream_* call made by the test */
    bool close_inside_call; /* on_close ran inside such a call: forbidden */
    int stopped;
};

static void on_tick(uv_timer_t *t)
{
    (void)t;
}

/* Run the loop until *flag becomes nonzero or the deadline passes. */
static bool run_until(struct fixture *f, const int *flag)
{
    uint64_t end = uv_now(&f->loop) + WAIT_MS;
    while (*flag == 0 && uv_now(&f->loop) < end)
        uv_run(&f->loop, UV_RUN_ONCE);
    return *flag != 0;
}

static void reset_client(struct fixture *f)
{
    struct linger lg = {1, 0};
    setsockopt(f->client_fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    close(f->client_fd);
    f->client_fd = -1;
}

static int connect_client(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static void send_all(int fd, const char *s)
{
    size_t n = strlen(s);
    assert_int_equal(send(fd, s, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* What the client has received so far (non-blocking), appended to buf. */
static size_t recv_some(int fd, char *buf, size_t cap, size_t len)
{
    for (;;) {
        ssize_t n = recv(fd, buf + len, cap - 1 - len, MSG_DONTWAIT);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    return len;
}

/* ------------------------------------------------------------- callbacks */

static void on_abort(struct http_request *req, void *data)
{
    struct fixture *f = data;
    (void)req;
    f->aborts++;
}

static void on_work(uv_work_t *w)
{
    struct fixture *f = pt_container_of(w, struct fixture, work);
    uv_sem_wait(&f->release);
    /* Writes into the request's arena: must still be alive (ASan would tell). */
    memset(f->job_buf, 'x', 4096);
}

static void on_after_work(uv_work_t *w, int status)
{
    struct fixture *f = pt_container_of(w, struct fixture, work);
    (void)status;
    f->job_done = true;
    assert_int_equal(f->job_buf[4095], 'x');
    f->respond_rc = http_respond(f->held, 200, "text/plain", PT_STR_NULL, PT_STR("late"));
    f->held = NULL;
    f->responded = true;
}

static ssize_t on_stream_read(struct http_stream *s, struct pt_str data)
{
    (void)s;
    return (ssize_t)data.len;
}

static void on_stream_close(struct http_stream *s)
{
    struct fixture *f = http_stream_data(s);
    f->stream_closes++;
    if (f->in_stream_call)
        f->close_inside_call = true;
    f->stream = NULL;
}

static void on_request(struct http_request *req)
{
    struct fixture *f = req->data;
    f->requests++;
    if (++f->depth > f->max_depth)
        f->max_depth = f->depth;
    switch (f->mode) {
    case MODE_SYNC:
        http_respond(req, 200, "text/plain", PT_STR_NULL, PT_STR("ok"));
        break;
    case MODE_SUSPEND:
        f->held = req;
        http_request_on_abort(req, on_abort, f);
        break;
    case MODE_RESET_THEN_WORK:
        if (f->requests == 1) {
            reset_client(f); /* the RST is now queued on the server's socket */
            http_respond(req, 200, "text/plain", PT_STR_NULL, PT_STR("first"));
        } else {
            f->held = req;
            f->job_buf = pt_arena_alloc(req->arena, 4096);
            http_request_on_abort(req, on_abort, f);
            assert_int_equal(uv_queue_work(&f->loop, &f->work, on_work, on_after_work), 0);
        }
        break;
    case MODE_STREAM: {
        static const struct http_stream_handlers h = {
            .on_read = on_stream_read,
            .on_close = on_stream_close,
            .on_shutdown = NULL,
        };
        assert_int_equal(
            http_stream_start(req, 200, "text/plain", PT_STR_NULL, true, &h, f, &f->stream), 0);
        break;
    }
    case MODE_BIG: {
        size_t n = 4 << 20;
        char *body = malloc(n);
        memset(body, 'b', n);
        http_respond(req, 200, "text/plain", PT_STR_NULL, pt_str_make(body, n));
        free(body);
        break;
    }
    }
    f->depth--;
}

static void on_stopped(void *data)
{
    struct fixture *f = data;
    f->stopped++;
}

/* ------------------------------------------------------------- fixture */

static void start(struct fixture *f, enum mode mode, uint64_t graceful_ms)
{
    memset(f, 0, sizeof(*f));
    f->client_fd = -1;
    f->mode = mode;
    assert_int_equal(uv_loop_init(&f->loop), 0);
    uv_timer_init(&f->loop, &f->tick);
    uv_timer_start(&f->tick, on_tick, 5, 5);
    uv_sem_init(&f->release, 0);
    struct http_server_config cfg;
    http_server_config_init(&cfg);
    cfg.port = 0;
    cfg.graceful_timeout_ms = graceful_ms;
    cfg.on_request = on_request;
    cfg.data = f;
    assert_int_equal(http_server_start(&f->loop, &cfg, &f->server), 0);
    f->port = http_server_port(f->server);
    assert_true(f->port > 0);
}

/* Stop the server, run the loop dry, and check that nothing is left open. */
static void finish(struct fixture *f)
{
    if (f->server != NULL)
        http_server_stop(f->server, on_stopped, f);
    assert_true(run_until(f, &f->stopped));
    assert_int_equal(f->stopped, 1);
    if (f->client_fd >= 0)
        close(f->client_fd);
    uv_close((uv_handle_t *)&f->tick, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    uv_sem_destroy(&f->release);
    assert_int_equal(f->max_depth, 1); /* the engine never re-entered the callback */
}

/* ------------------------------------------------------------- tests */

/* Issue 8's crash: answer 1 flushed into a reset while request 2 is on the pool. */
static void test_reset_while_job_runs(void **state)
{
    (void)state;
    struct fixture f;
    start(&f, MODE_RESET_THEN_WORK, 20000);
    f.client_fd = connect_client(f.port);
    send_all(f.client_fd, "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_true(run_until(&f, &f.aborts));
    assert_int_equal(f.requests, 2);
    assert_false(f.job_done);
    /* The connection is closed but not freed: the job still owns its request. */
    assert_int_equal(http_server_connections(f.server), 1);
    uv_sem_post(&f.release);
    int done = 0;
    while (!f.responded && !done)
        done = !run_until(&f, (const int *)&f.job_done);
    assert_true(f.responded);
    assert_int_equal(f.respond_rc, PT_E_CLOSED);
    assert_int_equal(f.aborts, 1);
    struct http_server_stats st;
    http_server_stats(f.server, &st);
    assert_int_equal(st.aborted, 1);
    finish(&f);
}

/* A handler holds the request (as a slow database call would) and the client resets. */
static void test_reset_while_handler_holds_request(void **state)
{
    (void)state;
    struct fixture f;
    start(&f, MODE_SUSPEND, 20000);
    f.client_fd = connect_client(f.port);
    send_all(f.client_fd, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_true(run_until(&f, &f.requests));
    /* Nothing is read while a request is held: the reset is seen by the next write. */
    reset_client(&f);
    f.respond_rc = http_respond(f.held, 200, "text/plain", PT_STR_NULL, PT_STR("late"));
    assert_int_equal(f.respond_rc, 0); /* accepted: the write fails from the loop */
    f.held = NULL;
    finish(&f);
    assert_int_equal(f.aborts, 0); /* answered before the close: no abort */
}

/* The graceful deadline closes a connection whose request is held; the answer is dropped. */
static void test_graceful_deadline_aborts_held_request(void **state)
{
    (void)state;
    struct fixture f;
    start(&f, MODE_SUSPEND, 200);
    f.client_fd = connect_client(f.port);
    send_all(f.client_fd, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_true(run_until(&f, &f.requests));
    http_server_stop(f.server, on_stopped, &f);
    assert_true(run_until(&f, &f.aborts));
    assert_int_equal(f.stopped, 0); /* held: the server waits for the answer */
    assert_int_equal(http_respond(f.held, 200, "text/plain", PT_STR_NULL, PT_STR("x")),
                     PT_E_CLOSED);
    f.held = NULL;
    f.server = NULL; /* stopped already */
    finish(&f);
}

/* A stream whose client resets: on_close runs once, from the loop, never inside a call. */
static void test_reset_while_streaming(void **state)
{
    (void)state;
    struct fixture f;
    start(&f, MODE_STREAM, 20000);
    f.client_fd = connect_client(f.port);
    send_all(f.client_fd, "GET /s HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_true(run_until(&f, &f.requests));
    assert_non_null(f.stream);
    reset_client(&f);
    /* Writes after the reset: one of them fails inside the call; on_close must wait. */
    for (int i = 0; i < 50 && f.stream != NULL; i++) {
        f.in_stream_call = true;
        char line[64];
        snprintf(line, sizeof(line), "data: %d\n\n", i);
        http_stream_write(f.stream, pt_str_c(line));
        struct pt_shared *m = pt_shared_new("data: latest\n\n", 14);
        http_stream_send_latest(f.stream, m);
        pt_shared_unref(m);
        f.in_stream_call = false;
        uv_run(&f.loop, UV_RUN_NOWAIT);
    }
    assert_true(run_until(&f, &f.stream_closes));
    assert_int_equal(f.stream_closes, 1);
    assert_false(f.close_inside_call);
    finish(&f);
    assert_int_equal(f.stream_closes, 1);
}

/* A client that stops reading a large answer, then resets: the write fails, nothing leaks. */
static void test_reset_during_flush(void **state)
{
    (void)state;
    struct fixture f;
    start(&f, MODE_BIG, 20000);
    f.client_fd = connect_client(f.port);
    int small = 4096;
    setsockopt(f.client_fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    send_all(f.client_fd,
             "GET /big HTTP/1.1\r\nHost: x\r\n\r\nGET /big HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_true(run_until(&f, &f.requests));
    for (int i = 0; i < 20; i++)
        uv_run(&f.loop, UV_RUN_NOWAIT);
    reset_client(&f);
    struct http_server_stats st;
    int gone = 0;
    uint64_t end = uv_now(&f.loop) + WAIT_MS;
    while (!gone && uv_now(&f.loop) < end) {
        uv_run(&f.loop, UV_RUN_ONCE);
        http_server_stats(f.server, &st);
        gone = st.connections == 0;
    }
    assert_true(gone);
    finish(&f);
}

/* A stream whose reader never reads cannot hold the stop past the graceful timeout. */
static void test_stop_is_bounded_by_a_stuck_stream(void **state)
{
    (void)state;
    struct fixture f;
    start(&f, MODE_STREAM, 300);
    f.client_fd = connect_client(f.port);
    int small = 2048;
    setsockopt(f.client_fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    send_all(f.client_fd, "GET /s HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_true(run_until(&f, &f.requests));
    char chunk[8192];
    memset(chunk, 'z', sizeof(chunk));
    for (int i = 0; i < 64 && f.stream != NULL; i++)
        http_stream_write(f.stream, pt_str_make(chunk, sizeof(chunk)));
    assert_non_null(f.stream);
    assert_false(http_stream_is_drained(f.stream));
    http_server_stop(f.server, on_stopped, &f);
    f.server = NULL;
    assert_true(run_until(&f, &f.stopped));
    assert_int_equal(f.stream_closes, 1);
    finish(&f);
}

/* At the stop, a partly received head is waited for and answered, then closed. */
static void test_stop_finishes_a_partial_head(void **state)
{
    (void)state;
    struct fixture f;
    start(&f, MODE_SYNC, 20000);
    int idle = connect_client(f.port); /* sent nothing: closed at once */
    f.client_fd = connect_client(f.port);
    send_all(f.client_fd, "GET /late HTTP/1.1\r\nHo");
    for (int i = 0; i < 20; i++)
        uv_run(&f.loop, UV_RUN_NOWAIT);
    http_server_stop(f.server, on_stopped, &f);
    f.server = NULL;
    for (int i = 0; i < 20; i++)
        uv_run(&f.loop, UV_RUN_NOWAIT);
    assert_int_equal(f.stopped, 0);
    send_all(f.client_fd, "st: x\r\n\r\n");
    assert_true(run_until(&f, &f.stopped));
    char buf[4096];
    size_t len = recv_some(f.client_fd, buf, sizeof(buf), 0);
    assert_true(len > 0);
    assert_non_null(strstr(buf, "HTTP/1.1 200 OK"));
    assert_non_null(strstr(buf, "Connection: close"));
    assert_int_equal(f.requests, 1);
    char one;
    assert_int_equal(recv(idle, &one, 1, MSG_DONTWAIT), 0); /* closed, nothing sent */
    close(idle);
    finish(&f);
}

/* An answer given later from a callback: the next pipelined request is parsed from the loop. */
static void on_late_timer(uv_timer_t *t)
{
    struct fixture *f = t->data;
    struct http_request *req = f->held;
    f->held = NULL;
    f->mode = MODE_SYNC; /* the pipelined request is answered at once */
    http_respond(req, 200, "text/plain", PT_STR_NULL, PT_STR("late"));
    assert_int_equal(f->requests, 1); /* not parsed from within http_respond */
    f->responded = true;
}

static void test_async_answer_resumes_from_the_loop(void **state)
{
    (void)state;
    struct fixture f;
    start(&f, MODE_SUSPEND, 20000);
    f.client_fd = connect_client(f.port);
    send_all(f.client_fd, "GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_true(run_until(&f, &f.requests));
    uv_timer_t late;
    uv_timer_init(&f.loop, &late);
    late.data = &f;
    uv_timer_start(&late, on_late_timer, 1, 0);
    int two = 0;
    uint64_t end = uv_now(&f.loop) + WAIT_MS;
    while (!two && uv_now(&f.loop) < end) {
        uv_run(&f.loop, UV_RUN_ONCE);
        two = f.requests == 2;
    }
    assert_true(two);
    char buf[4096];
    size_t len = 0;
    int both = 0;
    end = uv_now(&f.loop) + WAIT_MS;
    while (!both && uv_now(&f.loop) < end) {
        uv_run(&f.loop, UV_RUN_ONCE);
        len = recv_some(f.client_fd, buf, sizeof(buf), len);
        both = strstr(buf, "late") != NULL && strstr(buf, "\r\n\r\nok") != NULL;
    }
    assert_true(both);
    assert_true(strstr(buf, "late") < strstr(buf, "\r\n\r\nok")); /* in order */
    uv_close((uv_handle_t *)&late, NULL);
    finish(&f);
}

/* Out of descriptors: counted and shed, the loop does not spin, serving resumes. */
static void test_emfile_is_counted(void **state)
{
    (void)state;
    struct fixture f;
    start(&f, MODE_SYNC, 20000);
    /* One pipe each way: with a single pipe the child could read back its own byte. */
    int up[2], down[2];
    assert_int_equal(pipe(up), 0);
    assert_int_equal(pipe(down), 0);
    pid_t child = fork();
    if (child == 0) {
        /* The clients live in another process, with descriptors of their own. */
        /* No cmocka assertion here: a failure must end the child, not run the suite on. */
        int fds[200];
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)f.port)};
        inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
        for (int i = 0; i < 200; i++) {
            fds[i] = socket(AF_INET, SOCK_STREAM, 0);
            if (fds[i] < 0 || connect(fds[i], (struct sockaddr *)&a, sizeof(a)) != 0)
                _exit(1);
        }
        char go;
        if (write(up[1], "c", 1) != 1 || read(down[0], &go, 1) != 1)
            _exit(1);
        for (int i = 0; i < 200; i++)
            close(fds[i]);
        _exit(0);
    }
    close(up[1]); /* a child that dies ends the read below */
    close(down[0]);
    char c;
    assert_int_equal(read(up[0], &c, 1), 1);
    struct rlimit old, low;
    getrlimit(RLIMIT_NOFILE, &old);
    low = old;
    int probe = dup(0);
    low.rlim_cur = (rlim_t)probe + 20; /* room for about 20 connections */
    close(probe);
    setrlimit(RLIMIT_NOFILE, &low);
    struct http_server_stats st = {0};
    uint64_t end = uv_now(&f.loop) + WAIT_MS;
    while (st.refused_emfile == 0 && uv_now(&f.loop) < end) {
        uv_run(&f.loop, UV_RUN_ONCE);
        http_server_stats(f.server, &st);
    }
    assert_true(st.refused_emfile > 0);
    assert_true(st.accepted > 0);
    assert_int_equal(write(down[1], "g", 1), 1);
    int status;
    waitpid(child, &status, 0);
    setrlimit(RLIMIT_NOFILE, &old);
    close(up[0]);
    close(down[1]);
    /* Serving resumes once descriptors are back. */
    f.client_fd = connect_client(f.port);
    send_all(f.client_fd, "GET /after HTTP/1.1\r\nHost: x\r\n\r\n");
    char buf[4096];
    size_t len = 0;
    int ok = 0;
    end = uv_now(&f.loop) + WAIT_MS;
    while (!ok && uv_now(&f.loop) < end) {
        uv_run(&f.loop, UV_RUN_ONCE);
        len = recv_some(f.client_fd, buf, sizeof(buf), len);
        ok = strstr(buf, "\r\n\r\nok") != NULL;
    }
    assert_true(ok);
    finish(&f);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reset_while_job_runs),
        cmocka_unit_test(test_reset_while_handler_holds_request),
        cmocka_unit_test(test_graceful_deadline_aborts_held_request),
        cmocka_unit_test(test_reset_while_streaming),
        cmocka_unit_test(test_reset_during_flush),
        cmocka_unit_test(test_stop_is_bounded_by_a_stuck_stream),
        cmocka_unit_test(test_stop_finishes_a_partial_head),
        cmocka_unit_test(test_async_answer_resumes_from_the_loop),
        cmocka_unit_test(test_emfile_is_counted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
