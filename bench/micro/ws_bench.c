/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * ws_bench.c -- micro-benchmark of the WebSocket frame decoder http_ws_decode()
 * (src/http/ws.c) and its memory per idle connection.
 *
 * Three workloads, each a stream of masked client frames decoded in 16 KiB reads
 * as a connection would receive them: small text messages (a 46-byte JSON
 * subscription, UTF-8 checked), 64 KiB binary messages, and 64 KiB text
 * messages sent as 16 fragments. Every decoded message is checked against what
 * was sent (count, length and a byte sum), so a fast wrong decoder exits with
 * status 1 instead of posting a result. Then 10,000 decoders are initialized and
 * each fed one small message, and the heap they hold (glibc mallinfo2) is
 * printed with sizeof(struct http_ws_decoder): the per-subscriber cost.
 *
 *   make build/bench/ws_bench && build/bench/ws_bench [rounds]
 * To compare with a baseline, build both trees with the same flags (the default
 * -O2 -g) and run each binary on the same idle core (taskset -c 1).
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "http/ws.h"

#define READ_BYTES 16384

static const char small_msg[] = "{\"subscribe\":\"mars\",\"lat\":48.93,\"lon\":2.45}";

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

struct stream {
    uint8_t *p;
    size_t len;
    size_t cap;
};

static void put(struct stream *s, const void *src, size_t n)
{
    if (s->len + n > s->cap) {
        s->cap = (s->len + n) * 2;
        s->p = realloc(s->p, s->cap);
        if (!s->p)
            exit(2);
    }
    memcpy(s->p + s->len, src, n);
    s->len += n;
}

/* Append a masked client frame. */
static void put_frame(struct stream *s, uint8_t b0, const uint8_t *payload, size_t n)
{
    static const uint8_t mask[4] = {0x12, 0x34, 0x56, 0x78};
    uint8_t h[14];
    size_t hl = http_ws_frame_header(0, n, h);
    h[0] = b0;
    h[1] |= 0x80;
    memcpy(h + hl, mask, 4);
    put(s, h, hl + 4);
    size_t at = s->len;
    put(s, payload, n);
    for (size_t i = 0; i < n; i++)
        s->p[at + i] ^= mask[i & 3];
}

struct result {
    size_t messages;
    uint64_t bytes;
    uint64_t sum;
};

static bool decode_stream(const struct stream *s, size_t max, struct result *r)
{
    struct http_ws_decoder d;
    http_ws_decoder_init(&d, max);
    for (size_t off = 0; off < s->len; off += READ_BYTES) {
        size_t len = PT_MIN(READ_BYTES, s->len - off);
        struct pt_str in = pt_str_make((const char *)s->p + off, len);
        for (;;) {
            struct http_ws_event ev;
            ssize_t c = http_ws_decode(&d, in, &ev);
            in.ptr += c;
            in.len -= (size_t)c;
            if (ev.type == HTTP_WS_TEXT || ev.type == HTTP_WS_BINARY) {
                r->messages++;
                r->bytes += ev.payload.len;
                r->sum += (uint8_t)ev.payload.ptr[0] + (uint8_t)ev.payload.ptr[ev.payload.len - 1];
            } else if (ev.type != HTTP_WS_NONE) {
                http_ws_decoder_deinit(&d);
                return false;
            } else if (c == 0) {
                break;
            }
        }
    }
    http_ws_decoder_deinit(&d);
    return true;
}

static int bench(const char *name, const struct stream *s, size_t max, size_t msgs,
                 size_t msg_bytes, uint64_t sum_each, long rounds)
{
    struct result r = {0};
    double t0 = now_ns();
    for (long i = 0; i < rounds; i++) {
        if (!decode_stream(s, max, &r)) {
            fprintf(stderr, "%s: unexpected error event\n", name);
            return 1;
        }
    }
    double dt = now_ns() - t0;
    if (r.messages != msgs * (size_t)rounds || r.bytes != (uint64_t)msgs * msg_bytes * rounds ||
        r.sum != sum_each * msgs * (uint64_t)rounds) {
        fprintf(stderr, "%s: wrong result (%zu messages, %llu bytes)\n", name, r.messages,
                (unsigned long long)r.bytes);
        return 1;
    }
    printf("%-28s %9.1f ns/message %8.0f MB/s (wire bytes)\n", name, dt / (double)r.messages,
           (double)s->len * (double)rounds / dt * 1e3);
    return 0;
}

int main(int argc, char **argv)
{
    long rounds = argc > 1 ? strtol(argv[1], NULL, 10) : 200;
    if (rounds <= 0) {
        fprintf(stderr, "usage: %s [rounds]\n", argv[0]);
        return 2;
    }
    enum { SMALL = 10000, BIG = 65536, BIGS = 64 };
    size_t small_len = sizeof(small_msg) - 1;
    uint64_t small_sum = (uint8_t)small_msg[0] + (uint8_t)small_msg[small_len - 1];

    struct stream s = {0};
    for (size_t i = 0; i < SMALL; i++)
        put_frame(&s, 0x81, (const uint8_t *)small_msg, small_len);
    int rc = bench("small text (46 B)", &s, 1 << 20, SMALL, small_len, small_sum, rounds);

    uint8_t *big = malloc(BIG);
    if (!big)
        return 2;
    for (size_t i = 0; i < BIG; i++)
        big[i] = (uint8_t)(' ' + i % 90); /* ASCII, so valid as text too */
    uint64_t big_sum = (uint64_t)big[0] + big[BIG - 1];
    s.len = 0;
    for (size_t i = 0; i < BIGS; i++)
        put_frame(&s, 0x82, big, BIG);
    rc |= bench("binary (64 KiB)", &s, BIG, BIGS, BIG, big_sum, rounds / 10 + 1);

    s.len = 0;
    for (size_t i = 0; i < BIGS; i++) {
        for (size_t k = 0; k < 16; k++)
            put_frame(&s, (uint8_t)((k == 15 ? 0x80 : 0) | (k == 0 ? 1 : 0)), big + k * 4096, 4096);
    }
    rc |= bench("text, 16 fragments (64 KiB)", &s, BIG, BIGS, BIG, big_sum, rounds / 10 + 1);

    /* Memory per idle subscriber: each decoder has handled one small message. */
    enum { CONNS = 10000 };
    s.len = 0;
    put_frame(&s, 0x81, (const uint8_t *)small_msg, small_len);
    struct http_ws_decoder *d = malloc(sizeof(*d) * CONNS);
    if (!d)
        return 2;
    size_t before = mallinfo2().uordblks;
    for (size_t i = 0; i < CONNS; i++) {
        http_ws_decoder_init(&d[i], 1 << 16);
        struct pt_str in = pt_str_make((const char *)s.p, s.len);
        struct http_ws_event ev;
        ssize_t c;
        while ((c = http_ws_decode(&d[i], in, &ev)) > 0 || ev.type != HTTP_WS_NONE) {
            in.ptr += c;
            in.len -= (size_t)c;
        }
    }
    size_t after = mallinfo2().uordblks;
    printf("decoder: sizeof %zu bytes, heap per idle decoder %.1f bytes\n",
           sizeof(struct http_ws_decoder), (double)(after - before) / CONNS);
    if (after != before) {
        fprintf(stderr, "idle decoders hold heap\n");
        rc = 1;
    }
    for (size_t i = 0; i < CONNS; i++)
        http_ws_decoder_deinit(&d[i]);
    free(d);
    free(big);
    free(s.p);
    return rc;
}
