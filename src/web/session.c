/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * session.c -- sealed session tokens and Cookie header parsing of session.h.
 *
 * Sealing uses OpenSSL's ChaCha20-Poly1305 AEAD with a fresh 96-bit random
 * nonce per token (RAND_bytes); with random nonces one key can safely seal far
 * more tokens than a service issues (the collision risk stays below 2^-32 up to
 * about 2^32 tokens). Opening decrypts into a stack buffer and copies to the
 * arena only after the tag has been verified, so unauthenticated bytes never
 * reach the caller. Everything a client sends is bounded before it is decoded.
 */
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include "web/session.h"

#define TOKEN_VERSION 0x01
#define NONCE_BYTES 12
#define TAG_BYTES 16
#define EXPIRY_BYTES 8
#define HEADER_BYTES (1 + NONCE_BYTES)
#define OVERHEAD (HEADER_BYTES + EXPIRY_BYTES + TAG_BYTES)
#define MAX_RAW (OVERHEAD + WEB_SESSION_MAX_PLAINTEXT)
#define MAX_DECODED (WEB_SESSION_MAX_TOKEN / 4 * 3)

/* HKDF inputs: fixed, so one secret maps to one key; versioned, to rotate later. */
#define HKDF_SALT "PlanetTracker session salt v1"
#define HKDF_INFO "PlanetTracker session cookie key v1"

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* ------------------------------------------------------------------------ */
/* Keys                                                                       */
/* ------------------------------------------------------------------------ */

int web_session_key_from_secret(struct pt_str secret, struct web_session_key *out)
{
    if (secret.len == 0 || secret.len > INT_MAX)
        return PT_E_INVALID;
    int rc = PT_E_INVALID;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
    if (ctx == NULL)
        return PT_E_INVALID;
    size_t len = sizeof(out->bytes);
    if (EVP_PKEY_derive_init(ctx) <= 0 || EVP_PKEY_CTX_set_hkdf_md(ctx, EVP_sha256()) <= 0 ||
        EVP_PKEY_CTX_set1_hkdf_salt(ctx, (const unsigned char *)HKDF_SALT,
                                    (int)strlen(HKDF_SALT)) <= 0 ||
        EVP_PKEY_CTX_set1_hkdf_key(ctx, (const unsigned char *)secret.ptr, (int)secret.len) <= 0 ||
        EVP_PKEY_CTX_add1_hkdf_info(ctx, (const unsigned char *)HKDF_INFO,
                                    (int)strlen(HKDF_INFO)) <= 0 ||
        EVP_PKEY_derive(ctx, out->bytes, &len) <= 0 || len != sizeof(out->bytes))
        goto out_free_ctx;
    rc = 0;
out_free_ctx:
    EVP_PKEY_CTX_free(ctx);
    return rc;
}

int web_session_key_generate(struct web_session_key *out)
{
    return RAND_bytes(out->bytes, sizeof(out->bytes)) == 1 ? 0 : PT_E_INVALID;
}

/* ------------------------------------------------------------------------ */
/* base64url without padding                                                  */
/* ------------------------------------------------------------------------ */

static size_t b64_encoded_len(size_t n)
{
    return (n * 8 + 5) / 6;
}

static void b64_encode(const unsigned char *in, size_t n, char *out)
{
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        *out++ = b64url[v >> 18];
        *out++ = b64url[(v >> 12) & 63];
        *out++ = b64url[(v >> 6) & 63];
        *out++ = b64url[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        *out++ = b64url[v >> 18];
        *out++ = b64url[(v >> 12) & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        *out++ = b64url[v >> 18];
        *out++ = b64url[(v >> 12) & 63];
        *out++ = b64url[(v >> 6) & 63];
    }
}

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

/*
 * Strict decode: only the url alphabet, no padding, and the unused low bits of
 * the last character must be zero (one token has one spelling). out must hold
 * in.len * 3 / 4 bytes. Returns the decoded length, or -1.
 */
static long b64_decode(struct pt_str in, unsigned char *out)
{
    if (in.len % 4 == 1)
        return -1;
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t n = 0;
    for (size_t i = 0; i < in.len; i++) {
        int v = b64_value((unsigned char)in.ptr[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6 | (uint32_t)v) & 0xFFFFFF;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (unsigned char)(acc >> bits);
        }
    }
    if ((acc & ((1U << bits) - 1)) != 0)
        return -1;
    return (long)n;
}

/* ------------------------------------------------------------------------ */
/* Seal and open                                                              */
/* ------------------------------------------------------------------------ */

int web_session_seal(const struct web_session_key *key, struct pt_str plaintext,
                     int64_t expires_unix, struct pt_buf *out)
{
    if (plaintext.len > WEB_SESSION_MAX_PLAINTEXT)
        return PT_E_RANGE;
    unsigned char body[EXPIRY_BYTES + WEB_SESSION_MAX_PLAINTEXT];
    unsigned char raw[MAX_RAW];
    size_t body_len = EXPIRY_BYTES + plaintext.len;
    size_t raw_len = OVERHEAD + plaintext.len;

    uint64_t exp = (uint64_t)expires_unix;
    for (int i = 0; i < EXPIRY_BYTES; i++)
        body[i] = (unsigned char)(exp >> (56 - 8 * i));
    if (plaintext.len > 0)
        memcpy(body + EXPIRY_BYTES, plaintext.ptr, plaintext.len);

    raw[0] = TOKEN_VERSION;
    if (RAND_bytes(raw + 1, NONCE_BYTES) != 1)
        return PT_E_INVALID;

    int rc = PT_E_INVALID;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL)
        goto out_cleanse;
    int n1 = 0, n2 = 0, aad_len = 0;
    if (EVP_EncryptInit_ex(ctx, EVP_chacha20_poly1305(), NULL, key->bytes, raw + 1) != 1 ||
        EVP_EncryptUpdate(ctx, NULL, &aad_len, raw, 1) != 1 ||
        EVP_EncryptUpdate(ctx, raw + HEADER_BYTES, &n1, body, (int)body_len) != 1 ||
        EVP_EncryptFinal_ex(ctx, raw + HEADER_BYTES + n1, &n2) != 1 ||
        (size_t)(n1 + n2) != body_len ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, TAG_BYTES, raw + HEADER_BYTES + body_len) !=
            1)
        goto out_free_ctx;

    size_t enc_len = b64_encoded_len(raw_len);
    rc = pt_buf_reserve(out, enc_len);
    if (rc < 0)
        goto out_free_ctx;
    b64_encode(raw, raw_len, out->data + out->len);
    out->len += enc_len;
    rc = 0;
out_free_ctx:
    EVP_CIPHER_CTX_free(ctx);
out_cleanse:
    OPENSSL_cleanse(body, body_len);
    return rc;
}

int web_session_open(const struct web_session_key *key, struct pt_str token, int64_t now_unix,
                     struct pt_arena *arena, struct pt_str *plaintext)
{
    if (token.len > WEB_SESSION_MAX_TOKEN || token.len < b64_encoded_len(OVERHEAD))
        return PT_E_INVALID;
    unsigned char raw[MAX_DECODED];
    long decoded = b64_decode(token, raw);
    if (decoded < (long)OVERHEAD || raw[0] != TOKEN_VERSION)
        return PT_E_INVALID;
    size_t raw_len = (size_t)decoded;
    size_t body_len = raw_len - HEADER_BYTES - TAG_BYTES;

    unsigned char body[MAX_DECODED];
    int rc = PT_E_INVALID;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL)
        return PT_E_INVALID;
    int n1 = 0, n2 = 0, aad_len = 0;
    /* The tag is a copy because OpenSSL's ctrl takes a non-const pointer. */
    unsigned char tag[TAG_BYTES];
    memcpy(tag, raw + HEADER_BYTES + body_len, TAG_BYTES);
    if (EVP_DecryptInit_ex(ctx, EVP_chacha20_poly1305(), NULL, key->bytes, raw + 1) != 1 ||
        EVP_DecryptUpdate(ctx, NULL, &aad_len, raw, 1) != 1 ||
        EVP_DecryptUpdate(ctx, body, &n1, raw + HEADER_BYTES, (int)body_len) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, TAG_BYTES, tag) != 1 ||
        EVP_DecryptFinal_ex(ctx, body + n1, &n2) != 1 || (size_t)(n1 + n2) != body_len)
        goto out_free_ctx;

    uint64_t exp = 0;
    for (int i = 0; i < EXPIRY_BYTES; i++)
        exp = exp << 8 | body[i];
    if ((int64_t)exp <= now_unix)
        goto out_free_ctx;

    size_t len = body_len - EXPIRY_BYTES;
    *plaintext = pt_str_make(pt_arena_strndup(arena, (const char *)body + EXPIRY_BYTES, len), len);
    rc = 0;
out_free_ctx:
    EVP_CIPHER_CTX_free(ctx);
    OPENSSL_cleanse(body, body_len);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Cookie header                                                              */
/* ------------------------------------------------------------------------ */

bool web_cookie_find(struct pt_str header, struct pt_str name, struct pt_str *value)
{
    size_t i = 0;
    while (i < header.len) {
        const char *semi = memchr(header.ptr + i, ';', header.len - i);
        size_t end = semi ? (size_t)(semi - header.ptr) : header.len;
        struct pt_str pair = pt_str_make(header.ptr + i, end - i);
        i = end + 1;
        const char *eq = pair.len ? memchr(pair.ptr, '=', pair.len) : NULL;
        if (eq == NULL)
            continue;
        struct pt_str n = pt_str_trim(pt_str_make(pair.ptr, (size_t)(eq - pair.ptr)));
        if (!pt_str_eq(n, name))
            continue;
        const char *pair_end = pair.ptr + pair.len;
        struct pt_str v = pt_str_trim(pt_str_make(eq + 1, (size_t)(pair_end - (eq + 1))));
        if (v.len >= 2 && v.ptr[0] == '"' && v.ptr[v.len - 1] == '"')
            v = pt_str_make(v.ptr + 1, v.len - 2);
        *value = v;
        return true;
    }
    return false;
}
