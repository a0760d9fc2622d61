/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * driver.c -- libFuzzer target for http_chunked_decode() (src/http/parser.c).
 *
 * Two properties per input:
 *  1. Feeding the input as one buffer, in two or three pieces, or one byte at a
 *     time (short inputs) gives the same result code, the same decoded bytes and
 *     the same bytes after the body; lengths stay within what was given.
 *  2. Round trip: the input, encoded here as a chunked body (chunk sizes,
 *     extensions and trailers chosen from the input bytes) and followed by a
 *     pipelined "NEXT", decodes back to exactly the input, with "NEXT" after it.
 * A broken property aborts, which libFuzzer reports as a crash.
 *
 * Build and run (about two minutes):
 *   make SANITIZE=address,undefined build/san/fuzz/http_chunked
 *   build/san/fuzz/http_chunked -dict=tests/fuzz/http_chunked/dict \
 *       -max_total_time=120 tests/fuzz/http_chunked/corpus
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/parser.h"
#include "../check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct outcome {
    int64_t r;  /* result; on success the count of all bytes after the body */
    char *body; /* decoded bytes, size bytes of room */
    size_t body_len;
    char *rest; /* bytes after the body, size bytes of room */
    size_t rest_len;
};

/* Decode in[0..n) in pieces ending at cuts[0] <= cuts[1] <= ... and then n. */
static void decode_pieces(const char *in, size_t n, const size_t *cuts, size_t ncuts,
                          struct outcome *o)
{
    struct http_chunked c;
    http_chunked_init(&c);
    o->body_len = 0;
    o->rest_len = 0;
    o->r = PT_E_INCOMPLETE;
    size_t from = 0;
    for (size_t i = 0; i <= ncuts; i++) {
        size_t to = i < ncuts ? cuts[i] : n;
        size_t given = to - from, len = given;
        char *piece = malloc(given ? given : 1); /* exact size: ASan sees overruns */
        CHECK(piece != NULL);
        memcpy(piece, in + from, given);
        int64_t r = http_chunked_decode(&c, piece, &len);
        CHECK(len <= given);
        memcpy(o->body + o->body_len, piece, len);
        o->body_len += len;
        o->r = r;
        if (r >= 0) {
            CHECK((size_t)r <= given - len);
            memcpy(o->rest, piece + len, (size_t)r);
            memcpy(o->rest + r, in + to, n - to);
            o->rest_len = (size_t)r + (n - to);
            o->r = (int64_t)o->rest_len; /* what one call on the whole input returns */
            /* Bytes after the body are not looked at: a done decoder passes all on. */
            free(piece);
            return;
        }
        free(piece);
        CHECK(r == PT_E_INCOMPLETE || r == PT_E_BAD_REQUEST);
        if (r != PT_E_INCOMPLETE)
            return;
        from = to;
    }
}

static void check_same(const struct outcome *a, const struct outcome *b)
{
    CHECK(a->r == b->r);
    CHECK(a->body_len == b->body_len && memcmp(a->body, b->body, a->body_len) == 0);
    CHECK(a->rest_len == b->rest_len && memcmp(a->rest, b->rest, a->rest_len) == 0);
}

static void outcome_init(struct outcome *o, size_t n)
{
    o->body = malloc(n + 1);
    o->rest = malloc(n + 1);
    CHECK(o->body != NULL && o->rest != NULL);
}

static void outcome_deinit(struct outcome *o)
{
    free(o->body);
    free(o->rest);
}

static void check_splits(const char *in, size_t n)
{
    struct outcome whole, part;
    outcome_init(&whole, n);
    outcome_init(&part, n);
    decode_pieces(in, n, NULL, 0, &whole);
    if (whole.r >= 0)
        CHECK(whole.body_len + whole.rest_len <= n);

    const size_t at[] = {1, 3, n / 3, n / 2, n > 2 ? n - 2 : 0};
    for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
        if (at[i] >= n)
            continue;
        decode_pieces(in, n, &at[i], 1, &part);
        check_same(&whole, &part);
    }
    size_t three[2] = {n / 3, (n / 3) * 2};
    decode_pieces(in, n, three, 2, &part);
    check_same(&whole, &part);
    if (n <= 2048) {
        size_t *all = malloc((n + 1) * sizeof(*all));
        CHECK(all != NULL);
        for (size_t k = 1; k < n; k++)
            all[k - 1] = k;
        decode_pieces(in, n, all, n > 0 ? n - 1 : 0, &part);
        check_same(&whole, &part);
        free(all);
    }
    outcome_deinit(&whole);
    outcome_deinit(&part);
}

/* Encode data as a valid chunked body plus "NEXT"; returns the encoded length. */
static size_t encode(const uint8_t *data, size_t size, char *out)
{
    size_t n = 0, i = 0, k = 0;
    while (i < size) {
        size_t chunk = (size_t)(data[k % size] % 37) + 1;
        if (chunk > size - i)
            chunk = size - i;
        n += (size_t)sprintf(out + n, (data[k % size] & 0x40) ? "%zX" : "%zx", chunk);
        if (data[k % size] & 0x80)
            n += (size_t)sprintf(out + n, " ; ext=%u;q=\"a b\"", (unsigned)data[i]);
        memcpy(out + n, "\r\n", 2);
        n += 2;
        memcpy(out + n, data + i, chunk);
        n += chunk;
        memcpy(out + n, "\r\n", 2);
        n += 2;
        i += chunk;
        k++;
    }
    n += (size_t)sprintf(out + n, "000\r\n");
    if (size > 0 && (data[0] & 1))
        n += (size_t)sprintf(out + n, "X-Trailer: %u\r\nEmpty:\r\n", (unsigned)data[0]);
    n += (size_t)sprintf(out + n, "\r\nNEXT");
    return n;
}

static void check_round_trip(const uint8_t *data, size_t size)
{
    /* Per chunk at most: 2 hex digits, ext of 24, 2 CRLFs; at least one data byte. */
    char *enc = malloc(size * 32 + 128);
    CHECK(enc != NULL);
    size_t n = encode(data, size, enc);
    struct outcome o;
    outcome_init(&o, n);
    decode_pieces(enc, n, NULL, 0, &o);
    CHECK(o.r == 4);
    CHECK(o.body_len == size && (size == 0 || memcmp(o.body, data, size) == 0));
    CHECK(o.rest_len == 4 && memcmp(o.rest, "NEXT", 4) == 0);
    if (size > 0) {
        size_t cut = data[size - 1] % n;
        decode_pieces(enc, n, &cut, 1, &o);
        CHECK(o.r == 4 && o.body_len == size && memcmp(o.body, data, size) == 0);
        CHECK(o.rest_len == 4 && memcmp(o.rest, "NEXT", 4) == 0);
    }
    outcome_deinit(&o);
    free(enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_splits((const char *)data, size);
    check_round_trip(data, size);
    return 0;
}
