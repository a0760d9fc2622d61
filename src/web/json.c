/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * json.c -- the streaming JSON writer of json.h and its shortest round-trip
 * double formatter.
 *
 * Structure: each value first passes value_begin(), which checks that a value
 * may appear here and writes the separating comma; keys write their own comma
 * and colon. need_comma and in_object hold one bit per nesting level.
 *
 * Doubles: a positive double x = c 2^q (c < 2^53) reads back from any decimal
 * strictly inside (or, c even, on the edge of) its rounding interval, the reals
 * between the midpoints to its neighbours, (c - 1/2) 2^q to (c + 1/2) 2^q; the
 * lower half is halved for a power of two (c = 2^52) above the smallest normal,
 * whose lower neighbour is twice as near. The shortest decimal is the one in
 * that interval with the most trailing zeros; among those, the nearest to x
 * (ties to an even last digit).
 *
 * web_json_format_double finds it with Raffaello Giulietti's Schubfach method
 * ("The Schubfach way to render doubles", 2020), written here from the paper.
 * With k = floor(log10 w), w the interval's width (2^q, or 3/4 2^q for a power
 * of two), the interval holds at least one multiple of 10^k and at most one of
 * 10^(k+1). So with s = floor(x / 10^k) the answer is the multiple of 10^(k+1)
 * next to s 10^k that is inside, if one is (trailing zeros dropped), else
 * s 10^k or (s + 1) 10^k, whichever is inside, the nearer if both are. That
 * needs x and the two ends of the interval over 10^k only to two bits past the
 * point and "exact or not": each is one product of a shifted 64-bit integer
 * (4c, 4c - 2 or - 1, 4c + 2) with a 127-bit upper approximation of 10^-k from
 * a table, rounded to odd (the lowest bit set when inexact), whose comparisons
 * with multiples of 4 are then exact. tools/gen_pow10.py writes the table
 * (src/web/json_pow10.h: k = -324 .. 292) and proves, in exact arithmetic for
 * every exponent, that its precision gets all of those right for every finite
 * double, subnormals included; no other path is left.
 *
 * The digits (at most 17) come out two per table lookup, laid out as Python's
 * repr() does (layout_digits). web_json_format_double_slow ("%.{15,16,17}e"
 * with a strtod round-trip check) stays as a reference: the two agree except on
 * 46 powers of two (2^-24 is 5.960464477539063e-08, not 5.9604644775390625e-08)
 * where the lopsided interval admits a decimal shorter than that search tries.
 * tests/unit/web/json_test.c checks the formatter against a reference built
 * from libc's correctly rounded conversions, tests/fuzz/json_double against
 * the slow formatter.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "web/json.h"
#include "web/json_pow10.h"

/* ------------------------------------------------------------------------ */
/* Doubles                                                                    */
/* ------------------------------------------------------------------------ */

/* layout_digits is small and on the hot path of both formatters: inline it in both. */
#if defined(__GNUC__)
#define JSON_ALWAYS_INLINE __attribute__((always_inline)) static inline
#else
#define JSON_ALWAYS_INLINE static inline
#endif

static const char digit_pairs[201] = "0001020304050607080910111213141516171819"
                                     "2021222324252627282930313233343536373839"
                                     "4041424344454647484950515253545556575859"
                                     "6061626364656667686970717273747576777879"
                                     "8081828384858687888990919293949596979899";

/*
 * Lay out the digits[0..n) (no leading or trailing zeros, n <= 17) of the value
 * 0.DIGITS * 10^decpt as Python's repr() does; returns the length written. The
 * pieces are moved with fixed-size copies (no calls, no loops over bytes), so
 * digits must have 24 readable bytes; what they copy beyond the digits lands
 * where later stores overwrite it or past the NUL, inside buf's 32 bytes (the
 * longest text, "-1.2345678901234567e-308", is 24 bytes and its NUL).
 */
JSON_ALWAYS_INLINE size_t layout_digits(bool negative, const char *digits, int n, int decpt,
                                        char *buf)
{
    char *p = buf;
    *p = '-';
    p += negative;
    if (decpt <= -4 || decpt > 16) { /* D.DDDDe-XX */
        p[0] = digits[0];
        p[1] = '.';
        memcpy(p + 2, digits + 1, 16);
        p += n > 1 ? n + 1 : 1;
        int exp = decpt - 1;
        *p++ = 'e';
        *p++ = exp < 0 ? '-' : '+';
        if (exp < 0)
            exp = -exp;
        if (exp >= 100) {
            *p++ = (char)('0' + exp / 100);
            exp %= 100;
        }
        memcpy(p, digit_pairs + 2 * exp, 2);
        p += 2;
    } else if (decpt <= 0) { /* 0.000DDDD */
        memcpy(p, "0.000000", 8);
        memcpy(p + 2 - decpt, digits, 16);
        memcpy(p + 18 - decpt, digits + 16, 8);
        p += 2 - decpt + n;
    } else if (decpt >= n) { /* DDDD000.0 */
        memcpy(p, digits, 16);
        for (int i = n; i < decpt; i += 8)
            memcpy(p + i, "00000000", 8);
        memcpy(p + decpt, ".0", 2);
        p += decpt + 2;
    } else { /* DDD.DDDD */
        memcpy(p, digits, 16);
        p[decpt] = '.';
        memcpy(p + decpt + 1, digits + decpt, 8);
        if (n - decpt > 8)
            memcpy(p + decpt + 9, digits + decpt + 8, 8);
        p += n + 1;
    }
    *p = '\0';
    return (size_t)(p - buf);
}

static size_t format_special(double v, char *buf)
{
    if (isnan(v) || isinf(v)) {
        memcpy(buf, "null", 5);
        return 4;
    }
    if (signbit(v)) {
        memcpy(buf, "-0.0", 5);
        return 4;
    }
    memcpy(buf, "0.0", 4);
    return 3;
}

size_t web_json_format_double_slow(double v, char buf[WEB_JSON_DOUBLE_MAX])
{
    if (!isfinite(v) || v == 0)
        return format_special(v, buf);
    char tmp[40];
    /*
     * For a normal double, any 15 significant digits read back uniquely
     * (DBL_DIG), so "%.14e" with its zeros dropped is the shortest form whenever
     * 15 digits or fewer suffice. Subnormals have fewer bits: search from 1.
     */
    int first = fabs(v) < DBL_MIN ? 1 : 15;
    for (int prec = first; prec <= 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, fabs(v));
        if (prec == 17 || strtod(tmp, NULL) == fabs(v))
            break;
    }
    /* tmp is "D.DDDDe[+-]XX": collect the digits, drop trailing zeros. */
    char digits[48] = {0};
    int n = 0;
    const char *p = tmp;
    for (; *p != 'e'; p++)
        if (*p != '.')
            digits[n++] = *p;
    while (n > 1 && digits[n - 1] == '0')
        n--;
    int exp = atoi(p + 1);
    return layout_digits(signbit(v), digits, n, exp + 1, buf);
}

/*
 * 64 x 64 -> 128-bit product: returns the low half, stores the high half. Without
 * a 128-bit integer type (or with PT_JSON_PORTABLE_MUL, to test this branch) it
 * is put together from four 32 x 32 products.
 */
static inline uint64_t umul128(uint64_t a, uint64_t b, uint64_t *hi)
{
#if defined(__SIZEOF_INT128__) && !defined(PT_JSON_PORTABLE_MUL)
    unsigned __int128 p = (unsigned __int128)a * b;
    *hi = (uint64_t)(p >> 64);
    return (uint64_t)p;
#else
    uint64_t a0 = (uint32_t)a, a1 = a >> 32, b0 = (uint32_t)b, b1 = b >> 32;
    uint64_t p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
    uint64_t mid = (p00 >> 32) + (uint32_t)p01 + (uint32_t)p10;
    *hi = p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
    return (mid << 32) | (uint32_t)p00;
#endif
}

/*
 * The integer logarithms, exact over the exponents of finite doubles (checked
 * by tools/gen_pow10.py, which transcribes them): floor(q log10 2) and
 * floor(log10(3/4 2^q)) for -1074 <= q <= 971, floor(e log2 10) for
 * -292 <= e <= 324. The added multiple of 2^shift keeps the shifted value
 * non-negative (a right shift of a negative int is implementation-defined).
 */
static inline int floor_log10_pow2(int q)
{
    return ((q * 315653 + (1 << 29)) >> 20) - 512;
}

static inline int floor_log10_three_quarters_pow2(int q)
{
    return ((q * 315653 - 130808 + (1 << 29)) >> 20) - 512;
}

static inline int floor_log2_pow10(int e)
{
    return ((e * 108853 + (1024 << 15)) >> 15) - 1024;
}

/*
 * V = cp * g / 2^128 (g = {high, low}: the 127-bit power of ten) rounded to odd:
 * floor(V), with its lowest bit set when V is not an integer. P = cp * g is
 * V 2^128 plus less than cp < 2^62 (g is rounded up by less than 1), and
 * tools/gen_pow10.py proves that V's fraction, when not zero, is at least 2^-66
 * away from 0 and 1 for every operand formed below; so P's bits from 2^128 up
 * are floor(V), and V is an integer exactly when P's low 128 bits are < 2^62.
 */
static inline uint64_t round_to_odd(const uint64_t g[2], uint64_t cp)
{
    uint64_t x_hi, y_hi;
    uint64_t x_lo = umul128(g[1], cp, &x_hi);
    uint64_t y_lo = umul128(g[0], cp, &y_hi) + x_hi;
    y_hi += y_lo < x_hi;
    return y_hi | ((y_lo | x_lo >> 62) != 0);
}

/*
 * The shortest decimal d * 10^k of a positive finite nonzero double given by its
 * bits: the nearest to it among equally short ones, ties to an even d; d < 10^17
 * has no trailing zeros.
 */
static uint64_t shortest_decimal(uint64_t bits, int *k_out)
{
    int biased = (int)(bits >> 52);
    uint64_t frac = bits & ((1ULL << 52) - 1);
    uint64_t c;
    int q;
    if (biased != 0) {
        c = frac | (1ULL << 52);
        q = biased - 1075;
    } else {
        c = frac;
        q = -1074;
    }
    /* x = c 2^q; its rounding interval, in units of 2^(q-2), is [cbl, cbr]. */
    uint64_t cb = c << 2;
    uint64_t cbr = cb + 2;
    uint64_t cbl;
    int k;
    if (frac != 0 || biased <= 1) {
        cbl = cb - 2;
        k = floor_log10_pow2(q);
    } else { /* a power of two: the next double down is half as far */
        cbl = cb - 1;
        k = floor_log10_three_quarters_pow2(q);
    }
    /* c odd: a decimal on an end reads back as the neighbour (ties to even). */
    uint64_t out = c & 1;
    int h = q + 2 + floor_log2_pow10(-k); /* 2 <= h <= 5 */
    const uint64_t *g = json_pow10[k - JSON_POW10_K_MIN];
    /* 4 x / 10^k and the ends of the interval, rounded to odd; open ends moved in. */
    uint64_t vb = round_to_odd(g, cb << h);
    uint64_t vbl = round_to_odd(g, cbl << h) + out;
    uint64_t vbr = round_to_odd(g, cbr << h) - out;

    uint64_t s = vb >> 2; /* floor(x / 10^k) */
    /* The multiple of 10^(k+1) inside, if any (at most one): the shortest result. */
    uint64_t sp10 = s / 10 * 10;
    uint64_t tp10 = sp10 + 10;
    bool upin = vbl <= sp10 << 2;
    bool wpin = tp10 << 2 <= vbr;
    if (upin || wpin) {
        uint64_t d = (upin ? sp10 : tp10) / 10;
        k++;
        while (d % 100000000 == 0) { /* at most twice: d < 2^54 */
            d /= 100000000;
            k += 8;
        }
        if (d % 10000 == 0) {
            d /= 10000;
            k += 4;
        }
        if (d % 100 == 0) {
            d /= 100;
            k += 2;
        }
        if (d % 10 == 0) {
            d /= 10;
            k += 1;
        }
        *k_out = k;
        return d;
    }
    /* Otherwise s or s + 1 (neither a multiple of 10), whichever lies inside; the
     * nearer if both do, the even one on a tie. */
    *k_out = k;
    uint64_t t = s + 1;
    bool uin = vbl <= s << 2;
    bool win = t << 2 <= vbr;
    if (uin != win)
        return uin ? s : t;
    uint64_t mid = (s << 2) + 2;
    return vb < mid || (vb == mid && (s & 1) == 0) ? s : t;
}

/*
 * The eight decimal digits of x < 10^8, leading zeros included. z / 2^32 exceeds
 * x / 10^6 by more than 0 and at most 10^8 / 2^48 + 2^-32 < 10^-6, too little to
 * carry into any of the three digit pairs taken from z's fraction by multiplying
 * it by 100 (each pair's remainder is a multiple of 10^-6 away from the next).
 */
static inline void put8(char *p, uint32_t x)
{
    uint64_t z = ((uint64_t)x * 281474977u >> 16) + 1; /* 281474977 = ceil(2^48 / 10^6) */
    memcpy(p, digit_pairs + 2 * (z >> 32), 2);
    z = (z & 0xffffffffu) * 100;
    memcpy(p + 2, digit_pairs + 2 * (z >> 32), 2);
    z = (z & 0xffffffffu) * 100;
    memcpy(p + 4, digit_pairs + 2 * (z >> 32), 2);
    z = (z & 0xffffffffu) * 100;
    memcpy(p + 6, digit_pairs + 2 * (z >> 32), 2);
}

/* The decimal digits of 0 < d < 10^17, ending at end; returns the first. */
static char *write_digits(uint64_t d, char *end)
{
    char *p;
    if (d < 100000000) {
        p = end - 8;
        put8(p, (uint32_t)d);
    } else {
        uint64_t hi = d / 100000000;
        put8(end - 8, (uint32_t)(d - hi * 100000000));
        p = end - 16;
        if (hi < 100000000) {
            put8(p, (uint32_t)hi);
        } else {
            uint32_t top = (uint32_t)(hi / 100000000);
            put8(p, (uint32_t)(hi - (uint64_t)top * 100000000));
            *--p = (char)('0' + top);
        }
    }
    while (*p == '0')
        p++;
    return p;
}

size_t web_json_format_double(double v, char buf[WEB_JSON_DOUBLE_MAX])
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof(bits));
    uint64_t mag = bits & ~(1ULL << 63);
    if (mag == 0 || mag >= 0x7ff0000000000000ULL)
        return format_special(v, buf);
    int k;
    uint64_t d = shortest_decimal(mag, &k);
    char digits[48]; /* right-aligned at 24, with layout_digits' 24 readable bytes */
    const char *first = write_digits(d, digits + 24);
    int n = (int)(digits + 24 - first);
    return layout_digits(bits >> 63, first, n, n + k, buf);
}

/* ------------------------------------------------------------------------ */
/* Writer                                                                     */
/* ------------------------------------------------------------------------ */

static inline void fail(struct web_json *j, int err)
{
    if (j->error == 0)
        j->error = err;
}

/*
 * Room for n more bytes at the end of the output, or NULL with the error
 * recorded. Callers write there and then add what they wrote to out->len, so a
 * value costs one limit check however many pieces it has.
 */
static inline char *room(struct web_json *j, size_t n)
{
    if (j->error != 0)
        return NULL;
    /* The capacity never exceeds the limit, so what fits in it is allowed. */
    if (j->out->cap - j->out->len >= n)
        return j->out->data + j->out->len;
    if (pt_buf_reserve(j->out, n) < 0) {
        fail(j, PT_E_NOMEM);
        return NULL;
    }
    return j->out->data + j->out->len;
}

static inline void put(struct web_json *j, const char *p, size_t n)
{
    char *dst = room(j, n);
    if (dst != NULL) {
        memcpy(dst, p, n);
        j->out->len += n;
    }
}

static inline bool bit(uint64_t set, unsigned d)
{
    return (set >> d) & 1;
}

void web_json_init(struct web_json *j, struct pt_buf *out)
{
    j->out = out;
    j->error = 0;
    j->depth = 0;
    j->need_comma = 0;
    j->in_object = 0;
    j->have_key = false;
}

/*
 * Check that a value may come here. Returns how many separator bytes (a comma)
 * must precede it, or -1 after recording the error.
 */
static int value_begin(struct web_json *j)
{
    if (j->error != 0)
        return -1;
    unsigned d = j->depth;
    if (bit(j->in_object, d)) {
        if (!j->have_key) {
            fail(j, PT_E_INVALID);
            return -1;
        }
        j->have_key = false; /* the key wrote the comma */
        return 0;
    }
    if (bit(j->need_comma, d)) {
        if (d == 0) {
            fail(j, PT_E_INVALID); /* a second top-level value */
            return -1;
        }
        return 1;
    }
    j->need_comma |= 1ULL << d;
    return 0;
}

/* Write sep comma bytes (0 or 1) then p[0..n). */
static void put_sep(struct web_json *j, int sep, const char *p, size_t n)
{
    char *dst = room(j, (size_t)sep + n);
    if (dst == NULL)
        return;
    if (sep)
        dst[0] = ',';
    memcpy(dst + sep, p, n);
    j->out->len += (size_t)sep + n;
}

static void container_begin(struct web_json *j, char open, bool object)
{
    int sep = value_begin(j);
    if (sep < 0)
        return;
    if (j->depth >= WEB_JSON_MAX_DEPTH) {
        fail(j, PT_E_INVALID);
        return;
    }
    put_sep(j, sep, &open, 1);
    j->depth++;
    j->need_comma &= ~(1ULL << j->depth);
    if (object)
        j->in_object |= 1ULL << j->depth;
    else
        j->in_object &= ~(1ULL << j->depth);
}

static void container_end(struct web_json *j, char close, bool object)
{
    if (j->error != 0)
        return;
    if (j->depth == 0 || bit(j->in_object, j->depth) != object || j->have_key) {
        fail(j, PT_E_INVALID);
        return;
    }
    put(j, &close, 1);
    j->depth--;
}

void web_json_object_begin(struct web_json *j)
{
    container_begin(j, '{', true);
}

void web_json_object_end(struct web_json *j)
{
    container_end(j, '}', true);
}

void web_json_array_begin(struct web_json *j)
{
    container_begin(j, '[', false);
}

void web_json_array_end(struct web_json *j)
{
    container_end(j, ']', false);
}

/* Length of a valid UTF-8 sequence starting at s[0] (>= 0x80), or 0 if invalid. */
static size_t utf8_sequence(const unsigned char *s, size_t avail)
{
    unsigned char c = s[0];
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0)
            lo = 0xA0; /* overlong */
        else if (c == 0xED)
            hi = 0x9F; /* surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0)
            lo = 0x90; /* overlong */
        else if (c == 0xF4)
            hi = 0x8F; /* beyond U+10FFFF */
    } else {
        return 0;
    }
    if (avail < n || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    return n;
}

/* Length of the leading part of s that is copied as is (no escape, valid UTF-8). */
/* Nonzero if any byte of w needs attention: < 0x20, '"', '\\' or >= 0x80 (SWAR). */
static inline uint64_t special_bytes(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101ull;
    const uint64_t high = 0x8080808080808080ull;
    uint64_t q = w ^ (ones * '"');
    uint64_t b = w ^ (ones * '\\');
    return ((w - ones * 0x20) | (q - ones) | (b - ones) | w) & high;
}

static size_t clean_prefix(struct pt_str str)
{
    const unsigned char *s = (const unsigned char *)str.ptr;
    size_t i = 0;
    /* Eight plain ASCII bytes at a time: keys and most values are such runs. */
    while (i + 8 <= str.len) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        if (special_bytes(w) != 0)
            break;
        i += 8;
    }
    while (i < str.len) {
        unsigned char c = s[i];
        if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
            i++;
        } else if (c >= 0x80) {
            size_t n = utf8_sequence(s + i, str.len - i);
            if (n == 0)
                break;
            i += n;
        } else {
            break;
        }
    }
    return i;
}

/* The escaped body of a string from offset i on (the quotes are the caller's). */
static void put_escaped_tail(struct web_json *j, struct pt_str str, size_t i)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)str.ptr;
    size_t run = i; /* start of the pending run of bytes copied as is */
    while (i < str.len) {
        unsigned char c = s[i];
        if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0x80) {
            size_t n = utf8_sequence(s + i, str.len - i);
            if (n > 0) {
                i += n;
                continue;
            }
        }
        put(j, str.ptr + run, i - run);
        char esc[6] = {'\\', 0, 0, 0, 0, 0};
        size_t len = 2;
        switch (c) {
        case '"':
        case '\\':
            esc[1] = (char)c;
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        default:
            if (c >= 0x80) {
                memcpy(esc, "\\ufffd", 6);
            } else {
                memcpy(esc, "\\u00", 4);
                esc[4] = hex[c >> 4];
                esc[5] = hex[c & 15];
            }
            len = 6;
        }
        put(j, esc, len);
        i++;
        run = i;
    }
    put(j, str.ptr + run, i - run);
}

/*
 * Write sep comma bytes, the quoted, escaped string, and a ':' if colon. The
 * common case (nothing to escape) is one limit check and one copy.
 */
static void put_string(struct web_json *j, int sep, struct pt_str str, bool colon)
{
    size_t clean = clean_prefix(str);
    size_t n = (size_t)sep + 1 + clean + (clean == str.len ? 1 + colon : 0);
    char *dst = room(j, n);
    if (dst == NULL)
        return;
    char *p = dst;
    if (sep)
        *p++ = ',';
    *p++ = '"';
    if (clean > 0)
        memcpy(p, str.ptr, clean);
    p += clean;
    if (clean == str.len) {
        *p++ = '"';
        if (colon)
            *p++ = ':';
        j->out->len += n;
        return;
    }
    j->out->len += n;
    put_escaped_tail(j, str, clean);
    put(j, colon ? "\":" : "\"", colon ? 2 : 1);
}

/* Whether a member (a key, or members written whole) may come here; records misuse. */
static bool member_allowed(struct web_json *j)
{
    if (j->error != 0)
        return false;
    unsigned d = j->depth;
    if (d == 0 || !bit(j->in_object, d) || j->have_key) {
        fail(j, PT_E_INVALID);
        return false;
    }
    return true;
}

void web_json_key_str(struct web_json *j, struct pt_str key)
{
    if (!member_allowed(j))
        return;
    if (key.ptr == NULL && key.len != 0) {
        fail(j, PT_E_INVALID);
        return;
    }
    unsigned d = j->depth;
    int sep = bit(j->need_comma, d);
    j->need_comma |= 1ULL << d;
    j->have_key = true;
    put_string(j, sep, key, true);
}

void web_json_key_plain(struct web_json *j, const char *key, size_t len)
{
    if (!member_allowed(j))
        return;
    unsigned d = j->depth;
    int sep = bit(j->need_comma, d);
    char *dst = room(j, (size_t)sep + len + 3);
    if (dst == NULL)
        return;
    j->need_comma |= 1ULL << d;
    j->have_key = true;
    char *p = dst;
    if (sep)
        *p++ = ',';
    *p++ = '"';
    memcpy(p, key, len);
    p += len;
    *p++ = '"';
    *p++ = ':';
    j->out->len += (size_t)(p - dst);
}

void web_json_key(struct web_json *j, const char *key)
{
    if (key == NULL) {
        fail(j, PT_E_INVALID);
        return;
    }
    web_json_key_str(j, pt_str_c(key));
}

void web_json_string(struct web_json *j, struct pt_str s)
{
    int sep = value_begin(j);
    if (sep >= 0)
        put_string(j, sep, s, false);
}

void web_json_string_plain(struct web_json *j, const char *s, size_t len)
{
    int sep = value_begin(j);
    if (sep < 0)
        return;
    char *dst = room(j, (size_t)sep + len + 2);
    if (dst == NULL)
        return;
    char *p = dst;
    if (sep)
        *p++ = ',';
    *p++ = '"';
    memcpy(p, s, len);
    p += len;
    *p++ = '"';
    j->out->len += (size_t)(p - dst);
}

void web_json_cstring(struct web_json *j, const char *s)
{
    if (s == NULL)
        web_json_null(j);
    else
        web_json_string(j, pt_str_c(s));
}

void web_json_double(struct web_json *j, double v)
{
    int sep = value_begin(j);
    if (sep < 0)
        return;
    /* With room for the longest text (the usual case), format in place: no copy. */
    struct pt_buf *out = j->out;
    if (out->cap - out->len >= (size_t)sep + WEB_JSON_DOUBLE_MAX) {
        char *dst = out->data + out->len;
        *dst = ',';
        out->len += (size_t)sep + web_json_format_double(v, dst + sep);
        return;
    }
    char buf[WEB_JSON_DOUBLE_MAX];
    size_t n = web_json_format_double(v, buf);
    put_sep(j, sep, buf, n);
}

void web_json_int(struct web_json *j, int64_t v)
{
    int sep = value_begin(j);
    if (sep < 0)
        return;
    char buf[24];
    char *p = buf + sizeof(buf);
    /* Work on the magnitude as unsigned so INT64_MIN needs no special case. */
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0)
        *--p = '-';
    put_sep(j, sep, p, (size_t)(buf + sizeof(buf) - p));
}

void web_json_bool(struct web_json *j, bool v)
{
    int sep = value_begin(j);
    if (sep >= 0)
        put_sep(j, sep, v ? "true" : "false", v ? 4 : 5);
}

void web_json_null(struct web_json *j)
{
    int sep = value_begin(j);
    if (sep >= 0)
        put_sep(j, sep, "null", 4);
}

void web_json_raw(struct web_json *j, struct pt_str json)
{
    if (json.len == 0) {
        fail(j, PT_E_INVALID);
        return;
    }
    int sep = value_begin(j);
    if (sep >= 0)
        put_sep(j, sep, json.ptr, json.len);
}

void web_json_members_raw(struct web_json *j, struct pt_str members)
{
    if (!member_allowed(j) || members.len == 0)
        return; /* empty: nothing, not even the comma */
    char *p = web_json_members_open(j, members.len);
    if (p != NULL) {
        memcpy(p, members.ptr, members.len);
        web_json_members_commit(j, p + members.len);
    }
}

char *web_json_members_open(struct web_json *j, size_t max)
{
    if (!member_allowed(j))
        return NULL;
    unsigned d = j->depth;
    int sep = bit(j->need_comma, d);
    char *dst = room(j, (size_t)sep + max);
    if (dst == NULL)
        return NULL;
    j->need_comma |= 1ULL << d;
    if (sep)
        *dst++ = ',';
    return dst;
}

void web_json_members_commit(struct web_json *j, const char *end)
{
    /* What open reserved: from the end of the document to its capacity. */
    if (end < j->out->data + j->out->len || end > j->out->data + j->out->cap) {
        fail(j, PT_E_INVALID);
        return;
    }
    j->out->len = (size_t)(end - j->out->data);
}

int web_json_finish(const struct web_json *j)
{
    if (j->error != 0)
        return j->error;
    if (j->depth != 0 || j->have_key || !bit(j->need_comma, 0))
        return PT_E_INVALID;
    return 0;
}
