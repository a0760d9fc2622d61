/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * internal.h -- what only the http layer's own files share: the server,
 * connection, stream and peer structures and the functions that pass them
 * between server.c (listening, accepting, peers, the Date cache, posted
 * connections, stopping) and conn.c (one client).
 *
 * Ownership: the server owns its connections; a connection owns its stream,
 * buffers and request arena. A connection's memory is released in exactly one
 * place, conn.c's free_conn(), which runs when its handles have closed and no
 * request of it is still being served (see HTTP_CONN_PROCESSING).
 */
#ifndef PT_HTTP_INTERNAL_H
#define PT_HTTP_INTERNAL_H

#include <sys/socket.h>

#include "http/http.h"

#define HTTP_POOL_SIZE 64
#define HTTP_TRIM_AFTER_CLOSES 1024
#define HTTP_POOL_MAX_BUF (256 * 1024) /* larger buffers go back to malloc */
#define HTTP_PEER_BUCKETS 4096
/* Refused connections are still answered (503/429) up to this many beyond the limit. */
#define HTTP_REFUSE_SLACK 256
/* After the answer of a closing connection, wait this long for the client's FIN... */
#define HTTP_LINGER_MS 2000
/* ...reading and discarding at most this much meanwhile. */
#define HTTP_LINGER_MAX_BYTES (1024 * 1024)
/* Descriptors kept free for files, the ephemeris and the loop itself. */
#define HTTP_FD_RESERVE 64

enum http_conn_state {
    HTTP_CONN_IDLE,         /* between requests, nothing buffered: idle timeout */
    HTTP_CONN_READING_HEAD, /* waiting for a head or part of one: head timeout (from the
                               accept for a connection's first request) */
    HTTP_CONN_READING_BODY, /* head parsed, body incomplete: the same deadline */
    HTTP_CONN_PROCESSING,   /* request handed to the callback, no answer yet: no deadline;
                               the connection is never freed in this state */
    HTTP_CONN_STREAMING,    /* taken over as a stream (SSE, WebSocket): stall timeout */
    HTTP_CONN_CLOSING,      /* no more requests: flush, half-close, linger, close */
};

/* One client address (IPv4, or an IPv6 /64): what it holds open. */
struct http_peer {
    struct http_peer *next;       /* bucket chain */
    uint64_t id;                  /* the address as a number (see http_request.peer_id) */
    uint32_t conns;               /* counted connections */
};

/* A connection taken over as a stream (SSE, WebSocket). Owned by its connection. */
struct http_stream {
    struct http_conn *conn;
    struct http_stream_handlers handlers;
    void *data;
    bool chunked;                 /* every write framed as an HTTP/1.1 chunk */
    struct pt_shared *latest;     /* newest droppable message waiting to be written */
    struct pt_shared *latest_flight; /* message referenced by the write in flight */
    char chunk_head[24];          /* chunk-size line of latest_flight */
};

struct http_conn {
    uv_tcp_t tcp;                 /* embedded: container_of recovers the conn */
    uv_timer_t timer;             /* one deadline per connection, re-armed lazily */
    uv_write_t write_req;
    uv_shutdown_t shutdown_req;
    struct http_server *server;
    struct http_peer *peer_entry; /* NULL for a refused connection (not counted) */
    struct http_conn *prev;       /* in the server's list of open connections */
    struct http_conn *next;
    struct http_conn *posted_prev; /* in the server's posted list, when posted */
    struct http_conn *posted_next;
    enum http_conn_state state;
    int handles_open;             /* tcp and timer; see free_conn */
    bool reading;
    bool writing;                 /* write_req in flight over out_flight */
    bool closed;                  /* uv_close called: nothing more goes in or out */
    bool close_after_write;       /* no more requests on this connection */
    bool paused;                  /* parsing paused by output back-pressure */
    bool peer_eof;                /* the client half-closed: answer what is buffered */
    bool in_process;              /* inside process_input(): it will flush and resume */
    bool posted;                  /* in the server's posted list */
    bool continue_sent;           /* "100 Continue" already written for this request */
    bool first_request;           /* the head deadline counts from the accept */
    bool shut_down;               /* our FIN was sent (lingering) */
    uint64_t accepted_ms;         /* loop time of the accept */
    size_t discarded;             /* bytes read and dropped while closing */
    uint64_t deadline_ms;         /* loop time at which the current wait expires, 0 none */
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
    http_abort_cb abort_cb;       /* of req, or NULL */
    void *abort_data;
    struct http_stream *stream;   /* once taken over (HTTP_CONN_STREAMING and after) */
    uint64_t peer_id;
    char peer[48];
};

struct http_server {
    uv_poll_t listen_poll;        /* readiness of listen_fd; accept4() is ours */
    uv_timer_t date_timer;
    uv_timer_t stop_timer;        /* the graceful deadline */
    uv_idle_t post_idle;          /* runs posted connections without blocking the loop */
    uv_loop_t *loop;
    struct http_server_config cfg;
    int listen_fd;
    int reserve_fd;               /* kept open for the EMFILE trick, -1 while spent */
    struct http_conn *conns;      /* list of open connections */
    size_t num_conns;             /* allocated connections, open or closing */
    size_t conns_peak;            /* most connections since the last malloc_trim */
    struct http_conn *posted;     /* connections to resume from the idle callback, FIFO */
    struct http_conn *posted_last;
    int handles_open;             /* listen_poll, date_timer, stop_timer, post_idle */
    bool stopping;
    uint64_t stop_deadline_ms;    /* loop time by which everything is closed, when stopping */
    http_server_stop_cb stop_cb;
    void *stop_data;
    uint64_t hash_seed;           /* random per server: peer buckets are not steerable */
    struct http_server_stats stats;
    uint64_t refused_logged;      /* refusals already reported in the log */
    uint64_t refused_log_ms;      /* loop time of the last such report */
    char date[30];                /* IMF-fixdate of the current second */
    char scratch[4096];           /* discarded input of lingering connections */
    struct http_peer *peers[HTTP_PEER_BUCKETS];

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

/* The peer entry of an address id, created with zero counts if absent. */
struct http_peer *http__peer_get(struct http_server *server, uint64_t id);

/* Drop a peer entry whose counts are zero. */
void http__peer_release(struct http_server *server, struct http_peer *peer);

/*
 * Take a new accepted client: conn is zeroed, its tcp handle initialized and
 * open on the accepted socket; addr is the client's address and peer_id its
 * accounting key (see http_request.peer_id).
 */
void http__conn_start(struct http_server *server, struct http_conn *conn,
                      const struct sockaddr_storage *addr, uint64_t peer_id);

/* Begin closing a connection (idempotent); see conn.c for when it is freed. */
void http__conn_close(struct http_conn *conn);

/* The server is stopping: decide what this connection still gets (see http_server_stop). */
void http__conn_stop(struct http_conn *conn);

/* Resume a posted connection (called by the server's idle callback). */
void http__conn_run_posted(struct http_conn *conn);

/* Queue a connection for http__conn_run_posted from the loop (idempotent). */
void http__server_post(struct http_server *server, struct http_conn *conn);

/* Take a connection out of the posted list, if it is there. */
void http__server_unpost(struct http_server *server, struct http_conn *conn);

/* Called by conn.c when a connection has been freed. */
void http__server_conn_freed(struct http_server *server);

#endif /* PT_HTTP_INTERNAL_H */
