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
 * data is the server config's data.
 */
typedef void (*http_server_stop_cb)(void *data);

struct http_server_config {
    const char *host;           /* numeric IPv4 or IPv6 address to bind */
    int port;                   /* 0 picks a free port (see http_server_port) */
    int backlog;                /* listen(2) backlog */
    struct http_limits limits;  /* request head limits */
    size_t max_body_bytes;      /* larger bodies -> 413 */
    uint64_t head_timeout_ms;   /* time allowed for a request head (or body) to arrive */
    uint64_t idle_timeout_ms;   /* keep-alive idle time before the server closes */
    size_t max_connections;     /* beyond this, new connections are closed at once */
    uint64_t stall_timeout_ms;  /* a stream whose write makes no progress this long is closed */
    http_request_cb on_request;
    void *data;                 /* borrowed; handed to callbacks through the request */
};

/* The defaults of issue #2 (host, port and callback left for the caller). */
void http_server_config_init(struct http_server_config *cfg);

struct http_request {
    struct http_conn *conn;        /* borrowed: valid until http_respond() returns */
    struct http_server *server;    /* borrowed */
    void *data;                    /* the server config's data */
    struct http_request_head head; /* slices point into the connection's input buffer */
    struct pt_str body;            /* the whole (de-chunked) body; empty if none */
    struct pt_arena *arena;        /* released after the response is written */
    bool is_head;                  /* method HEAD: the writer omits the body */
    uint64_t start_ms;             /* loop time at dispatch, for access logs */
    char peer[48];                 /* "ip:port" of the client */
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

/*
 * Graceful stop: close the listening socket, close idle connections at once,
 * let in-flight requests finish (their connections close after the answer),
 * then call cb and free the server. cb runs exactly once, later, on the loop.
 */
void http_server_stop(struct http_server *server, http_server_stop_cb cb);

/*
 * Answer a request. status: 100..599 (not 1xx in practice). extra_headers:
 * complete header lines, each ending in CRLF ("Set-Cookie: a=b\r\n"), or empty;
 * borrowed. content_type: may be NULL for no Content-Type. body: borrowed, copied
 * before return; omitted on the wire for HEAD requests and 204/304 answers, with
 * Content-Length still describing it for HEAD.
 *
 * The writer adds Date (cached per second), Content-Length, and Connection when
 * needed. After return, req and everything in its arena are gone. Returns 0, or
 * PT_E_NOMEM if the connection's output limit is reached (the connection is then
 * closed). Loop thread only.
 */
int http_respond(struct http_request *req, int status, const char *content_type,
                 struct pt_str extra_headers, struct pt_str body);

/* The loop the request's connection runs on (borrowed). */
uv_loop_t *http_request_loop(const struct http_request *req);

/* Close the connection after the current response is written. */
void http_request_close_after(struct http_request *req);

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
 * The stream is closing (peer gone, write error, stalled reader, or
 * http_stream_close() was called). Runs exactly once; s must not be used
 * after it returns.
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
 * Returns 0 and *out, or PT_E_NOMEM (the connection is then closed and on_close
 * is not called). Loop thread.
 */
int http_stream_start(struct http_request *req, int status, const char *content_type,
                      struct pt_str extra_headers, bool chunked,
                      const struct http_stream_handlers *handlers, void *data,
                      struct http_stream **out);

/* The data given to http_stream_start (borrowed). */
void *http_stream_data(const struct http_stream *s);

/*
 * Queue a copy of bytes that must not be dropped (handshake, control frames,
 * comments). Returns 0, or PT_E_NOMEM when the stream's bounded backlog is full
 * (the caller should close it).
 */
int http_stream_write(struct http_stream *s, struct pt_str bytes);

/*
 * Offer the newest message (reference taken). While a write is in flight only
 * the newest offered message waits; an older waiting one is dropped, so a slow
 * reader costs at most one message of memory. Returns true if an older
 * message was dropped.
 */
bool http_stream_send_latest(struct http_stream *s, struct pt_shared *msg);

/* Flush what is queued, then close; on_close runs once the connection closes. */
void http_stream_close(struct http_stream *s);

/* Reason phrase of a status ("Not Found"), or "Unknown". */
const char *http_status_reason(int status);

#endif /* PT_HTTP_H */
