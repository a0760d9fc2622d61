/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * sse_client.c -- load client for the live push: holds N Server-Sent Events
 * subscribers on one PlanetTracker process with one epoll loop, and checks that
 * every one of them receives its ticks.
 *
 * Connections are spread over the source addresses 127.0.0.2 .. 127.0.0.(1+A)
 * (bind() before connect(), port chosen at connect time) so that ephemeral ports
 * never run out, and over K distinct observers (lat/lon pairs) so that the
 * server's per-group message sharing is exercised. Each connection decodes the
 * chunked body and the text/event-stream framing; every "positions" event must
 * carry the observer the connection asked for, or it counts as bad.
 *
 * Phases: connect all N (at most --inflight handshakes pending at once), settle
 * (subscribers connected and idle), a counting window of whole ticks (events per
 * connection counted by the tick second each one carries, so a client that lags a
 * little still counts each tick once; delivery latency from the tick's second to
 * the read; server CPU per tick), then optionally the slow-reader check: M more
 * connections with a tiny receive buffer that never read, while the N keep
 * reading; the server's RSS is sampled every second and its open descriptors
 * must come back down once its stall timeout closes the slow ones. With
 * --server-pid the server's RSS, CPU time and descriptor count are read from
 * /proc at each phase.
 *
 * It prints a human report and one "RESULT key=value ..." line per phase; the
 * exit status is 0 only if every check passed (1 = a check failed, 2 = usage).
 *
 * Build and run (bench/load/sse_subscribers does both and starts the server):
 *   cc -std=c17 -D_GNU_SOURCE -O2 -o build/bench/sse_client bench/load/sse_client.c
 *   build/bench/sse_client --port 8000 --conns 10000 --server-pid $(pgrep planettracker)
 *
 * Single-threaded; all state lives in struct client, passed around (no globals).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#define LINE_KEEP 512 /* bytes of each SSE line kept for the checks */
#define HEAD_MAX 2048 /* largest response head accepted */
#define READ_BUF (64 * 1024)
#define SLOW_ADDR 0x7f0000feu /* 127.0.0.254: source address of the slow readers */
#define LAT_BUCKETS 10001     /* delivery latency histogram: 1 ms buckets, the last = more */

enum conn_state {
    CONN_IDLE,       /* not opened yet */
    CONN_CONNECTING, /* connect() in progress */
    CONN_HEAD,       /* request sent, reading the response head */
    CONN_BODY,       /* streaming: chunked SSE */
    CONN_CLOSED,     /* ended (error, EOF or closed by us) */
};

enum chunk_state {
    CH_SIZE,    /* hex digits of a chunk size */
    CH_EXT,     /* chunk extension, up to LF */
    CH_DATA,    /* chunk payload */
    CH_DATA_CR, /* CR after the payload */
    CH_DATA_LF, /* LF after the payload */
    CH_END,     /* last chunk seen */
};

struct conn {
    int fd;
    enum conn_state state;
    bool slow;    /* never reads (slow-reader check) */
    bool ready;   /* head ok and first event received */
    bool eof;     /* the server closed it (EOF or reset) */
    int observer; /* index into the observer table */
    enum chunk_state ch;
    uint64_t ch_left; /* payload bytes left in the current chunk */
    unsigned ch_digits;
    char head[HEAD_MAX]; /* response head until complete */
    uint16_t head_len;
    char line[LINE_KEEP]; /* start of the current SSE line */
    uint16_t line_len;
    bool line_long;      /* the current line is longer than LINE_KEEP */
    char line_last;      /* last byte of the current line before LF */
    bool ev_positions;   /* the current event is "event: positions" */
    bool ev_data;        /* ... and it had a well-formed, matching data line */
    bool ev_bad;         /* ... or a data line that failed a check */
    uint32_t events;     /* positions events received */
    uint32_t bad;        /* events that failed a check */
    uint32_t win_events; /* events whose tick lies in the counting window */
    int64_t ev_tick_s;   /* tick (Unix second) of the event being parsed, or -1 */
};

struct observer {
    double lat, lon;
};

struct options {
    const char *host;
    const char *bodies; /* bodies= of the stream, or NULL for every body */
    int port;
    int conns;
    int observers;
    int src_addrs;
    int inflight;
    double settle_s;
    double window_s;
    int min_events;
    int slow;
    double slow_wait_s;
    double slow_max_s;
    int slow_rcvbuf;
    double connect_timeout_s;
    int server_pid;
};

struct server_sample {
    long rss_kib;
    long cpu_ticks;  /* utime + stime */
    long user_ticks; /* utime alone */
    long fds;
    long listen_overflows;
};

struct client {
    struct options opt;
    int epfd;
    struct conn *conns; /* opt.conns normal ones, then opt.slow slow ones */
    int total;
    struct observer *obs;
    struct sockaddr_in server;
    char *rbuf;
    int next_open; /* next normal connection to open */
    int pending;   /* opened, not ready yet */
    int ready;
    int failed; /* connections that ended before or while streaming */
    long connect_errors;
    long status_errors;
    char first_error[160];
    int64_t win_start_s; /* counting window, in tick (Unix) seconds: [start, end) */
    int64_t win_end_s;
    uint32_t *lat_ms; /* delivery latency of the window's events: tick -> read */
};

/* ------------------------------------------------------------- helpers */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Unix seconds of "YYYY-MM-DDTHH:MM:SS" (UTC), or -1. */
static int64_t parse_iso_s(const char *p)
{
    struct tm tm = {0};
    const char *end = strptime(p, "%Y-%m-%dT%H:%M:%S", &tm);
    if (end == NULL)
        return -1;
    return (int64_t)timegm(&tm);
}

static void note_error(struct client *c, const char *what, int err)
{
    if (c->first_error[0] == '\0')
        snprintf(c->first_error, sizeof(c->first_error), "%s: %s", what,
                 err != 0 ? strerror(err) : "protocol");
}

static long proc_status_kib(int pid, const char *field)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    long v = -1;
    size_t n = strlen(field);
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, field, n) == 0 && line[n] == ':') {
            v = strtol(line + n + 1, NULL, 10);
            break;
        }
    }
    fclose(f);
    return v;
}

/* utime + stime of pid in clock ticks; *user (may be NULL) gets utime alone. */
static long proc_cpu_ticks(int pid, long *user)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    if (p == NULL)
        return -1;
    /* After ") ": state(3) ppid pgrp session tty tpgid flags minflt cminflt majflt
     * cmajflt utime(14) stime(15). */
    long utime = 0, stime = 0;
    int field = 2;
    for (const char *q = p + 1; *q != '\0'; q++) {
        if (*q == ' ') {
            field++;
            if (field == 14)
                utime = strtol(q + 1, NULL, 10);
            else if (field == 15) {
                stime = strtol(q + 1, NULL, 10);
                break;
            }
        }
    }
    if (user != NULL)
        *user = utime;
    return utime + stime;
}

static long proc_fd_count(int pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/fd", pid);
    DIR *d = opendir(path);
    if (d == NULL)
        return -1;
    long n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

/* System-wide TcpExt ListenOverflows: SYNs dropped because an accept queue was full. */
static long listen_overflows(void)
{
    FILE *f = fopen("/proc/net/netstat", "r");
    if (f == NULL)
        return -1;
    char names[4096], values[4096];
    long v = -1;
    while (fgets(names, sizeof(names), f) != NULL && fgets(values, sizeof(values), f) != NULL) {
        if (strncmp(names, "TcpExt:", 7) != 0)
            continue;
        char *sn, *sv;
        char *n = strtok_r(names, " \n", &sn);
        char *x = strtok_r(values, " \n", &sv);
        while (n != NULL && x != NULL) {
            if (strcmp(n, "ListenOverflows") == 0)
                v = strtol(x, NULL, 10);
            n = strtok_r(NULL, " \n", &sn);
            x = strtok_r(NULL, " \n", &sv);
        }
    }
    fclose(f);
    return v;
}

/* Bytes the server's kernel holds unacknowledged for connections from `peer`
 * (network order) to its port, from /proc/net/tcp; *count gets how many. */
static long kernel_send_queue(const struct client *c, uint32_t peer, int *count)
{
    FILE *f = fopen("/proc/net/tcp", "r");
    *count = 0;
    if (f == NULL)
        return -1;
    char line[512];
    long sum = 0;
    if (fgets(line, sizeof(line), f) == NULL) { /* header */
        fclose(f);
        return -1;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        unsigned laddr, lport, raddr, rport, st;
        unsigned long tx, rx;
        if (sscanf(line, " %*d: %x:%x %x:%x %x %lx:%lx", &laddr, &lport, &raddr, &rport, &st, &tx,
                   &rx) != 7)
            continue;
        /* The kernel prints the address's bytes as a host-order number. */
        if ((int)lport == c->opt.port && raddr == peer) {
            sum += (long)tx;
            (*count)++;
        }
    }
    fclose(f);
    return sum;
}

/* The server's live-push counters from GET /metrics (blocking, 2 s at most);
 * all -1 if it has none. */
struct live_metrics {
    long subscribers, ticks, messages, deliveries, dropped;
};

static long metric_value(const char *text, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = strstr(text, name); p != NULL; p = strstr(p + 1, name))
        if ((p == text || p[-1] == '\n') && p[n] == ' ')
            return strtol(p + n + 1, NULL, 10);
    return -1;
}

static struct live_metrics get_metrics(const struct client *c)
{
    struct live_metrics m = {-1, -1, -1, -1, -1};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return m;
    struct timeval tv = {.tv_sec = 2};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    char text[16384];
    size_t len = 0;
    if (connect(fd, (const struct sockaddr *)&c->server, sizeof(c->server)) == 0) {
        char req[128];
        int n =
            snprintf(req, sizeof(req),
                     "GET /metrics HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", c->opt.host);
        if (send(fd, req, (size_t)n, MSG_NOSIGNAL) == n) {
            ssize_t r;
            while (len < sizeof(text) - 1 && (r = read(fd, text + len, sizeof(text) - 1 - len)) > 0)
                len += (size_t)r;
        }
    }
    close(fd);
    text[len] = '\0';
    if (strncmp(text, "HTTP/1.1 200", 12) != 0)
        return m;
    m.subscribers = metric_value(text, "planettracker_live_subscribers");
    m.ticks = metric_value(text, "planettracker_live_ticks_total");
    m.messages = metric_value(text, "planettracker_live_messages_total");
    m.deliveries = metric_value(text, "planettracker_live_deliveries_total");
    m.dropped = metric_value(text, "planettracker_live_dropped_total");
    return m;
}

static struct server_sample sample_server(const struct client *c)
{
    struct server_sample s = {-1, -1, -1, -1, listen_overflows()};
    if (c->opt.server_pid > 0) {
        s.rss_kib = proc_status_kib(c->opt.server_pid, "VmRSS");
        s.cpu_ticks = proc_cpu_ticks(c->opt.server_pid, &s.user_ticks);
        s.fds = proc_fd_count(c->opt.server_pid);
    }
    return s;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* ------------------------------------------------------------- connections */

static void conn_close(struct client *c, struct conn *k, bool failed)
{
    if (k->state == CONN_CLOSED || k->state == CONN_IDLE)
        return;
    if (!k->ready && !k->slow)
        c->pending--;
    if (failed && !k->slow)
        c->failed++;
    epoll_ctl(c->epfd, EPOLL_CTL_DEL, k->fd, NULL);
    close(k->fd);
    k->fd = -1;
    k->state = CONN_CLOSED;
}

static int conn_open(struct client *c, int idx)
{
    struct conn *k = &c->conns[idx];
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        note_error(c, "socket", errno);
        return -1;
    }
    int one = 1;
    /* The port is picked at connect(), per (source, destination): no early exhaustion. */
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
    if (k->slow) {
        int rcv = c->opt.slow_rcvbuf;
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
    }
    struct sockaddr_in src = {.sin_family = AF_INET};
    /* Slow readers come from their own address, so the kernel's queue for them shows. */
    src.sin_addr.s_addr =
        k->slow ? htonl(SLOW_ADDR) : htonl(0x7f000002u + (uint32_t)(idx % c->opt.src_addrs));
    if (bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0) {
        note_error(c, "bind", errno);
        close(fd);
        return -1;
    }
    k->fd = fd;
    k->state = CONN_CONNECTING;
    if (!k->slow)
        c->pending++;
    int rc = connect(fd, (struct sockaddr *)&c->server, sizeof(c->server));
    if (rc < 0 && errno != EINPROGRESS) {
        note_error(c, "connect", errno);
        c->connect_errors++;
        conn_close(c, k, true);
        return -1;
    }
    struct epoll_event ev = {.events = EPOLLOUT, .data.u32 = (uint32_t)idx};
    if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        note_error(c, "epoll_ctl", errno);
        conn_close(c, k, true);
        return -1;
    }
    return 0;
}

static void send_request(struct client *c, struct conn *k, int idx)
{
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(k->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0) {
        note_error(c, "connect", err);
        c->connect_errors++;
        conn_close(c, k, true);
        return;
    }
    const struct observer *o = &c->obs[k->observer];
    char req[512];
    int n = snprintf(req, sizeof(req),
                     "GET /planets/stream?lat=%.2f&lon=%.2f%s%.64s HTTP/1.1\r\n"
                     "Host: %s:%d\r\nAccept: text/event-stream\r\n\r\n",
                     o->lat, o->lon, c->opt.bodies != NULL ? "&bodies=" : "",
                     c->opt.bodies != NULL ? c->opt.bodies : "", c->opt.host, c->opt.port);
    /* A fresh socket's send buffer takes a request this small in one go. */
    if (send(k->fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
        note_error(c, "send", errno);
        c->connect_errors++;
        conn_close(c, k, true);
        return;
    }
    k->state = CONN_HEAD;
    /* A slow reader asks and then never reads: it leaves the epoll set. */
    struct epoll_event ev = {.events = k->slow ? 0 : EPOLLIN, .data.u32 = (uint32_t)idx};
    epoll_ctl(c->epfd, EPOLL_CTL_MOD, k->fd, &ev);
}

/* The whole head is in k->head: 200, text/event-stream, chunked. */
static bool head_ok(struct conn *k)
{
    k->head[k->head_len] = '\0';
    if (strncmp(k->head, "HTTP/1.1 200 ", 13) != 0)
        return false;
    return strcasestr(k->head, "\ncontent-type: text/event-stream") != NULL &&
           strcasestr(k->head, "\ntransfer-encoding: chunked") != NULL;
}

/* A complete SSE line (without its LF) has ended. */
static void sse_line(struct client *c, struct conn *k)
{
    size_t n = k->line_len;
    if (n > 0 && k->line_last == '\r')
        n--; /* tolerate CRLF */
    const char *l = k->line;
    if (n == 0 && !k->line_long) { /* blank line: dispatch */
        if (k->ev_positions) {
            if (k->ev_data && !k->ev_bad) {
                k->events++;
                /* Counted by the tick it belongs to, not by when it was read: a
                 * client that lags a little still counts every tick once. */
                if (k->ev_tick_s >= c->win_start_s && k->ev_tick_s < c->win_end_s && !k->slow) {
                    k->win_events++;
                    double lat = (wall_s() - (double)k->ev_tick_s) * 1000.0;
                    int b = lat < 0 ? 0 : lat >= LAT_BUCKETS - 1 ? LAT_BUCKETS - 1 : (int)lat;
                    c->lat_ms[b]++;
                }
                if (!k->ready && !k->slow) {
                    k->ready = true;
                    c->pending--;
                    c->ready++;
                }
            } else {
                k->bad++;
            }
        }
        k->ev_positions = k->ev_data = k->ev_bad = false;
        k->ev_tick_s = -1;
        return;
    }
    if (n >= 6 && memcmp(l, "event:", 6) == 0) {
        const char *v = l + 6;
        size_t vn = n - 6;
        if (vn > 0 && *v == ' ')
            v++, vn--;
        k->ev_positions = vn == 9 && memcmp(v, "positions", 9) == 0;
        return;
    }
    if (n >= 5 && memcmp(l, "data:", 5) == 0) {
        if (!k->ev_positions)
            return;
        /* The data is one JSON object whose "observer" must be the one we asked for. */
        static const char key[] = "\"observer\":{\"lat\":";
        char tmp[LINE_KEEP + 1];
        memcpy(tmp, l, k->line_len);
        tmp[k->line_len] = '\0';
        const char *p = strstr(tmp, key);
        const struct observer *o = &c->obs[k->observer];
        /* ... and its "time" names the tick: {"time":"2026-11-21T09:19:05.000Z", ... */
        static const char tkey[] = "{\"time\":\"";
        bool ok = n > 7 && l[6] == '{' && k->line_last == '}' && p != NULL;
        if (ok) {
            const char *t = strstr(tmp, tkey);
            k->ev_tick_s = t != NULL ? parse_iso_s(t + sizeof(tkey) - 1) : -1;
            ok = k->ev_tick_s > 0;
        }
        if (ok) {
            char *end;
            double lat = strtod(p + sizeof(key) - 1, &end);
            ok = strncmp(end, ",\"lon\":", 7) == 0;
            double lon = ok ? strtod(end + 7, NULL) : NAN;
            ok = ok && fabs(lat - o->lat) < 1e-9 && fabs(lon - o->lon) < 1e-9;
        }
        if (ok)
            k->ev_data = true;
        else
            k->ev_bad = true;
    }
    /* "retry:", "id:" and ":" comments (keep-alives) need nothing. */
}

static void sse_bytes(struct client *c, struct conn *k, const char *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        const char *nl = memchr(p + i, '\n', n - i);
        size_t end = nl != NULL ? (size_t)(nl - p) : n;
        size_t seg = end - i;
        if (seg > 0) {
            size_t room = LINE_KEEP - k->line_len;
            size_t take = seg < room ? seg : room;
            memcpy(k->line + k->line_len, p + i, take);
            k->line_len = (uint16_t)(k->line_len + take);
            if (seg > room)
                k->line_long = true;
            k->line_last = p[end - 1];
        }
        if (nl == NULL)
            return;
        sse_line(c, k);
        k->line_len = 0;
        k->line_long = false;
        k->line_last = '\0';
        i = end + 1;
    }
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Decode chunked framing; returns false on a framing error. */
static bool body_bytes(struct client *c, struct conn *k, const char *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        char ch = p[i];
        switch (k->ch) {
        case CH_SIZE: {
            int h = hexval(ch);
            if (h >= 0 && k->ch_digits < 12) {
                k->ch_left = k->ch_left * 16 + (uint64_t)h;
                k->ch_digits++;
            } else if (k->ch_digits > 0 && (ch == '\r' || ch == ';')) {
                k->ch = CH_EXT;
            } else if (k->ch_digits > 0 && ch == '\n') {
                k->ch = k->ch_left == 0 ? CH_END : CH_DATA;
            } else {
                return false;
            }
            i++;
            break;
        }
        case CH_EXT:
            if (ch == '\n')
                k->ch = k->ch_left == 0 ? CH_END : CH_DATA;
            i++;
            break;
        case CH_DATA: {
            size_t take = (size_t)(n - i < k->ch_left ? n - i : k->ch_left);
            sse_bytes(c, k, p + i, take);
            i += take;
            k->ch_left -= take;
            if (k->ch_left == 0)
                k->ch = CH_DATA_CR;
            break;
        }
        case CH_DATA_CR:
            if (ch != '\r')
                return false;
            k->ch = CH_DATA_LF;
            i++;
            break;
        case CH_DATA_LF:
            if (ch != '\n')
                return false;
            k->ch = CH_SIZE;
            k->ch_digits = 0;
            k->ch_left = 0;
            i++;
            break;
        case CH_END:
            return true; /* trailers: ignored, the server closes next */
        }
    }
    return true;
}

static void on_readable(struct client *c, struct conn *k)
{
    for (;;) {
        ssize_t n = read(k->fd, c->rbuf, READ_BUF);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                return;
            note_error(c, "read", errno);
            k->eof = true;
            conn_close(c, k, true);
            return;
        }
        if (n == 0) {
            if (!k->slow)
                note_error(c, "read: the server closed a subscriber", 0);
            k->eof = true;
            conn_close(c, k, true);
            return;
        }
        const char *p = c->rbuf;
        size_t len = (size_t)n;
        if (k->state == CONN_HEAD) {
            size_t i = 0;
            bool done = false;
            while (i < len && !done) {
                if (k->head_len >= HEAD_MAX - 1) {
                    note_error(c, "response head too large", 0);
                    c->status_errors++;
                    conn_close(c, k, true);
                    return;
                }
                k->head[k->head_len++] = p[i++];
                done = k->head_len >= 4 && memcmp(k->head + k->head_len - 4, "\r\n\r\n", 4) == 0;
            }
            if (!done)
                continue;
            if (!head_ok(k)) {
                char first[64];
                snprintf(first, sizeof(first), "%.*s", (int)strcspn(k->head, "\r\n"), k->head);
                if (c->first_error[0] == '\0')
                    snprintf(c->first_error, sizeof(c->first_error), "unexpected head: %s", first);
                c->status_errors++;
                conn_close(c, k, true);
                return;
            }
            k->state = CONN_BODY;
            p += i;
            len -= i;
        }
        if (!body_bytes(c, k, p, len)) {
            note_error(c, "bad chunked framing", 0);
            conn_close(c, k, true);
            return;
        }
        if (k->ch == CH_END) {
            note_error(c, "the server ended a stream", 0);
            conn_close(c, k, true);
            return;
        }
        if ((size_t)n < READ_BUF)
            return;
    }
}

/* Run the loop until the deadline (or until all normal connections are ready when
 * stop_when_ready); keeps opening normal connections up to the in-flight limit. */
static void run_until(struct client *c, double deadline, bool stop_when_ready)
{
    struct epoll_event evs[512];
    for (;;) {
        while (c->next_open < c->opt.conns && c->pending < c->opt.inflight) {
            conn_open(c, c->next_open);
            c->next_open++;
        }
        if (stop_when_ready && c->next_open == c->opt.conns && c->pending == 0)
            return;
        double left = deadline - now_s();
        if (left <= 0)
            return;
        int timeout = (int)(left * 1000) + 1;
        if (timeout > 100)
            timeout = 100;
        int n = epoll_wait(c->epfd, evs, 512, timeout);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            note_error(c, "epoll_wait", errno);
            return;
        }
        for (int i = 0; i < n; i++) {
            int idx = (int)evs[i].data.u32;
            struct conn *k = &c->conns[idx];
            if (k->state == CONN_CLOSED)
                continue;
            if (k->state == CONN_CONNECTING)
                send_request(c, k, idx);
            else if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                on_readable(c, k);
        }
    }
}

/* ------------------------------------------------------------- phases */

static void usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s --port P [--host 127.0.0.1] [--conns 10000] [--observers 100]\n"
            "          [--src-addrs 16] [--inflight 1000] [--settle 3] [--window 10]\n"
            "          [--min-events 8] [--slow 0] [--slow-wait 40] [--slow-max 90]\n"
            "          [--slow-rcvbuf 4096]"
            " [--connect-timeout 120] [--server-pid PID]\n",
            argv0);
}

static int parse_options(int argc, char **argv, struct options *o)
{
    *o = (struct options){.host = "127.0.0.1",
                          .port = 0,
                          .conns = 10000,
                          .observers = 100,
                          .src_addrs = 16,
                          .inflight = 1000,
                          .settle_s = 3,
                          .window_s = 10,
                          .min_events = 8,
                          .slow = 0,
                          .slow_wait_s = 40,
                          .slow_max_s = 90,
                          .slow_rcvbuf = 4096,
                          .connect_timeout_s = 120,
                          .server_pid = 0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc)
            return -1;
        const char *v = argv[++i];
        char *end;
        double d = strtod(v, &end);
        bool num = *v != '\0' && *end == '\0';
        if (strcmp(a, "--host") == 0)
            o->host = v;
        else if (strcmp(a, "--bodies") == 0)
            o->bodies = v;
        else if (!num)
            return -1;
        else if (strcmp(a, "--port") == 0)
            o->port = (int)d;
        else if (strcmp(a, "--conns") == 0)
            o->conns = (int)d;
        else if (strcmp(a, "--observers") == 0)
            o->observers = (int)d;
        else if (strcmp(a, "--src-addrs") == 0)
            o->src_addrs = (int)d;
        else if (strcmp(a, "--inflight") == 0)
            o->inflight = (int)d;
        else if (strcmp(a, "--settle") == 0)
            o->settle_s = d;
        else if (strcmp(a, "--window") == 0)
            o->window_s = d;
        else if (strcmp(a, "--min-events") == 0)
            o->min_events = (int)d;
        else if (strcmp(a, "--slow") == 0)
            o->slow = (int)d;
        else if (strcmp(a, "--slow-wait") == 0)
            o->slow_wait_s = d;
        else if (strcmp(a, "--slow-max") == 0)
            o->slow_max_s = d;
        else if (strcmp(a, "--slow-rcvbuf") == 0)
            o->slow_rcvbuf = (int)d;
        else if (strcmp(a, "--connect-timeout") == 0)
            o->connect_timeout_s = d;
        else if (strcmp(a, "--server-pid") == 0)
            o->server_pid = (int)d;
        else
            return -1;
    }
    if (o->port <= 0 || o->port > 65535 || o->conns < 1 || o->observers < 1 || o->src_addrs < 1 ||
        o->src_addrs > 200 || o->inflight < 1 || o->slow < 0 || o->window_s <= 0 ||
        (o->slow > 0 && o->server_pid <= 0))
        return -1; /* the slow-reader check reads the server's descriptors: needs its pid */
    return 0;
}

static int setup(struct client *c)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        if (rl.rlim_cur < (rlim_t)c->total + 32) {
            fprintf(stderr, "open-file limit %llu is too low for %d connections\n",
                    (unsigned long long)rl.rlim_cur, c->total);
            return -1;
        }
    }
    c->server.sin_family = AF_INET;
    c->server.sin_port = htons((uint16_t)c->opt.port);
    if (inet_pton(AF_INET, c->opt.host, &c->server.sin_addr) != 1) {
        fprintf(stderr, "--host must be an IPv4 address\n");
        return -1;
    }
    c->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (c->epfd < 0) {
        perror("epoll_create1");
        return -1;
    }
    c->conns = calloc((size_t)c->total, sizeof(*c->conns));
    c->obs = calloc((size_t)c->opt.observers, sizeof(*c->obs));
    c->rbuf = malloc(READ_BUF);
    c->lat_ms = calloc(LAT_BUCKETS, sizeof(*c->lat_ms));
    if (c->conns == NULL || c->obs == NULL || c->rbuf == NULL || c->lat_ms == NULL) {
        fprintf(stderr, "out of memory\n");
        return -1;
    }
    /* K observers over both hemispheres, two decimals as a person would type them. */
    for (int i = 0; i < c->opt.observers; i++) {
        c->obs[i].lat = round((-55.0 + 110.0 * i / c->opt.observers) * 100) / 100;
        c->obs[i].lon = round((-175.0 + 350.0 * i / c->opt.observers) * 100) / 100;
    }
    for (int i = 0; i < c->total; i++) {
        c->conns[i].fd = -1;
        c->conns[i].observer = i % c->opt.observers;
        c->conns[i].slow = i >= c->opt.conns;
        c->conns[i].ev_tick_s = -1;
    }
    return 0;
}

static void print_sample(const char *phase, const struct server_sample *s)
{
    printf("RESULT phase=%s rss_kib=%ld cpu_ticks=%ld fds=%ld listen_overflows=%ld\n", phase,
           s->rss_kib, s->cpu_ticks, s->fds, s->listen_overflows);
}

static int count_open(const struct client *c, int from, int to)
{
    int n = 0;
    for (int i = from; i < to; i++)
        if (c->conns[i].state != CONN_CLOSED && c->conns[i].state != CONN_IDLE)
            n++;
    return n;
}

/* The slow-reader check; returns true if it passed. */
static bool slow_phase(struct client *c, const struct server_sample *idle)
{
    const struct options *o = &c->opt;
    struct server_sample s0 = sample_server(c);
    uint32_t *before = calloc((size_t)o->conns, sizeof(*before));
    for (int i = 0; i < o->conns; i++)
        before[i] = c->conns[i].events;
    for (int i = o->conns; i < c->total; i++)
        conn_open(c, i);
    printf("slow readers: %d connections with SO_RCVBUF=%d that never read; waiting %.0f s\n",
           o->slow, o->slow_rcvbuf, o->slow_wait_s);
    double t0 = now_s();
    long rss_max = s0.rss_kib, fds_max = s0.fds;
    int closed_at = -1; /* seconds until the server's descriptors came back down */
    long kq_max = 0;    /* most bytes the server's kernel held for the slow readers */
    int limit = (int)ceil(o->slow_max_s > o->slow_wait_s ? o->slow_max_s : o->slow_wait_s);
    for (int sec = 1; sec <= limit; sec++) {
        run_until(c, t0 + sec, false);
        struct server_sample s = sample_server(c);
        if (s.rss_kib > rss_max)
            rss_max = s.rss_kib;
        if (s.fds > fds_max)
            fds_max = s.fds;
        if (sec % 5 == 0 || sec == 1) {
            int nq;
            long q = kernel_send_queue(c, htonl(SLOW_ADDR), &nq);
            if (q > kq_max)
                kq_max = q;
            printf("  t+%2ds server rss %ld KiB, fds %ld; server kernel send queue to the slow "
                   "readers %.1f KiB over %d sockets\n",
                   sec, s.rss_kib, s.fds, q / 1024.0, nq);
        }
        if (closed_at < 0 && fds_max >= idle->fds + o->slow && s.fds <= idle->fds + 2)
            closed_at = sec;
        /* Past the checked wait, go on only to tell when they do get closed. */
        if (sec >= (int)ceil(o->slow_wait_s) && (closed_at >= 0 || o->server_pid <= 0))
            break;
    }
    double waited = now_s() - t0;
    struct server_sample s1 = sample_server(c);
    struct live_metrics m = get_metrics(c);
    if (m.subscribers >= 0)
        printf("slow readers: server /metrics now: %ld subscribers, %ld dropped in all\n",
               m.subscribers, m.dropped);
    /* The normal subscribers kept receiving while the slow ones were stuck. */
    uint32_t lo = UINT32_MAX;
    for (int i = 0; i < o->conns; i++) {
        uint32_t got = c->conns[i].events - before[i];
        if (got < lo)
            lo = got;
    }
    free(before);
    /* Drain the slow sockets: a closed one yields EOF or a reset. */
    int slow_open_before = count_open(c, o->conns, c->total);
    for (int i = o->conns; i < c->total; i++) {
        struct conn *k = &c->conns[i];
        if (k->state == CONN_HEAD || k->state == CONN_BODY) {
            struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
            epoll_ctl(c->epfd, EPOLL_CTL_MOD, k->fd, &ev);
        }
    }
    run_until(c, now_s() + 3, false);
    int closed_by_server = 0;
    for (int i = o->conns; i < c->total; i++)
        if (c->conns[i].eof)
            closed_by_server++;
    bool ok_fds = o->server_pid <= 0 || (closed_at >= 0 && closed_at <= o->slow_wait_s);
    bool ok_closed = closed_by_server == o->slow;
    long rss_growth = rss_max - s0.rss_kib;
    /* Bounded: each slow reader may pin about two messages of a few KiB. */
    bool ok_rss = o->server_pid <= 0 || rss_growth <= (long)o->slow * 64;
    bool ok_others = (double)lo >= floor(waited * 0.8);
    printf("slow readers: server rss %ld -> max %ld KiB (+%ld KiB, %.1f KiB per slow reader); "
           "fds %ld -> max %ld -> %ld; all closed by the server after %d s (-1 = not within "
           "%.0f s)\n",
           s0.rss_kib, rss_max, rss_growth, (double)rss_growth / o->slow, s0.fds, fds_max, s1.fds,
           closed_at, limit > o->slow_wait_s ? (double)limit : o->slow_wait_s);
    printf("slow readers: %d of %d seen closed by the server when drained (%d were open before "
           "draining); normal subscribers got >= %u events meanwhile\n",
           closed_by_server, o->slow, slow_open_before, lo);
    printf("RESULT phase=slow rss_start_kib=%ld rss_max_kib=%ld rss_end_kib=%ld fds_start=%ld "
           "fds_max=%ld fds_end=%ld closed_after_s=%d closed_by_server=%d of=%d "
           "kernel_queue_max_kib=%ld normal_min_events=%u ok=%d\n",
           s0.rss_kib, rss_max, s1.rss_kib, s0.fds, fds_max, s1.fds, closed_at, closed_by_server,
           o->slow, kq_max / 1024, lo, ok_fds && ok_closed && ok_rss && ok_others);
    if (!ok_rss)
        printf("FAIL: server RSS grew by %ld KiB with %d slow readers\n", rss_growth, o->slow);
    if (!ok_fds || !ok_closed)
        printf("FAIL: slow readers were not all disconnected within %.0f s\n", o->slow_wait_s);
    if (!ok_others)
        printf("FAIL: normal subscribers starved while slow readers were stuck (min %u)\n", lo);
    return ok_fds && ok_closed && ok_rss && ok_others;
}

int main(int argc, char **argv)
{
    struct client c = {.epfd = -1};
    if (parse_options(argc, argv, &c.opt) < 0) {
        usage(argv[0]);
        return 2;
    }
    const struct options *o = &c.opt;
    c.total = o->conns + o->slow;
    if (setup(&c) < 0)
        return 1;
    bool ok = true;

    struct server_sample s_before = sample_server(&c);
    print_sample("before", &s_before);
    printf("connecting %d subscribers (%d observers, source addresses 127.0.0.2..127.0.0.%d, "
           "at most %d pending)\n",
           o->conns, o->observers, 1 + o->src_addrs, o->inflight);
    double t_start = now_s();
    run_until(&c, t_start + o->connect_timeout_s, true);
    double t_ready = now_s();
    struct server_sample s_conn = sample_server(&c);
    double conn_cpu_ms =
        (double)(s_conn.cpu_ticks - s_before.cpu_ticks) * 1000.0 / sysconf(_SC_CLK_TCK);
    printf("connected: %d ready, %d failed, %d pending after %.2f s (%.0f connections/s); "
           "listen overflows +%ld; server CPU %.0f ms (%.0f us per subscription, ticks "
           "included)\n",
           c.ready, c.failed, c.pending, t_ready - t_start, c.ready / (t_ready - t_start),
           s_conn.listen_overflows - s_before.listen_overflows, conn_cpu_ms,
           conn_cpu_ms * 1000.0 / (c.ready > 0 ? c.ready : 1));
    printf("RESULT phase=connect ready=%d failed=%d pending=%d seconds=%.3f "
           "listen_overflows=%ld connect_errors=%ld status_errors=%ld server_cpu_ms=%.0f\n",
           c.ready, c.failed, c.pending, t_ready - t_start,
           s_conn.listen_overflows - s_before.listen_overflows, c.connect_errors, c.status_errors,
           conn_cpu_ms);
    if (c.ready != o->conns) {
        printf("FAIL: only %d of %d subscribers got their first event (%s)\n", c.ready, o->conns,
               c.first_error[0] ? c.first_error : "timeout");
        ok = false;
    }

    run_until(&c, now_s() + o->settle_s, false);
    struct server_sample s_idle = sample_server(&c);
    print_sample("idle", &s_idle);
    if (o->server_pid > 0)
        printf("idle: server rss %ld KiB (+%ld KiB since before = %.2f KiB per subscriber), "
               "fds %ld\n",
               s_idle.rss_kib, s_idle.rss_kib - s_before.rss_kib,
               (double)(s_idle.rss_kib - s_before.rss_kib) / o->conns, s_idle.fds);

    /* The window is whole ticks: [S0, S0 + W) in Unix seconds, S0 the next second.
     * Server CPU and /metrics are read at S0 and S0 + W; events are then given a
     * grace period to arrive and are counted by the tick they carry. */
    int win = (int)lround(o->window_s);
    double rt = wall_s();
    c.win_start_s = (int64_t)floor(rt) + 1;
    c.win_end_s = c.win_start_s + win;
    run_until(&c, now_s() + ((double)c.win_start_s - rt), false);
    struct live_metrics m0 = get_metrics(&c);
    struct server_sample s_w0 = sample_server(&c);
    double t_w0 = now_s();
    run_until(&c, t_w0 + ((double)c.win_end_s - wall_s()), false);
    double t_w1 = now_s();
    struct server_sample s_w1 = sample_server(&c);
    struct live_metrics m1 = get_metrics(&c);
    run_until(&c, now_s() + 2.0, false); /* late deliveries of the last ticks */
    uint32_t *w = calloc((size_t)o->conns, sizeof(*w));
    uint64_t total = 0;
    int below = 0, closed = 0;
    uint32_t bad = 0;
    for (int i = 0; i < o->conns; i++) {
        w[i] = c.conns[i].win_events;
        total += w[i];
        bad += c.conns[i].bad;
        if ((int)w[i] < o->min_events)
            below++;
        if (c.conns[i].state == CONN_CLOSED)
            closed++;
    }
    qsort(w, (size_t)o->conns, sizeof(*w), cmp_u32);
    uint32_t ev_min = w[0], ev_med = w[o->conns / 2], ev_max = w[o->conns - 1];
    free(w);
    /* Delivery latency: from the tick's second to the event read by this client. */
    uint64_t seen = 0, acc = 0;
    int lat_p50 = -1, lat_p99 = -1, lat_max = 0;
    for (int b = 0; b < LAT_BUCKETS; b++)
        seen += c.lat_ms[b];
    for (int b = 0; b < LAT_BUCKETS; b++) {
        acc += c.lat_ms[b];
        if (c.lat_ms[b] > 0)
            lat_max = b;
        if (lat_p50 < 0 && acc * 2 >= seen && seen > 0)
            lat_p50 = b;
        if (lat_p99 < 0 && acc * 100 >= seen * 99 && seen > 0)
            lat_p99 = b;
    }
    double ticks = win;
    double cpu_ms = (double)(s_w1.cpu_ticks - s_w0.cpu_ticks) * 1000.0 / sysconf(_SC_CLK_TCK);
    double user_ms = (double)(s_w1.user_ticks - s_w0.user_ticks) * 1000.0 / sysconf(_SC_CLK_TCK);
    printf("window of %d ticks: events per subscriber min %u median %u max %u; %d below %d; "
           "%d closed; %u bad events; delivery latency (tick -> read) p50 %d ms, p99 %d ms, "
           "max %d ms%s\n",
           win, ev_min, ev_med, ev_max, below, o->min_events, closed, bad, lat_p50, lat_p99,
           lat_max, lat_max >= LAT_BUCKETS - 1 ? "+" : "");
    if (o->server_pid > 0)
        printf("window: server CPU %.0f ms = %.1f%% of a core, %.2f ms per tick, "
               "%.2f us per delivered event (user %.2f, the rest the kernel's); rss %ld KiB\n",
               cpu_ms, cpu_ms / 10.0 / (t_w1 - t_w0), cpu_ms / ticks,
               cpu_ms * 1000.0 / (double)(total ? total : 1),
               user_ms * 1000.0 / (double)(total ? total : 1), s_w1.rss_kib);
    long m_ticks = m1.ticks - m0.ticks;
    if (m0.ticks >= 0 && m1.ticks >= 0 && m_ticks > 0) {
        long msgs = m1.messages - m0.messages, dels = m1.deliveries - m0.deliveries;
        /* Messages per N deliveries = distinct groups per tick, whatever the window's
         * edges cut (the tick counter may straddle them). */
        printf("window: server /metrics: %ld subscribers; %ld messages serialized for %ld "
               "deliveries = %.1f messages per tick of %d subscribers (one per observer "
               "group); %ld dropped\n",
               m1.subscribers, msgs, dels, dels > 0 ? (double)msgs * o->conns / (double)dels : 0.0,
               o->conns, m1.dropped - m0.dropped);
        printf("RESULT phase=metrics subscribers=%ld ticks=%ld messages=%ld deliveries=%ld "
               "dropped=%ld\n",
               m1.subscribers, m_ticks, m1.messages - m0.messages, m1.deliveries - m0.deliveries,
               m1.dropped - m0.dropped);
    }
    printf("RESULT phase=window seconds=%.3f min=%u median=%u max=%u below=%d closed=%d bad=%u "
           "events=%llu server_cpu_ms=%.0f server_user_ms=%.0f ticks=%.0f rss_kib=%ld fds=%ld "
           "latency_p50_ms=%d latency_p99_ms=%d latency_max_ms=%d\n",
           t_w1 - t_w0, ev_min, ev_med, ev_max, below, closed, bad, (unsigned long long)total,
           cpu_ms, user_ms, ticks, s_w1.rss_kib, s_w1.fds, lat_p50, lat_p99, lat_max);
    if (below > 0 || bad > 0 || closed > 0) {
        printf("FAIL: %d subscribers got fewer than %d events, %u bad events, %d closed (%s)\n",
               below, o->min_events, bad, closed, c.first_error[0] ? c.first_error : "-");
        ok = false;
    }

    if (o->slow > 0 && !slow_phase(&c, &s_idle))
        ok = false;

    for (int i = 0; i < c.total; i++)
        conn_close(&c, &c.conns[i], false);
    close(c.epfd);
    free(c.conns);
    free(c.obs);
    free(c.rbuf);
    free(c.lat_ms);
    printf("RESULT phase=end ok=%d\n", ok);
    return ok ? 0 : 1;
}
