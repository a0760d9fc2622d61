/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * client.h -- an asynchronous HTTP client on the libuv loop: libcurl's multi
 * interface driven by uv_poll (one per socket curl opens) and one uv_timer
 * (curl_multi_socket_action), so no request ever blocks the loop or a thread.
 *
 * One client is a pool: its connections (and TLS sessions and DNS answers) are
 * reused by later fetches to the same host, and any number of fetches run at
 * once. Every fetch is bounded: a deadline for the whole transfer, one for the
 * connection, a stall limit (no byte for so long) and a body size limit, so a
 * slow, endless or refused download ends with a clear error, never a hang.
 *
 * Loop thread only. curl_global_init must have been called (main does it).
 */
#ifndef PT_CLIENT_H
#define PT_CLIENT_H

#include <uv.h>

#include "base/base.h"

struct client;
struct client_fetch;

struct client_config {
    const char *user_agent;    /* NULL: "PlanetTracker" */
    long max_host_connections; /* 0: 4 open connections to one host at most */
};

/* One GET. Borrowed for the call only (copied). */
struct client_request {
    const char *url;             /* http:// or https:// (nothing else, redirects included) */
    const char *const *headers;  /* "Name: value" lines, NULL-terminated; may be NULL */
    uint64_t timeout_ms;         /* the whole transfer; 0: 60 s */
    uint64_t connect_timeout_ms; /* 0: 10 s (at most timeout_ms) */
    uint64_t stall_timeout_ms;   /* no byte for this long fails; rounded up to seconds; 0: 30 s */
    size_t max_bytes;            /* body limit after decoding; 0: 16 MiB */
};

struct client_result {
    /*
     * 0: an HTTP answer arrived whole (whatever its status); else PT_E_TIMEOUT
     * (deadline or stall), PT_E_BODY_TOO_LARGE, PT_E_INVALID (refused, reset,
     * DNS, TLS, bad URL: see message).
     */
    int error;
    long status;            /* HTTP status of the last answer; 0 if none */
    struct pt_buf body;     /* the callback may take it (then zero it); else freed */
    char etag[128];         /* the answer's ETag, or "" */
    char last_modified[64]; /* its Last-Modified, or "" */
    char message[256];      /* what went wrong, for logs; "" when error is 0 */
    double seconds;         /* from start to end */
};

typedef void (*client_done_fn)(struct client_result *r, void *data);

/* A client on loop. OUT: *out (client_close). Returns 0 or PT_E_NOMEM. */
int client_new(uv_loop_t *loop, const struct client_config *cfg, struct client **out);

/*
 * Start a GET; done is called once, later, from the loop (never from inside this
 * call). OUT: *out (may be NULL), valid until done runs or client_fetch_cancel.
 * Returns 0, PT_E_INVALID (no URL) or PT_E_CLOSED (client closing).
 */
int client_get(struct client *c, const struct client_request *req, client_done_fn done, void *data,
               struct client_fetch **out);

/* Abandon a fetch: its done is not called. */
void client_fetch_cancel(struct client_fetch *f);

/* Fetches in flight. */
size_t client_pending(const struct client *c);

/*
 * Abandon every fetch (their done is not called), close the connections and the
 * loop handles, then call closed(data) from the loop and free the client. May
 * be called from a done callback.
 */
void client_close(struct client *c, void (*closed)(void *data), void *data);

#endif
