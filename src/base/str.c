/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * str.c -- string slices of base.h: comparisons, trimming and strict number
 * parsing of untrusted text. Pure functions; thread-safe.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "base.h"

static inline char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
}

bool pt_str_eq_nocase(struct pt_str a, struct pt_str b)
{
    if (a.len != b.len)
        return false;
    for (size_t i = 0; i < a.len; i++)
        if (lower(a.ptr[i]) != lower(b.ptr[i]))
            return false;
    return true;
}

uint64_t pt_hash_bytes(uint64_t seed, const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t h = seed;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

uint64_t pt_hash_doubles(uint64_t seed, const double *v, size_t n)
{
    uint64_t h = seed;
    for (size_t i = 0; i < n; i++) {
        uint64_t w;
        memcpy(&w, &v[i], sizeof(w));
        h = (h ^ w) * 0x9e3779b97f4a7c15ull;
        h ^= h >> 29;
    }
    /* Final mix (the MurmurHash3 finalizer's constants). */
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

bool pt_str_has_prefix(struct pt_str s, struct pt_str prefix)
{
    return s.len >= prefix.len && pt_bytes_eq(s.ptr, prefix.ptr, prefix.len);
}

struct pt_str pt_str_trim(struct pt_str s)
{
    while (s.len > 0 && (s.ptr[0] == ' ' || s.ptr[0] == '\t')) {
        s.ptr++;
        s.len--;
    }
    while (s.len > 0 && (s.ptr[s.len - 1] == ' ' || s.ptr[s.len - 1] == '\t'))
        s.len--;
    return s;
}

/* Accept [+-]digits[.digits][(e|E)[+-]digits] with at least one mantissa digit. */
static bool is_decimal_syntax(struct pt_str s)
{
    size_t i = 0, digits = 0;
    if (i < s.len && (s.ptr[i] == '+' || s.ptr[i] == '-'))
        i++;
    while (i < s.len && s.ptr[i] >= '0' && s.ptr[i] <= '9') {
        i++;
        digits++;
    }
    if (i < s.len && s.ptr[i] == '.') {
        i++;
        while (i < s.len && s.ptr[i] >= '0' && s.ptr[i] <= '9') {
            i++;
            digits++;
        }
    }
    if (digits == 0)
        return false;
    if (i < s.len && (s.ptr[i] == 'e' || s.ptr[i] == 'E')) {
        i++;
        if (i < s.len && (s.ptr[i] == '+' || s.ptr[i] == '-'))
            i++;
        size_t exp_digits = 0;
        while (i < s.len && s.ptr[i] >= '0' && s.ptr[i] <= '9') {
            i++;
            exp_digits++;
        }
        if (exp_digits == 0)
            return false;
    }
    return i == s.len;
}

/*
 * The common short decimal ("48.93", "-122.4194"): at most 15 digits and no
 * exponent. The digits as an integer m < 10^15 and 10^f (f <= 15) are both
 * exact doubles, so m / 10^f is one correctly rounded division: exactly what
 * strtod returns. False for anything else (strtod decides).
 */
static bool short_decimal(struct pt_str s, double *out)
{
    static const double pow10[] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
    const char *p = s.ptr, *end = s.ptr + s.len;
    bool negative = p < end && *p == '-';
    if (p < end && (*p == '-' || *p == '+'))
        p++;
    /* The integer part, then the fraction: one multiply-add per digit, no bookkeeping;
     * more than 15 digits wrap m but are refused below. */
    const char *first = p;
    uint64_t m = 0;
    while (p < end && (unsigned char)(*p - '0') < 10)
        m = m * 10 + (uint64_t)(*p++ - '0');
    size_t frac = 0;
    bool dot = p < end && *p == '.';
    if (dot) {
        const char *after = ++p;
        while (p < end && (unsigned char)(*p - '0') < 10)
            m = m * 10 + (uint64_t)(*p++ - '0');
        frac = (size_t)(p - after);
    }
    size_t digits = (size_t)(p - first) - dot;
    if (p != end || digits == 0 || digits > 15)
        return false;
    double v = (double)m / pow10[frac];
    *out = negative ? -v : v;
    return true;
}

/* Anything short_decimal leaves: strtod on a NUL-terminated copy (out of line, so the
 * common path needs no stack frame for the copy). */
static __attribute__((noinline)) int long_decimal(struct pt_str s, double *out)
{
    char tmp[64];
    if (s.len == 0 || s.len >= sizeof(tmp) || !is_decimal_syntax(s))
        return PT_E_INVALID;
    memcpy(tmp, s.ptr, s.len);
    tmp[s.len] = '\0';
    errno = 0;
    char *end;
    double v = strtod(tmp, &end);
    if (end != tmp + s.len || !isfinite(v))
        return PT_E_INVALID;
    *out = v;
    return 0;
}

int pt_str_to_double(struct pt_str s, double *out)
{
    return short_decimal(s, out) ? 0 : long_decimal(s, out);
}

int pt_str_to_u63(struct pt_str s, int64_t *out)
{
    if (s.len == 0 || s.len > 18)
        return PT_E_INVALID;
    int64_t v = 0;
    for (size_t i = 0; i < s.len; i++) {
        if (s.ptr[i] < '0' || s.ptr[i] > '9')
            return PT_E_INVALID;
        v = v * 10 + (s.ptr[i] - '0');
    }
    *out = v;
    return 0;
}
