/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * json.c -- the streaming JSON writer of json.h and its shortest round-trip
 * double formatter.
 *
 * Structure: each value first passes value_begin(), which checks that a value
 * may appear here and writes the separating comma; keys write their own comma
 * and colon. need_comma and in_object hold one bit per nesting level.
 *
 * Doubles: a positive normal double x = m * 2^e (m a 53-bit integer) reads back
 * from any decimal strictly inside (or, m even, on the edge of) the rounding
 * interval between the midpoints to its neighbours, (m - 1/2) * 2^e to
 * (m + 1/2) * 2^e (the lower half is halved when m = 2^52). The shortest
 * decimal is the one in that interval with the most trailing zeros; among
 * those, the nearest to x (ties to even). For 2^-14 <= x < 2^54, scaling the
 * interval by 4 * 10^q with q = 16 - floor(log10 x) (so the scaled x has at least
 * 17 integer digits) keeps everything exact in 128-bit integers, and 2^e is a
 * shift. Other values (rare in this service: tiny, huge, subnormal) go through
 * snprintf with a strtod round-trip check. tests/unit/web/json_test.c checks the
 * fast path against a brute-force "%.{1..17}g" search over millions of values.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "web/json.h"

/* ------------------------------------------------------------------------ */
/* Doubles                                                                    */
/* ------------------------------------------------------------------------ */

/*
 * Lay out a digit string (no leading or trailing zeros) whose value is
 * 0.DIGITS * 10^decpt as Python's repr() does. Returns the length written.
 */
static size_t layout_digits(bool negative, const char *digits, int n, int decpt, char *buf)
{
    char *p = buf;
    if (negative)
        *p++ = '-';
    if (decpt <= -4 || decpt > 16) {
        *p++ = digits[0];
        if (n > 1) {
            *p++ = '.';
            memcpy(p, digits + 1, (size_t)n - 1);
            p += n - 1;
        }
        int exp = decpt - 1;
        *p++ = 'e';
        *p++ = exp < 0 ? '-' : '+';
        if (exp < 0)
            exp = -exp;
        if (exp >= 100)
            *p++ = (char)('0' + exp / 100);
        *p++ = (char)('0' + exp / 10 % 10);
        *p++ = (char)('0' + exp % 10);
    } else if (decpt <= 0) {
        *p++ = '0';
        *p++ = '.';
        for (int i = 0; i < -decpt; i++)
            *p++ = '0';
        memcpy(p, digits, (size_t)n);
        p += n;
    } else if (decpt >= n) {
        memcpy(p, digits, (size_t)n);
        p += n;
        for (int i = n; i < decpt; i++)
            *p++ = '0';
        *p++ = '.';
        *p++ = '0';
    } else {
        memcpy(p, digits, (size_t)decpt);
        p += decpt;
        *p++ = '.';
        memcpy(p, digits + decpt, (size_t)(n - decpt));
        p += n - decpt;
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
    return layout_digits(signbit(v), "0", 1, 1, buf); /* zero: "0.0" or "-0.0" */
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
    char digits[20];
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

#ifdef __SIZEOF_INT128__

static const uint64_t pow10_u64[20] = {
    1ULL,
    10ULL,
    100ULL,
    1000ULL,
    10000ULL,
    100000ULL,
    1000000ULL,
    10000000ULL,
    100000000ULL,
    1000000000ULL,
    10000000000ULL,
    100000000000ULL,
    1000000000000ULL,
    10000000000000ULL,
    100000000000000ULL,
    1000000000000000ULL,
    10000000000000000ULL,
    100000000000000000ULL,
    1000000000000000000ULL,
    10000000000000000000ULL,
};

/* floor(p * log10(2)) for |p| < 1000; 1233 / 4096 approximates log10(2) closely enough. */
static inline int floor_log10_pow2(int p)
{
    return p >= 0 ? (p * 1233) >> 12 : -((-p * 1233 + 4095) >> 12);
}

static const char digit_pairs[201] = "0001020304050607080910111213141516171819"
                                     "2021222324252627282930313233343536373839"
                                     "4041424344454647484950515253545556575859"
                                     "6061626364656667686970717273747576777879"
                                     "8081828384858687888990919293949596979899";

/*
 * Decimal digits of k > 0, right-aligned in out[20]. Two digits per step, and
 * eight-digit blocks in 32-bit arithmetic, keep the dependency chain of
 * divisions short. Returns the first digit.
 */
static char *write_digits(uint64_t k, char out[20])
{
    char *p = out + 20;
    while (k >= 100000000) {
        uint32_t lo = (uint32_t)(k % 100000000);
        k /= 100000000;
        for (int i = 0; i < 4; i++) {
            p -= 2;
            memcpy(p, digit_pairs + 2 * (lo % 100), 2);
            lo /= 100;
        }
    }
    uint32_t x = (uint32_t)k;
    while (x >= 100) {
        p -= 2;
        memcpy(p, digit_pairs + 2 * (x % 100), 2);
        x /= 100;
    }
    if (x >= 10) {
        p -= 2;
        memcpy(p, digit_pairs + 2 * x, 2);
    } else {
        *--p = (char)('0' + x);
    }
    return p;
}

/*
 * Shortest digits of a positive normal double given by its bits. Returns the
 * digit count (they end digits[20] and start at *first, no trailing zeros;
 * value 0.DIGITS * 10^*decpt), or 0 when the value is outside the fast range.
 */
static int shortest_digits(uint64_t bits, char digits[20], const char **first, int *decpt)
{
    int biased = (int)(bits >> 52) & 0x7ff;
    uint64_t frac = bits & ((1ULL << 52) - 1);
    int p = biased - 1023; /* 2^p <= x < 2^(p+1) */
    if (biased == 0 || p < -14 || p > 53)
        return 0;
    uint64_t m = frac | (1ULL << 52);
    int s = 54 - p; /* x = 4m / 2^s; 1 <= s <= 68 */
    uint64_t mv = 4 * m;
    uint64_t mp = mv + 2;
    uint64_t mm = (frac == 0 && biased > 1) ? mv - 1 : mv - 2;
    bool even = (m & 1) == 0; /* strtod rounds ties to even: the edges belong to x */

    int e10 = floor_log10_pow2(p); /* floor(log10 x) is e10 or e10 + 1 */
    int q = 16 - e10;              /* 1 <= q <= 21 */
    unsigned __int128 scale =
        q <= 19 ? pow10_u64[q] : (unsigned __int128)pow10_u64[19] * pow10_u64[q - 19];
    unsigned __int128 a = (unsigned __int128)mm * scale; /* < 2^125 */
    unsigned __int128 b = (unsigned __int128)mv * scale;
    unsigned __int128 c = (unsigned __int128)mp * scale;
    unsigned __int128 mask = ((unsigned __int128)1 << s) - 1;

    /* Integers (units of 10^-q) inside the interval: [lo, hi]. */
    unsigned __int128 lo = (a >> s) + (((a & mask) != 0 || !even) ? 1 : 0);
    unsigned __int128 hi = (c >> s) - ((!even && (c & mask) == 0) ? 1 : 0);
    if (hi >> 64 != 0 || lo > hi)
        return 0; /* cannot happen in the range above; stay safe */

    /*
     * The most trailing zeros: the largest j such that [lo, hi] holds a multiple of
     * 10^j. If 10^j works so does every smaller power, and ceilings and floors of
     * integer quotients compose, so after two steps of one j is found bit by bit
     * from 16 down (j <= 19 since hi < 2^64), with constant divisors
     * (multiplications): at most seven steps where shrinking by 10 at a time took up
     * to nineteen (a rounded value such as 0.1181557 took ten).
     */
    uint64_t l = (uint64_t)lo;
    uint64_t h = (uint64_t)hi;
    int j = 0;
#define SHRINK(pw, n)                                                                              \
    do {                                                                                           \
        uint64_t ln_ = l / (pw) + (l % (pw) != 0), hn_ = h / (pw);                                \
        if (ln_ <= hn_) {                                                                          \
            l = ln_;                                                                               \
            h = hn_;                                                                               \
            j += (n);                                                                              \
        }                                                                                          \
    } while (0)
    /* Computed values (16-17 digits) stop within two steps; shorter ones go on. */
    SHRINK(10ULL, 1);
    if (j == 1)
        SHRINK(10ULL, 1);
    if (j == 2) {
        SHRINK(10000000000000000ULL, 16);
        SHRINK(100000000ULL, 8);
        SHRINK(10000ULL, 4);
        SHRINK(100ULL, 2);
        SHRINK(10ULL, 1);
    }
#undef SHRINK

    /* Round x to a multiple of 10^j (ties to even), then clamp into [l, h]. */
    uint64_t vint = (uint64_t)(b >> s);
    unsigned __int128 vfrac = b & mask;
    unsigned __int128 vhalf = (unsigned __int128)1 << (s - 1);
    uint64_t t = vint / pow10_u64[j];
    uint64_t r = vint % pow10_u64[j];
    bool up;
    if (j == 0) {
        up = vfrac > vhalf || (vfrac == vhalf && (t & 1));
    } else {
        uint64_t half = pow10_u64[j] / 2;
        up = r > half || (r == half && (vfrac != 0 || (t & 1)));
    }
    uint64_t k = t + up;
    if (k < l)
        k = l;
    if (k > h)
        k = h;
    while (k % 10 == 0) { /* cannot happen by construction of j; stay safe */
        k /= 10;
        j++;
    }

    *first = write_digits(k, digits);
    int n = (int)(digits + 20 - *first);
    *decpt = n + j - q;
    return n;
}

size_t web_json_format_double(double v, char buf[WEB_JSON_DOUBLE_MAX])
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof(bits));
    char digits[20];
    const char *first;
    int decpt;
    int n = shortest_digits(bits & ~(1ULL << 63), digits, &first, &decpt);
    if (n == 0)
        return web_json_format_double_slow(v, buf);
    return layout_digits(bits >> 63, first, n, decpt, buf);
}

#else /* !__SIZEOF_INT128__ */

size_t web_json_format_double(double v, char buf[WEB_JSON_DOUBLE_MAX])
{
    return web_json_format_double_slow(v, buf);
}

#endif /* __SIZEOF_INT128__ */

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

void web_json_key_str(struct web_json *j, struct pt_str key)
{
    if (j->error != 0)
        return;
    unsigned d = j->depth;
    if (d == 0 || !bit(j->in_object, d) || j->have_key || (key.ptr == NULL && key.len != 0)) {
        fail(j, PT_E_INVALID);
        return;
    }
    int sep = bit(j->need_comma, d);
    j->need_comma |= 1ULL << d;
    j->have_key = true;
    put_string(j, sep, key, true);
}

void web_json_key_plain(struct web_json *j, const char *key, size_t len)
{
    if (j->error != 0)
        return;
    unsigned d = j->depth;
    if (d == 0 || !bit(j->in_object, d) || j->have_key) {
        fail(j, PT_E_INVALID);
        return;
    }
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
    if (j->error != 0)
        return;
    unsigned d = j->depth;
    if (d == 0 || !bit(j->in_object, d) || j->have_key) {
        fail(j, PT_E_INVALID);
        return;
    }
    if (members.len == 0)
        return;
    int sep = bit(j->need_comma, d);
    j->need_comma |= 1ULL << d;
    put_sep(j, sep, members.ptr, members.len);
}

char *web_json_members_open(struct web_json *j, size_t max)
{
    if (j->error != 0)
        return NULL;
    unsigned d = j->depth;
    if (d == 0 || !bit(j->in_object, d) || j->have_key) {
        fail(j, PT_E_INVALID);
        return NULL;
    }
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
