/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * driver.c -- libFuzzer target for the WebSocket frame decoder of
 * src/http/ws.c (http_ws_decode).
 *
 * Input: byte 0 picks the message limit from a small table (0, 1, 5, 125, 128,
 * 129, 300, 70000), byte 1 the read size of the chunked run, the rest is what a
 * client sent. The stream is decoded whole, one byte at a time and in reads of
 * the chosen size; all three runs must report the same events at the same input
 * offsets. The whole run is also checked against a second, deliberately simple
 * decoder written here (whole-buffer, code-point based UTF-8 check), which must
 * give the same events, codes and payloads. Invariants on every event: payloads
 * within their limits, CLOSE codes sendable or 1005, ERROR codes 1002, 1007 or
 * 1009, nothing after CLOSE or ERROR, no heap held between messages or once
 * finished. A broken invariant aborts, which libFuzzer reports as a crash.
 *
 * Build and run (about two minutes):
 *   make SANITIZE=address,undefined build/san/fuzz/ws_frame
 *   build/san/fuzz/ws_frame -dict=tests/fuzz/ws_frame/dict \
 *       -max_total_time=120 tests/fuzz/ws_frame/corpus
 * Replay the seeds and regressions: pass the files (not the directories) as arguments.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/ws.h"
#include "../check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_EVENTS 4096

struct evrec {
    int type;
    uint16_t code;
    size_t off; /* payload offset in the run's payload store */
    size_t len;
    size_t end; /* input offset after the event (not kept by the reference) */
};

struct events {
    struct evrec ev[MAX_EVENTS];
    size_t n;
    uint8_t *store; /* payload bytes of every event, back to back */
    size_t store_len;
    size_t store_cap;
};

static void events_add(struct events *e, int type, uint16_t code, const void *p, size_t len,
                       size_t end)
{
    CHECK(e->n < MAX_EVENTS);
    if (e->store_len + len > e->store_cap) {
        e->store_cap = (e->store_len + len) * 2 + 64;
        e->store = realloc(e->store, e->store_cap);
        CHECK(e->store != NULL);
    }
    if (len > 0)
        memcpy(e->store + e->store_len, p, len);
    e->ev[e->n++] = (struct evrec){type, code, e->store_len, len, end};
    e->store_len += len;
}

static void events_free(struct events *e)
{
    free(e->store);
    e->store = NULL;
    e->n = e->store_len = e->store_cap = 0;
}

/* ------------------------------------------------------------------------ */
/* Reference: an independent UTF-8 check by code points                       */
/* ------------------------------------------------------------------------ */

/*
 * Decode one sequence at p[0..n): returns its length if it is a complete valid
 * scalar value, 0 if it is invalid, or -1 if it is cut short by n but every
 * byte so far could still start a valid sequence.
 */
static int ref_seq(const uint8_t *p, size_t n)
{
    uint8_t c = p[0];
    int len;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if ((c & 0xE0) == 0xC0) {
        len = 2;
        cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
        len = 3;
        cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if ((size_t)len > n) {
        /* Cut short: valid so far iff some completion is valid. Only the second
           byte narrows the range, so try each second byte and pad with 0x80. */
        uint8_t tmp[4];
        memcpy(tmp, p, n);
        for (int second = 0x80; second <= 0xBF; second++) {
            if (n >= 2 && second != p[1])
                continue;
            tmp[1] = (uint8_t)second;
            for (int k = 2; k < len; k++)
                tmp[k] = (size_t)k < n ? p[k] : 0x80;
            if (ref_seq(tmp, (size_t)len) == len)
                return -1;
        }
        return 0;
    }
    for (int k = 1; k < len; k++) {
        if ((p[k] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (p[k] & 0x3F);
    }
    static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

/* 1: complete and valid; 0: invalid; -1: valid but ends inside a sequence. */
static int ref_utf8(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        int r = ref_seq(p + i, n - i);
        if (r <= 0)
            return r;
        i += (size_t)r;
    }
    return 1;
}

/* ------------------------------------------------------------------------ */
/* Reference decoder: whole buffer, checks in the order ws.h documents        */
/* ------------------------------------------------------------------------ */

static bool ref_close_code_ok(unsigned c)
{
    return (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) || (c >= 3000 && c <= 4999);
}

static void ref_decode(const uint8_t *in, size_t n, size_t max, struct events *out)
{
    uint8_t *msg = NULL;
    size_t msg_len = 0;
    int msg_op = 0;
    size_t pos = 0;
    while (pos < n) {
        uint8_t b0 = in[pos];
        int op = b0 & 0x0F;
        bool fin = b0 & 0x80;
        bool ctl = op >= 8;
        if ((b0 & 0x70) || !(op <= 2 || (op >= 8 && op <= 10)) || (op == 0 && !msg_op) ||
            ((op == 1 || op == 2) && msg_op) || (ctl && !fin)) {
            events_add(out, HTTP_WS_ERROR, 1002, NULL, 0, 0);
            break;
        }
        if (pos + 1 >= n)
            break;
        uint8_t b1 = in[pos + 1];
        if (!(b1 & 0x80) || (ctl && (b1 & 0x7F) > 125)) {
            events_add(out, HTTP_WS_ERROR, 1002, NULL, 0, 0);
            break;
        }
        size_t ext = (b1 & 0x7F) == 126 ? 2 : (b1 & 0x7F) == 127 ? 8 : 0;
        size_t hl = 2 + ext + 4;
        if (n - pos < hl)
            break;
        uint64_t len = b1 & 0x7F;
        if (ext) {
            len = 0;
            for (size_t k = 0; k < ext; k++)
                len = len * 256 + in[pos + 2 + k];
        }
        if (len >= (1ULL << 63)) {
            events_add(out, HTTP_WS_ERROR, 1002, NULL, 0, 0);
            break;
        }
        if (!ctl && msg_len + len > max) {
            events_add(out, HTTP_WS_ERROR, 1009, NULL, 0, 0);
            break;
        }
        const uint8_t *mask = in + pos + 2 + ext;
        size_t avail = n - pos - hl;
        size_t got = len < avail ? (size_t)len : avail;
        uint8_t *pl = malloc(got + 1);
        CHECK(pl != NULL);
        for (size_t k = 0; k < got; k++)
            pl[k] = in[pos + hl + k] ^ mask[k & 3];
        if (!ctl) {
            if (op != 0)
                msg_op = op;
            msg = realloc(msg, msg_len + got + 1);
            CHECK(msg != NULL);
            if (got > 0)
                memcpy(msg + msg_len, pl, got);
            msg_len += got;
        }
        free(pl);
        if (!ctl && msg_op == 1 && ref_utf8(msg, msg_len) == 0) {
            events_add(out, HTTP_WS_ERROR, 1007, NULL, 0, 0);
            break;
        }
        if (got < len)
            break;
        const uint8_t *p = in + pos + hl;
        pos += hl + (size_t)len;
        if (ctl) {
            uint8_t c[125];
            for (size_t k = 0; k < len; k++)
                c[k] = p[k] ^ mask[k & 3];
            if (op == 9 || op == 10) {
                events_add(out, op == 9 ? HTTP_WS_PING : HTTP_WS_PONG, 0, c, (size_t)len, 0);
                continue;
            }
            if (len == 0) {
                events_add(out, HTTP_WS_CLOSE, 1005, NULL, 0, 0);
            } else if (len == 1 || !ref_close_code_ok((unsigned)c[0] << 8 | c[1])) {
                events_add(out, HTTP_WS_ERROR, 1002, NULL, 0, 0);
            } else if (ref_utf8(c + 2, (size_t)len - 2) != 1) {
                events_add(out, HTTP_WS_ERROR, 1007, NULL, 0, 0);
            } else {
                events_add(out, HTTP_WS_CLOSE, (uint16_t)(c[0] << 8 | c[1]), c + 2, (size_t)len - 2,
                           0);
            }
            break;
        }
        if (!fin)
            continue;
        if (msg_op == 1 && ref_utf8(msg, msg_len) != 1) {
            events_add(out, HTTP_WS_ERROR, 1007, NULL, 0, 0);
            break;
        }
        events_add(out, msg_op == 1 ? HTTP_WS_TEXT : HTTP_WS_BINARY, 0, msg, msg_len, 0);
        msg_op = 0;
        msg_len = 0;
    }
    free(msg);
}

/* ------------------------------------------------------------------------ */
/* The decoder under test                                                     */
/* ------------------------------------------------------------------------ */

static void check_event(const struct http_ws_event *ev, size_t max)
{
    switch (ev->type) {
    case HTTP_WS_TEXT:
        CHECK(ref_utf8((const uint8_t *)ev->payload.ptr, ev->payload.len) == 1);
        /* fall through */
    case HTTP_WS_BINARY:
        CHECK(ev->payload.len <= max);
        CHECK(ev->close_code == 0);
        break;
    case HTTP_WS_PING:
    case HTTP_WS_PONG:
        CHECK(ev->payload.len <= 125);
        CHECK(ev->close_code == 0);
        break;
    case HTTP_WS_CLOSE:
        CHECK(ev->payload.len <= 123);
        CHECK(ev->close_code == 1005 ? ev->payload.len == 0
                                     : http_ws_close_code_is_valid(ev->close_code));
        CHECK(ref_utf8((const uint8_t *)ev->payload.ptr, ev->payload.len) == 1);
        break;
    case HTTP_WS_ERROR:
        CHECK(ev->close_code == 1002 || ev->close_code == 1007 || ev->close_code == 1009);
        CHECK(ev->payload.len > 0 && ev->payload.ptr[ev->payload.len] == '\0');
        break;
    default:
        CHECK(false);
    }
}

/* Decode in reads of chunk bytes (0: whole), each copied to an exact-size buffer. */
static void run(const uint8_t *in, size_t n, size_t chunk, size_t max, struct events *out)
{
    struct http_ws_decoder d;
    http_ws_decoder_init(&d, max);
    if (chunk == 0)
        chunk = n ? n : 1;
    bool finished = false;
    for (size_t off = 0; off < n; off += chunk) {
        size_t len = n - off < chunk ? n - off : chunk;
        char *buf = malloc(len);
        CHECK(buf != NULL);
        memcpy(buf, in + off, len);
        size_t pos = 0;
        for (;;) {
            struct http_ws_event ev;
            ssize_t c = http_ws_decode(&d, pt_str_make(buf + pos, len - pos), &ev);
            CHECK(c >= 0 && (size_t)c <= len - pos);
            pos += (size_t)c;
            if (ev.type == HTTP_WS_NONE) {
                CHECK(ev.payload.len == 0 && ev.close_code == 0);
                if (c == 0)
                    break;
                continue;
            }
            CHECK(!finished);
            check_event(&ev, max);
            events_add(out, ev.type, ev.close_code, ev.payload.ptr, ev.payload.len, off + pos);
            if (ev.type == HTTP_WS_CLOSE || ev.type == HTTP_WS_ERROR) {
                finished = true;
                CHECK(http_ws_decoder_is_finished(&d));
                CHECK(d.heap.data == NULL);
            }
        }
        CHECK(pos == len || finished);
        free(buf);
    }
    CHECK(http_ws_decoder_is_finished(&d) == finished);
    if (d.msg_opcode == 0)
        CHECK(d.heap.data == NULL);
    http_ws_decoder_deinit(&d);
    CHECK(d.heap.data == NULL);
}

static void compare(const struct events *a, const struct events *b, bool with_end)
{
    CHECK(a->n == b->n);
    for (size_t i = 0; i < a->n; i++) {
        const struct evrec *x = &a->ev[i];
        const struct evrec *y = &b->ev[i];
        CHECK(x->type == y->type);
        CHECK(x->code == y->code);
        if (x->type != HTTP_WS_ERROR) {
            CHECK(x->len == y->len);
            CHECK(x->len == 0 || memcmp(a->store + x->off, b->store + y->off, x->len) == 0);
        }
        if (with_end)
            CHECK(x->end == y->end);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t limits[] = {0, 1, 5, 125, 128, 129, 300, 70000};
    if (size < 2)
        return 0;
    size_t max = limits[data[0] % 8];
    size_t chunk = (size_t)data[1] + 1;
    const uint8_t *in = data + 2;
    size_t n = size - 2;

    struct events whole = {0}, bytes = {0}, chunks = {0}, ref = {0};
    run(in, n, 0, max, &whole);
    run(in, n, 1, max, &bytes);
    run(in, n, chunk, max, &chunks);
    ref_decode(in, n, max, &ref);
    compare(&whole, &bytes, true);
    compare(&whole, &chunks, true);
    compare(&whole, &ref, false);
    events_free(&whole);
    events_free(&bytes);
    events_free(&chunks);
    events_free(&ref);
    return 0;
}
