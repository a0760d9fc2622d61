/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * conn.c -- one client connection of the http layer: reading, parsing,
 * dispatching requests in order, writing answers, streams, timeouts, the
 * graceful stop and closing.
 *
 * The state (enum http_conn_state) changes only in set_state(), which also sets
 * the deadline of the new state and whether the socket is read. Invariants:
 *
 * - At most one request is dispatched at a time, so answers leave in request
 *   order; while it is dispatched nothing is read into the input buffer (its
 *   slices stay valid).
 * - The engine never re-enters the application from within a call the
 *   application made: an answer given from a callback (http_respond) is
 *   flushed, and the next pipelined request parsed, from a loop callback (the
 *   connection is posted, as nginx posts events); a stream's close is reported
 *   from the handle's close callback, never from within http_stream_*.
 * - A connection is freed in one place, free_conn(), once its handles have
 *   closed and no request of it is dispatched: a close while PROCESSING closes
 *   the socket at once, tells the request (its abort callback), and frees the
 *   connection only when http_respond() hands the request back.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>

#include "http/internal.h"

/* During a stop, a connection fresh or idle keeps this long to send a request (Connection: close). */
#define FRESH_GRACE_MS 1000
#define READ_CHUNK (16 * 1024)
/* A fresh connection reads into this much; the buffer grows with what arrives. */
#define READ_FIRST 1024
/* Stop parsing further pipelined requests while this much output is unsent. */
#define OUT_HIGH_WATER (1024 * 1024)
/* Hard cap on a connection's pending output: beyond it the connection is closed. */
#define OUT_LIMIT (64 * 1024 * 1024)
/* No Content-Length in the head (a stream's). */
#define NO_LENGTH SIZE_MAX

#define STREAM_BACKLOG_LIMIT (256 * 1024)
#define STREAM_SNDBUF_BYTES (16 * 1024)
#define STREAM_DISCARD_BYTES 512
#define STREAM_READ_LIMIT (1024 * 1024 + 64)

static void process_input(struct http_conn *conn);
static void flush_output(struct http_conn *conn);
static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);
static void on_timer(uv_timer_t *timer);

/* ------------------------------------------------------------- freeing */

static void free_conn(struct http_conn *conn)
{
    struct http_server *server = conn->server;
    http__server_unpost(server, conn);
    if (conn->stream != NULL) {
        pt_shared_unref(conn->stream->latest);
        pt_shared_unref(conn->stream->latest_flight);
        free(conn->stream);
        server->stats.streams--;
    }
    if (conn->peer_entry != NULL) {
        conn->peer_entry->conns--;
        http__peer_release(server, conn->peer_entry);
    }
    pt_buf_deinit(&conn->in);
    pt_buf_deinit(&conn->out);
    pt_buf_deinit(&conn->out_flight);
    if (conn->arena != NULL)
        http__arena_give(server, conn->arena);
    free(conn);
    http__server_conn_freed(server);
}

static void on_handle_close(uv_handle_t *handle)
{
    struct http_conn *conn = handle->data;
    if (--conn->handles_open > 0)
        return;
    if (conn->stream != NULL)
        conn->stream->handlers.on_close(conn->stream);
    if (conn->state == HTTP_CONN_PROCESSING) {
        /* The request's answer will hand the connection back (http_respond). */
        conn->server->stats.aborted++;
        http_abort_cb cb = conn->abort_cb;
        conn->abort_cb = NULL;
        if (cb != NULL)
            cb(conn->req, conn->abort_data); /* may free conn */
        return;
    }
    free_conn(conn);
}

void http__conn_close(struct http_conn *conn)
{
    if (conn->closed)
        return;
    conn->closed = true;
    struct http_server *server = conn->server;
    if (conn->prev != NULL)
        conn->prev->next = conn->next;
    else
        server->conns = conn->next;
    if (conn->next != NULL)
        conn->next->prev = conn->prev;
    conn->prev = conn->next = NULL;
    http__server_unpost(server, conn);
    conn->reading = false;
    uv_close((uv_handle_t *)&conn->tcp, on_handle_close);
    uv_close((uv_handle_t *)&conn->timer, on_handle_close);
}

/* ------------------------------------------------------------- states */

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
    arm_timer(conn);
}

static bool has_output(const struct http_conn *conn)
{
    return conn->writing || conn->out.len > 0 ||
           (conn->stream != NULL && conn->stream->latest != NULL);
}

/* Read exactly when the state wants input. */
static void update_reading(struct http_conn *conn)
{
    if (conn->closed)
        return;
    bool want = false;
    switch (conn->state) {
    case HTTP_CONN_IDLE:
    case HTTP_CONN_READING_HEAD:
    case HTTP_CONN_READING_BODY:
        want = !conn->paused && !conn->peer_eof;
        break;
    case HTTP_CONN_STREAMING:
    case HTTP_CONN_CLOSING: /* discarded: a reset or a FIN is noticed at once */
        want = !conn->peer_eof;
        break;
    case HTTP_CONN_PROCESSING:
        break;
    }
    if (want && !conn->reading) {
        if (uv_read_start((uv_stream_t *)&conn->tcp, on_alloc, on_read) == 0)
            conn->reading = true;
    } else if (!want && conn->reading) {
        uv_read_stop((uv_stream_t *)&conn->tcp);
        conn->reading = false;
    }
}

/*
 * The one place where a connection changes state: each state's deadline is
 * set here (IDLE: the idle timeout; READING_HEAD: the head timeout, from the
 * accept for the first request; READING_BODY keeps the head's deadline;
 * PROCESSING and STREAMING: none, a stream's stall clock runs only while a
 * write is blocked; CLOSING: the idle timeout bounds the final flush), and
 * reading follows the state.
 */
static void set_state(struct http_conn *conn, enum http_conn_state state)
{
    const struct http_server_config *cfg = &conn->server->cfg;
    uint64_t now = uv_now(conn->server->loop);
    conn->state = state;
    switch (state) {
    case HTTP_CONN_IDLE:
        conn->deadline_ms = now + cfg->idle_timeout_ms;
        break;
    case HTTP_CONN_READING_HEAD:
        conn->deadline_ms = (conn->first_request ? conn->accepted_ms : now) + cfg->head_timeout_ms;
        break;
    case HTTP_CONN_READING_BODY:
        break;
    case HTTP_CONN_PROCESSING:
    case HTTP_CONN_STREAMING:
        conn->deadline_ms = 0;
        break;
    case HTTP_CONN_CLOSING:
        conn->close_after_write = true;
        conn->deadline_ms =
            now + (conn->stream != NULL ? PT_MIN(cfg->idle_timeout_ms, cfg->stall_timeout_ms)
                                        : cfg->idle_timeout_ms);
        break;
    }
    arm_timer(conn);
    if (!conn->in_process)
        update_reading(conn); /* else once, when processing ends: no epoll churn per request */
}

/*
 * A closing connection whose output is all written: half-close, then wait a
 * little for the client's FIN (reading and discarding), so that the client
 * reads our last answer before any reset (nginx's lingering close).
 */
static void on_shutdown_done(uv_shutdown_t *req, int status)
{
    struct http_conn *conn = pt_container_of(req, struct http_conn, shutdown_req);
    if (!conn->closed && status < 0)
        http__conn_close(conn);
}

static void finish_closing(struct http_conn *conn)
{
    if (conn->closed || conn->state != HTTP_CONN_CLOSING || has_output(conn))
        return;
    if (conn->peer_eof) {
        http__conn_close(conn);
        return;
    }
    if (conn->shut_down)
        return;
    conn->shut_down = true;
    if (uv_shutdown(&conn->shutdown_req, (uv_stream_t *)&conn->tcp, on_shutdown_done) != 0) {
        http__conn_close(conn);
        return;
    }
    set_deadline(conn, HTTP_LINGER_MS);
}

/* No more requests: write what is queued (now, unless processing will), then close. */
static void begin_closing(struct http_conn *conn)
{
    set_state(conn, HTTP_CONN_CLOSING);
    if (!conn->in_process) {
        flush_output(conn);
        finish_closing(conn);
    }
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
    {412, "Precondition Failed"},
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
    if (conn->stream != NULL) {
        pt_shared_unref(conn->stream->latest_flight);
        conn->stream->latest_flight = NULL;
    }
    if (conn->closed)
        return;
    if (status < 0) {
        pt_log_debug("%s: write: %s", conn->peer, uv_strerror(status));
        http__conn_close(conn);
        return;
    }
    if (conn->state == HTTP_CONN_STREAMING)
        conn->deadline_ms = 0; /* progress: the stall clock stops */
    else if (conn->paused)
        set_deadline(conn, conn->server->cfg.idle_timeout_ms); /* progress while paused */
    process_input(conn);
}

/* The buffers of one write: pending bytes, then the stream's newest message. */
static unsigned gather_output(struct http_conn *conn, uv_buf_t bufs[4])
{
    /* Swap buffers: out_flight stays untouched until the write completes. */
    struct pt_buf tmp = conn->out_flight;
    conn->out_flight = conn->out;
    conn->out = tmp;
    conn->out.len = 0;
    unsigned n = 0;
    if (conn->out_flight.len > 0)
        bufs[n++] = uv_buf_init(conn->out_flight.data, (unsigned)conn->out_flight.len);
    struct http_stream *s = conn->stream;
    if (s != NULL && s->latest != NULL) {
        /* The shared message is referenced, never copied (one block, many readers). */
        struct pt_shared *m = s->latest;
        s->latest = NULL;
        s->latest_flight = m;
        if (s->chunked) {
            int len = snprintf(s->chunk_head, sizeof(s->chunk_head), "%zx\r\n", m->len);
            bufs[n++] = uv_buf_init(s->chunk_head, (unsigned)len);
        }
        bufs[n++] = uv_buf_init(m->data, (unsigned)m->len);
        if (s->chunked)
            bufs[n++] = uv_buf_init((char *)"\r\n", 2);
    }
    return n;
}

static void drop_flight(struct http_conn *conn)
{
    conn->out_flight.len = 0;
    if (conn->stream != NULL) {
        pt_shared_unref(conn->stream->latest_flight);
        conn->stream->latest_flight = NULL;
    }
}

/*
 * Hand all pending output to the kernel with one write, unless one is in
 * flight. A failed write closes the connection (which is safe from anywhere:
 * nothing is freed before the close callbacks).
 */
static void flush_output(struct http_conn *conn)
{
    if (conn->closed || conn->writing || !has_output(conn))
        return;
    uv_buf_t bufs[4] = {{0}};
    unsigned n = gather_output(conn, bufs);
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
        drop_flight(conn);
        if (conn->state == HTTP_CONN_STREAMING)
            conn->deadline_ms = 0;
        return;
    }
    if (sent < 0 && sent != UV_EAGAIN) {
        pt_log_debug("%s: write: %s", conn->peer, uv_strerror(sent));
        drop_flight(conn);
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
    if (conn->state == HTTP_CONN_STREAMING)
        set_deadline(conn, conn->server->cfg.stall_timeout_ms);
    int rc = uv_write(&conn->write_req, (uv_stream_t *)&conn->tcp, bufs + first, n - first,
                      on_write_done);
    if (rc < 0) {
        conn->writing = false;
        drop_flight(conn);
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
 * resource, not this empty answer), nor does a stream's head (NO_LENGTH).
 * On error nothing is appended.
 */
static int append_head(struct http_conn *conn, int status, const char *content_type,
                       size_t content_length, bool keep_alive, bool http10,
                       struct pt_str extra_headers)
{
    const char *reason = http_status_reason(status);
    size_t reason_len = strlen(reason);
    size_t type_len = content_type != NULL ? strlen(content_type) : 0;
    struct pt_str defaults = conn->server->cfg.default_headers;
    if (status < 100 || status > 999 || reason_len > 64 || type_len > 256)
        return PT_E_INVALID;
    http__buf_take(conn->server, &conn->out);
    /* Fixed parts, generously: status line, Date, Content-Type, Content-Length, Connection. */
    size_t max =
        16 + reason_len + 37 + 16 + type_len + 40 + 26 + defaults.len + extra_headers.len + 2;
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
        if (content_length != NO_LENGTH) {
            p = PUT_LIT(p, "Content-Length: ");
            p = put_size(p, content_length);
            p = PUT_LIT(p, "\r\n");
        }
    }
    if (!keep_alive)
        p = PUT_LIT(p, "Connection: close\r\n");
    else if (http10)
        p = PUT_LIT(p, "Connection: keep-alive\r\n");
    if (defaults.len > 0)
        p = put_lit(p, defaults.ptr, defaults.len);
    if (extra_headers.len > 0)
        p = put_lit(p, extra_headers.ptr, extra_headers.len);
    p = PUT_LIT(p, "\r\n");
    conn->out.len = (size_t)(p - conn->out.data);
    return 0;
}

/*
 * Answer a protocol error found by the engine itself (malformed head, limits,
 * timeouts, refusals) with a small JSON body, then close: after such an error
 * the framing of whatever follows cannot be trusted.
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
    else if (err == PT_E_PEER_LIMIT)
        limit = cfg->max_conns_per_peer;
    else if (err == PT_E_BUSY)
        limit = cfg->max_connections;
    const char *unit = err == PT_E_PEER_LIMIT || err == PT_E_BUSY ? "connections" : "bytes";
    if (limit > 0)
        n = snprintf(body, sizeof(body),
                     "{\"error\": \"%s\", \"message\": \"%s (limit %zu %s)\", \"limit\": %zu}\n",
                     name, pt_error_message(err), limit, unit, limit);
    else
        n = snprintf(body, sizeof(body), "{\"error\": \"%s\", \"message\": \"%s\"}\n", name,
                     pt_error_message(err));
    bool refusal = err == PT_E_PEER_LIMIT || err == PT_E_BUSY;
    if (!refusal)
        pt_log_info("%s: %d %s", conn->peer, status, pt_error_message(err));
    struct pt_str retry = refusal ? PT_STR("Retry-After: 1\r\n") : PT_STR_NULL;
    if (append_head(conn, status, "application/json", (size_t)n, false, false, retry) == 0)
        pt_buf_append(&conn->out, body, (size_t)n);
    begin_closing(conn);
}

/* ------------------------------------------------------------- requests */

/* Drop the request (arena cleanups first: they may read its slices) and its bytes. */
static void release_request(struct http_conn *conn)
{
    pt_arena_reset(conn->arena);
    conn->req = NULL;
    conn->abort_cb = NULL;
    pt_buf_consume(&conn->in, conn->head_len + conn->body_len);
    conn->head_len = 0;
    conn->body_len = 0;
    conn->last_len = 0;
    conn->continue_sent = false;
}

/*
 * Whether the answer to the current request keeps the connection open. While
 * the server stops, only to serve what the client has already sent.
 */
static bool answer_keeps_alive(const struct http_conn *conn)
{
    if (!conn->req->head.keep_alive || conn->close_after_write)
        return false;
    return !conn->server->stopping || conn->in.len > conn->head_len + conn->body_len;
}

/* The current request is answered: on to the next one, or to closing. */
static void finish_request(struct http_conn *conn, bool keep_alive)
{
    release_request(conn);
    if (!keep_alive) {
        set_state(conn, HTTP_CONN_CLOSING);
        return;
    }
    conn->first_request = false;
    set_state(conn, conn->in.len > 0 ? HTTP_CONN_READING_HEAD : HTTP_CONN_IDLE);
}

/* Resume the connection from the loop unless its own processing is on the stack. */
static void resume_later(struct http_conn *conn)
{
    if (!conn->in_process && !conn->closed)
        http__server_post(conn->server, conn);
}

int http_respond(struct http_request *req, int status, const char *content_type,
                 struct pt_str extra_headers, struct pt_str body)
{
    struct http_conn *conn = req->conn;
    if (conn->closed) {
        /* Aborted: nobody will read the answer. Hand the connection back. */
        release_request(conn);
        conn->state = HTTP_CONN_CLOSING;
        if (conn->handles_open == 0)
            free_conn(conn);
        return PT_E_CLOSED;
    }
    bool bodiless = status == 204 || status == 304 || (status >= 100 && status < 200);
    bool keep_alive = answer_keeps_alive(conn);
    size_t before = conn->out.len;
    int rc = append_head(conn, status, content_type, bodiless ? 0 : body.len, keep_alive,
                         req->head.minor_version == 0, extra_headers);
    if (rc == 0 && !req->is_head && !bodiless)
        rc = pt_buf_append_str(&conn->out, body);
    if (rc < 0) {
        conn->out.len = before; /* no half answer on the wire */
        keep_alive = false;
    }
    finish_request(conn, keep_alive);
    resume_later(conn);
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

void http_request_on_abort(struct http_request *req, http_abort_cb cb, void *data)
{
    req->conn->abort_cb = cb;
    req->conn->abort_data = data;
}

bool http_request_is_aborted(const struct http_request *req)
{
    return req->conn->closed;
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
    req->peer_id = conn->peer_id;
    memcpy(req->peer, conn->peer, sizeof(req->peer));
    conn->abort_cb = NULL;
    set_state(conn, HTTP_CONN_PROCESSING);
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
 * Parse the head at the front of the input. A head that is not complete holds
 * no arena: a connection waiting for the rest of its head costs its struct and
 * its input bytes only. Returns 1 when a head was parsed (state READING_BODY),
 * 0 when more input is needed, -1 after failing the connection.
 */
static int parse_head(struct http_conn *conn)
{
    const struct http_server_config *cfg = &conn->server->cfg;
    if (conn->arena == NULL)
        conn->arena = http__arena_take(conn->server);
    if (conn->req == NULL)
        conn->req = pt_arena_alloc(conn->arena, sizeof(*conn->req));
    int rc = http_parse_request(conn->in.data, conn->in.len, conn->last_len, &cfg->limits,
                                &conn->req->head);
    if (rc == PT_E_INCOMPLETE) {
        conn->last_len = conn->in.len;
        conn->req = NULL;
        http__arena_give(conn->server, conn->arena);
        conn->arena = NULL;
        if (conn->state == HTTP_CONN_IDLE)
            set_state(conn, HTTP_CONN_READING_HEAD);
        return 0;
    }
    if (rc < 0) {
        fail(conn, rc);
        return -1;
    }
    conn->head_len = (size_t)rc;
    conn->head_base = conn->in.data;
    conn->body_len = 0;
    conn->last_len = 0;
    if (conn->req->head.chunked) {
        http_chunked_init(&conn->chunked);
    } else if (conn->req->head.content_length > 0 &&
               (uint64_t)conn->req->head.content_length > cfg->max_body_bytes) {
        fail(conn, PT_E_BODY_TOO_LARGE);
        return -1;
    }
    if (conn->state == HTTP_CONN_IDLE)
        set_state(conn, HTTP_CONN_READING_HEAD); /* the head's deadline covers the body */
    set_state(conn, HTTP_CONN_READING_BODY);
    return 1;
}

/*
 * Parse and dispatch buffered requests until input runs out, a request is
 * dispatched and not yet answered, or output back-pressure pauses us.
 */
static void parse_requests(struct http_conn *conn)
{
    const struct http_server_config *cfg = &conn->server->cfg;
    while (!conn->closed &&
           (conn->state == HTTP_CONN_IDLE || conn->state == HTTP_CONN_READING_HEAD ||
            conn->state == HTTP_CONN_READING_BODY)) {
        if (conn->out.len + conn->out_flight.len > OUT_HIGH_WATER) {
            /* Waiting for the client to read, not to send: the idle timeout applies. */
            if (!conn->paused) {
                conn->paused = true;
                set_deadline(conn, cfg->idle_timeout_ms);
            }
            return;
        }
        if (conn->paused) {
            /* The client read our backlog: a fresh head timeout for what is buffered. */
            conn->paused = false;
            if (conn->state != HTTP_CONN_IDLE)
                set_deadline(conn, cfg->head_timeout_ms);
        }
        if (conn->state != HTTP_CONN_READING_BODY) {
            if (conn->in.len == 0)
                return;
            if (parse_head(conn) <= 0)
                return;
        }
        int ready = body_ready(conn);
        if (ready < 0) {
            fail(conn, ready);
            return;
        }
        if (ready == 0) {
            if (conn->req->head.expect_continue && !conn->continue_sent &&
                conn->req->head.minor_version == 1) {
                conn->continue_sent = true;
                pt_buf_append(&conn->out, "HTTP/1.1 100 Continue\r\n\r\n", 25);
            }
            return;
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
}

/*
 * Between requests nothing is kept: the input and output buffers and the arena
 * go back to the server's pools, so idle keep-alive connections cost only
 * their struct.
 */
static void release_idle(struct http_conn *conn)
{
    if (conn->closed || conn->state != HTTP_CONN_IDLE || conn->in.len != 0 || has_output(conn))
        return;
    if (conn->arena != NULL) {
        http__arena_give(conn->server, conn->arena);
        conn->arena = NULL;
    }
    http__buf_give(conn->server, &conn->in);
    http__buf_give(conn->server, &conn->out);
    http__buf_give(conn->server, &conn->out_flight);
}

/* Offer received bytes to the stream's reader; keep what it did not consume. */
static void deliver_stream_input(struct http_conn *conn)
{
    struct http_stream *s = conn->stream;
    if (conn->in.len == 0 || conn->state != HTTP_CONN_STREAMING)
        return;
    if (s->handlers.on_read == NULL) {
        conn->in.len = 0;
        return;
    }
    ssize_t used = s->handlers.on_read(s, pt_buf_str(&conn->in));
    if (conn->closed)
        return;
    if (used < 0) {
        http__conn_close(conn);
        return;
    }
    pt_buf_consume(&conn->in, (size_t)used);
}

/*
 * Make all the progress the connection can make now: parse and dispatch
 * buffered requests, feed a stream's reader, flush, and finish a close. Runs
 * from loop callbacks only (reads, write completions, timers, posted
 * connections), never from within a call the application made.
 */
static void process_input(struct http_conn *conn)
{
    if (conn->closed || conn->in_process)
        return;
    conn->in_process = true;
    for (;;) {
        parse_requests(conn);
        deliver_stream_input(conn);
        flush_output(conn);
        /* Paused, but everything was written at once: no callback will resume us. */
        if (conn->closed || !conn->paused || has_output(conn))
            break;
    }
    conn->in_process = false;
    if (conn->closed)
        return;
    if (conn->peer_eof && !conn->paused &&
        (conn->state == HTTP_CONN_IDLE || conn->state == HTTP_CONN_READING_HEAD ||
         conn->state == HTTP_CONN_READING_BODY)) {
        /* Nothing complete is left and nothing more can arrive. */
        set_state(conn, HTTP_CONN_CLOSING);
    }
    finish_closing(conn);
    update_reading(conn);
    release_idle(conn);
}

void http__conn_run_posted(struct http_conn *conn)
{
    process_input(conn);
}

/* ------------------------------------------------------------- streams */

int http_stream_start(struct http_request *req, int status, const char *content_type,
                      struct pt_str extra_headers, bool chunked,
                      const struct http_stream_handlers *handlers, void *data,
                      struct http_stream **out)
{
    struct http_conn *conn = req->conn;
    *out = NULL;
    chunked = chunked && req->head.minor_version == 1 && status != 101;
    struct pt_str te = chunked ? PT_STR("Transfer-Encoding: chunked\r\n") : PT_STR_NULL;
    /* Without chunked framing the body ends with the connection. */
    bool keep_alive = chunked || status == 101;
    if (conn->closed) {
        release_request(conn);
        conn->state = HTTP_CONN_CLOSING;
        if (conn->handles_open == 0)
            free_conn(conn);
        return PT_E_CLOSED;
    }
    if (req->is_head)
        keep_alive = answer_keeps_alive(conn);
    size_t before = conn->out.len;
    int rc = append_head(conn, status, content_type, NO_LENGTH, keep_alive,
                         req->is_head && req->head.minor_version == 0, te);
    if (rc == 0 && extra_headers.len > 0) {
        /* The head ends with its blank line: put the extra lines before it. */
        conn->out.len -= 2;
        rc = pt_buf_append_str(&conn->out, extra_headers);
        if (rc == 0)
            rc = pt_buf_append(&conn->out, "\r\n", 2);
    }
    if (rc < 0) {
        conn->out.len = before;
        finish_request(conn, false);
        resume_later(conn);
        return PT_E_NOMEM;
    }
    if (req->is_head) {
        finish_request(conn, keep_alive);
        resume_later(conn);
        return 0;
    }
    struct http_stream *s = pt_xcalloc(1, sizeof(*s));
    s->conn = conn;
    s->handlers = *handlers;
    s->data = data;
    s->chunked = chunked;
    conn->stream = s;
    conn->server->stats.streams++;
    /* The request is over; the connection keeps only what a stream needs. */
    release_request(conn);
    http__arena_give(conn->server, conn->arena);
    conn->arena = NULL;
    /*
     * A small kernel send buffer: otherwise loopback autotuning lets a reader
     * that never reads absorb megabytes before a write ever blocks, and the
     * stall clock (which starts when one does) would take many minutes to run.
     */
    int sndbuf = STREAM_SNDBUF_BYTES;
    uv_send_buffer_size((uv_handle_t *)&conn->tcp, &sndbuf);
    /* Both halves of the double buffer: they swap on every write. */
    conn->out.limit = STREAM_BACKLOG_LIMIT;
    conn->out_flight.limit = STREAM_BACKLOG_LIMIT;
    if (handlers->on_read == NULL) {
        pt_buf_deinit(&conn->in);
        conn->in.limit = STREAM_DISCARD_BYTES;
    } else {
        conn->in.limit = STREAM_READ_LIMIT;
    }
    set_state(conn, HTTP_CONN_STREAMING);
    *out = s;
    resume_later(conn);
    return 0;
}

void *http_stream_data(const struct http_stream *s)
{
    return s->data;
}

uint64_t http_stream_peer_id(const struct http_stream *s)
{
    return s->conn->peer_id;
}

int http_stream_write(struct http_stream *s, struct pt_str bytes)
{
    struct http_conn *conn = s->conn;
    if (conn->closed || conn->state != HTTP_CONN_STREAMING)
        return PT_E_CLOSED;
    int rc;
    if (s->chunked) {
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
    struct http_conn *conn = s->conn;
    if (conn->closed || conn->state != HTTP_CONN_STREAMING)
        return false;
    bool dropped = s->latest != NULL;
    pt_shared_unref(s->latest);
    s->latest = pt_shared_ref(msg);
    if (!conn->in_process)
        flush_output(conn);
    return dropped;
}

bool http_stream_is_drained(const struct http_stream *s)
{
    return !has_output(s->conn);
}

void http_stream_close(struct http_stream *s)
{
    struct http_conn *conn = s->conn;
    if (conn->closed || conn->state != HTTP_CONN_STREAMING)
        return;
    /* Whatever was last queued (a close frame, a final event) ends the stream:
     * a waiting position message must not follow it. */
    pt_shared_unref(s->latest);
    s->latest = NULL;
    if (s->chunked)
        pt_buf_append(&conn->out, "0\r\n\r\n", 5);
    begin_closing(conn);
}

/* ------------------------------------------------------------- stopping */

void http__conn_stop(struct http_conn *conn)
{
    switch (conn->state) {
    case HTTP_CONN_STREAMING:
        if (conn->stream->handlers.on_shutdown != NULL)
            conn->stream->handlers.on_shutdown(conn->stream);
        else
            http_stream_close(conn->stream);
        break;
    case HTTP_CONN_IDLE: {
        /*
         * A keep-alive client may be sending its next request right now; closing
         * under it makes it retry (or fail). It gets FRESH_GRACE_MS to send one,
         * answered with Connection: close; silence closes it at the deadline.
         */
        uint64_t grace = uv_now(conn->server->loop) + FRESH_GRACE_MS;
        if (conn->deadline_ms == 0 || conn->deadline_ms > grace)
            conn->deadline_ms = grace;
        arm_timer(conn);
        break;
    }
    case HTTP_CONN_READING_HEAD:
        /*
         * Nothing received: nothing to finish -- except on a connection accepted a
         * moment ago, whose first request is likely on its way (under a master the
         * old generation stops while clients still connect): closing it would
         * reset that request. It gets until FRESH_GRACE_MS after its accept. A
         * partial head gets its deadline.
         */
        if (conn->in.len == 0 && !has_output(conn)) {
            uint64_t grace = conn->accepted_ms + FRESH_GRACE_MS;
            if (conn->first_request && uv_now(conn->server->loop) < grace) {
                if (conn->deadline_ms == 0 || conn->deadline_ms > grace)
                    conn->deadline_ms = grace;
                arm_timer(conn);
            } else {
                http__conn_close(conn);
            }
        }
        break;
    case HTTP_CONN_READING_BODY:
    case HTTP_CONN_PROCESSING:
    case HTTP_CONN_CLOSING:
        break; /* answered (Connection: close) or closed by the graceful deadline */
    }
}

/* ------------------------------------------------------------- reading */

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct http_conn *conn = handle->data;
    if (conn->state == HTTP_CONN_CLOSING) {
        *buf = uv_buf_init(conn->server->scratch, sizeof(conn->server->scratch));
        return;
    }
    http__buf_take(conn->server, &conn->in);
    size_t room = conn->in.limit - conn->in.len;
    size_t free_bytes = conn->in.cap - conn->in.len;
    /* Grow with what the client has sent: a few bytes of a head cost a small buffer. */
    size_t want = free_bytes >= 512
                      ? free_bytes
                      : PT_MIN(PT_MAX(conn->in.len, (size_t)READ_FIRST), (size_t)READ_CHUNK);
    want = PT_MIN(want, room);
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
    if (nread == 0 || conn->closed)
        return;
    if (nread > 0) {
        if (conn->state == HTTP_CONN_CLOSING) {
            /* Discarded; a client that keeps sending is not read for long. */
            conn->discarded += (size_t)nread;
            if (conn->discarded > HTTP_LINGER_MAX_BYTES)
                http__conn_close(conn);
            return;
        }
        conn->in.len += (size_t)nread;
        process_input(conn);
        return;
    }
    if (nread == UV_ENOBUFS) {
        if (conn->state == HTTP_CONN_STREAMING)
            http__conn_close(conn);
        else
            fail(conn,
                 conn->state == HTTP_CONN_READING_BODY ? PT_E_BODY_TOO_LARGE : PT_E_HEAD_TOO_LARGE);
        return;
    }
    uv_read_stop(stream);
    conn->reading = false;
    if (nread != UV_EOF || conn->state == HTTP_CONN_STREAMING) {
        /* Reset or error (or a stream's reader gone): nothing more can be delivered. */
        pt_log_debug("%s: read: %s", conn->peer, uv_strerror((int)nread));
        http__conn_close(conn);
        return;
    }
    /* Half-close: every complete request already received still gets its answer. */
    conn->peer_eof = true;
    process_input(conn);
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
    if (conn->paused) {
        /* Our answers are not being read: an error answer would not be either. */
        pt_log_debug("%s: client stopped reading: closing", conn->peer);
        http__conn_close(conn);
        return;
    }
    switch (conn->state) {
    case HTTP_CONN_READING_HEAD:
        if (conn->in.len == 0 && conn->first_request)
            http__conn_close(conn); /* connected, never sent a byte */
        else
            fail(conn, PT_E_TIMEOUT);
        break;
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

static void describe_peer(struct http_conn *conn, const struct sockaddr_storage *addr)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (addr->ss_family == AF_INET6) {
        uv_ip6_name((const struct sockaddr_in6 *)addr, ip, sizeof(ip));
        port = ntohs(((const struct sockaddr_in6 *)addr)->sin6_port);
    } else {
        uv_ip4_name((const struct sockaddr_in *)addr, ip, sizeof(ip));
        port = ntohs(((const struct sockaddr_in *)addr)->sin_port);
    }
    char peer[INET6_ADDRSTRLEN + 16];
    snprintf(peer, sizeof(peer), "%s:%d", ip, port);
    memcpy(conn->peer, peer, sizeof(conn->peer) - 1);
    conn->peer[sizeof(conn->peer) - 1] = '\0';
}

void http__conn_start(struct http_server *server, struct http_conn *conn,
                      const struct sockaddr_storage *addr, uint64_t peer_id)
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
    conn->peer_id = peer_id;
    describe_peer(conn, addr);
    conn->accepted_ms = uv_now(server->loop);
    conn->first_request = true;
    uv_tcp_nodelay(&conn->tcp, 1);
    if (server->num_conns > cfg->max_connections) {
        server->stats.refused_capacity++;
        if (server->num_conns > cfg->max_connections + HTTP_REFUSE_SLACK)
            http__conn_close(conn); /* too many even to answer */
        else
            fail(conn, PT_E_BUSY);
        return;
    }
    struct http_peer *peer = http__peer_get(server, peer_id);
    if (cfg->max_conns_per_peer > 0 && peer->conns >= cfg->max_conns_per_peer) {
        server->stats.refused_peer++;
        http__peer_release(server, peer);
        fail(conn, PT_E_PEER_LIMIT);
        return;
    }
    peer->conns++;
    conn->peer_entry = peer;
    /* The first request must arrive within the head timeout of the accept (slowloris). */
    set_state(conn, HTTP_CONN_READING_HEAD);
}
