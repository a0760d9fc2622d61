/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * conn.c -- one client connection of the http layer: reading, parsing,
 * dispatching requests in order, writing answers, timeouts and closing.
 *
 * The state machine (enum http_conn_state) changes only in process_input(),
 * finish_request() and fail(). Invariants: at most one request is dispatched
 * at a time, so answers leave in request order; while it is dispatched the
 * input buffer is not read into (its slices stay valid); all answers produced
 * during one pass over the input go out in one uv_write.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>

#include "http/internal.h"

#define READ_CHUNK (16 * 1024)
/* Stop parsing further pipelined requests while this much output is unsent. */
#define OUT_HIGH_WATER (1024 * 1024)
/* Hard cap on a connection's pending output: beyond it the connection is closed. */
#define OUT_LIMIT (64 * 1024 * 1024)

static void process_input(struct http_conn *conn);
static void flush_output(struct http_conn *conn);
static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);
static void deliver_stream_input(struct http_conn *conn);
static void release_idle(struct http_conn *conn);

/* ------------------------------------------------------------- closing */

static void on_conn_handle_close(uv_handle_t *handle)
{
    struct http_conn *conn = handle->data;
    if (--conn->handles_open > 0)
        return;
    struct http_server *server = conn->server;
    pt_shared_unref(conn->latest);
    pt_buf_deinit(&conn->in);
    pt_buf_deinit(&conn->out);
    pt_buf_deinit(&conn->out_flight);
    if (conn->arena != NULL)
        http__arena_give(server, conn->arena);
    free(conn);
    http__server_conn_closed(server);
}

void http__conn_close(struct http_conn *conn)
{
    if (conn->closed)
        return;
    conn->closed = true;
    if (conn->stream.on_close != NULL && !conn->stream_close_notified) {
        conn->stream_close_notified = true;
        conn->stream.on_close((struct http_stream *)conn);
    }
    struct http_server *server = conn->server;
    if (conn->prev != NULL)
        conn->prev->next = conn->next;
    else
        server->conns = conn->next;
    if (conn->next != NULL)
        conn->next->prev = conn->prev;
    conn->prev = conn->next = NULL;
    uv_close((uv_handle_t *)&conn->tcp, on_conn_handle_close);
    uv_close((uv_handle_t *)&conn->timer, on_conn_handle_close);
}

bool http__conn_is_idle(const struct http_conn *conn)
{
    return (conn->state == HTTP_CONN_IDLE || conn->state == HTTP_CONN_READING_HEAD) &&
           !conn->writing && conn->out.len == 0;
}

/* Close now if nothing more will be written. */
static void close_if_done(struct http_conn *conn)
{
    if (conn->state == HTTP_CONN_CLOSING && !conn->writing && conn->out.len == 0)
        http__conn_close(conn);
}

/* ------------------------------------------------------------- timers */

static void on_timer(uv_timer_t *timer);

/*
 * Arm the connection's timer for its deadline. The timer is restarted only when
 * the deadline moves earlier than the armed time; a later deadline is noticed
 * when the timer fires, so a busy keep-alive connection does not touch the timer
 * heap on every request.
 */
static void arm_timer(struct http_conn *conn)
{
    if (conn->closed || conn->deadline_ms == 0)
        return;
    if (conn->timer_due_ms != 0 && conn->timer_due_ms <= conn->deadline_ms)
        return;
    uint64_t now = uv_now(conn->server->loop);
    uint64_t delay = conn->deadline_ms > now ? conn->deadline_ms - now : 0;
    conn->timer_due_ms = now + delay;
    uv_timer_start(&conn->timer, on_timer, delay, 0);
}

static void set_deadline(struct http_conn *conn, uint64_t timeout_ms)
{
    conn->deadline_ms = uv_now(conn->server->loop) + timeout_ms;
}

/* ------------------------------------------------------------- output */

static const struct {
    int status;
    const char *reason;
} reasons[] = {
    {100, "Continue"},
    {101, "Switching Protocols"},
    {200, "OK"},
    {201, "Created"},
    {202, "Accepted"},
    {204, "No Content"},
    {301, "Moved Permanently"},
    {302, "Found"},
    {303, "See Other"},
    {304, "Not Modified"},
    {307, "Temporary Redirect"},
    {308, "Permanent Redirect"},
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {406, "Not Acceptable"},
    {408, "Request Timeout"},
    {409, "Conflict"},
    {411, "Length Required"},
    {413, "Content Too Large"},
    {414, "URI Too Long"},
    {415, "Unsupported Media Type"},
    {422, "Unprocessable Content"},
    {426, "Upgrade Required"},
    {429, "Too Many Requests"},
    {431, "Request Header Fields Too Large"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {503, "Service Unavailable"},
    {505, "HTTP Version Not Supported"},
};

const char *http_status_reason(int status)
{
    for (size_t i = 0; i < PT_ARRAY_SIZE(reasons); i++)
        if (reasons[i].status == status)
            return reasons[i].reason;
    return "Unknown";
}

static void on_write_done(uv_write_t *wr, int status)
{
    struct http_conn *conn = pt_container_of(wr, struct http_conn, write_req);
    conn->writing = false;
    conn->out_flight.len = 0;
    pt_shared_unref(conn->latest_flight);
    conn->latest_flight = NULL;
    if (conn->closed)
        return;
    if (conn->state == HTTP_CONN_STREAMING)
        conn->deadline_ms = 0; /* progress: the stall clock stops */
    else if (conn->paused)
        set_deadline(conn, conn->server->cfg.idle_timeout_ms); /* progress while paused */
    if (status < 0) {
        pt_log_debug("%s: write: %s", conn->peer, uv_strerror(status));
        http__conn_close(conn);
        return;
    }
    if (conn->out.len > 0 || conn->latest != NULL) {
        flush_output(conn);
        /* Written at once (uv_try_write): no callback will come, resume here. */
        if (!conn->writing && !conn->closed && conn->state != HTTP_CONN_PROCESSING)
            process_input(conn);
        return;
    }
    close_if_done(conn);
    if (!conn->closed && conn->state != HTTP_CONN_PROCESSING)
        process_input(conn); /* resume if output pressure had paused parsing */
    else
        release_idle(conn);
}

/* Hand all pending output to the kernel with one write, unless one is in flight. */
static void flush_output(struct http_conn *conn)
{
    if (conn->closed || conn->writing || (conn->out.len == 0 && conn->latest == NULL)) {
        close_if_done(conn);
        return;
    }
    /* Swap buffers: out_flight stays untouched until the write completes. */
    struct pt_buf tmp = conn->out_flight;
    conn->out_flight = conn->out;
    conn->out = tmp;
    conn->out.len = 0;
    uv_buf_t bufs[4];
    unsigned n = 0;
    if (conn->out_flight.len > 0)
        bufs[n++] = uv_buf_init(conn->out_flight.data, (unsigned)conn->out_flight.len);
    if (conn->latest != NULL) {
        /* The shared message is referenced, never copied (one block, many readers). */
        struct pt_shared *m = conn->latest;
        conn->latest = NULL;
        conn->latest_flight = m;
        if (conn->stream_chunked) {
            int len = snprintf(conn->chunk_head, sizeof(conn->chunk_head), "%zx\r\n", m->len);
            bufs[n++] = uv_buf_init(conn->chunk_head, (unsigned)len);
        }
        bufs[n++] = uv_buf_init(m->data, (unsigned)m->len);
        if (conn->stream_chunked)
            bufs[n++] = uv_buf_init((char *)"\r\n", 2);
    }
    /*
     * Try the kernel first: when everything fits (the common case) there is no
     * write request, no callback and no epoll_ctl(POLLOUT) churn, which libuv
     * would otherwise do for every uv_write(). Only a remainder is queued.
     */
    int sent = uv_try_write((uv_stream_t *)&conn->tcp, bufs, n);
    size_t total = 0;
    for (unsigned i = 0; i < n; i++)
        total += bufs[i].len;
    if (sent >= 0 && (size_t)sent == total) {
        conn->out_flight.len = 0;
        pt_shared_unref(conn->latest_flight);
        conn->latest_flight = NULL;
        if (conn->state == HTTP_CONN_STREAMING)
            conn->deadline_ms = 0;
        close_if_done(conn);
        return;
    }
    if (sent < 0 && sent != UV_EAGAIN) {
        pt_shared_unref(conn->latest_flight);
        conn->latest_flight = NULL;
        http__conn_close(conn);
        return;
    }
    unsigned first = 0;
    for (size_t skip = sent > 0 ? (size_t)sent : 0; skip > 0; first++) {
        if (skip < bufs[first].len) {
            bufs[first].base += skip;
            bufs[first].len -= (unsigned)skip;
            break;
        }
        skip -= bufs[first].len;
    }
    conn->writing = true;
    if (conn->state == HTTP_CONN_STREAMING) {
        set_deadline(conn, conn->server->cfg.stall_timeout_ms);
        arm_timer(conn);
    }
    int rc = uv_write(&conn->write_req, (uv_stream_t *)&conn->tcp, bufs + first, n - first,
                      on_write_done);
    if (rc < 0) {
        conn->writing = false;
        pt_shared_unref(conn->latest_flight);
        conn->latest_flight = NULL;
        http__conn_close(conn);
    }
}

/* Decimal digits of v into p; returns the end. */
static char *put_size(char *p, size_t v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    while (n > 0)
        *p++ = tmp[--n];
    return p;
}

static char *put_lit(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

#define PUT_LIT(p, lit) put_lit((p), (lit), sizeof(lit) - 1)

/*
 * The response head, built without printf: it is on every answer's path.
 * 204 and 304 carry no Content-Length (RFC 9110 §8.6: it would describe the
 * resource, not this empty answer).
 */
static int append_head(struct http_conn *conn, int status, const char *content_type,
                       size_t content_length, bool keep_alive, bool http10,
                       struct pt_str extra_headers)
{
    const char *reason = http_status_reason(status);
    size_t reason_len = strlen(reason);
    size_t type_len = content_type != NULL ? strlen(content_type) : 0;
    if (status < 100 || status > 999 || reason_len > 64 || type_len > 256)
        return PT_E_INVALID;
    http__buf_take(conn->server, &conn->out);
    /* Fixed parts, generously: status line, Date, Content-Type, Content-Length, Connection. */
    size_t max = 16 + reason_len + 37 + 16 + type_len + 40 + 26 + extra_headers.len + 2;
    if (pt_buf_reserve(&conn->out, max) < 0)
        return PT_E_NOMEM;
    char *p = conn->out.data + conn->out.len;
    p = PUT_LIT(p, "HTTP/1.1 ");
    *p++ = (char)('0' + status / 100);
    *p++ = (char)('0' + status / 10 % 10);
    *p++ = (char)('0' + status % 10);
    *p++ = ' ';
    p = put_lit(p, reason, reason_len);
    p = PUT_LIT(p, "\r\nDate: ");
    p = put_lit(p, conn->server->date, 29);
    p = PUT_LIT(p, "\r\n");
    if (status != 204 && status != 304) {
        if (content_type != NULL) {
            p = PUT_LIT(p, "Content-Type: ");
            p = put_lit(p, content_type, type_len);
            p = PUT_LIT(p, "\r\n");
        }
        p = PUT_LIT(p, "Content-Length: ");
        p = put_size(p, content_length);
        p = PUT_LIT(p, "\r\n");
    }
    if (!keep_alive)
        p = PUT_LIT(p, "Connection: close\r\n");
    else if (http10)
        p = PUT_LIT(p, "Connection: keep-alive\r\n");
    if (extra_headers.len > 0)
        p = put_lit(p, extra_headers.ptr, extra_headers.len);
    p = PUT_LIT(p, "\r\n");
    conn->out.len = (size_t)(p - conn->out.data);
    return 0;
}

/*
 * No more requests: stop reading, write what is queued, then close. A client
 * that never reads must not keep the connection, so the flush is bounded by
 * the idle timeout.
 */
static void begin_closing(struct http_conn *conn)
{
    conn->state = HTTP_CONN_CLOSING;
    conn->close_after_write = true;
    set_deadline(conn, conn->server->cfg.idle_timeout_ms);
    arm_timer(conn);
    if (conn->reading) {
        uv_read_stop((uv_stream_t *)&conn->tcp);
        conn->reading = false;
    }
    flush_output(conn);
}

/*
 * Answer a protocol error found by the engine itself (malformed head, limits,
 * timeouts) with a small JSON body, then close: after such an error the
 * framing of whatever follows cannot be trusted.
 */
static void fail(struct http_conn *conn, int err)
{
    int status = pt_error_status(err);
    char name[32];
    const char *src = pt_error_name(err);
    size_t i = 0;
    for (; src[i] != '\0' && i < sizeof(name) - 1; i++)
        name[i] = (char)(src[i] >= 'A' && src[i] <= 'Z' ? src[i] + 32 : src[i]);
    name[i] = '\0';
    char body[512];
    int n;
    const struct http_server_config *cfg = &conn->server->cfg;
    size_t limit = 0;
    if (err == PT_E_HEAD_TOO_LARGE)
        limit = cfg->limits.max_head_bytes;
    else if (err == PT_E_URI_TOO_LONG)
        limit = cfg->limits.max_target_bytes;
    else if (err == PT_E_BODY_TOO_LARGE)
        limit = cfg->max_body_bytes;
    if (limit > 0)
        n = snprintf(body, sizeof(body), "{\"error\": \"%s\", \"message\": \"%s (limit %zu bytes)\", "
                     "\"limit\": %zu}\n", name, pt_error_message(err), limit, limit);
    else
        n = snprintf(body, sizeof(body), "{\"error\": \"%s\", \"message\": \"%s\"}\n", name,
                     pt_error_message(err));
    pt_log_info("%s: %d %s", conn->peer, status, pt_error_message(err));
    if (append_head(conn, status, "application/json", (size_t)n, false, false, PT_STR_NULL) == 0)
        pt_buf_append(&conn->out, body, (size_t)n);
    begin_closing(conn);
}

/* ------------------------------------------------------------- requests */

/* Drop the answered request's bytes and pick the next state. */
static void finish_request(struct http_conn *conn)
{
    bool keep_alive = conn->req->head.keep_alive && !conn->close_after_write &&
                      !conn->server->stopping;
    /* Arena cleanups may still read the request's slices: run them first. */
    pt_arena_reset(conn->arena);
    conn->req = NULL;
    pt_buf_consume(&conn->in, conn->head_len + conn->body_len);
    conn->head_len = 0;
    conn->body_len = 0;
    conn->last_len = 0;
    conn->continue_sent = false;
    if (!keep_alive) {
        conn->state = HTTP_CONN_CLOSING;
        conn->close_after_write = true;
        set_deadline(conn, conn->server->cfg.idle_timeout_ms);
        return;
    }
    if (conn->in.len > 0) {
        conn->state = HTTP_CONN_READING_HEAD;
        set_deadline(conn, conn->server->cfg.head_timeout_ms);
    } else {
        conn->state = HTTP_CONN_IDLE;
        set_deadline(conn, conn->server->cfg.idle_timeout_ms);
    }
}

int http_respond(struct http_request *req, int status, const char *content_type,
                 struct pt_str extra_headers, struct pt_str body)
{
    struct http_conn *conn = req->conn;
    bool bodiless = status == 204 || status == 304 || (status >= 100 && status < 200);
    bool keep_alive = req->head.keep_alive && !conn->close_after_write &&
                      !conn->server->stopping;
    int rc = append_head(conn, status, content_type, bodiless ? 0 : body.len, keep_alive,
                         req->head.minor_version == 0, extra_headers);
    if (rc == 0 && !req->is_head && !bodiless)
        rc = pt_buf_append_str(&conn->out, body);
    if (rc < 0)
        conn->close_after_write = true;
    finish_request(conn);
    /* Answered from a callback (not from within process_input): resume here. */
    if (!conn->in_process)
        process_input(conn);
    return rc;
}

uv_loop_t *http_request_loop(const struct http_request *req)
{
    return req->conn->server->loop;
}

void http_request_close_after(struct http_request *req)
{
    req->conn->close_after_write = true;
}

static void dispatch(struct http_conn *conn)
{
    struct http_request *req = conn->req;
    req->conn = conn;
    req->server = conn->server;
    req->data = conn->server->cfg.data;
    req->body = pt_str_make(conn->in.data + conn->head_len, conn->body_len);
    req->arena = conn->arena;
    req->is_head = pt_str_eq(req->head.method, PT_STR("HEAD"));
    req->start_ms = uv_now(conn->server->loop);
    memcpy(req->peer, conn->peer, sizeof(req->peer));
    conn->state = HTTP_CONN_PROCESSING;
    conn->deadline_ms = 0;
    conn->server->cfg.on_request(req);
}

/*
 * Check whether the body of the parsed head has fully arrived, decoding chunked
 * framing in place. Returns 1 when complete, 0 when more is needed, or an error.
 */
static int body_ready(struct http_conn *conn)
{
    const struct http_request_head *head = &conn->req->head;
    size_t max_body = conn->server->cfg.max_body_bytes;
    if (!head->chunked) {
        size_t want = head->content_length > 0 ? (size_t)head->content_length : 0;
        if (conn->in.len - conn->head_len < want)
            return 0;
        conn->body_len = want;
        return 1;
    }
    /* Layout after the head: [decoded body_len bytes][undecoded bytes]. */
    char *raw = conn->in.data + conn->head_len + conn->body_len;
    size_t raw_len = conn->in.len - conn->head_len - conn->body_len;
    size_t decoded = raw_len;
    int64_t rc = http_chunked_decode(&conn->chunked, raw, &decoded);
    if (rc == PT_E_INCOMPLETE || rc >= 0) {
        size_t trailing = rc >= 0 ? (size_t)rc : 0;
        conn->body_len += decoded;
        conn->in.len = conn->head_len + conn->body_len + trailing;
        if (conn->body_len > max_body)
            return PT_E_BODY_TOO_LARGE;
        return rc >= 0 ? 1 : 0;
    }
    return (int)rc;
}

/*
 * Between requests nothing is kept: the input and output buffers and the arena
 * go back to the server's pools, so idle keep-alive connections cost only
 * their struct.
 */
static void release_idle(struct http_conn *conn)
{
    if (conn->closed || conn->state != HTTP_CONN_IDLE || conn->in.len != 0 || conn->writing ||
        conn->out.len != 0)
        return;
    if (conn->arena != NULL) {
        http__arena_give(conn->server, conn->arena);
        conn->arena = NULL;
    }
    http__buf_give(conn->server, &conn->in);
    http__buf_give(conn->server, &conn->out);
    http__buf_give(conn->server, &conn->out_flight);
}

/*
 * One pass: parse and dispatch buffered requests until input runs out, a
 * request is pending, or output back-pressure pauses us; then flush. Returns
 * true when the pass paused but the flush wrote everything at once, so
 * another pass should run now (no write callback will come to resume it).
 */
static bool process_pass(struct http_conn *conn)
{
    const struct http_server_config *cfg = &conn->server->cfg;
    conn->in_process = true;
    bool paused = false; /* stopped by output back-pressure, not for lack of input */
    if (conn->paused) {
        /* Resuming after the client read our backlog: a fresh head timeout. */
        conn->paused = false;
        if (conn->state == HTTP_CONN_READING_HEAD || conn->state == HTTP_CONN_READING_BODY)
            set_deadline(conn, cfg->head_timeout_ms);
    }
    while (!conn->closed && conn->state != HTTP_CONN_PROCESSING &&
           conn->state != HTTP_CONN_CLOSING && conn->state != HTTP_CONN_STREAMING) {
        if (conn->out.len + conn->out_flight.len > OUT_HIGH_WATER) {
            /* Waiting for the client to read, not to send: the idle timeout applies. */
            paused = true;
            conn->paused = true;
            set_deadline(conn, cfg->idle_timeout_ms);
            break;
        }
        if (conn->state != HTTP_CONN_READING_BODY) {
            if (conn->in.len == 0) {
                if (conn->state != HTTP_CONN_IDLE) {
                    conn->state = HTTP_CONN_IDLE;
                    set_deadline(conn, cfg->idle_timeout_ms);
                }
                break;
            }
            if (conn->req == NULL) {
                if (conn->arena == NULL)
                    conn->arena = http__arena_take(conn->server);
                conn->req = pt_arena_alloc(conn->arena, sizeof(*conn->req));
                memset(conn->req, 0, sizeof(*conn->req));
            }
            int rc = http_parse_request(conn->in.data, conn->in.len, conn->last_len,
                                        &cfg->limits, &conn->req->head);
            if (rc == PT_E_INCOMPLETE) {
                conn->last_len = conn->in.len;
                if (conn->state == HTTP_CONN_IDLE) {
                    conn->state = HTTP_CONN_READING_HEAD;
                    set_deadline(conn, cfg->head_timeout_ms);
                }
                break;
            }
            if (rc < 0) {
                conn->in_process = false;
                fail(conn, rc);
                return false;
            }
            conn->head_len = (size_t)rc;
            conn->head_base = conn->in.data;
            conn->body_len = 0;
            conn->last_len = 0;
            if (conn->req->head.chunked) {
                http_chunked_init(&conn->chunked);
            } else if (conn->req->head.content_length > 0 &&
                       (uint64_t)conn->req->head.content_length > cfg->max_body_bytes) {
                conn->in_process = false;
                fail(conn, PT_E_BODY_TOO_LARGE);
                return false;
            }
            if (conn->state == HTTP_CONN_IDLE)
                set_deadline(conn, cfg->head_timeout_ms);
            conn->state = HTTP_CONN_READING_BODY;
        }
        int ready = body_ready(conn);
        if (ready < 0) {
            conn->in_process = false;
            fail(conn, ready);
            return false;
        }
        if (ready == 0) {
            if (conn->req->head.expect_continue && !conn->continue_sent &&
                conn->req->head.minor_version == 1) {
                conn->continue_sent = true;
                pt_buf_append(&conn->out, "HTTP/1.1 100 Continue\r\n\r\n", 25);
            }
            break;
        }
        if (conn->in.data != conn->head_base) {
            /* The buffer moved while the body arrived: re-point the head's slices. */
            int rc = http_parse_request(conn->in.data, conn->head_len, 0, &cfg->limits,
                                        &conn->req->head);
            assert(rc == (int)conn->head_len);
            (void)rc;
        }
        dispatch(conn);
    }
    conn->in_process = false;
    if (conn->state == HTTP_CONN_STREAMING && !conn->closed)
        deliver_stream_input(conn);
    if (conn->closed)
        return false;
    flush_output(conn);
    if (conn->closed)
        return false;

    if (conn->peer_eof && !paused && conn->state != HTTP_CONN_PROCESSING &&
        conn->state != HTTP_CONN_CLOSING && conn->state != HTTP_CONN_STREAMING) {
        /* Nothing complete is left and nothing more can arrive. */
        conn->state = HTTP_CONN_CLOSING;
        conn->close_after_write = true;
        set_deadline(conn, cfg->idle_timeout_ms);
        close_if_done(conn);
        if (conn->closed)
            return false;
    }
    bool want_read = !conn->peer_eof &&
                     (conn->state == HTTP_CONN_STREAMING ||
                      (conn->state != HTTP_CONN_PROCESSING && conn->state != HTTP_CONN_CLOSING &&
                       !paused));
    if (want_read && !conn->reading) {
        if (uv_read_start((uv_stream_t *)&conn->tcp, on_alloc, on_read) == 0)
            conn->reading = true;
    } else if (!want_read && conn->reading) {
        uv_read_stop((uv_stream_t *)&conn->tcp);
        conn->reading = false;
    }
    release_idle(conn);
    arm_timer(conn);
    return paused && !conn->writing && conn->out.len == 0 && !conn->closed;
}

static void process_input(struct http_conn *conn)
{
    while (process_pass(conn))
        ;
}

/* ------------------------------------------------------------- streams */

#define STREAM_BACKLOG_LIMIT (256 * 1024)
#define STREAM_SNDBUF_BYTES (16 * 1024)
#define STREAM_DISCARD_BYTES 512
#define STREAM_READ_LIMIT (1024 * 1024 + 64)

/* Offer received bytes to the stream's reader; keep what it did not consume. */
static void deliver_stream_input(struct http_conn *conn)
{
    if (conn->in.len == 0)
        return;
    if (conn->stream.on_read == NULL) {
        conn->in.len = 0;
        return;
    }
    ssize_t used = conn->stream.on_read((struct http_stream *)conn, pt_buf_str(&conn->in));
    if (conn->closed)
        return;
    if (used < 0) {
        http__conn_close(conn);
        return;
    }
    pt_buf_consume(&conn->in, (size_t)used);
}

int http_stream_start(struct http_request *req, int status, const char *content_type,
                      struct pt_str extra_headers, bool chunked,
                      const struct http_stream_handlers *handlers, void *data,
                      struct http_stream **out)
{
    struct http_conn *conn = req->conn;
    chunked = chunked && req->head.minor_version == 1 && status != 101;
    char head[256];
    int n = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\nDate: %s\r\n%s%s%s%s", status,
                     http_status_reason(status), conn->server->date,
                     content_type != NULL ? "Content-Type: " : "",
                     content_type != NULL ? content_type : "", content_type != NULL ? "\r\n" : "",
                     chunked ? "Transfer-Encoding: chunked\r\n" : "");
    if (n < 0 || (size_t)n >= sizeof(head) || pt_buf_append(&conn->out, head, (size_t)n) < 0 ||
        pt_buf_append_str(&conn->out, extra_headers) < 0 ||
        pt_buf_append(&conn->out, "\r\n", 2) < 0) {
        conn->close_after_write = true;
        finish_request(conn);
        return PT_E_NOMEM;
    }
    /* The request is over; the connection keeps only what a stream needs. */
    /* Arena cleanups may still read the request's slices: run them first. */
    http__arena_give(conn->server, conn->arena);
    conn->arena = NULL;
    conn->req = NULL;
    pt_buf_consume(&conn->in, conn->head_len + conn->body_len);
    conn->head_len = conn->body_len = conn->last_len = 0;
    conn->state = HTTP_CONN_STREAMING;
    conn->deadline_ms = 0;
    conn->stream = *handlers;
    conn->stream_data = data;
    /*
     * A small kernel send buffer: otherwise loopback autotuning lets a reader
     * that never reads absorb megabytes before a write ever blocks, and the
     * stall clock (which starts when one does) would take many minutes to run.
     */
    int sndbuf = STREAM_SNDBUF_BYTES;
    uv_send_buffer_size((uv_handle_t *)&conn->tcp, &sndbuf);
    conn->stream_chunked = chunked;
    /* Both halves of the double buffer: they swap on every write. */
    conn->out.limit = STREAM_BACKLOG_LIMIT;
    conn->out_flight.limit = STREAM_BACKLOG_LIMIT;
    if (handlers->on_read == NULL) {
        pt_buf_deinit(&conn->in);
        conn->in.limit = STREAM_DISCARD_BYTES;
    } else {
        conn->in.limit = STREAM_READ_LIMIT;
    }
    *out = (struct http_stream *)conn;
    if (!conn->in_process)
        process_input(conn);
    return 0;
}

void *http_stream_data(const struct http_stream *s)
{
    return ((const struct http_conn *)s)->stream_data;
}

int http_stream_write(struct http_stream *s, struct pt_str bytes)
{
    struct http_conn *conn = (struct http_conn *)s;
    if (conn->closed || conn->state != HTTP_CONN_STREAMING)
        return PT_E_NOMEM;
    int rc;
    if (conn->stream_chunked) {
        char size[24];
        int n = snprintf(size, sizeof(size), "%zx\r\n", bytes.len);
        if (pt_buf_reserve(&conn->out, (size_t)n + bytes.len + 2) < 0)
            return PT_E_NOMEM;
        pt_buf_append(&conn->out, size, (size_t)n);
        pt_buf_append_str(&conn->out, bytes);
        rc = pt_buf_append(&conn->out, "\r\n", 2);
    } else {
        rc = pt_buf_append_str(&conn->out, bytes);
    }
    if (rc == 0 && !conn->in_process)
        flush_output(conn);
    return rc;
}

bool http_stream_send_latest(struct http_stream *s, struct pt_shared *msg)
{
    struct http_conn *conn = (struct http_conn *)s;
    if (conn->closed || conn->state != HTTP_CONN_STREAMING)
        return false;
    bool dropped = conn->latest != NULL;
    pt_shared_unref(conn->latest);
    conn->latest = pt_shared_ref(msg);
    if (!conn->in_process)
        flush_output(conn);
    return dropped;
}

void http_stream_close(struct http_stream *s)
{
    struct http_conn *conn = (struct http_conn *)s;
    if (conn->closed)
        return;
    /* Whatever was last queued (a close frame, a final event) ends the stream:
     * a waiting position message must not follow it. */
    pt_shared_unref(conn->latest);
    conn->latest = NULL;
    if (conn->stream_chunked && conn->state == HTTP_CONN_STREAMING)
        pt_buf_append(&conn->out, "0\r\n\r\n", 5);
    begin_closing(conn);
}

void http__conn_shutdown_stream(struct http_conn *conn)
{
    if (conn->stream.on_shutdown != NULL)
        conn->stream.on_shutdown((struct http_stream *)conn);
    else
        http_stream_close((struct http_stream *)conn);
}

/* ------------------------------------------------------------- reading */

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct http_conn *conn = handle->data;
    http__buf_take(conn->server, &conn->in);
    size_t room = conn->in.limit - conn->in.len;
    size_t want = PT_MIN((size_t)READ_CHUNK, room);
    if (want == 0 || pt_buf_reserve(&conn->in, want) < 0) {
        *buf = uv_buf_init(NULL, 0);
        return;
    }
    *buf = uv_buf_init(conn->in.data + conn->in.len, (unsigned)(conn->in.cap - conn->in.len));
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    struct http_conn *conn = stream->data;
    if (nread > 0) {
        conn->in.len += (size_t)nread;
        if (conn->state == HTTP_CONN_STREAMING)
            deliver_stream_input(conn);
        else
            process_input(conn);
        return;
    }
    if (nread == 0)
        return;
    if (nread == UV_ENOBUFS) {
        fail(conn, conn->state == HTTP_CONN_READING_BODY ? PT_E_BODY_TOO_LARGE
                                                          : PT_E_HEAD_TOO_LARGE);
        return;
    }
    /* EOF or error: answer what is complete, then close. */
    uv_read_stop(stream);
    conn->reading = false;
    if (conn->state == HTTP_CONN_STREAMING) {
        http__conn_close(conn);
        return;
    }
    if (nread == UV_EOF) {
        /* Half-close: every complete request already received still gets its answer. */
        conn->peer_eof = true;
        if (conn->state != HTTP_CONN_PROCESSING)
            process_input(conn);
        return;
    }
    /* A dispatched request (maybe on the executor) still owns the connection:
     * it is closed after that answer, never under the handler's feet. */
    if (conn->state != HTTP_CONN_PROCESSING) {
        if (conn->writing || conn->out.len > 0) {
            conn->state = HTTP_CONN_CLOSING;
            conn->close_after_write = true;
            flush_output(conn);
        } else {
            http__conn_close(conn);
        }
        return;
    }
    conn->close_after_write = true;
}

static void on_timer(uv_timer_t *timer)
{
    struct http_conn *conn = timer->data;
    conn->timer_due_ms = 0;
    if (conn->closed || conn->deadline_ms == 0)
        return;
    uint64_t now = uv_now(conn->server->loop);
    if (now < conn->deadline_ms) {
        arm_timer(conn);
        return;
    }
    switch (conn->state) {
    case HTTP_CONN_READING_HEAD:
    case HTTP_CONN_READING_BODY:
        fail(conn, PT_E_TIMEOUT);
        break;
    case HTTP_CONN_PROCESSING:
        break;
    case HTTP_CONN_STREAMING:
        pt_log_info("%s: stream stalled for %llu ms: closing", conn->peer,
                    (unsigned long long)conn->server->cfg.stall_timeout_ms);
        http__conn_close(conn);
        break;
    case HTTP_CONN_IDLE:
    case HTTP_CONN_CLOSING:
        http__conn_close(conn);
        break;
    }
}

/* ------------------------------------------------------------- start */

static void describe_peer(struct http_conn *conn)
{
    struct sockaddr_storage addr;
    int len = sizeof(addr);
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (uv_tcp_getpeername(&conn->tcp, (struct sockaddr *)&addr, &len) == 0) {
        if (addr.ss_family == AF_INET6) {
            uv_ip6_name((struct sockaddr_in6 *)&addr, ip, sizeof(ip));
            port = ntohs(((struct sockaddr_in6 *)&addr)->sin6_port);
        } else {
            uv_ip4_name((struct sockaddr_in *)&addr, ip, sizeof(ip));
            port = ntohs(((struct sockaddr_in *)&addr)->sin_port);
        }
    }
    char peer[INET6_ADDRSTRLEN + 16];
    snprintf(peer, sizeof(peer), "%s:%d", ip, port);
    memcpy(conn->peer, peer, sizeof(conn->peer) - 1);
    conn->peer[sizeof(conn->peer) - 1] = '\0';
}

void http__conn_start(struct http_server *server, struct http_conn *conn)
{
    const struct http_server_config *cfg = &server->cfg;
    conn->server = server;
    conn->tcp.data = conn;
    uv_timer_init(server->loop, &conn->timer);
    conn->timer.data = conn;
    conn->handles_open = 2;
    conn->next = server->conns;
    if (server->conns != NULL)
        server->conns->prev = conn;
    server->conns = conn;
    server->num_conns++;
    if (server->num_conns > server->conns_peak)
        server->conns_peak = server->num_conns;
    pt_buf_init(&conn->in, cfg->limits.max_head_bytes + cfg->max_body_bytes + READ_CHUNK);
    pt_buf_init(&conn->out, OUT_LIMIT);
    pt_buf_init(&conn->out_flight, OUT_LIMIT);
    describe_peer(conn);
    if (server->num_conns > cfg->max_connections || server->stopping) {
        pt_log_warn("%s: connection refused: %zu connections open", conn->peer,
                    server->num_conns - 1);
        http__conn_close(conn);
        return;
    }
    uv_tcp_nodelay(&conn->tcp, 1);
    conn->state = HTTP_CONN_IDLE;
    /* The first request must arrive within the head timeout (slowloris). */
    set_deadline(conn, cfg->head_timeout_ms);
    if (uv_read_start((uv_stream_t *)&conn->tcp, on_alloc, on_read) == 0)
        conn->reading = true;
    arm_timer(conn);
}
