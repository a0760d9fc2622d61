/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * ws_test.c -- unit tests of src/http/ws.c: WebSocket handshake checks, the
 * accept key, the frame decoder and the frame encoders.
 *
 * Expectations come from RFC 6455 (the §1.3 key, the §5.7 "Hello" frame) and
 * from frames built here byte by byte. Every decoder input is also fed at every
 * truncation point, one byte at a time and in reads of every size, and must
 * give the same events as the whole buffer; inputs are copied into
 * exact-size heap buffers so AddressSanitizer catches any read past the end.
 * Every limit (message size, control size) is crossed by one byte.
 *
 * Run: make SANITIZE=address,undefined build/san/tests/unit/http/ws_test &&
 *      build/san/tests/unit/http/ws_test
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>

#include "http/ws.h"

/* ------------------------------------------------------------------------ */
/* Helpers                                                                    */
/* ------------------------------------------------------------------------ */

/* A growable byte string for building client frames. */
struct bytes {
    uint8_t *p;
    size_t len;
    size_t cap;
};

static void put(struct bytes *b, const void *src, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 16;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    if (n > 0)
        memcpy(b->p + b->len, src, n);
    b->len += n;
}

static void put_byte(struct bytes *b, uint8_t c)
{
    put(b, &c, 1);
}

enum len_form { LEN_MIN, LEN_16, LEN_64 };

static const uint8_t test_mask[4] = {0x37, 0xfa, 0x21, 0x3d};

/*
 * Append one client frame: b0 is the first header byte (FIN, RSV, opcode), the
 * length uses form (LEN_MIN: the shortest), masked with test_mask if masked.
 */
static void put_frame_form(struct bytes *b, uint8_t b0, enum len_form form, bool masked,
                           const void *payload, size_t len)
{
    uint8_t m = masked ? 0x80 : 0;
    put_byte(b, b0);
    if (form == LEN_MIN && len <= 125) {
        put_byte(b, (uint8_t)(m | len));
    } else if (form != LEN_64 && len <= 0xFFFF) {
        put_byte(b, m | 126);
        put_byte(b, (uint8_t)(len >> 8));
        put_byte(b, (uint8_t)len);
    } else {
        put_byte(b, m | 127);
        for (int i = 7; i >= 0; i--)
            put_byte(b, (uint8_t)((uint64_t)len >> (8 * i)));
    }
    if (masked)
        put(b, test_mask, 4);
    const uint8_t *src = payload;
    for (size_t i = 0; i < len; i++) {
        uint8_t c = src[i];
        put_byte(b, masked ? (uint8_t)(c ^ test_mask[i & 3]) : c);
    }
}

static void put_frame(struct bytes *b, uint8_t b0, const void *payload, size_t len)
{
    put_frame_form(b, b0, LEN_MIN, true, payload, len);
}

static void put_text(struct bytes *b, uint8_t b0, const char *s)
{
    put_frame(b, b0, s, strlen(s));
}

#define FIN 0x80

/* One decoded event with its own copy of the payload. */
struct rec {
    enum http_ws_event_type type;
    uint16_t code;
    size_t len;
    uint8_t *payload;
    size_t end; /* input offset just after the event's last byte */
};

#define MAX_RECS 64

struct run {
    struct rec recs[MAX_RECS];
    size_t n;
    size_t consumed; /* total bytes consumed */
    bool finished;
};

static void run_free(struct run *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->recs[i].payload);
    r->n = 0;
}

static void record(struct run *r, const struct http_ws_event *ev, size_t end)
{
    assert_true(r->n < MAX_RECS);
    struct rec *x = &r->recs[r->n++];
    x->type = ev->type;
    x->code = ev->close_code;
    x->len = ev->payload.len;
    x->payload = malloc(x->len + 1);
    assert_non_null(x->payload);
    if (x->len > 0)
        memcpy(x->payload, ev->payload.ptr, x->len);
    x->end = end;
}

/*
 * Feed in[0..n) in chunks of chunk bytes (0: all at once), each chunk copied to
 * an exact-size heap buffer, the way a stream's on_read would: decode until a
 * call consumes nothing and reports nothing. max: the message limit.
 */
static void run_chunks(const uint8_t *in, size_t n, size_t chunk, size_t max, struct run *r)
{
    struct http_ws_decoder d;
    http_ws_decoder_init(&d, max);
    r->n = 0;
    r->consumed = 0;
    if (chunk == 0)
        chunk = n ? n : 1;
    size_t off = 0;
    while (off < n) {
        size_t len = PT_MIN(chunk, n - off);
        char *buf = malloc(len);
        assert_non_null(buf);
        memcpy(buf, in + off, len);
        size_t pos = 0;
        for (;;) {
            struct http_ws_event ev;
            ssize_t c = http_ws_decode(&d, pt_str_make(buf + pos, len - pos), &ev);
            assert_true(c >= 0 && (size_t)c <= len - pos);
            pos += (size_t)c;
            r->consumed += (size_t)c;
            if (ev.type != HTTP_WS_NONE)
                record(r, &ev, off + pos);
            else
                assert_true(ev.payload.len == 0 && ev.close_code == 0);
            if (c == 0 && ev.type == HTTP_WS_NONE)
                break;
        }
        free(buf);
        /* Only a finished decoder leaves bytes unconsumed. */
        if (pos < len)
            assert_true(http_ws_decoder_is_finished(&d));
        off += len;
    }
    r->finished = http_ws_decoder_is_finished(&d);
    /* Once drained, only an unfinished message holds the heap. */
    struct http_ws_event ev;
    assert_int_equal(http_ws_decode(&d, PT_STR_NULL, &ev), 0);
    assert_int_equal(ev.type, HTTP_WS_NONE);
    if (r->finished || d.msg_opcode == 0)
        assert_null(d.heap.data);
    http_ws_decoder_deinit(&d);
}

static void assert_runs_equal(const struct run *a, const struct run *b, const char *what)
{
    if (a->n != b->n) {
        print_error("%s: %zu events, want %zu\n", what, b->n, a->n);
        fail();
    }
    for (size_t i = 0; i < a->n; i++) {
        const struct rec *x = &a->recs[i];
        const struct rec *y = &b->recs[i];
        if (x->type != y->type || x->code != y->code || x->len != y->len ||
            (x->len > 0 && memcmp(x->payload, y->payload, x->len) != 0) || x->end != y->end) {
            print_error("%s: event %zu differs (type %d/%d code %u/%u len %zu/%zu end %zu/%zu)\n",
                        what, i, y->type, x->type, y->code, x->code, y->len, x->len, y->end,
                        x->end);
            fail();
        }
    }
    assert_int_equal(a->consumed, b->consumed);
    assert_int_equal(a->finished, b->finished);
}

/*
 * Decode in whole and check the same events come out fed one byte at a time
 * and in reads of every size, and that every truncation yields exactly the
 * events that end within it. The whole-buffer run is left in *whole.
 */
static void decode_checked(const struct bytes *b, size_t max, struct run *whole)
{
    run_chunks(b->p, b->len, 0, max, whole);

    struct run other;
    run_chunks(b->p, b->len, 1, max, &other);
    assert_runs_equal(whole, &other, "byte at a time");
    run_free(&other);

    for (size_t cut = 0; cut <= b->len; cut++) {
        /* In reads of cut bytes each (the last one shorter). */
        if (cut > 0 && cut < b->len) {
            run_chunks(b->p, b->len, cut, max, &other);
            assert_runs_equal(whole, &other, "in chunks");
            run_free(&other);
        }
        /* Truncated: exactly the events that end at or before cut. */
        run_chunks(b->p, cut, 0, max, &other);
        size_t want = 0;
        while (want < whole->n && whole->recs[want].end <= cut)
            want++;
        if (other.n != want) {
            print_error("truncated at %zu of %zu: %zu events, want %zu\n", cut, b->len, other.n,
                        want);
            fail();
        }
        for (size_t i = 0; i < want; i++) {
            assert_int_equal(other.recs[i].type, whole->recs[i].type);
            assert_int_equal(other.recs[i].len, whole->recs[i].len);
        }
        run_free(&other);
    }
}

static void assert_rec(const struct run *r, size_t i, enum http_ws_event_type type, uint16_t code,
                       const void *payload, size_t len)
{
    if (i >= r->n) {
        print_error("event %zu missing (%zu events)\n", i, r->n);
        fail();
    }
    const struct rec *x = &r->recs[i];
    if (x->type != type || x->code != code) {
        print_error("event %zu: type %d code %u, want type %d code %u (%.*s)\n", i, x->type,
                    x->code, type, code, (int)x->len, (const char *)x->payload);
        fail();
    }
    if (payload) {
        assert_int_equal(x->len, len);
        if (len > 0)
            assert_memory_equal(x->payload, payload, len);
    }
}

/* The input must decode to exactly one ERROR with code (after events_before others). */
static void expect_error(const struct bytes *b, size_t max, size_t events_before, uint16_t code)
{
    struct run r;
    decode_checked(b, max, &r);
    assert_int_equal(r.n, events_before + 1);
    assert_rec(&r, events_before, HTTP_WS_ERROR, code, NULL, 0);
    assert_true(r.recs[events_before].len > 0); /* a sentence for the log */
    assert_true(r.finished);
    run_free(&r);
}

/* ------------------------------------------------------------------------ */
/* Handshake                                                                  */
/* ------------------------------------------------------------------------ */

static void test_accept_key_rfc(void **state)
{
    (void)state;
    char out[29];
    memset(out, 'x', sizeof(out));
    /* RFC 6455 §1.3 (SHA-1 b37a4f2c...c4ea, then base64). */
    http_ws_accept_key(PT_STR("dGhlIHNhbXBsZSBub25jZQ=="), out);
    assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    /* A second pair, the example in Wikipedia's WebSocket article, checked with
       Python's hashlib and base64. */
    http_ws_accept_key(PT_STR("x3JJHMbDL1EzLkh9GBhXDw=="), out);
    assert_string_equal(out, "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
}

struct hs_case {
    const char *name;
    const char *headers; /* after the request line, before the blank line */
    const char *request_line;
    int want;
};

#define GOOD_LINE "GET /ws HTTP/1.1\r\n"
#define H_HOST "Host: example.com\r\n"
#define H_CONN "Connection: Upgrade\r\n"
#define H_UPG "Upgrade: websocket\r\n"
#define H_KEY "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
#define H_VER "Sec-WebSocket-Version: 13\r\n"

static const struct hs_case hs_cases[] = {
    {"valid", H_HOST H_CONN H_UPG H_KEY H_VER, GOOD_LINE, 0},
    {"browser style",
     H_HOST "Connection: keep-alive, Upgrade\r\nUpgrade: WebSocket\r\n" H_KEY H_VER
            "Origin: http://example.com\r\nSec-WebSocket-Extensions: permessage-deflate\r\n",
     GOOD_LINE, 0},
    {"lower case tokens", H_HOST "connection: upgrade\r\nupgrade: websocket\r\n" H_KEY H_VER,
     GOOD_LINE, 0},
    {"connection list in two headers",
     H_HOST "Connection: keep-alive\r\nConnection: upgrade\r\n" H_UPG H_KEY H_VER, GOOD_LINE, 0},
    {"upgrade list", H_HOST H_CONN "Upgrade: foo/2, websocket\r\n" H_KEY H_VER, GOOD_LINE, 0},
    {"key with every last-char value",
     H_HOST H_CONN H_UPG "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAw==\r\n" H_VER, GOOD_LINE, 0},
    {"key with + and /",
     H_HOST H_CONN H_UPG "Sec-WebSocket-Key: ++//++//++//++//++//+g==\r\n" H_VER, GOOD_LINE, 0},
    {"POST", H_HOST H_CONN H_UPG H_KEY H_VER, "POST /ws HTTP/1.1\r\n", PT_E_BAD_REQUEST},
    {"get lower case", H_HOST H_CONN H_UPG H_KEY H_VER, "get /ws HTTP/1.1\r\n", PT_E_BAD_REQUEST},
    {"HTTP/1.0", H_HOST H_CONN H_UPG H_KEY H_VER, "GET /ws HTTP/1.0\r\n", PT_E_BAD_REQUEST},
    {"no Connection", H_HOST H_UPG H_KEY H_VER, GOOD_LINE, PT_E_BAD_REQUEST},
    {"Connection without upgrade", H_HOST "Connection: keep-alive\r\n" H_UPG H_KEY H_VER, GOOD_LINE,
     PT_E_BAD_REQUEST},
    {"Connection upgraded (not a token match)", H_HOST "Connection: upgraded\r\n" H_UPG H_KEY H_VER,
     GOOD_LINE, PT_E_BAD_REQUEST},
    {"no Upgrade", H_HOST H_CONN H_KEY H_VER, GOOD_LINE, PT_E_BAD_REQUEST},
    {"Upgrade h2c", H_HOST H_CONN "Upgrade: h2c\r\n" H_KEY H_VER, GOOD_LINE, PT_E_BAD_REQUEST},
    {"no key", H_HOST H_CONN H_UPG H_VER, GOOD_LINE, PT_E_BAD_REQUEST},
    {"empty key", H_HOST H_CONN H_UPG "Sec-WebSocket-Key: \r\n" H_VER, GOOD_LINE, PT_E_BAD_REQUEST},
    {"key of 15 bytes", H_HOST H_CONN H_UPG "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25j\r\n" H_VER,
     GOOD_LINE, PT_E_BAD_REQUEST},
    {"key of 17 bytes", H_HOST H_CONN H_UPG "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZTE=\r\n" H_VER,
     GOOD_LINE, PT_E_BAD_REQUEST},
    {"key without padding",
     H_HOST H_CONN H_UPG "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ\r\n" H_VER, GOOD_LINE,
     PT_E_BAD_REQUEST},
    {"key with a bad character",
     H_HOST H_CONN H_UPG "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub2*jZQ==\r\n" H_VER, GOOD_LINE,
     PT_E_BAD_REQUEST},
    {"key with padding bits set",
     H_HOST H_CONN H_UPG "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZR==\r\n" H_VER, GOOD_LINE,
     PT_E_BAD_REQUEST},
    {"two keys", H_HOST H_CONN H_UPG H_KEY H_KEY H_VER, GOOD_LINE, PT_E_BAD_REQUEST},
    {"no version", H_HOST H_CONN H_UPG H_KEY, GOOD_LINE, PT_E_BAD_REQUEST},
    {"two versions", H_HOST H_CONN H_UPG H_KEY H_VER H_VER, GOOD_LINE, PT_E_BAD_REQUEST},
    {"version 8", H_HOST H_CONN H_UPG H_KEY "Sec-WebSocket-Version: 8\r\n", GOOD_LINE,
     PT_E_VERSION},
    {"version 14", H_HOST H_CONN H_UPG H_KEY "Sec-WebSocket-Version: 14\r\n", GOOD_LINE,
     PT_E_VERSION},
    {"version 8 with a bad key",
     H_HOST H_CONN H_UPG "Sec-WebSocket-Key: x\r\n"
                         "Sec-WebSocket-Version: 8\r\n",
     GOOD_LINE, PT_E_BAD_REQUEST},
    {"with a body", H_HOST H_CONN H_UPG H_KEY H_VER "Content-Length: 3\r\n", GOOD_LINE,
     PT_E_BAD_REQUEST},
    {"with an empty body", H_HOST H_CONN H_UPG H_KEY H_VER "Content-Length: 0\r\n", GOOD_LINE, 0},
    {"chunked", H_HOST H_CONN H_UPG H_KEY H_VER "Transfer-Encoding: chunked\r\n", GOOD_LINE,
     PT_E_BAD_REQUEST},
};

static void test_handshake_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < PT_ARRAY_SIZE(hs_cases); i++) {
        const struct hs_case *c = &hs_cases[i];
        char raw[2048];
        int n = snprintf(raw, sizeof(raw), "%s%s\r\n", c->request_line, c->headers);
        assert_true(n > 0 && (size_t)n < sizeof(raw));
        struct http_request_head head;
        int pr = http_parse_request(raw, (size_t)n, 0, &HTTP_LIMITS_DEFAULT, &head);
        if (pr != n) {
            print_error("%s: the request does not parse (%d)\n", c->name, pr);
            fail();
        }
        const char *why = NULL;
        int rc = http_ws_handshake_check(&head, &why);
        if (rc != c->want) {
            print_error("%s: got %d (%s), want %d\n", c->name, rc, why ? why : "-", c->want);
            fail();
        }
        if (rc != 0)
            assert_true(why != NULL && strlen(why) > 10);
        else
            assert_null(why);
        /* why may be NULL. */
        assert_int_equal(http_ws_handshake_check(&head, NULL), c->want);
    }
}

/* ------------------------------------------------------------------------ */
/* Decoder: messages                                                          */
/* ------------------------------------------------------------------------ */

static void test_rfc_hello(void **state)
{
    (void)state;
    /* RFC 6455 §5.7: a single-frame masked text message containing "Hello". */
    static const uint8_t frame[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
                                    0x7f, 0x9f, 0x4d, 0x51, 0x58};
    struct bytes b = {0};
    put(&b, frame, sizeof(frame));
    struct run r;
    decode_checked(&b, 1024, &r);
    assert_int_equal(r.n, 1);
    assert_rec(&r, 0, HTTP_WS_TEXT, 0, "Hello", 5);
    assert_int_equal(r.consumed, sizeof(frame));
    assert_false(r.finished);
    run_free(&r);

    /* The builder agrees with the RFC bytes. */
    struct bytes c = {0};
    put_text(&c, FIN | HTTP_WS_OP_TEXT, "Hello");
    assert_int_equal(c.len, sizeof(frame));
    assert_memory_equal(c.p, frame, sizeof(frame));
    free(b.p);
    free(c.p);
}

static void test_fragmented_with_ping(void **state)
{
    (void)state;
    struct bytes b = {0};
    put_text(&b, HTTP_WS_OP_TEXT, "Hel");
    put_text(&b, HTTP_WS_OP_CONT, "lo w");
    put_text(&b, FIN | HTTP_WS_OP_PING, "are you there");
    put_text(&b, FIN | HTTP_WS_OP_CONT, "\xc3\xb6rld"); /* "örld" */
    put_frame(&b, FIN | HTTP_WS_OP_BINARY, "\x00\x01\x02", 3);
    put_text(&b, FIN | HTTP_WS_OP_PONG, "");
    struct run r;
    decode_checked(&b, 1024, &r);
    assert_int_equal(r.n, 4);
    assert_rec(&r, 0, HTTP_WS_PING, 0, "are you there", 13);
    assert_rec(&r, 1, HTTP_WS_TEXT, 0, "Hello w\xc3\xb6rld", 12);
    assert_rec(&r, 2, HTTP_WS_BINARY, 0, "\x00\x01\x02", 3);
    assert_rec(&r, 3, HTTP_WS_PONG, 0, "", 0);
    assert_int_equal(r.consumed, b.len);
    run_free(&r);
    free(b.p);
}

static void test_empty_and_many_messages(void **state)
{
    (void)state;
    struct bytes b = {0};
    put_text(&b, FIN | HTTP_WS_OP_TEXT, "");
    put_text(&b, HTTP_WS_OP_BINARY, "");
    put_text(&b, HTTP_WS_OP_CONT, "");
    put_text(&b, FIN | HTTP_WS_OP_CONT, "");
    for (int i = 0; i < 5; i++)
        put_text(&b, FIN | HTTP_WS_OP_TEXT, "{\"lat\":48.9}");
    struct run r;
    decode_checked(&b, 1024, &r);
    assert_int_equal(r.n, 7);
    assert_rec(&r, 0, HTTP_WS_TEXT, 0, "", 0);
    assert_rec(&r, 1, HTTP_WS_BINARY, 0, "", 0);
    for (size_t i = 2; i < 7; i++)
        assert_rec(&r, i, HTTP_WS_TEXT, 0, "{\"lat\":48.9}", 12);
    run_free(&r);
    free(b.p);
}

/* A message that starts in the inline buffer and spills to the heap mid-way. */
static void test_inline_to_heap(void **state)
{
    (void)state;
    uint8_t big[400];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (uint8_t)(i * 7 + 3);
    struct bytes b = {0};
    put_frame(&b, HTTP_WS_OP_BINARY, big, 100);
    put_frame(&b, FIN | HTTP_WS_OP_PING, "x", 1);
    put_frame(&b, HTTP_WS_OP_CONT, big + 100, 28); /* exactly the inline size */
    put_frame(&b, FIN | HTTP_WS_OP_CONT, big + 128, 272);
    put_frame(&b, FIN | HTTP_WS_OP_BINARY, big, 128); /* inline again */
    struct run r;
    decode_checked(&b, 400, &r);
    assert_int_equal(r.n, 3);
    assert_rec(&r, 0, HTTP_WS_PING, 0, "x", 1);
    assert_rec(&r, 1, HTTP_WS_BINARY, 0, big, 400);
    assert_rec(&r, 2, HTTP_WS_BINARY, 0, big, 128);
    run_free(&r);
    free(b.p);
}

/* ------------------------------------------------------------------------ */
/* Decoder: protocol errors                                                   */
/* ------------------------------------------------------------------------ */

static void test_unmasked(void **state)
{
    (void)state;
    struct bytes b = {0};
    put_frame_form(&b, FIN | HTTP_WS_OP_TEXT, LEN_MIN, false, "Hello", 5);
    expect_error(&b, 1024, 0, 1002);
    b.len = 0;
    put_frame_form(&b, FIN | HTTP_WS_OP_PING, LEN_MIN, false, "", 0);
    expect_error(&b, 1024, 0, 1002);
    /* After a good message. */
    b.len = 0;
    put_text(&b, FIN | HTTP_WS_OP_TEXT, "ok");
    put_frame_form(&b, FIN | HTTP_WS_OP_BINARY, LEN_MIN, false, "x", 1);
    put_text(&b, FIN | HTTP_WS_OP_TEXT, "never seen");
    expect_error(&b, 1024, 1, 1002);
    free(b.p);
}

static void test_rsv_bits(void **state)
{
    (void)state;
    static const uint8_t rsv[] = {0x40, 0x20, 0x10, 0x70};
    for (size_t i = 0; i < PT_ARRAY_SIZE(rsv); i++) {
        struct bytes b = {0};
        put_text(&b, (uint8_t)(FIN | rsv[i] | HTTP_WS_OP_TEXT), "Hello");
        expect_error(&b, 1024, 0, 1002);
        b.len = 0;
        put_text(&b, (uint8_t)(FIN | rsv[i] | HTTP_WS_OP_PING), "");
        expect_error(&b, 1024, 0, 1002);
        free(b.p);
    }
}

static void test_unknown_opcodes(void **state)
{
    (void)state;
    static const uint8_t ops[] = {3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF};
    for (size_t i = 0; i < PT_ARRAY_SIZE(ops); i++) {
        struct bytes b = {0};
        put_text(&b, (uint8_t)(FIN | ops[i]), "x");
        expect_error(&b, 1024, 0, 1002);
        free(b.p);
    }
}

static void test_control_frame_rules(void **state)
{
    (void)state;
    uint8_t p[126];
    memset(p, 'p', sizeof(p));
    static const uint8_t ctl[] = {HTTP_WS_OP_PING, HTTP_WS_OP_PONG, HTTP_WS_OP_CLOSE};
    for (size_t i = 0; i < PT_ARRAY_SIZE(ctl); i++) {
        struct bytes b = {0};
        /* 125 bytes is the most a control frame may carry (close: code + 123). */
        uint8_t q[125];
        memset(q, 'q', sizeof(q));
        q[0] = 0x03;
        q[1] = 0xE8;
        put_frame(&b, (uint8_t)(FIN | ctl[i]), q, 125);
        struct run r;
        decode_checked(&b, 1024, &r);
        assert_int_equal(r.n, 1);
        assert_true(r.recs[0].type != HTTP_WS_ERROR);
        assert_int_equal(r.recs[0].len, ctl[i] == HTTP_WS_OP_CLOSE ? 123 : 125);
        run_free(&r);
        /* One more byte: 1002, reported from the length byte. */
        b.len = 0;
        put_frame(&b, (uint8_t)(FIN | ctl[i]), p, 126);
        expect_error(&b, 1024, 0, 1002);
        /* A short payload in the 16-bit form is refused too. */
        b.len = 0;
        put_frame_form(&b, (uint8_t)(FIN | ctl[i]), LEN_16, true, p, 5);
        expect_error(&b, 1024, 0, 1002);
        /* Fragmented control frame. */
        b.len = 0;
        put_frame(&b, ctl[i], "", 0);
        expect_error(&b, 1024, 0, 1002);
        free(b.p);
    }
}

static void test_fragment_sequence_errors(void **state)
{
    (void)state;
    struct bytes b = {0};
    /* Continuation with nothing to continue. */
    put_text(&b, FIN | HTTP_WS_OP_CONT, "x");
    expect_error(&b, 1024, 0, 1002);
    b.len = 0;
    put_text(&b, FIN | HTTP_WS_OP_TEXT, "a");
    put_text(&b, HTTP_WS_OP_CONT, "x");
    expect_error(&b, 1024, 1, 1002);
    /* A new data frame while a message is open. */
    b.len = 0;
    put_text(&b, HTTP_WS_OP_TEXT, "a");
    put_text(&b, FIN | HTTP_WS_OP_TEXT, "b");
    expect_error(&b, 1024, 0, 1002);
    b.len = 0;
    put_text(&b, HTTP_WS_OP_BINARY, "a");
    put_text(&b, FIN | HTTP_WS_OP_PING, "");
    put_text(&b, HTTP_WS_OP_BINARY, "b");
    expect_error(&b, 1024, 1, 1002);
    free(b.p);
}

static void test_finished_decoder(void **state)
{
    (void)state;
    struct http_ws_decoder d;
    http_ws_decoder_init(&d, 100);
    struct bytes b = {0};
    put_frame_form(&b, FIN | HTTP_WS_OP_TEXT, LEN_MIN, false, "abc", 3);
    struct http_ws_event ev;
    ssize_t c = http_ws_decode(&d, pt_str_make((const char *)b.p, b.len), &ev);
    assert_int_equal(ev.type, HTTP_WS_ERROR);
    assert_int_equal(ev.close_code, 1002);
    assert_int_equal(c, 2); /* reported at the length byte, the payload is not read */
    assert_true(http_ws_decoder_is_finished(&d));
    c = http_ws_decode(&d, pt_str_make((const char *)b.p + 2, b.len - 2), &ev);
    assert_int_equal(c, 0);
    assert_int_equal(ev.type, HTTP_WS_NONE);
    http_ws_decoder_deinit(&d);
    free(b.p);
}

/* ------------------------------------------------------------------------ */
/* Decoder: limits and lengths                                                */
/* ------------------------------------------------------------------------ */

static void test_message_limit(void **state)
{
    (void)state;
    enum { MAX = 1000 };
    uint8_t p[MAX + 1];
    for (size_t i = 0; i < sizeof(p); i++)
        p[i] = (uint8_t)('a' + i % 26);
    struct bytes b = {0};
    struct run r;

    put_frame(&b, FIN | HTTP_WS_OP_TEXT, p, MAX);
    decode_checked(&b, MAX, &r);
    assert_int_equal(r.n, 1);
    assert_rec(&r, 0, HTTP_WS_TEXT, 0, p, MAX);
    run_free(&r);

    b.len = 0;
    put_frame(&b, FIN | HTTP_WS_OP_TEXT, p, MAX + 1);
    expect_error(&b, MAX, 0, 1009);

    /* Fragmented: the limit is on the whole message, not each frame. */
    b.len = 0;
    put_frame(&b, HTTP_WS_OP_BINARY, p, 500);
    put_frame(&b, FIN | HTTP_WS_OP_CONT, p + 500, 500);
    decode_checked(&b, MAX, &r);
    assert_int_equal(r.n, 1);
    assert_rec(&r, 0, HTTP_WS_BINARY, 0, p, MAX);
    run_free(&r);

    b.len = 0;
    put_frame(&b, HTTP_WS_OP_BINARY, p, 500);
    put_frame(&b, FIN | HTTP_WS_OP_PING, "", 0);
    put_frame(&b, FIN | HTTP_WS_OP_CONT, p + 500, 501);
    expect_error(&b, MAX, 1, 1009);

    /* Limit 0: only empty messages; control frames are not limited by it. */
    b.len = 0;
    put_text(&b, FIN | HTTP_WS_OP_TEXT, "");
    put_text(&b, FIN | HTTP_WS_OP_PING, "ping");
    put_text(&b, FIN | HTTP_WS_OP_TEXT, "x");
    expect_error(&b, 0, 2, 1009);
    free(b.p);
}

/* The limit is enforced from the header, before the payload is received or stored. */
static void test_limit_fails_fast(void **state)
{
    (void)state;
    struct http_ws_decoder d;
    http_ws_decoder_init(&d, 1000);
    static const uint8_t hdr[] = {0x82, 0xFE, 0x03, 0xE9, 1, 2, 3, 4}; /* 1001 bytes */
    struct http_ws_event ev;
    ssize_t c = http_ws_decode(&d, pt_str_make((const char *)hdr, sizeof(hdr)), &ev);
    assert_int_equal(c, sizeof(hdr));
    assert_int_equal(ev.type, HTTP_WS_ERROR);
    assert_int_equal(ev.close_code, 1009);
    assert_null(d.heap.data);
    http_ws_decoder_deinit(&d);
}

static void test_lengths(void **state)
{
    (void)state;
    enum { BIG = 70000 };
    uint8_t *p = malloc(BIG);
    assert_non_null(p);
    for (size_t i = 0; i < BIG; i++)
        p[i] = (uint8_t)(i ^ (i >> 8));
    struct bytes b = {0};
    struct run r;

    /* 16-bit form (126..65535), minimal. */
    put_frame(&b, FIN | HTTP_WS_OP_BINARY, p, 126);
    put_frame(&b, FIN | HTTP_WS_OP_BINARY, p, 300);
    assert_int_equal(b.p[1], 0x80 | 126);
    /* Non-minimal forms: 16-bit for 5 bytes, 64-bit for 3 and for 300. */
    put_frame_form(&b, FIN | HTTP_WS_OP_BINARY, LEN_16, true, p, 5);
    put_frame_form(&b, FIN | HTTP_WS_OP_BINARY, LEN_64, true, p, 3);
    put_frame_form(&b, FIN | HTTP_WS_OP_TEXT, LEN_64, true, "abc", 3);
    decode_checked(&b, BIG, &r);
    assert_int_equal(r.n, 5);
    assert_rec(&r, 0, HTTP_WS_BINARY, 0, p, 126);
    assert_rec(&r, 1, HTTP_WS_BINARY, 0, p, 300);
    assert_rec(&r, 2, HTTP_WS_BINARY, 0, p, 5);
    assert_rec(&r, 3, HTTP_WS_BINARY, 0, p, 3);
    assert_rec(&r, 4, HTTP_WS_TEXT, 0, "abc", 3);
    run_free(&r);

    /* 64-bit form, minimal (over 65535); whole and in 4 KiB reads. */
    b.len = 0;
    put_frame(&b, FIN | HTTP_WS_OP_BINARY, p, BIG);
    assert_int_equal(b.p[1], 0x80 | 127);
    run_chunks(b.p, b.len, 0, BIG, &r);
    assert_int_equal(r.n, 1);
    assert_rec(&r, 0, HTTP_WS_BINARY, 0, p, BIG);
    run_free(&r);
    run_chunks(b.p, b.len, 4096, BIG, &r);
    assert_int_equal(r.n, 1);
    assert_rec(&r, 0, HTTP_WS_BINARY, 0, p, BIG);
    run_free(&r);
    run_chunks(b.p, b.len, 4096, BIG - 1, &r);
    assert_int_equal(r.n, 1);
    assert_rec(&r, 0, HTTP_WS_ERROR, 1009, NULL, 0);
    run_free(&r);

    /* 64-bit length with the most significant bit set. */
    b.len = 0;
    static const uint8_t msb[] = {0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4};
    put(&b, msb, sizeof(msb));
    expect_error(&b, SIZE_MAX, 0, 1002);
    /* The largest legal length is only refused by the limit. */
    b.len = 0;
    static const uint8_t top[] = {0x82, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF,
                                  0xFF, 0xFF, 0xFF, 1,    2,    3,    4};
    put(&b, top, sizeof(top));
    expect_error(&b, 1 << 20, 0, 1009);
    free(b.p);
    free(p);
}

/* ------------------------------------------------------------------------ */
/* Decoder: UTF-8                                                             */
/* ------------------------------------------------------------------------ */

struct utf8_case {
    const char *name;
    const char *bytes;
    bool valid;
};

static const struct utf8_case utf8_cases[] = {
    {"ascii", "plain text", true},
    {"two bytes", "caf\xc3\xa9", true},
    {"three bytes", "\xe2\x82\xac 5", true},
    {"four bytes", "\xf0\x9f\x8c\x8d", true},
    {"U+0080", "\xc2\x80", true},
    {"U+0800", "\xe0\xa0\x80", true},
    {"U+D7FF", "\xed\x9f\xbf", true},
    {"U+E000", "\xee\x80\x80", true},
    {"U+FFFF", "\xef\xbf\xbf", true},
    {"U+10000", "\xf0\x90\x80\x80", true},
    {"U+10FFFF", "\xf4\x8f\xbf\xbf", true},
    {"long ascii then multibyte", "0123456789abcdefghij\xc3\xa9klmnopqrstuvwxyz", true},
    {"overlong 2-byte C0", "\xc0\x80", false},
    {"overlong 2-byte C1", "\xc1\xbf", false},
    {"overlong 3-byte", "\xe0\x80\x80", false},
    {"overlong 3-byte 9F", "\xe0\x9f\xbf", false},
    {"overlong 4-byte", "\xf0\x80\x80\x80", false},
    {"overlong 4-byte 8F", "\xf0\x8f\xbf\xbf", false},
    {"high surrogate", "\xed\xa0\x80", false},
    {"low surrogate", "\xed\xbf\xbf", false},
    {"U+110000", "\xf4\x90\x80\x80", false},
    {"F5", "\xf5\x80\x80\x80", false},
    {"FF", "\xff", false},
    {"lone continuation", "a\x80", false},
    {"truncated 2-byte", "ab\xc3", false},
    {"truncated 3-byte", "\xe2\x82", false},
    {"truncated 4-byte", "\xf0\x9f\x8c", false},
    {"bad continuation", "\xe2\x28\xa1", false},
    {"ascii run then bad", "0123456789abcdef\x80", false},
};

static void test_utf8(void **state)
{
    (void)state;
    for (size_t i = 0; i < PT_ARRAY_SIZE(utf8_cases); i++) {
        const struct utf8_case *c = &utf8_cases[i];
        size_t n = strlen(c->bytes);
        /* Whole, and split into fragments at every offset. */
        for (size_t cut = 0; cut <= n; cut++) {
            struct bytes b = {0};
            if (cut == 0) {
                put_text(&b, FIN | HTTP_WS_OP_TEXT, c->bytes);
            } else {
                put_frame(&b, HTTP_WS_OP_TEXT, c->bytes, cut);
                put_frame(&b, FIN | HTTP_WS_OP_PING, "", 0);
                put_frame(&b, FIN | HTTP_WS_OP_CONT, c->bytes + cut, n - cut);
            }
            struct run r;
            decode_checked(&b, 1024, &r);
            const struct rec *last = &r.recs[r.n - 1];
            if (c->valid) {
                if (last->type != HTTP_WS_TEXT) {
                    print_error("%s (cut %zu): got type %d code %u\n", c->name, cut, last->type,
                                last->code);
                    fail();
                }
                assert_int_equal(last->len, n);
                assert_memory_equal(last->payload, c->bytes, n);
            } else if (last->type != HTTP_WS_ERROR || last->code != 1007) {
                print_error("%s (cut %zu): got type %d code %u, want ERROR 1007\n", c->name, cut,
                            last->type, last->code);
                fail();
            }
            run_free(&r);
            free(b.p);
        }
        /* Binary messages are not checked. */
        struct bytes b = {0};
        put_text(&b, FIN | HTTP_WS_OP_BINARY, c->bytes);
        struct run r;
        decode_checked(&b, 1024, &r);
        assert_rec(&r, 0, HTTP_WS_BINARY, 0, c->bytes, n);
        run_free(&r);
        free(b.p);
    }
}

/* Invalid UTF-8 fails as soon as it arrives, before the message ends. */
static void test_utf8_fails_fast(void **state)
{
    (void)state;
    struct bytes b = {0};
    put_text(&b, HTTP_WS_OP_TEXT, "ok \xed\xa0\x80 more");
    struct run r;
    run_chunks(b.p, b.len, 0, 1024, &r);
    assert_int_equal(r.n, 1);
    assert_rec(&r, 0, HTTP_WS_ERROR, 1007, NULL, 0);
    run_free(&r);
    free(b.p);
}

/* ------------------------------------------------------------------------ */
/* Decoder: close frames                                                      */
/* ------------------------------------------------------------------------ */

static void put_close(struct bytes *b, uint16_t code, const char *reason)
{
    uint8_t p[125];
    p[0] = (uint8_t)(code >> 8);
    p[1] = (uint8_t)code;
    size_t n = strlen(reason);
    memcpy(p + 2, reason, n);
    put_frame(b, FIN | HTTP_WS_OP_CLOSE, p, n + 2);
}

static void test_close_frames(void **state)
{
    (void)state;
    struct bytes b = {0};
    struct run r;

    put_frame(&b, FIN | HTTP_WS_OP_CLOSE, "", 0);
    put_text(&b, FIN | HTTP_WS_OP_TEXT, "after close: ignored");
    decode_checked(&b, 1024, &r);
    assert_int_equal(r.n, 1);
    assert_rec(&r, 0, HTTP_WS_CLOSE, 1005, "", 0);
    assert_true(r.finished);
    assert_int_equal(r.consumed, 6);
    run_free(&r);

    b.len = 0;
    put_frame(&b, FIN | HTTP_WS_OP_CLOSE, "\x03", 1);
    expect_error(&b, 1024, 0, 1002);
    /* Even when an earlier ping left a valid code in the control buffer. */
    b.len = 0;
    put_frame(&b, FIN | HTTP_WS_OP_PING, "\x03\xe8", 2);
    put_frame(&b, FIN | HTTP_WS_OP_CLOSE, "\x03", 1);
    expect_error(&b, 1024, 1, 1002);

    static const uint16_t bad[] = {0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535};
    for (size_t i = 0; i < PT_ARRAY_SIZE(bad); i++) {
        b.len = 0;
        put_close(&b, bad[i], "");
        expect_error(&b, 1024, 0, 1002);
        assert_false(http_ws_close_code_is_valid(bad[i]));
    }
    static const uint16_t good[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010,
                                    1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999};
    for (size_t i = 0; i < PT_ARRAY_SIZE(good); i++) {
        b.len = 0;
        put_close(&b, good[i], "");
        decode_checked(&b, 1024, &r);
        assert_int_equal(r.n, 1);
        assert_rec(&r, 0, HTTP_WS_CLOSE, good[i], "", 0);
        run_free(&r);
        assert_true(http_ws_close_code_is_valid(good[i]));
    }

    b.len = 0;
    put_close(&b, 1001, "going away \xe2\x98\x83");
    decode_checked(&b, 1024, &r);
    assert_rec(&r, 0, HTTP_WS_CLOSE, 1001, "going away \xe2\x98\x83", 14);
    run_free(&r);

    static const char *bad_reasons[] = {"\xc0\xaf", "bye \xed\xa0\x80", "cut \xe2\x98", "\xff"};
    for (size_t i = 0; i < PT_ARRAY_SIZE(bad_reasons); i++) {
        b.len = 0;
        put_close(&b, 1000, bad_reasons[i]);
        expect_error(&b, 1024, 0, 1007);
    }

    /* A close in the middle of a fragmented message ends the decoding. */
    b.len = 0;
    put_text(&b, HTTP_WS_OP_TEXT, "part");
    put_close(&b, 1000, "");
    decode_checked(&b, 1024, &r);
    assert_int_equal(r.n, 1);
    assert_rec(&r, 0, HTTP_WS_CLOSE, 1000, "", 0);
    run_free(&r);
    free(b.p);
}

/* ------------------------------------------------------------------------ */
/* Memory                                                                     */
/* ------------------------------------------------------------------------ */

static void test_memory(void **state)
{
    (void)state;
    struct http_ws_decoder d;
    http_ws_decoder_init(&d, 1 << 20);
    assert_true(sizeof(d) <= 512);

    /* A small message stays inline. */
    struct bytes b = {0};
    put_text(&b, FIN | HTTP_WS_OP_TEXT, "{\"subscribe\":\"mars\"}");
    struct http_ws_event ev;
    ssize_t c = http_ws_decode(&d, pt_str_make((const char *)b.p, b.len), &ev);
    assert_int_equal(c, b.len);
    assert_int_equal(ev.type, HTTP_WS_TEXT);
    assert_null(d.heap.data);

    /* A frame announcing 60,000 bytes costs only what has arrived. */
    b.len = 0;
    uint8_t p[600];
    memset(p, 'z', sizeof(p));
    put_frame(&b, FIN | HTTP_WS_OP_BINARY, p, sizeof(p));
    b.p[2] = 60000 >> 8;
    b.p[3] = 60000 & 0xFF;
    c = http_ws_decode(&d, pt_str_make((const char *)b.p, 4 + 4 + 300), &ev);
    assert_int_equal(c, 308);
    assert_int_equal(ev.type, HTTP_WS_NONE);
    assert_non_null(d.heap.data);
    assert_true(d.heap.cap <= 512);
    http_ws_decoder_deinit(&d);
    assert_null(d.heap.data);

    /* A large message is freed on the call after it is handed out. */
    http_ws_decoder_init(&d, 1 << 20);
    b.len = 0;
    put_frame(&b, FIN | HTTP_WS_OP_BINARY, p, sizeof(p));
    c = http_ws_decode(&d, pt_str_make((const char *)b.p, b.len), &ev);
    assert_int_equal(c, b.len);
    assert_int_equal(ev.type, HTTP_WS_BINARY);
    assert_int_equal(ev.payload.len, sizeof(p));
    assert_non_null(d.heap.data);
    c = http_ws_decode(&d, PT_STR_NULL, &ev);
    assert_int_equal(c, 0);
    assert_int_equal(ev.type, HTTP_WS_NONE);
    assert_null(d.heap.data);
    http_ws_decoder_deinit(&d);
    free(b.p);
}

/* ------------------------------------------------------------------------ */
/* Encoders                                                                   */
/* ------------------------------------------------------------------------ */

static void test_frame_header(void **state)
{
    (void)state;
    struct {
        size_t len;
        size_t n;
        uint8_t want[10];
    } cases[] = {
        {0, 2, {0x82, 0}},
        {125, 2, {0x82, 125}},
        {126, 4, {0x82, 126, 0x00, 0x7E}},
        {65535, 4, {0x82, 126, 0xFF, 0xFF}},
        {65536, 10, {0x82, 127, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00}},
        {0x0102030405ULL, 10, {0x82, 127, 0, 0, 0, 0x01, 0x02, 0x03, 0x04, 0x05}},
    };
    for (size_t i = 0; i < PT_ARRAY_SIZE(cases); i++) {
        uint8_t out[HTTP_WS_MAX_HEADER_BYTES];
        memset(out, 0xAA, sizeof(out));
        size_t n = http_ws_frame_header(HTTP_WS_OP_BINARY, cases[i].len, out);
        assert_int_equal(n, cases[i].n);
        assert_memory_equal(out, cases[i].want, n);
    }
    uint8_t out[HTTP_WS_MAX_HEADER_BYTES];
    assert_int_equal(http_ws_frame_header(HTTP_WS_OP_TEXT, 5, out), 2);
    assert_int_equal(out[0], 0x81);
    assert_int_equal(http_ws_frame_header(HTTP_WS_OP_PONG, 5, out), 2);
    assert_int_equal(out[0], 0x8A);
}

static void test_append_frame(void **state)
{
    (void)state;
    static const size_t lens[] = {0, 125, 126, 65535, 65536};
    static const size_t hdrs[] = {2, 2, 4, 4, 10};
    char *p = malloc(65536);
    assert_non_null(p);
    for (size_t i = 0; i < 65536; i++)
        p[i] = (char)(i * 31);
    for (size_t i = 0; i < PT_ARRAY_SIZE(lens); i++) {
        struct pt_buf out;
        pt_buf_init(&out, 1 << 20);
        assert_int_equal(pt_buf_append(&out, "X", 1), 0);
        assert_int_equal(http_ws_append_frame(&out, HTTP_WS_OP_TEXT, pt_str_make(p, lens[i])), 0);
        assert_int_equal(out.len, 1 + hdrs[i] + lens[i]);
        assert_int_equal((uint8_t)out.data[1], 0x81);
        if (lens[i] > 0)
            assert_memory_equal(out.data + 1 + hdrs[i], p, lens[i]);
        /* The header's length field says lens[i]. */
        const uint8_t *h = (const uint8_t *)out.data + 1;
        uint64_t got = h[1] & 0x7F;
        if (got == 126)
            got = (uint64_t)h[2] << 8 | h[3];
        else if (got == 127)
            got = (uint64_t)h[7] << 16 | (uint64_t)h[8] << 8 | h[9]; /* h[2..6] are 0 */
        assert_int_equal(got, lens[i]);
        pt_buf_deinit(&out);

        /* Exactly enough room fits; one byte less is refused and changes nothing. */
        pt_buf_init(&out, hdrs[i] + lens[i]);
        assert_int_equal(http_ws_append_frame(&out, HTTP_WS_OP_BINARY, pt_str_make(p, lens[i])), 0);
        assert_int_equal(out.len, hdrs[i] + lens[i]);
        pt_buf_deinit(&out);
        pt_buf_init(&out, hdrs[i] + lens[i] - 1);
        assert_int_equal(http_ws_append_frame(&out, HTTP_WS_OP_BINARY, pt_str_make(p, lens[i])),
                         PT_E_NOMEM);
        assert_int_equal(out.len, 0);
        pt_buf_deinit(&out);
    }
    /* Control frames carry at most 125 bytes. */
    struct pt_buf out;
    pt_buf_init(&out, 1024);
    assert_int_equal(http_ws_append_frame(&out, HTTP_WS_OP_PONG, pt_str_make(p, 125)), 0);
    assert_int_equal(out.len, 127);
    assert_int_equal((uint8_t)out.data[0], 0x8A);
    assert_int_equal(http_ws_append_frame(&out, HTTP_WS_OP_PING, pt_str_make(p, 126)),
                     PT_E_INVALID);
    assert_int_equal(out.len, 127);
    pt_buf_deinit(&out);
    free(p);
}

static void test_append_close(void **state)
{
    (void)state;
    struct pt_buf out;
    pt_buf_init(&out, 1024);
    assert_int_equal(http_ws_append_close(&out, 1000, "bye"), 0);
    static const uint8_t want[] = {0x88, 0x05, 0x03, 0xE8, 'b', 'y', 'e'};
    assert_int_equal(out.len, sizeof(want));
    assert_memory_equal(out.data, want, sizeof(want));

    out.len = 0;
    assert_int_equal(http_ws_append_close(&out, 1009, NULL), 0);
    static const uint8_t want2[] = {0x88, 0x02, 0x03, 0xF1};
    assert_int_equal(out.len, sizeof(want2));
    assert_memory_equal(out.data, want2, sizeof(want2));

    out.len = 0;
    assert_int_equal(http_ws_append_close(&out, 1005, NULL), 0);
    assert_int_equal(out.len, 2);
    assert_int_equal((uint8_t)out.data[0], 0x88);
    assert_int_equal(out.data[1], 0);

    out.len = 0;
    assert_int_equal(http_ws_append_close(&out, 1005, "why"), PT_E_INVALID);
    assert_int_equal(http_ws_append_close(&out, 1006, NULL), PT_E_INVALID);
    assert_int_equal(http_ws_append_close(&out, 999, NULL), PT_E_INVALID);
    assert_int_equal(http_ws_append_close(&out, 1000, "bad \xc0\xaf"), PT_E_INVALID);
    char reason[125];
    memset(reason, 'r', sizeof(reason));
    reason[124] = '\0'; /* 124 bytes: one too many */
    assert_int_equal(http_ws_append_close(&out, 1000, reason), PT_E_INVALID);
    assert_int_equal(out.len, 0);
    reason[123] = '\0';
    assert_int_equal(http_ws_append_close(&out, 4000, reason), 0);
    assert_int_equal(out.len, 127);
    assert_int_equal(out.data[1], 125);
    pt_buf_deinit(&out);

    pt_buf_init(&out, 6);
    assert_int_equal(http_ws_append_close(&out, 1000, "bye"), PT_E_NOMEM);
    assert_int_equal(out.len, 0);
    pt_buf_deinit(&out);
}

/* Frames the encoders write decode back (after masking them as a client would). */
static void test_round_trip(void **state)
{
    (void)state;
    struct pt_buf out;
    pt_buf_init(&out, 1 << 20);
    assert_int_equal(http_ws_append_close(&out, 1001, "server going down"), 0);
    /* Turn the server frame into a client frame: set the mask bit and mask. */
    struct bytes b = {0};
    put_byte(&b, (uint8_t)out.data[0]);
    put_byte(&b, (uint8_t)(out.data[1] | 0x80));
    put(&b, test_mask, 4);
    for (size_t i = 2; i < out.len; i++)
        put_byte(&b, (uint8_t)(out.data[i] ^ test_mask[(i - 2) & 3]));
    struct run r;
    decode_checked(&b, 1024, &r);
    assert_rec(&r, 0, HTTP_WS_CLOSE, 1001, "server going down", 17);
    run_free(&r);
    free(b.p);
    pt_buf_deinit(&out);

    struct pt_shared *m = http_ws_frame_shared_new(HTTP_WS_OP_TEXT, PT_STR("{\"az\":1}"));
    assert_non_null(m);
    static const uint8_t want[] = {0x81, 8, '{', '"', 'a', 'z', '"', ':', '1', '}'};
    assert_int_equal(m->len, sizeof(want));
    assert_memory_equal(m->data, want, sizeof(want));
    pt_shared_unref(m);
    char big[126] = {0};
    assert_null(http_ws_frame_shared_new(HTTP_WS_OP_PING, pt_str_make(big, 126)));
    m = http_ws_frame_shared_new(HTTP_WS_OP_BINARY, pt_str_make(big, 126));
    assert_non_null(m);
    assert_int_equal(m->len, 4 + 126);
    pt_shared_unref(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accept_key_rfc),
        cmocka_unit_test(test_handshake_table),
        cmocka_unit_test(test_rfc_hello),
        cmocka_unit_test(test_fragmented_with_ping),
        cmocka_unit_test(test_empty_and_many_messages),
        cmocka_unit_test(test_inline_to_heap),
        cmocka_unit_test(test_unmasked),
        cmocka_unit_test(test_rsv_bits),
        cmocka_unit_test(test_unknown_opcodes),
        cmocka_unit_test(test_control_frame_rules),
        cmocka_unit_test(test_fragment_sequence_errors),
        cmocka_unit_test(test_finished_decoder),
        cmocka_unit_test(test_message_limit),
        cmocka_unit_test(test_limit_fails_fast),
        cmocka_unit_test(test_lengths),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_utf8_fails_fast),
        cmocka_unit_test(test_close_frames),
        cmocka_unit_test(test_memory),
        cmocka_unit_test(test_frame_header),
        cmocka_unit_test(test_append_frame),
        cmocka_unit_test(test_append_close),
        cmocka_unit_test(test_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
