/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * http.h -- the HTTP/1.1 engine on libuv: listening sockets, connections,
 * keep-alive and pipelining, limits and timeouts, the response writer.
 *
 * The engine knows nothing of routes or planets: it parses requests, hands each
 * complete one to the server's request callback in arrival order, and writes
 * the responses in that same order. All functions here run on the loop thread.
 */
#ifndef PT_HTTP_H
#define PT_HTTP_H

#include <uv.h>

#include "base/base.h"
#include "http/parser.h"

struct http_server;
struct http_conn;
struct http_request;

/*
 * Called once per complete request, on the loop thread. The callee must call
 * http_respond() (now or later); until it does, the connection parses no
 * further request, which keeps pipelined answers in order.
 */
typedef void (*http_request_cb)(struct http_request *req);

/*
 * Called when a stopped server has closed its last connection and been freed;
 * data is the one given to http_server_stop.
 */
typedef void (*http_server_stop_cb)(void *data);

struct http_server_config {
    const char *host;           /* numeric IPv4 or IPv6 address to bind */
    int port;                   /* 0 picks a free port (see http_server_port) */
    int backlog;                /* listen(2) backlog */
    struct http_limits limits;  /* request head limits */
    size_t max_body_bytes;      /* larger bodies -> 413 */
    uint64_t head_timeout_ms;   /* a request head (and body) must arrive within this, counted
                                   from the accept for the first request of a connection */
    uint64_t idle_timeout_ms;   /* keep-alive idle time before the server closes */
    uint64_t graceful_timeout_ms; /* after http_server_stop, every connection is closed by then */
    size_t max_connections;     /* beyond this, new connections get 503 and are closed; lowered
                                   at start to what the descriptor limit allows */
    size_t max_conns_per_peer;  /* per client address (IPv6: per /64); beyond it 429;
                                   0: no limit (behind a proxy every client is the proxy) */
    uint64_t stall_timeout_ms;  /* a stream whose write makes no progress this long is closed */
    int listen_fd;              /* >= 0: serve this listening socket (adopted: a master's,
                                   systemd's); -1 (the default): bind host:port */
    unsigned accepts_per_wakeup; /* connections accepted per readiness event; 0 = 128. With
                                    several processes on one socket, 1 spreads the load */
    struct pt_str default_headers; /* complete header lines added to every answer and stream
                                      head ("X-Content-Type-Options: nosniff\r\n"); borrowed,
                                      must outlive the server */
    http_request_cb on_request;
    void *data;                 /* borrowed; handed to callbacks through the request */
};

/* The defaults (host, port and callback left for the caller). */
void http_server_config_init(struct http_server_config *cfg);

/*
 * A listening TCP socket on host (numeric IPv4 or IPv6) and port, non-blocking
 * and close-on-exec. OUT: *fd. Returns 0 or a negative errno / libuv error.
 */
int http_listen_socket(const char *host, int port, int backlog, int *fd);

struct http_request {
    struct http_conn *conn;        /* borrowed: valid until http_respond() returns */
    struct http_server *server;    /* borrowed */
    void *data;                    /* the server config's data */
    struct http_request_head head; /* slices point into the connection's input buffer */
    struct pt_str body;            /* the whole (de-chunked) body; empty if none */
    struct pt_arena *arena;        /* released after the response is written */
    bool is_head;                  /* method HEAD: the writer omits the body */
    uint64_t start_ms;             /* loop time at dispatch, for access logs */
    uint64_t peer_id;              /* the client address (IPv6: its /64) as a number, for
                                      per-client accounting; equal addresses, equal ids */
    char peer[48];                 /* "ip:port" of the client */
};

/* Counters of a server, for /metrics. */
struct http_server_stats {
    size_t connections;            /* open now (including those being refused or closed) */
    size_t streams;                /* connections taken over as streams, now */
    uint64_t accepted;             /* connections accepted, all time */
    uint64_t refused_capacity;     /* answered 503: max_connections reached */
    uint64_t refused_peer;         /* answered 429: max_conns_per_peer reached */
    uint64_t refused_emfile;       /* closed unanswered: out of file descriptors */
    uint64_t aborted;              /* requests whose connection closed before the answer */
};

/*
 * Start a server listening on cfg->host:cfg->port on loop. cfg is copied.
 * Returns 0 and *out, or a negative libuv error (bind or listen failed, e.g.
 * UV_EADDRINUSE); on error nothing is left open.
 */
int http_server_start(uv_loop_t *loop, const struct http_server_config *cfg,
                      struct http_server **out);

/* The port actually bound (useful with port 0). */
int http_server_port(const struct http_server *server);

/* Number of open connections. */
size_t http_server_connections(const struct http_server *server);

/* The server's counters. OUT: *out. */
void http_server_stats(const struct http_server *server, struct http_server_stats *out);

/*
 * Graceful stop: close the listening socket; close at once the connections that
 * have received nothing of a request; let the others finish what they have
 * received (a partly received head gets until its head timeout); end streams
 * through their on_shutdown handler. Whatever the clients do, every connection
 * is closed cfg->graceful_timeout_ms after this call (requests still running on
 * other threads are abandoned at that point: their connection is closed and
 * their answer discarded when it comes). Then the server is freed and cb(data)
 * runs, exactly once, later, on the loop. A second call does nothing.
 */
void http_server_stop(struct http_server *server, http_server_stop_cb cb, void *data);

/*
 * Answer a request. status: 100..599 (not 1xx in practice). extra_headers:
 * complete header lines, each ending in CRLF ("Set-Cookie: a=b\r\n"), or empty;
 * borrowed. content_type: may be NULL for no Content-Type. body: borrowed, copied
 * before return; omitted on the wire for HEAD requests and 204/304 answers, with
 * Content-Length still describing it for HEAD.
 *
 * The writer adds Date (cached per second), Content-Length, the server's
 * default headers, and Connection when needed. The answer is written from the
 * loop, never from within this call, and the next pipelined request is parsed
 * from a loop callback too, so the caller's stack never re-enters the engine.
 * After return, req and everything in its arena are gone.
 *
 * Returns 0; PT_E_NOMEM if the connection's output limit is reached (the
 * connection is then closed); PT_E_CLOSED if the connection had already closed
 * (the answer is dropped, the request released). Loop thread only.
 */
int http_respond(struct http_request *req, int status, const char *content_type,
                 struct pt_str extra_headers, struct pt_str body);

/* The loop the request's connection runs on (borrowed). */
uv_loop_t *http_request_loop(const struct http_request *req);

/* Close the connection after the current response is written. */
void http_request_close_after(struct http_request *req);

/*
 * Called once, from a loop callback, when the connection of a dispatched request
 * closes before the request is answered (the client reset, a write failed, the
 * server's graceful timeout ran out). The request stays valid: the callee stops
 * what it can and must still call http_respond(), which then only releases it;
 * it may do so from within this callback.
 */
typedef void (*http_abort_cb)(struct http_request *req, void *data);

/* Register (or with cb NULL, clear) the request's abort callback. data is borrowed. */
void http_request_on_abort(struct http_request *req, http_abort_cb cb, void *data);

/* True once the request's connection has closed: its answer will be dropped. */
bool http_request_is_aborted(const struct http_request *req);

/* ------------------------------------------------------------------------ */
/* Streams: a connection taken over after its response head (SSE, WebSocket) */
/* ------------------------------------------------------------------------ */

struct http_stream;

/*
 * Bytes received on a stream (WebSocket frames). Return how many bytes were
 * consumed (the rest is kept and offered again with more), or a negative
 * value to close the connection. Loop thread.
 */
typedef ssize_t (*http_stream_read_cb)(struct http_stream *s, struct pt_str data);

/*
 * The stream is gone (peer gone, write error, stalled reader, graceful timeout,
 * or after http_stream_close()). Runs exactly once, from a loop callback of its
 * own (never from within an http_stream_* call), after which s is freed. Between
 * the close and this callback, writes to s are accepted and dropped.
 */
typedef void (*http_stream_close_cb)(struct http_stream *s);

/*
 * The server is stopping: write a last message and call http_stream_close().
 * When NULL, the stream is closed at once.
 */
typedef void (*http_stream_shutdown_cb)(struct http_stream *s);

struct http_stream_handlers {
    http_stream_read_cb on_read;         /* NULL: incoming bytes are discarded */
    http_stream_close_cb on_close;       /* required */
    http_stream_shutdown_cb on_shutdown; /* may be NULL */
};

/*
 * Answer req with a response head and keep the connection as a stream.
 * status: 200 (SSE) or 101 (WebSocket). extra_headers: complete lines (borrowed).
 * chunked: frame every later write as an HTTP/1.1 chunk (SSE to 1.1 clients);
 * otherwise the body ends with the connection. handlers are copied; data is
 * handed back by http_stream_data(). The request and its arena are released
 * before return: copy what you need first.
 *
 * A HEAD request gets the same head (no Content-Length: the length is not known)
 * and no stream: the request is answered, 0 is returned and *out is NULL.
 *
 * Returns 0 and *out; PT_E_NOMEM (the connection is then closed, req is
 * released and on_close is not called); or PT_E_CLOSED when the connection had
 * already closed (req is released). Loop thread.
 */
int http_stream_start(struct http_request *req, int status, const char *content_type,
                      struct pt_str extra_headers, bool chunked,
                      const struct http_stream_handlers *handlers, void *data,
                      struct http_stream **out);

/* The data given to http_stream_start (borrowed). */
void *http_stream_data(const struct http_stream *s);

/* The client address of the stream as in struct http_request (peer_id). */
uint64_t http_stream_peer_id(const struct http_stream *s);

/*
 * Queue a copy of bytes that must not be dropped (handshake, control frames,
 * comments). Returns 0; PT_E_NOMEM when the stream's bounded backlog is full
 * (the caller should close it); PT_E_CLOSED when the stream is closing.
 */
int http_stream_write(struct http_stream *s, struct pt_str bytes);

/*
 * Offer the newest message (reference taken). While a write is in flight only
 * the newest offered message waits; an older waiting one is dropped, so a slow
 * reader costs at most one message of memory. Returns true if an older
 * message was dropped.
 */
bool http_stream_send_latest(struct http_stream *s, struct pt_shared *msg);

/* True when the stream's reader has taken everything written so far. */
bool http_stream_is_drained(const struct http_stream *s);

/* Flush what is queued, then close; on_close runs once the connection closes. */
void http_stream_close(struct http_stream *s);

/* Reason phrase of a status ("Not Found"), or "Unknown". */
const char *http_status_reason(int status);

#endif /* PT_HTTP_H */
