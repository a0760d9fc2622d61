/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * redis_test.c -- the Redis engine of the pubsub layer (src/pubsub/redis.c)
 * against a real redis-server that each test starts on a free loopback port in
 * a temporary directory, and stops, kills or restarts: two instances, A
 * publishes and B receives; many messages in order; binary and 1 MiB
 * payloads; the server stopped (SIGSTOP: connections stay open, nothing
 * answers) and continued, killed and restarted on the same port, not running
 * at start; publishes while the publisher is down (its user disabled by ACL,
 * so B stays live): queued up to the bound, the excess dropped; close in
 * every state, also from inside the callbacks; URLs refused.
 *
 * Conditions are waited for with generous deadlines, never fixed sleeps.
 * Without redis-server on the PATH the test fails, it is not skipped, unless
 * PT_TEST_NO_REDIS=1 says so on purpose (then only the cases without a server
 * run).
 *
 * Run: make SANITIZE=address,undefined build/san/tests/unit/pubsub/redis_test &&
 *      build/san/tests/unit/pubsub/redis_test
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "pubsub/pubsub.h"

#define WAIT_MS 30000 /* a busy 2-core CI box, sanitizers on */
#define CHANNEL "positions"
#define PREFIX "pt-test:"
#define BIG_BYTES (1u << 20) /* the default max_payload_bytes */

struct msg {
    char *channel;
    char *data;
    size_t len;
};

/* One pubsub instance and what its callbacks saw. */
struct peer {
    struct pubsub *ps;
    int ups;
    int downs;
    bool up;
    struct msg *msgs;
    size_t n;
    size_t cap;
    bool close_on_message; /* pubsub_close from inside on_message */
    bool close_on_up;      /* ... from inside on_state(true) */
    bool closed;
    int calls_after_close;
};

struct fixture {
    uv_loop_t loop;
    uv_timer_t ticker; /* keeps uv_run(UV_RUN_ONCE) returning while waiting */
    char dir[64];
    int port;
    pid_t redis;
    struct peer a, b;
};

/* ------------------------------------------------------------- redis-server */

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    socklen_t len = sizeof(sa);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    close(fd);
    return ntohs(sa.sin_port);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A blocking side connection of the test's own (not the engine's); NULL if refused. */
static redisContext *side_connect(const struct fixture *f)
{
    struct timeval tv = {1, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", f->port, tv);
    if (c != NULL && c->err == 0 && redisSetTimeout(c, tv) == REDIS_OK)
        return c;
    redisFree(c);
    return NULL;
}

/* One command on a side connection; fails the test unless it succeeds. */
static void side_command(const struct fixture *f, const char *fmt, ...)
{
    redisContext *c = side_connect(f);
    assert_non_null(c);
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    if (r == NULL || r->type == REDIS_REPLY_ERROR)
        fail_msg("%s: %s", fmt, r != NULL ? r->str : c->errstr);
    freeReplyObject(r);
    redisFree(c);
}

static bool redis_answers(const struct fixture *f)
{
    redisContext *c = side_connect(f);
    if (c == NULL)
        return false;
    redisReply *r = redisCommand(c, "PING");
    bool ok = r != NULL && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0;
    freeReplyObject(r);
    redisFree(c);
    return ok;
}

/* Start redis-server on f->port and wait until it answers. */
static void start_redis(struct fixture *f)
{
    char port[16], log[128];
    snprintf(port, sizeof(port), "%d", f->port);
    snprintf(log, sizeof(log), "%s/redis.log", f->dir);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--dir", f->dir, (char *)NULL);
        _exit(127);
    }
    f->redis = pid;
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        if (redis_answers(f))
            return;
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            f->redis = 0;
            fail_msg("redis-server exited (status %d); see %s", status, log);
        }
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec > WAIT_MS / 1000)
            fail_msg("redis-server did not answer on port %d; see %s", f->port, log);
        sleep_ms(20); /* waiting for the server to start, not the thing under test */
    }
}

static void signal_redis(struct fixture *f, int sig)
{
    assert_true(f->redis > 0);
    assert_int_equal(kill(f->redis, sig), 0);
    if (sig == SIGKILL) {
        waitpid(f->redis, NULL, 0);
        f->redis = 0;
    }
}

static void stop_redis(struct fixture *f)
{
    if (f->redis > 0) {
        kill(f->redis, SIGCONT);
        signal_redis(f, SIGKILL);
    }
}

/* ------------------------------------------------------------- the loop */

static void on_tick(uv_timer_t *t)
{
    (void)t;
}

typedef bool (*pred_fn)(struct fixture *f, size_t arg);

/* Run the loop until pred(f, arg) holds, or WAIT_MS go by. True if it did. */
static bool wait_for(struct fixture *f, pred_fn pred, size_t arg)
{
    assert_int_equal(uv_timer_init(&f->loop, &f->ticker), 0);
    assert_int_equal(uv_timer_start(&f->ticker, on_tick, 5, 5), 0);
    uint64_t end = uv_now(&f->loop) + WAIT_MS;
    while (!pred(f, arg) && uv_now(&f->loop) < end)
        uv_run(&f->loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&f->ticker, NULL);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    return pred(f, arg);
}

static struct pubsub_stats stats_of(const struct peer *p)
{
    struct pubsub_stats st;
    pubsub_stats(p->ps, &st);
    return st;
}

static bool b_ups(struct fixture *f, size_t n)
{
    return f->b.ups >= (int)n;
}

static bool b_downs(struct fixture *f, size_t n)
{
    return f->b.downs >= (int)n;
}

static bool b_received(struct fixture *f, size_t n)
{
    return f->b.n >= n;
}

static bool a_publish_up(struct fixture *f, size_t up)
{
    return stats_of(&f->a).publish_up == (up != 0);
}

static bool a_published(struct fixture *f, size_t n)
{
    return stats_of(&f->a).published >= n;
}

static bool both_failed(struct fixture *f, size_t n)
{
    return stats_of(&f->a).failures >= n && stats_of(&f->b).failures >= n;
}

static bool a_error_says(struct fixture *f, size_t what)
{
    return strstr(stats_of(&f->a).last_error, (const char *)what) != NULL;
}

static bool a_subscriber_in(struct fixture *f, size_t state)
{
    return strcmp(stats_of(&f->a).subscriber_state, (const char *)state) == 0;
}

static bool b_closed(struct fixture *f, size_t unused)
{
    (void)unused;
    return f->b.closed;
}

/* ------------------------------------------------------------- peers */

static void on_message(void *data, const char *channel, struct pt_str payload)
{
    struct peer *p = data;
    if (p->closed) {
        p->calls_after_close++;
        return;
    }
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 64;
        p->msgs = realloc(p->msgs, p->cap * sizeof(*p->msgs));
        assert_non_null(p->msgs);
    }
    struct msg *m = &p->msgs[p->n++];
    m->channel = strdup(channel);
    m->data = malloc(payload.len + 1);
    assert_non_null(m->data);
    if (payload.len > 0)
        memcpy(m->data, payload.ptr, payload.len);
    m->data[payload.len] = '\0';
    m->len = payload.len;
    if (p->close_on_message) {
        pubsub_close(p->ps);
        p->closed = true;
    }
}

static void on_state(void *data, bool up)
{
    struct peer *p = data;
    if (p->closed) {
        p->calls_after_close++;
        return;
    }
    assert_true(up != p->up); /* never twice the same in a row */
    p->up = up;
    if (up)
        p->ups++;
    else
        p->downs++;
    if (up && p->close_on_up) {
        pubsub_close(p->ps);
        p->closed = true;
    }
}

static struct pubsub *open_url(struct fixture *f, struct peer *p, const char *url,
                               size_t max_pending)
{
    struct pubsub_config cfg = {
        .url = url,
        .channel_prefix = PREFIX,
        .connect_timeout_ms = 2000,
        .command_timeout_ms = 1000,
        .heartbeat_ms = 200,
        .max_pending = max_pending,
        .on_message = on_message,
        .on_state = on_state,
        .data = p,
    };
    return pubsub_redis_open(&f->loop, &cfg);
}

static void open_peer(struct fixture *f, struct peer *p, const char *url, size_t max_pending)
{
    char def[64];
    if (url == NULL) {
        snprintf(def, sizeof(def), "redis://127.0.0.1:%d", f->port);
        url = def;
    }
    p->ps = open_url(f, p, url, max_pending);
    assert_non_null(p->ps);
}

static void close_peer(struct peer *p)
{
    pubsub_close(p->ps);
    p->closed = true;
}

/* Close what is open, run the loop dry (every handle closed), free. */
static void finish(struct fixture *f)
{
    struct peer *peers[] = {&f->a, &f->b};
    for (size_t i = 0; i < 2; i++) {
        if (peers[i]->ps != NULL)
            close_peer(peers[i]);
    }
    assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
    for (size_t i = 0; i < 2; i++) {
        pubsub_free(peers[i]->ps);
        peers[i]->ps = NULL;
        assert_int_equal(peers[i]->calls_after_close, 0);
    }
}

static void publish_str(struct peer *p, const char *channel, const char *s)
{
    assert_int_equal(pubsub_publish(p->ps, channel, pt_str_c(s)), 0);
}

/* A and B on the running server, B subscribed and live, A ready to publish. */
static void start_pair(struct fixture *f, size_t a_max_pending)
{
    open_peer(f, &f->a, NULL, a_max_pending);
    open_peer(f, &f->b, NULL, 0);
    assert_int_equal(pubsub_subscribe(f->b.ps, CHANNEL), 0);
    assert_true(wait_for(f, b_ups, 1));
    assert_true(wait_for(f, a_publish_up, 1));
}

static void free_peer_msgs(struct peer *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->msgs[i].channel);
        free(p->msgs[i].data);
    }
    free(p->msgs);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    snprintf(f->dir, sizeof(f->dir), "/tmp/pt_redis_test.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    f->port = free_port();
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    finish(f);
    int rc = uv_loop_close(&f->loop);
    stop_redis(f);
    char log[128];
    snprintf(log, sizeof(log), "%s/redis.log", f->dir);
    unlink(log);
    rmdir(f->dir);
    free_peer_msgs(&f->a);
    free_peer_msgs(&f->b);
    free(f);
    assert_int_equal(rc, 0);
    return 0;
}

/* ------------------------------------------------------------- cases */

static void test_round_trip_in_order(void **state)
{
    struct fixture *f = *state;
    enum { N = 2000 };
    start_redis(f);
    start_pair(f, 0);
    assert_int_equal(pubsub_subscribe(f->b.ps, CHANNEL), 0); /* again: nothing changes */
    assert_int_equal(pubsub_subscribe(f->b.ps, ""), PT_E_INVALID);
    publish_str(&f->a, "elsewhere", "not for B");
    for (int i = 0; i < N; i++) {
        char s[32];
        snprintf(s, sizeof(s), "m%d", i);
        publish_str(&f->a, CHANNEL, s);
    }
    assert_true(wait_for(f, b_received, N));
    assert_true(wait_for(f, a_published, N + 1));
    assert_int_equal(f->b.n, N);
    for (int i = 0; i < N; i++) {
        char s[32];
        snprintf(s, sizeof(s), "m%d", i);
        assert_string_equal(f->b.msgs[i].channel, CHANNEL);
        assert_string_equal(f->b.msgs[i].data, s);
    }
    struct pubsub_stats a = stats_of(&f->a), b = stats_of(&f->b);
    assert_string_equal(a.engine, "redis");
    assert_int_equal(a.dropped + a.lost, 0);
    assert_int_equal(b.received, N);
    assert_true(b.up);
    assert_string_equal(b.subscriber_state, "ready");
    assert_int_equal(f->b.downs, 0);
}

static void test_binary_payloads(void **state)
{
    struct fixture *f = *state;
    start_redis(f);
    start_pair(f, 0);
    char bytes[256];
    for (int i = 0; i < 256; i++)
        bytes[i] = (char)i; /* NULs included */
    char *big = malloc(BIG_BYTES + 1);
    assert_non_null(big);
    for (size_t i = 0; i < BIG_BYTES + 1; i++)
        big[i] = (char)((i * 7) % 251); /* a NUL every 251 bytes */
    assert_int_equal(pubsub_publish(f->a.ps, CHANNEL, PT_STR_NULL), 0);
    assert_int_equal(pubsub_publish(f->a.ps, CHANNEL, pt_str_make(bytes, sizeof(bytes))), 0);
    assert_int_equal(pubsub_publish(f->a.ps, CHANNEL, pt_str_make(big, BIG_BYTES)), 0);
    /* The limit, crossed by one byte. */
    assert_int_equal(pubsub_publish(f->a.ps, CHANNEL, pt_str_make(big, BIG_BYTES + 1)), PT_E_RANGE);
    publish_str(&f->a, CHANNEL, "end");
    assert_true(wait_for(f, b_received, 4));
    assert_int_equal(f->b.n, 4);
    assert_int_equal(f->b.msgs[0].len, 0);
    assert_int_equal(f->b.msgs[1].len, sizeof(bytes));
    assert_memory_equal(f->b.msgs[1].data, bytes, sizeof(bytes));
    assert_int_equal(f->b.msgs[2].len, BIG_BYTES);
    assert_memory_equal(f->b.msgs[2].data, big, BIG_BYTES);
    assert_string_equal(f->b.msgs[3].data, "end");
    free(big);
}

/* Publish "<tag>0".."<tag>{n-1}" and wait until B has them all, in order, after what it had. */
static void round_of(struct fixture *f, const char *tag, int n)
{
    size_t before = f->b.n;
    for (int i = 0; i < n; i++) {
        char s[32];
        snprintf(s, sizeof(s), "%s%d", tag, i);
        publish_str(&f->a, CHANNEL, s);
    }
    assert_true(wait_for(f, b_received, before + (size_t)n));
    for (int i = 0; i < n; i++) {
        char s[32];
        snprintf(s, sizeof(s), "%s%d", tag, i);
        assert_string_equal(f->b.msgs[before + (size_t)i].data, s);
    }
}

/* SIGSTOP: the connections stay open and nothing answers; the heartbeats notice. */
static void test_server_stopped_and_continued(void **state)
{
    struct fixture *f = *state;
    start_redis(f);
    start_pair(f, 0);
    round_of(f, "before", 3);
    signal_redis(f, SIGSTOP);
    assert_true(wait_for(f, b_downs, 1));
    assert_true(wait_for(f, a_publish_up, 0));
    assert_false(stats_of(&f->b).up);
    assert_non_null(strstr(stats_of(&f->b).last_error, "no answer within"));
    signal_redis(f, SIGCONT);
    assert_true(wait_for(f, b_ups, 2));
    assert_true(wait_for(f, a_publish_up, 1));
    round_of(f, "after", 10);
    assert_true(stats_of(&f->a).reconnects >= 1);
    assert_true(stats_of(&f->b).reconnects >= 1);
    assert_int_equal(f->b.downs, 1);
}

static void test_server_killed_and_restarted(void **state)
{
    struct fixture *f = *state;
    start_redis(f);
    start_pair(f, 0);
    round_of(f, "before", 3);
    signal_redis(f, SIGKILL);
    assert_true(wait_for(f, b_downs, 1));
    assert_true(wait_for(f, a_publish_up, 0));
    start_redis(f); /* the same port */
    assert_true(wait_for(f, b_ups, 2));
    assert_true(wait_for(f, a_publish_up, 1));
    round_of(f, "after", 10);
    assert_int_equal(f->b.downs, 1);
}

static void test_server_not_running_at_start(void **state)
{
    struct fixture *f = *state;
    open_peer(f, &f->a, NULL, 0);
    open_peer(f, &f->b, NULL, 0);
    assert_int_equal(pubsub_subscribe(f->b.ps, CHANNEL), 0);
    /* Both keep trying (a few back-offs), and B is never up meanwhile. */
    assert_true(wait_for(f, both_failed, 6));
    assert_int_equal(f->b.ups, 0);
    assert_false(stats_of(&f->b).up);
    assert_non_null(strstr(stats_of(&f->b).last_error, "refused"));
    start_redis(f);
    assert_true(wait_for(f, b_ups, 1));
    assert_true(wait_for(f, a_publish_up, 1));
    round_of(f, "m", 5);
}

/*
 * A's user is disabled and its connections killed: A is down while B stays
 * live. Eight publishes with room for five: the three oldest are dropped, the
 * five newest arrive, in order, once A is let in again.
 */
static void test_publish_while_down(void **state)
{
    struct fixture *f = *state;
    enum { BOUND = 5, SENT = 8 };
    start_redis(f);
    side_command(f, "ACL SETUSER alice on >se:cr@t ~* &* +@all");
    char url[96];
    snprintf(url, sizeof(url), "redis://alice:se%%3Acr%%40t@127.0.0.1:%d/0", f->port);
    open_peer(f, &f->a, url, BOUND);
    open_peer(f, &f->b, NULL, 0);
    assert_int_equal(pubsub_subscribe(f->b.ps, CHANNEL), 0);
    assert_true(wait_for(f, b_ups, 1));
    assert_true(wait_for(f, a_publish_up, 1));
    round_of(f, "first", 1);

    side_command(f, "ACL SETUSER alice off");
    side_command(f, "CLIENT KILL USER alice");
    assert_true(wait_for(f, a_publish_up, 0));
    for (int i = 0; i < SENT; i++) {
        char s[16];
        snprintf(s, sizeof(s), "q%d", i);
        publish_str(&f->a, CHANNEL, s);
    }
    struct pubsub_stats st = stats_of(&f->a);
    assert_int_equal(st.queued, BOUND);
    assert_int_equal(st.dropped, SENT - BOUND);
    /* Its attempts meanwhile are refused. */
    assert_true(wait_for(f, a_error_says, (size_t) "WRONGPASS"));
    assert_false(stats_of(&f->a).publish_up);

    side_command(f, "ACL SETUSER alice on");
    assert_true(wait_for(f, b_received, 1 + BOUND));
    for (int i = 0; i < BOUND; i++) {
        char s[16];
        snprintf(s, sizeof(s), "q%d", SENT - BOUND + i);
        assert_string_equal(f->b.msgs[1 + i].data, s);
    }
    assert_true(wait_for(f, a_published, 1 + BOUND));
    st = stats_of(&f->a);
    assert_int_equal(st.queued, 0);
    assert_int_equal(st.dropped, SENT - BOUND);
    assert_int_equal(st.lost, 0);
    assert_int_equal(f->b.downs, 0);
}

/* Close right after open: the name being resolved, or (an IP) the connect under way. */
static void test_close_while_resolving_or_connecting(void **state)
{
    struct fixture *f = *state;
    char url[64];
    snprintf(url, sizeof(url), "redis://localhost:%d", f->port);
    open_peer(f, &f->a, url, 0);
    open_peer(f, &f->b, NULL, 0);
    assert_string_equal(stats_of(&f->a).subscriber_state, "resolving");
    close_peer(&f->a);
    close_peer(&f->b);
    assert_int_equal(pubsub_publish(f->a.ps, CHANNEL, pt_str_c("x")), PT_E_CLOSED);
    assert_int_equal(pubsub_subscribe(f->b.ps, CHANNEL), PT_E_CLOSED);
    pubsub_close(f->a.ps); /* twice: nothing */
    /* teardown: the loop runs dry, uv_loop_close returns 0 */
}

/* Close in back-off, with publishes queued: they count as dropped. */
static void test_close_while_down(void **state)
{
    struct fixture *f = *state;
    open_peer(f, &f->a, NULL, 0);
    assert_true(wait_for(f, a_subscriber_in, (size_t) "down"));
    for (int i = 0; i < 3; i++)
        publish_str(&f->a, CHANNEL, "queued");
    assert_int_equal(stats_of(&f->a).queued, 3);
    close_peer(&f->a);
    assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
    struct pubsub_stats st = stats_of(&f->a);
    assert_int_equal(st.dropped, 3);
    assert_int_equal(st.queued, 0);
    assert_string_equal(st.subscriber_state, "closed");
    assert_string_equal(st.publisher_state, "closed");
}

/* The server is stopped: TCP connects, nothing answers AUTH or SUBSCRIBE. */
static void test_close_while_handshaking(void **state)
{
    struct fixture *f = *state;
    start_redis(f);
    signal_redis(f, SIGSTOP);
    open_peer(f, &f->a, NULL, 0);
    assert_int_equal(pubsub_subscribe(f->a.ps, CHANNEL), 0);
    assert_true(wait_for(f, a_subscriber_in, (size_t) "handshake"));
    close_peer(&f->a);
    assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(f->a.ups, 0);
}

/* Close while live with publishes in flight and queued: each one is published, lost or dropped. */
static void test_close_while_live(void **state)
{
    struct fixture *f = *state;
    enum { N = 3000 };
    start_redis(f);
    start_pair(f, 0);
    for (int i = 0; i < N; i++)
        publish_str(&f->a, CHANNEL, "burst");
    close_peer(&f->a);
    close_peer(&f->b);
    assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
    struct pubsub_stats st = stats_of(&f->a);
    assert_int_equal(st.published + st.lost + st.dropped, N);
    assert_true(st.dropped > 0); /* over the default bound of 1024 queued */
    assert_false(stats_of(&f->b).up);
}

static void test_close_from_callbacks(void **state)
{
    struct fixture *f = *state;
    start_redis(f);
    /* Inside on_state(true). */
    f->b.close_on_up = true;
    open_peer(f, &f->b, NULL, 0);
    assert_int_equal(pubsub_subscribe(f->b.ps, CHANNEL), 0);
    assert_true(wait_for(f, b_closed, 0));
    assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(f->b.ups, 1);
    pubsub_free(f->b.ps);
    f->b = (struct peer){0};

    /* Inside on_message, with more messages right behind. */
    f->b.close_on_message = true;
    start_pair(f, 0);
    for (int i = 0; i < 20; i++)
        publish_str(&f->a, CHANNEL, "m");
    assert_true(wait_for(f, b_closed, 0));
    assert_true(wait_for(f, a_published, 20));
    /* teardown: closes A, runs dry, checks nothing was called after the closes */
    assert_int_equal(f->b.n, 1);
}

static void test_urls_refused(void **state)
{
    struct fixture *f = *state;
    static const char *const bad[] = {
        NULL,
        "",
        "rediss://127.0.0.1",
        "http://127.0.0.1",
        "unix:///tmp/redis.sock",
        "redis://",
        "redis://:pw@",
        "redis://127.0.0.1:0",
        "redis://127.0.0.1:65536",
        "redis://127.0.0.1:x",
        "redis://127.0.0.1/db",
        "redis://127.0.0.1/0/1",
        "redis://127.0.0.1?timeout=1",
        "redis://user@127.0.0.1",
        "redis://user:@127.0.0.1",
        "redis://:p%zz@127.0.0.1",
        "redis://:p%00@127.0.0.1",
        "redis://[::1",
        "redis://[nope]:1",
        "redis://bad host",
    };
    for (size_t i = 0; i < PT_ARRAY_SIZE(bad); i++) {
        struct pubsub *ps = open_url(f, &f->a, bad[i], 0);
        if (ps != NULL)
            fail_msg("accepted: %s", bad[i] != NULL ? bad[i] : "(null)");
    }
    struct pubsub_config cfg = {
        .url = "redis://127.0.0.1", .max_payload_bytes = 2 << 20, .max_pending_bytes = 1 << 20};
    assert_null(pubsub_redis_open(&f->loop, &cfg));
    static const char *const good[] = {
        "redis://127.0.0.1",   "REDIS://localhost/",    "redis://:p%40ss@127.0.0.1:1/15",
        "redis://u:p@[::1]:2", "redis://:@127.0.0.1:3",
    };
    for (size_t i = 0; i < PT_ARRAY_SIZE(good); i++) {
        struct pubsub *ps = open_url(f, &f->a, good[i], 0);
        if (ps == NULL)
            fail_msg("refused: %s", good[i]);
        pubsub_close(ps);
        assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
        pubsub_free(ps);
    }
}

/* ------------------------------------------------------------- main */

static bool on_path(const char *name)
{
    const char *path = getenv("PATH");
    char buf[4096];
    while (path != NULL && *path != '\0') {
        const char *colon = strchr(path, ':');
        size_t n = colon != NULL ? (size_t)(colon - path) : strlen(path);
        snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, path, name);
        if (access(buf, X_OK) == 0)
            return true;
        path = colon != NULL ? colon + 1 : NULL;
    }
    return false;
}

#define CASE(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* as main does: writes to a socket the server closed */
    const struct CMUnitTest offline[] = {
        CASE(test_urls_refused),
        CASE(test_close_while_resolving_or_connecting),
        CASE(test_close_while_down),
    };
    const struct CMUnitTest with_server[] = {
        CASE(test_round_trip_in_order),          CASE(test_binary_payloads),
        CASE(test_server_stopped_and_continued), CASE(test_server_killed_and_restarted),
        CASE(test_server_not_running_at_start),  CASE(test_publish_while_down),
        CASE(test_close_while_handshaking),      CASE(test_close_while_live),
        CASE(test_close_from_callbacks),
    };
    int rc = cmocka_run_group_tests_name("pubsub offline", offline, NULL, NULL);
    if (!on_path("redis-server")) {
        const char *skip = getenv("PT_TEST_NO_REDIS");
        if (skip != NULL && strcmp(skip, "1") == 0) {
            fprintf(stderr, "redis_test: PT_TEST_NO_REDIS=1: the cases with a server not run\n");
            return rc;
        }
        fprintf(stderr, "redis_test: redis-server is not on the PATH (scripts/install-deps test; "
                        "set PT_TEST_NO_REDIS=1 to allow not testing)\n");
        return 1;
    }
    return rc | cmocka_run_group_tests_name("pubsub redis", with_server, NULL, NULL);
}
