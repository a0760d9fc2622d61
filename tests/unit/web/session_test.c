/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * session_test.c -- unit tests of src/web/session.c: key derivation against an
 * HKDF-SHA256 value computed independently (Python hmac), the token wire format
 * decrypted by hand with OpenSSL, round trips, and rejection of every single-bit
 * flip, every truncation, other keys, expired and malformed tokens; then a
 * table of Cookie headers.
 *
 * Run: make SANITIZE=address,undefined build/san/tests/unit/web/session_test &&
 *      build/san/tests/unit/web/session_test
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>

#include "web/session.h"

#define NOW 1700000000LL

struct fixture {
    struct web_session_key key;
    struct pt_arena arena;
    struct pt_buf buf;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (f == NULL || web_session_key_from_secret(PT_STR("unit test secret"), &f->key) != 0)
        return -1;
    pt_arena_init(&f->arena, 4096);
    pt_buf_init(&f->buf, 8192);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    pt_arena_deinit(&f->arena);
    pt_buf_deinit(&f->buf);
    free(f);
    return 0;
}

/* Seal into a fresh NUL-terminated heap string. */
static char *seal(const struct web_session_key *key, struct pt_str plain, int64_t expires)
{
    struct pt_buf b;
    pt_buf_init(&b, 8192);
    assert_int_equal(web_session_seal(key, plain, expires, &b), 0);
    char *s = pt_xstrndup(b.data, b.len);
    pt_buf_deinit(&b);
    return s;
}

static int open_token(struct fixture *f, const char *token, size_t len, struct pt_str *out)
{
    return web_session_open(&f->key, pt_str_make(token, len), NOW, &f->arena, out);
}

/* ------------------------------------------------------------------------ */
/* Keys                                                                       */
/* ------------------------------------------------------------------------ */

static void test_key_from_secret_known_value(void **state)
{
    (void)state;
    /* HKDF-SHA256(ikm, salt "PlanetTracker session salt v1", info "PlanetTracker
     * session cookie key v1", 32 bytes), computed with Python's hmac module. */
    static const unsigned char want[32] = {
        0xc8, 0x38, 0x94, 0x54, 0xb7, 0x3a, 0x87, 0xf8, 0x10, 0x84, 0x4d,
        0x8d, 0x6f, 0x34, 0xfc, 0x61, 0xb8, 0x73, 0x11, 0xbf, 0x71, 0x52,
        0xba, 0x58, 0xf1, 0x04, 0x2f, 0x27, 0xbc, 0xf6, 0x07, 0xb6,
    };
    struct web_session_key k;
    assert_int_equal(web_session_key_from_secret(PT_STR("correct horse battery staple"), &k), 0);
    assert_memory_equal(k.bytes, want, sizeof(want));
}

static void test_key_from_secret_properties(void **state)
{
    (void)state;
    struct web_session_key a, b, c;
    assert_int_equal(web_session_key_from_secret(PT_STR("secret"), &a), 0);
    assert_int_equal(web_session_key_from_secret(PT_STR("secret"), &b), 0);
    assert_int_equal(web_session_key_from_secret(PT_STR("secreT"), &c), 0);
    assert_memory_equal(a.bytes, b.bytes, sizeof(a.bytes));
    assert_memory_not_equal(a.bytes, c.bytes, sizeof(a.bytes));
    assert_int_equal(web_session_key_from_secret(PT_STR(""), &a), PT_E_INVALID);
    assert_int_equal(web_session_key_from_secret(PT_STR_NULL, &a), PT_E_INVALID);
}

static void test_key_generate(void **state)
{
    (void)state;
    struct web_session_key a, b;
    assert_int_equal(web_session_key_generate(&a), 0);
    assert_int_equal(web_session_key_generate(&b), 0);
    assert_memory_not_equal(a.bytes, b.bytes, sizeof(a.bytes));
}

/* ------------------------------------------------------------------------ */
/* Tokens                                                                     */
/* ------------------------------------------------------------------------ */

static void test_round_trip(void **state)
{
    struct fixture *f = *state;
    static char big[WEB_SESSION_MAX_PLAINTEXT];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (char)(i * 7 + 3); /* includes NUL and high bytes */
    const struct pt_str cases[] = {
        PT_STR(""),
        PT_STR("{\"lat\":48.93,\"lon\":2.45,\"elevation\":0}"),
        pt_str_make(big, 1),
        pt_str_make(big, sizeof(big)),
    };
    for (size_t i = 0; i < PT_ARRAY_SIZE(cases); i++) {
        char *tok = seal(&f->key, cases[i], NOW + 60);
        size_t len = strlen(tok);
        /* version + nonce + expiry + plaintext + tag, in unpadded base64. */
        size_t raw = 1 + 12 + 8 + cases[i].len + 16;
        assert_int_equal(len, (raw * 8 + 5) / 6);
        for (size_t k = 0; k < len; k++)
            assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                   "0123456789-_",
                                   tok[k]));
        struct pt_str out = PT_STR("untouched");
        assert_int_equal(open_token(f, tok, len, &out), 0);
        assert_int_equal(out.len, cases[i].len);
        if (out.len)
            assert_memory_equal(out.ptr, cases[i].ptr, out.len);
        assert_int_equal(out.ptr[out.len], '\0');
        free(tok);
    }
}

static void test_plaintext_limit(void **state)
{
    struct fixture *f = *state;
    static char big[WEB_SESSION_MAX_PLAINTEXT + 1];
    memset(big, 'x', sizeof(big));
    assert_int_equal(web_session_seal(&f->key, pt_str_make(big, sizeof(big)), NOW + 60, &f->buf),
                     PT_E_RANGE);
    assert_int_equal(f->buf.len, 0);
    assert_int_equal(
        web_session_seal(&f->key, pt_str_make(big, sizeof(big) - 1), NOW + 60, &f->buf), 0);
}

static void test_seal_buffer_limit(void **state)
{
    struct fixture *f = *state;
    size_t need = ((1 + 12 + 8 + 5 + 16) * 8 + 5) / 6;
    struct pt_buf b;
    pt_buf_init(&b, need - 1);
    assert_int_equal(web_session_seal(&f->key, PT_STR("hello"), NOW + 60, &b), PT_E_NOMEM);
    assert_int_equal(b.len, 0);
    pt_buf_deinit(&b);
    pt_buf_init(&b, need);
    assert_int_equal(web_session_seal(&f->key, PT_STR("hello"), NOW + 60, &b), 0);
    assert_int_equal(b.len, need);
    pt_buf_deinit(&b);
}

static void test_nonce_is_fresh(void **state)
{
    struct fixture *f = *state;
    char *a = seal(&f->key, PT_STR("same"), NOW + 60);
    char *b = seal(&f->key, PT_STR("same"), NOW + 60);
    assert_string_not_equal(a, b);
    free(a);
    free(b);
}

/* Decode base64url with OpenSSL's plain base64 decoder (independent of ours). */
static size_t decode_independently(const char *tok, unsigned char *out)
{
    size_t n = strlen(tok);
    char *std = calloc(1, n + 4);
    for (size_t i = 0; i < n; i++)
        std[i] = tok[i] == '-' ? '+' : tok[i] == '_' ? '/' : tok[i];
    size_t padded = n;
    while (padded % 4)
        std[padded++] = '=';
    int len = EVP_DecodeBlock(out, (const unsigned char *)std, (int)padded);
    assert_true(len >= 0);
    free(std);
    return (size_t)len - (padded - n); /* EVP_DecodeBlock counts padding bytes */
}

/* Encode base64url without padding (the test's own encoder). Returns the length. */
static size_t encode_independently(const unsigned char *raw, size_t n, char *enc)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t k = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t j = 0; j < n; j++) {
        acc = acc << 8 | raw[j];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            enc[k++] = alphabet[(acc >> bits) & 63];
        }
    }
    if (bits > 0)
        enc[k++] = alphabet[(acc << (6 - bits)) & 63];
    return k;
}

static void test_wire_format(void **state)
{
    struct fixture *f = *state;
    char *tok = seal(&f->key, PT_STR("abc"), 0x0102030405060708LL);
    unsigned char raw[256];
    size_t n = decode_independently(tok, raw);
    assert_int_equal(n, 1 + 12 + 8 + 3 + 16);
    assert_int_equal(raw[0], 1);

    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    unsigned char body[64];
    int n1, n2, aad;
    assert_int_equal(EVP_DecryptInit_ex(ctx, EVP_chacha20_poly1305(), NULL, f->key.bytes, raw + 1),
                     1);
    assert_int_equal(EVP_DecryptUpdate(ctx, NULL, &aad, raw, 1), 1);
    assert_int_equal(EVP_DecryptUpdate(ctx, body, &n1, raw + 13, 11), 1);
    assert_int_equal(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, 16, raw + 24), 1);
    assert_int_equal(EVP_DecryptFinal_ex(ctx, body + n1, &n2), 1);
    EVP_CIPHER_CTX_free(ctx);
    static const unsigned char want[11] = {1, 2, 3, 4, 5, 6, 7, 8, 'a', 'b', 'c'};
    assert_int_equal(n1 + n2, 11);
    assert_memory_equal(body, want, 11);
    free(tok);
}

static void test_every_bit_flip_rejected(void **state)
{
    struct fixture *f = *state;
    char *tok = seal(&f->key, PT_STR("site=42"), NOW + 3600);
    size_t len = strlen(tok);
    struct pt_str out;
    assert_int_equal(open_token(f, tok, len, &out), 0);

    /* Each bit of the text. */
    for (size_t i = 0; i < len; i++) {
        for (int b = 0; b < 8; b++) {
            tok[i] ^= (char)(1 << b);
            out = PT_STR("untouched");
            if (open_token(f, tok, len, &out) != PT_E_INVALID)
                fail_msg("flipping bit %d of character %zu was accepted", b, i);
            assert_true(pt_str_eq(out, PT_STR("untouched")));
            tok[i] ^= (char)(1 << b);
        }
    }

    /* Each bit of the decoded bytes, re-encoded: exercises the tag, not the decoder. */
    unsigned char raw[128];
    size_t n = decode_independently(tok, raw);
    for (size_t i = 0; i < n * 8; i++) {
        raw[i / 8] ^= (unsigned char)(1 << (i % 8));
        char enc[200];
        size_t k = encode_independently(raw, n, enc);
        if (open_token(f, enc, k, &out) != PT_E_INVALID)
            fail_msg("flipping bit %zu of the raw token was accepted", i);
        raw[i / 8] ^= (unsigned char)(1 << (i % 8));
    }
    free(tok);
}

static void test_truncations_and_extensions_rejected(void **state)
{
    struct fixture *f = *state;
    char *tok = seal(&f->key, PT_STR("user=7"), NOW + 3600);
    size_t len = strlen(tok);
    struct pt_str out;
    for (size_t n = 0; n < len; n++) {
        if (open_token(f, tok, n, &out) != PT_E_INVALID)
            fail_msg("token truncated to %zu of %zu characters was accepted", n, len);
        if (open_token(f, tok + (len - n), n, &out) != PT_E_INVALID)
            fail_msg("token suffix of %zu characters was accepted", n);
    }
    char *longer = calloc(1, len + 8);
    memcpy(longer, tok, len);
    for (const char *extra = "A-_0="; *extra; extra++) {
        longer[len] = *extra;
        assert_int_equal(open_token(f, longer, len + 1, &out), PT_E_INVALID);
    }
    memcpy(longer + len, "AAAA", 4);
    assert_int_equal(open_token(f, longer, len + 4, &out), PT_E_INVALID);
    free(longer);
    free(tok);
}

static void test_other_key_rejected(void **state)
{
    struct fixture *f = *state;
    struct web_session_key other;
    assert_int_equal(web_session_key_from_secret(PT_STR("another secret"), &other), 0);
    char *tok = seal(&other, PT_STR("x"), NOW + 3600);
    struct pt_str out;
    assert_int_equal(open_token(f, tok, strlen(tok), &out), PT_E_INVALID);
    assert_int_equal(web_session_open(&other, pt_str_c(tok), NOW, &f->arena, &out), 0);
    free(tok);
}

static void test_expiry(void **state)
{
    struct fixture *f = *state;
    struct pt_str out;
    char *tok = seal(&f->key, PT_STR("x"), NOW);
    assert_int_equal(open_token(f, tok, strlen(tok), &out), PT_E_INVALID); /* == now */
    free(tok);
    tok = seal(&f->key, PT_STR("x"), NOW - 1);
    assert_int_equal(open_token(f, tok, strlen(tok), &out), PT_E_INVALID);
    free(tok);
    tok = seal(&f->key, PT_STR("x"), INT64_MIN);
    assert_int_equal(open_token(f, tok, strlen(tok), &out), PT_E_INVALID);
    free(tok);
    tok = seal(&f->key, PT_STR("x"), NOW + 1);
    assert_int_equal(open_token(f, tok, strlen(tok), &out), 0);
    free(tok);
    tok = seal(&f->key, PT_STR("x"), INT64_MAX);
    assert_int_equal(open_token(f, tok, strlen(tok), &out), 0);
    free(tok);
}

static void test_garbage_rejected(void **state)
{
    struct fixture *f = *state;
    struct pt_str out;
    const char *cases[] = {
        "",
        "A",
        "AA==",
        "not a token at all",
        "=====================================================================",
        /* 48 characters: 36 bytes starting with version 1, one short of the minimum. */
        "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        /* 52 characters: 39 bytes, version 1, zero nonce, ciphertext and tag. */
        "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        /* Same, padded. */
        "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    };
    for (size_t i = 0; i < PT_ARRAY_SIZE(cases); i++)
        assert_int_equal(open_token(f, cases[i], strlen(cases[i]), &out), PT_E_INVALID);

    /* A valid token with its version byte changed (re-encoded properly). */
    char *tok = seal(&f->key, PT_STR("v"), NOW + 60);
    unsigned char raw[128];
    size_t n = decode_independently(tok, raw);
    char enc[200];
    assert_int_equal(open_token(f, enc, encode_independently(raw, n, enc), &out), 0);
    for (int version = 0; version < 256; version++) {
        if (version == 1)
            continue;
        raw[0] = (unsigned char)version;
        assert_int_equal(open_token(f, enc, encode_independently(raw, n, enc), &out), PT_E_INVALID);
    }
    free(tok);

    /* Huge inputs: over the limit by one, and far over. */
    size_t huge = 1 << 20;
    char *big = malloc(huge);
    memset(big, 'A', huge);
    assert_int_equal(open_token(f, big, WEB_SESSION_MAX_TOKEN + 1, &out), PT_E_INVALID);
    assert_int_equal(open_token(f, big, WEB_SESSION_MAX_TOKEN, &out), PT_E_INVALID);
    assert_int_equal(open_token(f, big, huge, &out), PT_E_INVALID);
    free(big);

    /* Random bytes of every length up to the limit never crash or pass. */
    uint64_t x = 12345;
    char rnd[WEB_SESSION_MAX_TOKEN];
    for (size_t len = 0; len <= WEB_SESSION_MAX_TOKEN; len += 13) {
        for (size_t i = 0; i < len; i++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            rnd[i] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[x >> 58];
        }
        assert_int_equal(open_token(f, rnd, len, &out), PT_E_INVALID);
    }
}

/* ------------------------------------------------------------------------ */
/* Cookie header                                                              */
/* ------------------------------------------------------------------------ */

static void test_cookie_find(void **state)
{
    (void)state;
    static const struct {
        const char *header;
        const char *name;
        const char *want; /* NULL: not found */
    } cases[] = {
        {"a=1; b=2", "a", "1"},
        {"a=1; b=2", "b", "2"},
        {"a=1; b=2", "c", NULL},
        {"a=1;b=2", "b", "2"},
        {"  a = 1 ;\tb\t=\t2\t", "b", "2"},
        {"  a = 1 ;\tb\t=\t2\t", "a", "1"},
        {"a=1; a=2", "a", "1"},
        {"session=\"quoted value\"", "session", "quoted value"},
        {"session=\"", "session", "\""},
        {"session=\"\"", "session", ""},
        {"session=", "session", ""},
        {"flag; session=x", "session", "x"},
        {"flag; session=x", "flag", NULL},
        {"A=1", "a", NULL},
        {"ab=1; b=2", "b", "2"},
        {"xa=1", "a", NULL},
        {"a=b=c", "a", "b=c"},
        {";;; a=1 ;;", "a", "1"},
        {"", "a", NULL},
        {"=v", "", "v"},
        {"tok=AQ-_x; other=1", "tok", "AQ-_x"},
    };
    for (size_t i = 0; i < PT_ARRAY_SIZE(cases); i++) {
        struct pt_str v = PT_STR("untouched");
        bool found = web_cookie_find(pt_str_c(cases[i].header), pt_str_c(cases[i].name), &v);
        if (found != (cases[i].want != NULL))
            fail_msg("case %zu (\"%s\", %s): found=%d", i, cases[i].header, cases[i].name, found);
        if (found && !pt_str_eq(v, pt_str_c(cases[i].want)))
            fail_msg("case %zu (\"%s\", %s): got \"%.*s\", wanted \"%s\"", i, cases[i].header,
                     cases[i].name, (int)v.len, v.ptr, cases[i].want);
        if (!found)
            assert_true(pt_str_eq(v, PT_STR("untouched")));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_from_secret_known_value),
        cmocka_unit_test(test_key_from_secret_properties),
        cmocka_unit_test(test_key_generate),
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plaintext_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seal_buffer_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nonce_is_fresh, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wire_format, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_bit_flip_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncations_and_extensions_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_key_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage_rejected, setup, teardown),
        cmocka_unit_test(test_cookie_find),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
