/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * internal.h -- what only the http layer's own files share: the server and
 * connection structures and the functions that pass them between server.c
 * (listening, accepting, the Date cache, stopping) and conn.c (one client).
 */
#ifndef PT_HTTP_INTERNAL_H
#define PT_HTTP_INTERNAL_H

#include "http/http.h"

#define HTTP_POOL_SIZE 64
#define HTTP_TRIM_AFTER_CLOSES 1024
#define HTTP_POOL_MAX_BUF (256 * 1024) /* larger buffers go back to malloc */

enum http_conn_state {
    HTTP_CONN_IDLE,         /* between requests, nothing buffered: idle timeout */
    HTTP_CONN_READING_HEAD, /* part of a head buffered: head timeout */
    HTTP_CONN_READING_BODY, /* head parsed, body incomplete: head timeout */
    HTTP_CONN_PROCESSING,   /* request handed to the callback, no answer yet */
    HTTP_CONN_STREAMING,    /* taken over as a stream (SSE, WebSocket): stall timeout */
    HTTP_CONN_CLOSING,      /* no more requests: flush the output, then close */
};

struct http_conn {
    uv_tcp_t tcp;                 /* embedded: container_of recovers the conn */
    uv_timer_t timer;             /* one deadline per connection, re-armed lazily */
    uv_write_t write_req;
    struct http_server *server;
    struct http_conn *prev;       /* in the server's list of connections */
    struct http_conn *next;
    enum http_conn_state state;
    int handles_open;             /* tcp and timer; freed when both are closed */
    bool reading;
    bool writing;                 /* write_req in flight over out_flight */
    bool closed;                  /* uv_close called */
    bool close_after_write;       /* no more requests on this connection */
    bool paused;                  /* parsing paused by output back-pressure */
    bool peer_eof;                /* the client half-closed: answer what is buffered */
    bool in_process;              /* inside process_input(): it will flush and resume */
    bool continue_sent;           /* "100 Continue" already written for this request */
    uint64_t deadline_ms;         /* loop time at which the current wait expires */
    uint64_t timer_due_ms;        /* loop time the timer is armed for, 0 if not */
    struct pt_buf in;             /* received bytes; request slices point here */
    size_t last_len;              /* in.len at the previous incomplete head parse */
    size_t head_len;              /* bytes of the current head, once parsed */
    const char *head_base;        /* in.data when the head was parsed */
    size_t body_len;              /* bytes of decoded body after the head */
    struct http_chunked chunked;  /* decoder state for a chunked body */
    struct pt_buf out;            /* responses not yet handed to the kernel */
    struct pt_buf out_flight;     /* bytes of the write in progress */
    struct pt_arena *arena;       /* per request, from the server's pool; NULL when idle */
    struct http_request *req;     /* the request being served (arena), or NULL */
    char peer[48];

    /* Stream mode (state HTTP_CONN_STREAMING and after). */
    struct http_stream_handlers stream;
    void *stream_data;
    bool stream_chunked;
    bool stream_close_notified;   /* on_close has run */
    struct pt_shared *latest;     /* newest droppable message waiting to be written */
    struct pt_shared *latest_flight; /* message referenced by the write in flight */
    char chunk_head[24];          /* chunk-size line of latest_flight */
};

struct http_server {
    uv_tcp_t listener;
    uv_timer_t date_timer;
    uv_loop_t *loop;
    struct http_server_config cfg;
    struct http_conn *conns;      /* list of open connections */
    size_t num_conns;
    size_t conns_peak;            /* most connections since the last malloc_trim */
    int handles_open;             /* listener and date_timer */
    bool stopping;
    http_server_stop_cb stop_cb;
    char date[30];                /* IMF-fixdate of the current second */

    /*
     * Buffers and arenas of idle connections return here, so memory follows the
     * connections being served at this instant, not every open one (a thousand
     * idle keep-alive clients cost no input buffers). Bounded.
     */
    struct pt_arena *arena_pool[HTTP_POOL_SIZE];
    size_t arena_pool_len;
    struct http_pool_buf {
        char *data;
        size_t cap;
    } buf_pool[HTTP_POOL_SIZE];
    size_t buf_pool_len;
};

/* Take an arena for a request (pooled or new). */
struct pt_arena *http__arena_take(struct http_server *server);

/* Give a request arena back (reset; freed if the pool is full). */
void http__arena_give(struct http_server *server, struct pt_arena *arena);

/* Give an empty buffer's storage to the pool (the buffer becomes storage-less). */
void http__buf_give(struct http_server *server, struct pt_buf *b);

/* Give a storage-less buffer pooled storage, if there is some. */
void http__buf_take(struct http_server *server, struct pt_buf *b);

/* Take a new accepted client (already initialized tcp handle inside conn). */
void http__conn_start(struct http_server *server, struct http_conn *conn);

/* Begin closing a connection; it is unlinked and freed when its handles close. */
void http__conn_close(struct http_conn *conn);

/* True if the connection sits between requests with nothing buffered or pending. */
bool http__conn_is_idle(const struct http_conn *conn);

/* The server is stopping: let a stream say goodbye (or close it). */
void http__conn_shutdown_stream(struct http_conn *conn);

/* Called by conn.c when a connection is fully closed and unlinked. */
void http__server_conn_closed(struct http_server *server);

#endif /* PT_HTTP_INTERNAL_H */
