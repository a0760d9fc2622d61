/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * redis.c -- the Redis engine of the pubsub layer: PUBSUB through hiredis'
 * asynchronous API, driven on the loop by an adapter of our own, so that the
 * loop never waits on the network, a name lookup or the server.
 *
 * Two connections, because a subscribed connection cannot publish: the
 * subscriber and the publisher. Each is its own state machine (enum
 * conn_state): DOWN (back-off timer) -> RESOLVING (uv_getaddrinfo: hiredis'
 * own lookup blocks, so it is only ever given an IP literal) -> CONNECTING
 * (redisAsyncConnect) -> HANDSHAKE (AUTH; the subscriber then SUBSCRIBEs every
 * remembered channel) -> READY (the subscriber: live, on_state(true)). Every
 * state arms the connection's one timer: the back-off, the bring-up deadline
 * (connect_timeout_ms), or when READY the heartbeat tick, which fails the
 * connection when an answer has been waited for command_timeout_ms (a server
 * stopped with SIGSTOP, a peer gone without a reset) and else sends the next
 * heartbeat. A connection that fails anywhere goes back to DOWN with a
 * doubling, jittered back-off; the subscriber's loss is on_state(false).
 *
 * The adapter: hiredis' ev.addRead/delRead/addWrite/delWrite/cleanup hooks on
 * one uv_poll_t per context. hiredis' adapters/libuv.h drops a poll error
 * (status < 0: libuv has stopped the handle), which leaves a refused or reset
 * connection hanging; here an error, like UV_DISCONNECT, makes hiredis read,
 * so it sees the error and tears the context down, and the handle is started
 * again if the context lives on.
 *
 * hiredis calls back from inside its own functions and frees a context right
 * after its connect (failure) or disconnect callback returns. So we free a
 * context only from a timer callback (drop()); an error found inside a
 * callback marks the connection FAILED and arms its timer at 0.
 *
 * The subscriber's heartbeat is a SUBSCRIBE of a private channel, whose
 * confirmation comes back in order like a PONG: hiredis 0.14 cannot match the
 * answer to a PING sent in subscribed mode (fixed in hiredis 1.1, #1027); it
 * keeps the PING's callback for ever and may run another one with the PONG.
 * The publisher PINGs.
 *
 * Publishes wait in a bounded FIFO of formatted commands while the publisher
 * is not ready (the oldest is dropped beyond max_pending or max_pending_bytes)
 * and go out in order, at most as many again in flight.
 */
#include <arpa/inet.h>
#include <assert.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/random.h>
#include <unistd.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "pubsub/pubsub.h"

#define DEFAULT_PORT 6379
#define DEFAULT_CONNECT_TIMEOUT_MS 5000
#define DEFAULT_COMMAND_TIMEOUT_MS 5000
#define DEFAULT_HEARTBEAT_MS 2000
#define DEFAULT_MAX_PENDING 1024
#define DEFAULT_MAX_PENDING_BYTES (16u << 20)
#define DEFAULT_MAX_PAYLOAD_BYTES (1u << 20)
#define MAX_PENDING_BYTES_LIMIT (1u << 30) /* formatted commands are int-sized in hiredis */
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define MAX_CHANNELS 4096
#define MAX_CHANNEL_BYTES 256
#define MAX_PREFIX_BYTES 128
#define HEARTBEAT_NAME "__pubsub_heartbeat."
#define FULL_CHANNEL_BYTES (MAX_PREFIX_BYTES + MAX_CHANNEL_BYTES + sizeof(HEARTBEAT_NAME) + 16)

/* ------------------------------------------------------------------ types */

enum conn_kind { KIND_SUBSCRIBER, KIND_PUBLISHER };

enum conn_state {
    CONN_DOWN,       /* waiting for the back-off timer */
    CONN_RESOLVING,  /* waiting for uv_getaddrinfo */
    CONN_CONNECTING, /* TCP connect under way */
    CONN_HANDSHAKE,  /* connected: AUTH, then (subscriber) SUBSCRIBE confirmations */
    CONN_READY,      /* subscriber: live; publisher: publishing */
    CONN_FAILED,     /* to be dropped from the timer (an error found inside a callback) */
    CONN_CLOSED,     /* closing: the context is freed, the timer closed or closing */
};

static const char *const state_names[] = {
    [CONN_DOWN] = "down",
    [CONN_RESOLVING] = "resolving",
    [CONN_CONNECTING] = "connecting",
    [CONN_HANDSHAKE] = "handshake",
    [CONN_READY] = "ready",
    [CONN_FAILED] = "failed",
    [CONN_CLOSED] = "closed",
};

struct redis_pubsub;
struct rconn;

/* The poll on one context's socket; heap, because it lives on until its close callback. */
struct rpoll {
    uv_poll_t handle;
    struct rconn *conn; /* NULL once hiredis cleaned up: late events are ignored */
    int wanted;         /* UV_READABLE | UV_WRITABLE, as hiredis asked */
    int started;        /* what the handle watches (libuv stops it on an error) */
};

struct rconn {
    struct redis_pubsub *ps;
    enum conn_kind kind;
    enum conn_state state;
    redisAsyncContext *ac; /* owned; NULL while down */
    uv_timer_t timer;      /* the state's deadline: back-off, bring-up or heartbeat tick */
    uv_getaddrinfo_t lookup;
    bool lookup_busy;
    bool dropping;       /* inside our own redisAsyncFree */
    bool authing;        /* AUTH sent, not answered */
    bool up;             /* READY was reached (also while FAILED after it) */
    bool had_failure;    /* failed or lost since last READY: the next READY is a reconnect */
    bool hb_outstanding; /* a heartbeat is in flight */
    uint64_t backoff_ms; /* the next back-off (before jitter) */
    unsigned attempt;    /* rotates through the addresses a name has */
    size_t in_flight;    /* answers awaited (the subscriber: SUBSCRIBE confirmations) */
    size_t sub_pending;  /* HANDSHAKE: confirmations before the subscription is live */
    size_t pubs_in_flight;
    size_t bytes_in_flight;
    uint64_t progress_ms; /* uv_now of the last answer, or of the send that started waiting */
    char why[200];        /* FAILED: the reason */
    char addr[INET6_ADDRSTRLEN];
};

/* A PUBLISH formatted by hiredis, waiting for the publisher. */
struct pending {
    char *cmd; /* owned (redisFreeCommand) */
    size_t len;
};

/* What the URL says. */
struct target {
    char host[256]; /* a name or an IP literal (without brackets) */
    bool literal;
    int port;
    char *user;     /* owned, or NULL */
    char *password; /* owned, or NULL: no AUTH */
};

struct redis_pubsub {
    struct pubsub base;
    struct target target;
    char *prefix; /* owned */
    size_t prefix_len;
    char hb_channel[FULL_CHANNEL_BYTES]; /* the subscriber's private heartbeat channel */
    size_t hb_len;
    uint64_t connect_timeout_ms;
    uint64_t command_timeout_ms;
    uint64_t heartbeat_ms;
    size_t max_pending;
    size_t max_pending_bytes;
    size_t max_payload;
    pubsub_message_cb on_message;
    pubsub_state_cb on_state;
    void *data;

    struct rconn sub;
    struct rconn pub;
    char **channels; /* owned: full names (prefix included), subscribed again on reconnect */
    size_t num_channels;
    size_t cap_channels;
    struct pending *queue; /* a ring, grown on demand up to max_pending */
    size_t qcap;
    size_t qhead;
    size_t qlen;
    size_t qbytes;
    uint64_t rng;
    size_t handles_open; /* uv handles not yet through their close callback */
    bool up;

    uint64_t reconnects;
    uint64_t failures;
    uint64_t published;
    uint64_t received;
    uint64_t dropped;
    uint64_t lost;
    char last_error[200];
    char logged_error[200]; /* the last message logged at warn (repeats go to debug) */
};

/* ------------------------------------------------------------- helpers */

PT_PRINTF(3, 4) static void format_cut(char *out, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, size, fmt, ap);
    va_end(ap);
}

static const char *conn_name(const struct rconn *c)
{
    return c->kind == KIND_SUBSCRIBER ? "subscriber" : "publisher";
}

/* xorshift64*: back-off jitter and a channel name, nothing secret. */
static uint64_t next_random(struct redis_pubsub *ps)
{
    uint64_t x = ps->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    ps->rng = x;
    return x * 0x2545f4914f6cdd1dull;
}

/* A random delay in [d/2, d]. */
static uint64_t jitter(struct redis_pubsub *ps, uint64_t d)
{
    return d / 2 + next_random(ps) % (d / 2 + 1);
}

/*
 * Record a failure for stats (what: which connection and how, msg: why) and
 * log it: at warn, or at debug when a failed attempt repeats the last message
 * logged (an outage makes every attempt fail the same way). Losses always warn.
 */
static void note_error(struct redis_pubsub *ps, const char *what, const char *msg, bool repeatable)
{
    format_cut(ps->last_error, sizeof(ps->last_error), "%s: %s", what, msg);
    if (repeatable && strcmp(msg, ps->logged_error) == 0) {
        pt_log_debug("pubsub: redis %s", ps->last_error);
        return;
    }
    format_cut(ps->logged_error, sizeof(ps->logged_error), "%s", msg);
    pt_log_warn("pubsub: redis %s", ps->last_error);
}

static bool is_string(const redisReply *r)
{
    return r != NULL && r->type == REDIS_REPLY_STRING && r->str != NULL;
}

static bool reply_is(const redisReply *r, const char *word)
{
    return is_string(r) && r->len == strlen(word) && strncasecmp(r->str, word, r->len) == 0;
}

static bool is_heartbeat(const struct redis_pubsub *ps, const redisReply *chan)
{
    return chan->len == ps->hb_len && memcmp(chan->str, ps->hb_channel, ps->hb_len) == 0;
}

/* ------------------------------------------------------------- the queue */

static void queue_pop_free(struct redis_pubsub *ps)
{
    struct pending *p = &ps->queue[ps->qhead];
    ps->qbytes -= p->len;
    redisFreeCommand(p->cmd);
    p->cmd = NULL;
    ps->qhead = (ps->qhead + 1) % ps->qcap;
    ps->qlen--;
}

/* Queue a formatted PUBLISH (takes ownership), dropping the oldest beyond the bounds. */
static void queue_push(struct redis_pubsub *ps, char *cmd, size_t len)
{
    while (ps->qlen > 0 &&
           (ps->qlen >= ps->max_pending || ps->qbytes + len > ps->max_pending_bytes)) {
        queue_pop_free(ps);
        ps->dropped++;
    }
    if (ps->qlen == ps->qcap) {
        size_t cap = PT_MIN(ps->qcap > 0 ? ps->qcap * 2 : 16, ps->max_pending);
        struct pending *q = pt_xcalloc(cap, sizeof(*q));
        for (size_t i = 0; i < ps->qlen; i++)
            q[i] = ps->queue[(ps->qhead + i) % ps->qcap];
        free(ps->queue);
        ps->queue = q;
        ps->qcap = cap;
        ps->qhead = 0;
    }
    ps->queue[(ps->qhead + ps->qlen) % ps->qcap] = (struct pending){cmd, len};
    ps->qlen++;
    ps->qbytes += len;
}

/* ------------------------------------------------------------- the adapter */

static void on_poll(uv_poll_t *h, int status, int events);
static void fail(struct rconn *c, const char *why);

static void on_poll_closed(uv_handle_t *h)
{
    struct redis_pubsub *ps = h->data;
    ps->handles_open--;
    free(pt_container_of((uv_poll_t *)h, struct rpoll, handle));
}

/* Watch what hiredis wants (and the peer's hang-up while reading). */
static void sync_poll(struct rpoll *p)
{
    int events = p->wanted;
    if (events & UV_READABLE)
        events |= UV_DISCONNECT;
    if (events == p->started)
        return;
    int rc = events == 0 ? uv_poll_stop(&p->handle) : uv_poll_start(&p->handle, events, on_poll);
    if (rc != 0) {
        fail(p->conn, uv_strerror(rc));
        return;
    }
    p->started = events;
}

static void change_events(void *privdata, int add, int del)
{
    struct rpoll *p = privdata;
    if (p->conn == NULL)
        return;
    p->wanted = (p->wanted | add) & ~del;
    sync_poll(p);
}

static void ev_add_read(void *privdata)
{
    change_events(privdata, UV_READABLE, 0);
}

static void ev_del_read(void *privdata)
{
    change_events(privdata, 0, UV_READABLE);
}

static void ev_add_write(void *privdata)
{
    change_events(privdata, UV_WRITABLE, 0);
}

static void ev_del_write(void *privdata)
{
    change_events(privdata, 0, UV_WRITABLE);
}

/* hiredis frees the context: stop watching before it closes the socket. */
static void ev_cleanup(void *privdata)
{
    struct rpoll *p = privdata;
    if (p->conn == NULL)
        return;
    p->conn = NULL;
    uv_close((uv_handle_t *)&p->handle, on_poll_closed);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    struct rpoll *p = pt_container_of(h, struct rpoll, handle);
    if (p->conn == NULL || p->conn->ac == NULL)
        return;
    redisAsyncContext *ac = p->conn->ac;
    if (status < 0) {
        /* libuv stopped the handle (POLLERR: refused, reset): hiredis reads the error itself. */
        p->started = 0;
        events = UV_READABLE;
    }
    if (events & (UV_READABLE | UV_DISCONNECT))
        redisAsyncHandleRead(ac);
    /* Each call may free the context: its cleanup hook has then cleared p->conn. */
    if (p->conn != NULL && (events & UV_WRITABLE))
        redisAsyncHandleWrite(ac);
    if (p->conn != NULL)
        sync_poll(p);
}

/* Put the context's socket on the loop. Returns 0 or a libuv error (nothing attached). */
static int attach(struct rconn *c, redisAsyncContext *ac)
{
    struct rpoll *p = pt_xcalloc(1, sizeof(*p));
    int rc = uv_poll_init_socket(c->ps->base.loop, &p->handle, ac->c.fd);
    if (rc != 0) {
        free(p);
        return rc;
    }
    p->handle.data = c->ps;
    p->conn = c;
    c->ps->handles_open++;
    ac->ev.data = p;
    ac->ev.addRead = ev_add_read;
    ac->ev.delRead = ev_del_read;
    ac->ev.addWrite = ev_add_write;
    ac->ev.delWrite = ev_del_write;
    ac->ev.cleanup = ev_cleanup;
    return 0;
}

/* ------------------------------------------------------------- connection life */

static void on_timer(uv_timer_t *t);
static void pump(struct rconn *c);

static void arm(struct rconn *c, uint64_t ms, uint64_t repeat_ms)
{
    if (!c->ps->base.closing) /* pubsub_close's zero timer must stay */
        uv_timer_start(&c->timer, on_timer, ms, repeat_ms);
}

/* Free the context, at a safe point only (a loop callback, not inside hiredis). */
static void drop(struct rconn *c)
{
    redisAsyncContext *ac = c->ac;
    if (ac == NULL)
        return;
    c->dropping = true;
    redisAsyncFree(ac); /* answers awaited get NULL; cleanup; on_disconnect is ignored */
    c->dropping = false;
    c->ac = NULL;
}

/*
 * The connection failed or was lost (why), its context already gone: back off
 * and retry (unless closing). Never calls into hiredis, so it may run inside
 * hiredis callbacks. The subscriber's loss is told with on_state(false), last.
 */
static void conn_down(struct rconn *c, const char *why)
{
    struct redis_pubsub *ps = c->ps;
    bool was_up = c->up;
    c->state = CONN_DOWN;
    c->up = false;
    if (ps->base.closing)
        return; /* not a failure: pubsub_close's timer closes the connection */
    char what[48];
    snprintf(what, sizeof(what), "%s %s", conn_name(c), was_up ? "lost" : "failed");
    note_error(ps, what, why, !was_up);
    ps->failures++;
    c->had_failure = true;
    c->authing = false;
    c->hb_outstanding = false;
    c->in_flight = c->sub_pending = c->pubs_in_flight = c->bytes_in_flight = 0;
    arm(c, jitter(ps, c->backoff_ms), 0);
    c->backoff_ms = PT_MIN(c->backoff_ms * 2, BACKOFF_MAX_MS);
    if (c->kind == KIND_SUBSCRIBER && was_up) {
        ps->up = false;
        if (ps->on_state != NULL)
            ps->on_state(ps->data, false);
    }
}

/* An error inside a callback (or a hook): the timer drops the context, at once. */
static void fail(struct rconn *c, const char *why)
{
    if (c->state == CONN_FAILED || c->state == CONN_DOWN || c->state == CONN_CLOSED)
        return; /* the first reason wins */
    format_cut(c->why, sizeof(c->why), "%s", why);
    c->state = CONN_FAILED;
    arm(c, 0, 0);
}

/* An error at a safe point (why may be c->why). */
static void fail_now(struct rconn *c, const char *why)
{
    char copy[sizeof(c->why)];
    format_cut(copy, sizeof(copy), "%s", why);
    drop(c);
    conn_down(c, copy);
}

/* An error answer to cmd, inside its callback. */
static void fail_reply(struct rconn *c, const char *cmd, const redisReply *reply)
{
    char why[sizeof(c->why)];
    format_cut(why, sizeof(why), "%s: %.*s", cmd, (int)PT_MIN(reply->len, 160), reply->str);
    fail(c, why);
}

/* hiredis freed the context by itself (read error, EOF, refused connect). */
static void context_gone(struct rconn *c, const char *errstr)
{
    char why[sizeof(c->why)];
    format_cut(why, sizeof(why), "%s",
               c->state == CONN_FAILED ? c->why
               : errstr != NULL        ? errstr
                                       : "connection closed");
    c->ac = NULL;
    conn_down(c, why);
}

static void on_timer_closed(uv_handle_t *h)
{
    struct rconn *c = h->data;
    c->ps->handles_open--;
}

/* pubsub_close: from the timer, so the context is freed at a safe point. */
static void close_conn(struct rconn *c)
{
    if (c->state == CONN_CLOSED)
        return;
    drop(c);
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, on_timer_closed);
    c->state = CONN_CLOSED;
    c->up = false;
}

static void note_sent(struct rconn *c, size_t answers)
{
    if (c->in_flight == 0)
        c->progress_ms = uv_now(c->ps->base.loop);
    c->in_flight += answers;
}

static void note_progress(struct rconn *c)
{
    c->progress_ms = uv_now(c->ps->base.loop);
}

static void note_answer(struct rconn *c)
{
    if (c->in_flight > 0)
        c->in_flight--;
    note_progress(c);
}

/* Send a command expecting answers replies; false after a failure. */
static bool send_argv(struct rconn *c, redisCallbackFn *fn, int argc, const char **argv,
                      const size_t *len, size_t answers)
{
    if (redisAsyncCommandArgv(c->ac, fn, NULL, argc, argv, len) != REDIS_OK) {
        fail(c, "hiredis refused a command (the connection is closing)");
        return false;
    }
    note_sent(c, answers);
    return true;
}

static void become_ready(struct rconn *c)
{
    struct redis_pubsub *ps = c->ps;
    c->state = CONN_READY;
    c->up = true;
    c->backoff_ms = BACKOFF_MIN_MS;
    ps->logged_error[0] = '\0';
    if (c->had_failure) {
        ps->reconnects++;
        pt_log_info("pubsub: redis %s connection up again", conn_name(c));
    } else {
        pt_log_debug("pubsub: redis %s connection up", conn_name(c));
    }
    c->had_failure = false;
    note_progress(c);
    arm(c, ps->heartbeat_ms, ps->heartbeat_ms);
    if (c->kind == KIND_PUBLISHER) {
        pump(c);
        return;
    }
    ps->up = true;
    if (ps->on_state != NULL)
        ps->on_state(ps->data, true);
}

/* ------------------------------------------------------------- the subscriber */

static void on_sub_reply(redisAsyncContext *ac, void *r, void *privdata);

/* SUBSCRIBE every remembered channel and the heartbeat channel (last: its answer says live). */
static void subscribe_all(struct rconn *c)
{
    struct redis_pubsub *ps = c->ps;
    size_t n = ps->num_channels + 1;
    const char **argv = pt_xcalloc(n + 1, sizeof(*argv));
    size_t *len = pt_xcalloc(n + 1, sizeof(*len));
    argv[0] = "SUBSCRIBE";
    len[0] = strlen(argv[0]);
    for (size_t i = 0; i < ps->num_channels; i++) {
        argv[i + 1] = ps->channels[i];
        len[i + 1] = strlen(ps->channels[i]);
    }
    argv[n] = ps->hb_channel;
    len[n] = ps->hb_len;
    if (send_argv(c, on_sub_reply, (int)(n + 1), argv, len, n)) {
        c->sub_pending = n;
        c->hb_outstanding = true;
    }
    free(argv);
    free(len);
}

static void deliver(struct rconn *c, const redisReply *chan, const redisReply *msg)
{
    struct redis_pubsub *ps = c->ps;
    if (!is_string(msg) || is_heartbeat(ps, chan) || chan->len < ps->prefix_len ||
        memcmp(chan->str, ps->prefix, ps->prefix_len) != 0)
        return;
    ps->received++;
    if (ps->on_message != NULL)
        ps->on_message(ps->data, chan->str + ps->prefix_len, pt_str_make(msg->str, msg->len));
}

/*
 * Every answer on the subscriber: confirmations, messages, errors. hiredis
 * 0.14 may hand a reply it cannot match to the callback it ran last, so this
 * one callback takes whatever comes and judges it by its shape.
 */
static void on_sub_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    (void)privdata;
    struct rconn *c = ac->data;
    struct redis_pubsub *ps = c->ps;
    const redisReply *reply = r;
    if (reply == NULL || ps->base.closing || (c->state != CONN_HANDSHAKE && c->state != CONN_READY))
        return;
    if (reply->type == REDIS_REPLY_ERROR) {
        fail_reply(c, "SUBSCRIBE", reply);
        return;
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3 || !is_string(reply->element[1]))
        return;
    const redisReply *chan = reply->element[1];
    note_progress(c);
    if (reply_is(reply->element[0], "message")) {
        deliver(c, chan, reply->element[2]);
        return;
    }
    if (!reply_is(reply->element[0], "subscribe"))
        return;
    note_answer(c);
    if (is_heartbeat(ps, chan))
        c->hb_outstanding = false;
    if (c->state == CONN_HANDSHAKE && c->sub_pending > 0 && --c->sub_pending == 0)
        become_ready(c);
}

/* ------------------------------------------------------------- the publisher */

static void on_ping_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    (void)privdata;
    struct rconn *c = ac->data;
    const redisReply *reply = r;
    if (reply == NULL || c->ps->base.closing || c->state != CONN_READY)
        return;
    note_answer(c);
    c->hb_outstanding = false;
    if (reply->type == REDIS_REPLY_ERROR)
        fail_reply(c, "PING", reply);
}

/* privdata: the formatted command's size, for the in-flight bound. */
static void on_publish_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    struct rconn *c = ac->data;
    struct redis_pubsub *ps = c->ps;
    const redisReply *reply = r;
    if (reply == NULL) {
        ps->lost++; /* the context is being freed with this one in flight */
        return;
    }
    note_answer(c);
    c->pubs_in_flight--;
    c->bytes_in_flight -= (size_t)(uintptr_t)privdata;
    if (reply->type == REDIS_REPLY_INTEGER) {
        ps->published++;
    } else {
        ps->dropped++;
        note_error(ps, "PUBLISH refused",
                   reply->type == REDIS_REPLY_ERROR ? reply->str : "an unexpected answer", true);
    }
    if (!ps->base.closing && c->state == CONN_READY)
        pump(c);
}

/* Send what waits, in order, while the in-flight window has room (one always fits). */
static void pump(struct rconn *c)
{
    struct redis_pubsub *ps = c->ps;
    while (ps->qlen > 0 && c->state == CONN_READY) {
        const struct pending *p = &ps->queue[ps->qhead];
        if (c->pubs_in_flight > 0 && (c->pubs_in_flight >= ps->max_pending ||
                                      c->bytes_in_flight + p->len > ps->max_pending_bytes))
            return;
        if (redisAsyncFormattedCommand(c->ac, on_publish_reply, (void *)(uintptr_t)p->len, p->cmd,
                                       p->len) != REDIS_OK) {
            fail(c, "hiredis refused a command (the connection is closing)");
            return;
        }
        note_sent(c, 1);
        c->pubs_in_flight++;
        c->bytes_in_flight += p->len;
        queue_pop_free(ps); /* hiredis copied it */
    }
}

/* ------------------------------------------------------------- bring-up */

static void after_auth(struct rconn *c)
{
    if (c->kind == KIND_PUBLISHER)
        become_ready(c);
    else
        subscribe_all(c);
}

static void on_auth_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    (void)privdata;
    struct rconn *c = ac->data;
    const redisReply *reply = r;
    if (reply == NULL || c->ps->base.closing || !c->authing || c->state != CONN_HANDSHAKE)
        return;
    c->authing = false;
    note_answer(c);
    if (reply->type == REDIS_REPLY_ERROR)
        fail_reply(c, "AUTH", reply);
    else
        after_auth(c);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    struct rconn *c = ac->data;
    if (status != REDIS_OK) {
        context_gone(c, ac->errstr); /* hiredis frees it when this returns */
        return;
    }
    if (c->ps->base.closing || c->state != CONN_CONNECTING)
        return;
    c->state = CONN_HANDSHAKE;
    const struct target *t = &c->ps->target;
    if (t->password == NULL) {
        after_auth(c);
        return;
    }
    const char *argv[3] = {"AUTH"};
    size_t len[3] = {4};
    int argc = 1;
    if (t->user != NULL) {
        argv[argc] = t->user;
        len[argc++] = strlen(t->user);
    }
    argv[argc] = t->password;
    len[argc++] = strlen(t->password);
    if (send_argv(c, on_auth_reply, argc, argv, len, 1))
        c->authing = true;
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    (void)status;
    struct rconn *c = ac->data;
    if (c->dropping)
        return; /* our own drop(): the caller goes on */
    context_gone(c, ac->errstr);
}

/* Connect to c->addr (an IP literal, so hiredis' own lookup does not block). */
static void connect_addr(struct rconn *c)
{
    struct redis_pubsub *ps = c->ps;
    redisAsyncContext *ac = redisAsyncConnect(c->addr, ps->target.port);
    if (ac == NULL) {
        conn_down(c, "out of memory");
        return;
    }
    if (ac->err != 0) {
        char why[sizeof(c->why)];
        format_cut(why, sizeof(why), "%s", ac->errstr);
        redisAsyncFree(ac); /* nothing attached yet */
        conn_down(c, why);
        return;
    }
    ac->data = c;
    int rc = attach(c, ac);
    if (rc != 0) {
        redisAsyncFree(ac);
        conn_down(c, uv_strerror(rc));
        return;
    }
    c->ac = ac;
    c->state = CONN_CONNECTING;
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    redisAsyncSetConnectCallback(ac, on_connect); /* asks for writable: the connect's end */
}

static void on_lookup(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct rconn *c = pt_container_of(req, struct rconn, lookup);
    struct redis_pubsub *ps = c->ps;
    c->lookup_busy = false;
    if (ps->base.closing || c->state != CONN_RESOLVING) {
        uv_freeaddrinfo(res);
        return;
    }
    if (status != 0) {
        char why[sizeof(c->why)];
        format_cut(why, sizeof(why), "could not resolve \"%s\": %s", ps->target.host,
                   uv_strerror(status));
        uv_freeaddrinfo(res);
        conn_down(c, why);
        return;
    }
    /* Each attempt takes the next address (AF_UNSPEC, SOCK_STREAM: IPv4 and IPv6 only). */
    size_t n = 0;
    for (const struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next)
        n++;
    const struct addrinfo *ai = res;
    for (size_t i = n > 0 ? (c->attempt - 1) % n : 0; i > 0; i--)
        ai = ai->ai_next;
    int rc = ai != NULL ? uv_ip_name(ai->ai_addr, c->addr, sizeof(c->addr)) : UV_EAI_NONAME;
    uv_freeaddrinfo(res);
    if (rc != 0) {
        char why[sizeof(c->why)];
        format_cut(why, sizeof(why), "no usable address for \"%s\"", ps->target.host);
        conn_down(c, why);
        return;
    }
    connect_addr(c);
}

static void conn_start(struct rconn *c)
{
    struct redis_pubsub *ps = c->ps;
    arm(c, ps->connect_timeout_ms, 0);
    c->attempt++;
    c->state = CONN_RESOLVING;
    if (ps->target.literal) {
        format_cut(c->addr, sizeof(c->addr), "%s", ps->target.host);
        connect_addr(c);
        return;
    }
    if (c->lookup_busy)
        return; /* the lookup still under way serves this attempt */
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    int rc = uv_getaddrinfo(ps->base.loop, &c->lookup, on_lookup, ps->target.host, NULL, &hints);
    if (rc != 0) {
        char why[sizeof(c->why)];
        format_cut(why, sizeof(why), "could not resolve \"%s\": %s", ps->target.host,
                   uv_strerror(rc));
        conn_down(c, why);
        return;
    }
    c->lookup_busy = true;
}

/* READY: fail a connection whose answer is overdue, else send the next heartbeat. */
static void heartbeat(struct rconn *c)
{
    struct redis_pubsub *ps = c->ps;
    if (c->in_flight > 0 && uv_now(ps->base.loop) - c->progress_ms >= ps->command_timeout_ms) {
        char why[96];
        snprintf(why, sizeof(why), "no answer within %llu ms",
                 (unsigned long long)ps->command_timeout_ms);
        fail_now(c, why);
        return;
    }
    if (c->hb_outstanding)
        return;
    bool sent;
    if (c->kind == KIND_SUBSCRIBER) {
        const char *argv[] = {"SUBSCRIBE", ps->hb_channel};
        const size_t len[] = {9, ps->hb_len};
        sent = send_argv(c, on_sub_reply, 2, argv, len, 1);
    } else {
        const char *argv[] = {"PING"};
        const size_t len[] = {4};
        sent = send_argv(c, on_ping_reply, 1, argv, len, 1);
    }
    c->hb_outstanding = sent;
}

static void on_timer(uv_timer_t *t)
{
    struct rconn *c = t->data;
    struct redis_pubsub *ps = c->ps;
    char why[96];
    if (ps->base.closing) {
        close_conn(c);
        return;
    }
    switch (c->state) {
    case CONN_DOWN:
        conn_start(c);
        break;
    case CONN_RESOLVING:
    case CONN_CONNECTING:
    case CONN_HANDSHAKE:
        snprintf(why, sizeof(why), "not ready within %llu ms",
                 (unsigned long long)ps->connect_timeout_ms);
        fail_now(c, why);
        break;
    case CONN_READY:
        heartbeat(c);
        break;
    case CONN_FAILED:
        fail_now(c, c->why);
        break;
    case CONN_CLOSED:
        break;
    }
}

/* ------------------------------------------------------------- the engine */

static struct redis_pubsub *from_base(struct pubsub *base)
{
    return pt_container_of(base, struct redis_pubsub, base);
}

/* The full name (prefix + channel) into out (FULL_CHANNEL_BYTES); its length, or 0 if invalid. */
static size_t full_name(const struct redis_pubsub *ps, const char *channel, char *out)
{
    size_t n = channel != NULL ? strnlen(channel, MAX_CHANNEL_BYTES + 1) : 0;
    if (n == 0 || n > MAX_CHANNEL_BYTES)
        return 0;
    memcpy(out, ps->prefix, ps->prefix_len);
    memcpy(out + ps->prefix_len, channel, n);
    out[ps->prefix_len + n] = '\0';
    return ps->prefix_len + n;
}

static int redis_subscribe(struct pubsub *base, const char *channel)
{
    struct redis_pubsub *ps = from_base(base);
    char full[FULL_CHANNEL_BYTES];
    size_t n = full_name(ps, channel, full);
    if (n == 0)
        return PT_E_INVALID;
    for (size_t i = 0; i < ps->num_channels; i++) {
        if (strcmp(ps->channels[i], full) == 0)
            return 0;
    }
    if (ps->num_channels == MAX_CHANNELS)
        return PT_E_NOMEM;
    if (ps->num_channels == ps->cap_channels) {
        ps->cap_channels = ps->cap_channels > 0 ? ps->cap_channels * 2 : 8;
        ps->channels = pt_xrealloc(ps->channels, ps->cap_channels * sizeof(*ps->channels));
    }
    ps->channels[ps->num_channels++] = pt_xstrndup(full, n);
    /* Connected: now (while the first SUBSCRIBE is answered, as one more to wait for). */
    struct rconn *c = &ps->sub;
    bool subscribing = c->state == CONN_HANDSHAKE && c->sub_pending > 0;
    if (c->state == CONN_READY || subscribing) {
        const char *argv[] = {"SUBSCRIBE", full};
        const size_t len[] = {9, n};
        if (send_argv(c, on_sub_reply, 2, argv, len, 1) && subscribing)
            c->sub_pending++;
    }
    return 0;
}

static int redis_publish(struct pubsub *base, const char *channel, struct pt_str payload)
{
    struct redis_pubsub *ps = from_base(base);
    char full[FULL_CHANNEL_BYTES];
    size_t n = full_name(ps, channel, full);
    if (n == 0)
        return PT_E_INVALID;
    if (payload.len > ps->max_payload)
        return PT_E_RANGE;
    const char *argv[] = {"PUBLISH", full, payload.len > 0 ? payload.ptr : ""};
    const size_t len[] = {7, n, payload.len};
    char *cmd = NULL;
    int clen = redisFormatCommandArgv(&cmd, 3, argv, len);
    if (clen < 0)
        abort(); /* heap exhaustion (STYLE.md §3) */
    queue_push(ps, cmd, (size_t)clen);
    pump(&ps->pub);
    return 0;
}

static void redis_stats(const struct pubsub *base, struct pubsub_stats *out)
{
    const struct redis_pubsub *ps =
        (const struct redis_pubsub *)(const void *)((const char *)base -
                                                    offsetof(struct redis_pubsub, base));
    out->engine = "redis";
    out->up = ps->up;
    out->publish_up = ps->pub.state == CONN_READY;
    out->subscriber_state = state_names[ps->sub.state];
    out->publisher_state = state_names[ps->pub.state];
    out->reconnects = ps->reconnects;
    out->failures = ps->failures;
    out->published = ps->published;
    out->received = ps->received;
    out->dropped = ps->dropped;
    out->lost = ps->lost;
    out->queued = ps->qlen;
    snprintf(out->last_error, sizeof(out->last_error), "%s", ps->last_error);
}

static void redis_close(struct pubsub *base)
{
    struct redis_pubsub *ps = from_base(base);
    while (ps->qlen > 0) {
        queue_pop_free(ps);
        ps->dropped++;
    }
    ps->up = false;
    struct rconn *conns[] = {&ps->sub, &ps->pub};
    for (size_t i = 0; i < PT_ARRAY_SIZE(conns); i++) {
        if (conns[i]->lookup_busy)
            uv_cancel((uv_req_t *)&conns[i]->lookup); /* on_lookup runs either way */
        /* Not here: this may run inside a hiredis callback. The timer frees the context. */
        if (conns[i]->state != CONN_CLOSED)
            uv_timer_start(&conns[i]->timer, on_timer, 0, 0);
    }
}

static void free_pubsub(struct redis_pubsub *ps)
{
    free(ps->target.user);
    free(ps->target.password);
    free(ps->prefix);
    for (size_t i = 0; i < ps->num_channels; i++)
        free(ps->channels[i]);
    free(ps->channels);
    while (ps->qlen > 0)
        queue_pop_free(ps);
    free(ps->queue);
    free(ps);
}

static void redis_free(struct pubsub *base)
{
    struct redis_pubsub *ps = from_base(base);
    /* Only after pubsub_close and a loop run dry: every handle is through its close callback. */
    assert(ps->handles_open == 0 && !ps->sub.lookup_busy && !ps->pub.lookup_busy);
    assert(ps->sub.ac == NULL && ps->pub.ac == NULL);
    free_pubsub(ps);
}

static const struct pubsub_engine redis_engine = {
    .subscribe = redis_subscribe,
    .publish = redis_publish,
    .stats = redis_stats,
    .close = redis_close,
    .free = redis_free,
};

/* ------------------------------------------------------------- opening */

static int hex_digit(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* %XX-decode n bytes of s into an owned string; NULL for a bad escape or a NUL. */
static char *percent_decode(const char *s, size_t n)
{
    char *out = pt_xmalloc(n + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch == '%') {
            int hi = i + 2 < n ? hex_digit(s[i + 1]) : -1;
            int lo = i + 2 < n ? hex_digit(s[i + 2]) : -1;
            hi = hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
            if (hi <= 0) {
                free(out);
                return NULL;
            }
            ch = (char)hi;
            i += 2;
        }
        out[k++] = ch;
    }
    out[k] = '\0';
    return out;
}

/* A decimal number of the whole [p, end) within [min, max]; -1 if not. */
static long parse_number(const char *p, const char *end, long min, long max)
{
    long v = 0;
    if (p == end || end - p > 10)
        return -1;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (*p - '0');
    }
    return v >= min && v <= max ? v : -1;
}

#define HOST_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._"

/* redis://[[user]:password@]host[:port][/db] into t. Returns 0, or PT_E_INVALID with *why. */
static int parse_url(const char *url, struct target *t, const char **why)
{
    *why = "only redis://[[user]:password@]host[:port][/db] URLs are supported";
    if (url != NULL && strncasecmp(url, "rediss://", 9) == 0)
        *why = "rediss:// (TLS) is not supported";
    if (url == NULL || strncasecmp(url, "redis://", 8) != 0)
        return PT_E_INVALID;
    const char *p = url + 8, *slash = strchr(p, '/'), *at = NULL;
    const char *end = slash != NULL ? slash : p + strlen(p);
    for (const char *q = p; q < end; q++)
        at = *q == '@' ? q : at;
    *why = "query parameters are not supported";
    if (strpbrk(p, "?#") != NULL)
        return PT_E_INVALID;
    if (at != NULL) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        *why = "the part before @ must be [user]:password (%-escaped, no NUL)";
        if (colon == NULL || (colon > p && !(t->user = percent_decode(p, (size_t)(colon - p)))) ||
            !(t->password = percent_decode(colon + 1, (size_t)(at - colon - 1))))
            return PT_E_INVALID;
        if (t->password[0] == '\0' && t->user != NULL)
            return PT_E_INVALID;
        if (t->password[0] == '\0') { /* redis://:@host: no AUTH */
            free(t->password);
            t->password = NULL;
        }
        p = at + 1;
    }
    bool bracket = *p == '[';
    const char *host = p + bracket;
    const char *host_end = memchr(host, bracket ? ']' : ':', (size_t)(end - host));
    if (host_end == NULL && !bracket)
        host_end = end;
    size_t n = host_end != NULL ? (size_t)(host_end - host) : 0;
    *why = "a bad host (a name, an IPv4 address or an [IPv6 address])";
    if (n == 0 || n >= sizeof(t->host))
        return PT_E_INVALID;
    memcpy(t->host, host, n);
    t->host[n] = '\0';
    unsigned char addr[sizeof(struct in6_addr)];
    t->literal = inet_pton(bracket ? AF_INET6 : AF_INET, t->host, addr) == 1;
    if (bracket ? !t->literal : strspn(t->host, HOST_CHARS) != n)
        return PT_E_INVALID;
    p = host_end + bracket;
    t->port = DEFAULT_PORT;
    if (p < end) {
        long port = *p == ':' ? parse_number(p + 1, end, 1, 65535) : -1;
        *why = "the port must be a number from 1 to 65535";
        if (port < 0)
            return PT_E_INVALID;
        t->port = (int)port;
    }
    *why = "the database must be a number";
    if (slash != NULL && slash[1] != '\0' &&
        parse_number(slash + 1, slash + strlen(slash), 0, 2147483647) < 0)
        return PT_E_INVALID;
    return 0;
}

static void seed_random(struct redis_pubsub *ps)
{
    uint64_t seed = 0;
    if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed))
        seed = uv_hrtime() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)ps;
    ps->rng = seed != 0 ? seed : 0x9e3779b97f4a7c15ull;
}

static void init_conn(struct redis_pubsub *ps, struct rconn *c, enum conn_kind kind)
{
    c->ps = ps;
    c->kind = kind;
    c->state = CONN_DOWN;
    c->backoff_ms = BACKOFF_MIN_MS;
    uv_timer_init(ps->base.loop, &c->timer); /* cannot fail on Unix */
    c->timer.data = c;
    ps->handles_open++;
}

struct pubsub *pubsub_redis_open(uv_loop_t *loop, const struct pubsub_config *cfg)
{
    struct redis_pubsub *ps = pt_xcalloc(1, sizeof(*ps));
    const char *why = NULL;
    const char *prefix = cfg->channel_prefix != NULL ? cfg->channel_prefix : "";
    ps->max_pending = cfg->max_pending ? cfg->max_pending : DEFAULT_MAX_PENDING;
    ps->max_pending_bytes =
        cfg->max_pending_bytes ? cfg->max_pending_bytes : DEFAULT_MAX_PENDING_BYTES;
    ps->max_payload = cfg->max_payload_bytes ? cfg->max_payload_bytes : DEFAULT_MAX_PAYLOAD_BYTES;
    if (parse_url(cfg->url, &ps->target, &why) < 0) {
        /* The URL itself is not logged: it may hold a password. */
        pt_log_error("pubsub: the Redis URL is refused: %s", why);
        goto out_free;
    }
    if (strlen(prefix) > MAX_PREFIX_BYTES) {
        pt_log_error("pubsub: the channel prefix is over %d bytes", MAX_PREFIX_BYTES);
        goto out_free;
    }
    if (ps->max_pending_bytes > MAX_PENDING_BYTES_LIMIT ||
        ps->max_payload > ps->max_pending_bytes) {
        pt_log_error("pubsub: max_payload_bytes must be at most max_pending_bytes (at most 1 GiB)");
        goto out_free;
    }
    ps->base.engine = &redis_engine;
    ps->base.loop = loop;
    ps->prefix_len = strlen(prefix);
    ps->prefix = pt_xstrndup(prefix, ps->prefix_len);
    ps->connect_timeout_ms =
        cfg->connect_timeout_ms ? cfg->connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS;
    ps->command_timeout_ms =
        cfg->command_timeout_ms ? cfg->command_timeout_ms : DEFAULT_COMMAND_TIMEOUT_MS;
    ps->heartbeat_ms = cfg->heartbeat_ms ? cfg->heartbeat_ms : DEFAULT_HEARTBEAT_MS;
    ps->on_message = cfg->on_message;
    ps->on_state = cfg->on_state;
    ps->data = cfg->data;
    seed_random(ps);
    ps->hb_len =
        (size_t)snprintf(ps->hb_channel, sizeof(ps->hb_channel), "%s" HEARTBEAT_NAME "%016llx",
                         ps->prefix, (unsigned long long)next_random(ps));
    init_conn(ps, &ps->sub, KIND_SUBSCRIBER);
    init_conn(ps, &ps->pub, KIND_PUBLISHER);
    conn_start(&ps->sub);
    conn_start(&ps->pub);
    return &ps->base;

out_free:
    free_pubsub(ps);
    return NULL;
}
