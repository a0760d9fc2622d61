/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * pubsub.h -- live fan-out between processes and instances: a message published
 * on a channel reaches every instance subscribed to it. One interface (struct
 * pubsub_engine) over engines; redis.c is Redis PUBSUB through hiredis.
 *
 * Delivery is at most once, in publishing order per publisher, and only while
 * the subscription is live: PUBSUB keeps nothing for a subscriber that is away.
 * on_state(data, true) says the subscription is live (at start and after every
 * reconnect), on_state(data, false) that it was lost; after an up the
 * application re-sends the state the other instances must know, because what
 * was published meanwhile is gone. (A message may arrive just before the
 * on_state(true) of a reconnect, while the last channels are confirmed.)
 *
 * Everything is asynchronous and runs on the loop thread only; no call blocks
 * on the network, a name lookup or the server. Callbacks run from loop
 * callbacks, never from inside a pubsub_* call, and never after pubsub_close.
 * A callback may call pubsub_subscribe, pubsub_publish and pubsub_close (not
 * pubsub_free). Writes to a socket the server closed raise SIGPIPE: the
 * process must ignore it (main does).
 */
#ifndef PT_PUBSUB_H
#define PT_PUBSUB_H

#include <uv.h>

#include "base/base.h"

/*
 * A message on channel (the name given to pubsub_subscribe, without the
 * prefix; NUL-terminated). Both are borrowed for the call only; the payload
 * may hold any bytes, NULs included.
 */
typedef void (*pubsub_message_cb)(void *data, const char *channel, struct pt_str payload);

/* The subscription became live (up) or was lost (!up); never twice the same in a row. */
typedef void (*pubsub_state_cb)(void *data, bool up);

/* Borrowed for the open call only (copied). */
struct pubsub_config {
    const char *url;              /* redis://[[user]:password@]host[:port][/db] */
    const char *channel_prefix;   /* put before every channel name (namespacing); NULL: "" */
    uint64_t connect_timeout_ms;  /* resolve, connect, AUTH and SUBSCRIBE within this; 0: 5000 */
    uint64_t command_timeout_ms;  /* an answer waited for this long: the connection is dead;
                                     0: 5000 */
    uint64_t heartbeat_ms;        /* a heartbeat on each connection this often; 0: 2000 */
    size_t max_pending;           /* publishes waiting while the connection is down (oldest
                                     dropped beyond), and as many in flight; 0: 1024 */
    size_t max_pending_bytes;     /* the same bound in bytes; 0: 16 MiB */
    size_t max_payload_bytes;     /* largest payload (at most max_pending_bytes); 0: 1 MiB */
    pubsub_message_cb on_message; /* may be NULL */
    pubsub_state_cb on_state;     /* may be NULL */
    void *data;                   /* passed to both */
};

struct pubsub_stats {
    const char *engine;           /* "redis" */
    bool up;                      /* the subscription is live (as the last on_state said) */
    bool publish_up;              /* the publishing connection is ready */
    const char *subscriber_state; /* "down", "resolving", "connecting", "handshake", "ready",
                                     "failed", "closed" */
    const char *publisher_state;
    uint64_t reconnects;  /* connections ready again after a failure or a loss */
    uint64_t failures;    /* connection attempts failed and connections lost */
    uint64_t published;   /* publishes the server acknowledged */
    uint64_t received;    /* messages given to on_message */
    uint64_t dropped;     /* publishes given up unsent: queue overflow, refused by the
                             server, still queued at close */
    uint64_t lost;        /* publishes in flight when their connection went away
                             (delivered or not: unknown) */
    size_t queued;        /* publishes waiting for the connection now */
    char last_error[200]; /* the last failure, or "" */
};

struct pubsub;

/* The engine operations behind struct pubsub (redis.c). */
struct pubsub_engine {
    int (*subscribe)(struct pubsub *ps, const char *channel);
    int (*publish)(struct pubsub *ps, const char *channel, struct pt_str payload);
    void (*stats)(const struct pubsub *ps, struct pubsub_stats *out);
    void (*close)(struct pubsub *ps);
    void (*free)(struct pubsub *ps);
};

struct pubsub {
    const struct pubsub_engine *engine;
    uv_loop_t *loop;
    bool closing;
};

/*
 * Open Redis PUBSUB on loop and start connecting in the background (two
 * connections: a subscribed one cannot publish); until the server answers it
 * retries with a jittered back-off from 100 ms doubling to 5 s, for ever.
 * Returns the handle (pubsub_close, then pubsub_free), or NULL after logging
 * why the configuration is refused: a URL that is not redis:// (rediss://,
 * query parameters and Unix sockets are not supported), a port outside
 * 1-65535, a database that is not a number (it has no effect: PUBSUB channels
 * are global), a prefix over 128 bytes, max_payload_bytes above
 * max_pending_bytes. The URL is never logged (it may hold a password).
 */
struct pubsub *pubsub_redis_open(uv_loop_t *loop, const struct pubsub_config *cfg);

/*
 * Subscribe to channel (1-256 bytes, without the prefix): remembered, and
 * subscribed again after every reconnect; a channel already subscribed to is
 * left alone. Returns 0, PT_E_INVALID (empty or too long), PT_E_NOMEM (4096
 * channels already) or PT_E_CLOSED (after pubsub_close).
 */
static inline int pubsub_subscribe(struct pubsub *ps, const char *channel)
{
    return ps->closing ? PT_E_CLOSED : ps->engine->subscribe(ps, channel);
}

/*
 * Publish payload (copied) on channel (as for pubsub_subscribe). It is sent at
 * once when the publishing connection is ready, else queued; beyond
 * max_pending (or max_pending_bytes) the oldest waiting publish is dropped
 * and counted in stats.dropped. Returns 0 (sent or queued), PT_E_INVALID (bad
 * channel), PT_E_RANGE (payload over max_payload_bytes) or PT_E_CLOSED.
 */
static inline int pubsub_publish(struct pubsub *ps, const char *channel, struct pt_str payload)
{
    return ps->closing ? PT_E_CLOSED : ps->engine->publish(ps, channel, payload);
}

/* Counters and states. OUT: *out. Until pubsub_free. */
static inline void pubsub_stats(const struct pubsub *ps, struct pubsub_stats *out)
{
    memset(out, 0, sizeof(*out));
    ps->engine->stats(ps, out);
}

/*
 * Stop: no callback runs any more, queued publishes are dropped, those in
 * flight are abandoned (stats.lost), the connections and handles close
 * through the loop: run it until it is dry, then pubsub_free. May be called
 * from a callback; a second call does nothing; NULL does nothing.
 */
static inline void pubsub_close(struct pubsub *ps)
{
    if (ps == NULL || ps->closing)
        return;
    ps->closing = true;
    ps->engine->close(ps);
}

/* Free a closed pubsub once the loop ran dry after pubsub_close. NULL does nothing. */
static inline void pubsub_free(struct pubsub *ps)
{
    if (ps != NULL)
        ps->engine->free(ps);
}

#endif /* PT_PUBSUB_H */
