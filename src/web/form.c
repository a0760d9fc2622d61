/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * form.c -- percent-decoding and encoding, and the form/query decoder of form.h.
 *
 * The common case (no escape, no '+') allocates nothing: slices point into the
 * caller's input. Only components that change are copied into the arena, and the
 * copy is never longer than the input.
 */
#include "web/form.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* Value of a hex digit, or -1. */
static inline int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20; /* ASCII lower case; no other byte maps into 'a'..'f' */
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

bool web_percent_is_valid(struct pt_str in)
{
    for (size_t k = 0; k < in.len; k++) {
        if (in.ptr[k] == '\0')
            return false;
        if (in.ptr[k] != '%')
            continue;
        if (in.len - k < 3)
            return false;
        int hi = hex_value((unsigned char)in.ptr[k + 1]);
        int lo = hex_value((unsigned char)in.ptr[k + 2]);
        if (hi < 0 || lo < 0 || (hi | lo) == 0)
            return false;
        k += 2;
    }
    return true;
}

/* Whether one of the 8 bytes of w is zero (the classic bit trick: exact, no false hits). */
static inline bool has_zero_byte(uint64_t w)
{
    return ((w - 0x0101010101010101ULL) & ~w & 0x8080808080808080ULL) != 0;
}

/* The length of in's prefix that decoding leaves as it is: up to the first '%', NUL or
 * (plus_is_space) '+'. Eight bytes at a time; most queries have none at all. */
static size_t clean_prefix(struct pt_str in, bool plus_is_space)
{
    const uint64_t pct = 0x2525252525252525ULL, plus = 0x2b2b2b2b2b2b2b2bULL;
    size_t i = 0;
    for (; i + 8 <= in.len; i += 8) {
        uint64_t w;
        memcpy(&w, in.ptr + i, 8);
        if (has_zero_byte(w) || has_zero_byte(w ^ pct) ||
            (plus_is_space && has_zero_byte(w ^ plus)))
            break;
    }
    for (; i < in.len; i++) {
        char c = in.ptr[i];
        if (c == '%' || c == '\0' || (c == '+' && plus_is_space))
            break;
    }
    return i;
}

int web_percent_decode(struct pt_str in, bool plus_is_space, struct pt_arena *arena,
                       struct pt_str *out)
{
    size_t i = clean_prefix(in, plus_is_space);
    if (i == in.len) {
        *out = in;
        return 0;
    }

    /* Validate before allocating, so a rejected input costs no arena space. */
    if (!web_percent_is_valid(pt_str_make(in.ptr + i, in.len - i)))
        return PT_E_BAD_REQUEST;

    char *dst = pt_arena_alloc(arena, in.len + 1);
    memcpy(dst, in.ptr, i);
    size_t n = i;
    while (i < in.len) {
        char c = in.ptr[i];
        if (c == '%') {
            int hi = hex_value((unsigned char)in.ptr[i + 1]);
            int lo = hex_value((unsigned char)in.ptr[i + 2]);
            dst[n++] = (char)(hi << 4 | lo);
            i += 3;
        } else {
            dst[n++] = (c == '+' && plus_is_space) ? ' ' : c;
            i++;
        }
    }
    dst[n] = '\0';
    *out = pt_str_make(dst, n);
    return 0;
}

static inline bool is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

int web_percent_encode(struct pt_str in, struct pt_buf *out)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t need = 0;
    for (size_t i = 0; i < in.len; i++)
        need += is_unreserved((unsigned char)in.ptr[i]) ? 1 : 3;
    if (need == 0)
        return 0;
    int rc = pt_buf_reserve(out, need);
    if (rc < 0)
        return rc;
    char *dst = out->data + out->len;
    for (size_t i = 0; i < in.len; i++) {
        unsigned char c = (unsigned char)in.ptr[i];
        if (is_unreserved(c)) {
            *dst++ = (char)c;
        } else {
            *dst++ = '%';
            *dst++ = hex[c >> 4];
            *dst++ = hex[c & 15];
        }
    }
    out->len += need;
    return 0;
}

/* What a byte means to the form scanner: nothing, a pair's end, a key's end, or a byte
 * that decoding changes or refuses (so the components cannot all be slices). */
enum { FORM_PLAIN, FORM_AMP, FORM_EQ, FORM_SPECIAL };

static const unsigned char form_class[256] = {
    ['\0'] = FORM_SPECIAL, ['%'] = FORM_SPECIAL, ['+'] = FORM_SPECIAL,
    ['&'] = FORM_AMP,      ['='] = FORM_EQ,
};

/* The form being collected: items in the arena, grown by doubling (most queries have a few). */
struct form_scan {
    struct pt_arena *arena;
    struct web_kv *items;
    size_t count, cap, max;
};

/* Add the pair raw[start, end) whose first '=' is at eq (or none when eq >= end). */
static inline int form_add(struct form_scan *f, const char *raw, size_t start, size_t end, size_t eq)
{
    if (end == start)
        return 0; /* an empty pair: skipped */
    if (f->count == f->max)
        return PT_E_RANGE;
    if (f->count == f->cap) {
        size_t cap = PT_MIN(f->cap ? 2 * f->cap : 8, f->max);
        struct web_kv *items = pt_arena_alloc(f->arena, cap * sizeof(*items));
        if (f->count > 0)
            memcpy(items, f->items, f->count * sizeof(*items));
        f->items = items;
        f->cap = cap;
    }
    struct web_kv *kv = &f->items[f->count++];
    if (eq < end) {
        kv->key = pt_str_make(raw + start, eq - start);
        kv->value = pt_str_make(raw + eq + 1, end - eq - 1);
    } else {
        kv->key = pt_str_make(raw + start, end - start);
        kv->value = pt_str_make(raw + end, 0);
    }
    return 0;
}

/* Bit i set when p[i] (i < n <= 16) is a byte the scanner stops at: the tail of a
 * query, and the whole of it where there is no SSE2. */
static inline unsigned form_mask_bytes(const char *p, size_t n)
{
    unsigned mask = 0;
    for (size_t i = 0; i < n; i++)
        mask |= (unsigned)(form_class[(unsigned char)p[i]] != FORM_PLAIN) << i;
    return mask;
}

/* The same for the 16 bytes at p. */
static inline unsigned form_mask16(const char *p)
{
#if defined(__SSE2__)
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i hit = _mm_or_si128(
        _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('&')), _mm_cmpeq_epi8(v, _mm_set1_epi8('='))),
        _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('%')),
                                  _mm_cmpeq_epi8(v, _mm_set1_epi8('+'))),
                     _mm_cmpeq_epi8(v, _mm_setzero_si128())));
    return (unsigned)_mm_movemask_epi8(hit);
#else
    return form_mask_bytes(p, 16);
#endif
}

int web_form_parse(struct pt_str raw, struct pt_arena *arena, size_t max_items,
                   struct web_form *out)
{
    out->items = NULL;
    out->count = 0;

    /* One pass, 16 bytes at a time: the pairs as slices of raw, and whether any byte
     * needs decoding. Only the bytes the class table marks are looked at one by one. */
    struct form_scan f = {.arena = arena, .max = max_items};
    bool plain = true;
    size_t start = 0, eq = SIZE_MAX;
    for (size_t base = 0; base < raw.len; base += 16) {
        size_t n = PT_MIN(raw.len - base, (size_t)16);
        /* A short tail of a longer query: the last 16 bytes, less those already seen. */
        unsigned mask = n == 16         ? form_mask16(raw.ptr + base)
                        : raw.len >= 16 ? form_mask16(raw.ptr + raw.len - 16) >> (16 - n)
                                        : form_mask_bytes(raw.ptr + base, n);
        for (; mask != 0; mask &= mask - 1) {
            size_t i = base + (size_t)__builtin_ctz(mask);
            unsigned char k = form_class[(unsigned char)raw.ptr[i]];
            if (k == FORM_AMP) {
                if (form_add(&f, raw.ptr, start, i, eq) < 0)
                    return PT_E_RANGE;
                start = i + 1;
                eq = SIZE_MAX;
            } else if (k == FORM_EQ) {
                eq = PT_MIN(eq, i);
            } else {
                plain = false;
            }
        }
    }
    if (form_add(&f, raw.ptr, start, raw.len, eq) < 0)
        return PT_E_RANGE;
    /* Nothing anywhere to decode (the common case): every component is its own slice. */
    for (size_t i = 0; !plain && i < f.count; i++) {
        struct web_kv *kv = &f.items[i];
        if (web_percent_decode(kv->key, true, arena, &kv->key) < 0 ||
            web_percent_decode(kv->value, true, arena, &kv->value) < 0)
            return PT_E_BAD_REQUEST;
    }
    out->items = f.count > 0 ? f.items : NULL;
    out->count = f.count;
    return 0;
}

const struct pt_str *web_form_get(const struct web_form *f, struct pt_str key)
{
    for (size_t i = 0; i < f->count; i++)
        if (pt_str_eq(f->items[i].key, key))
            return &f->items[i].value;
    return NULL;
}

size_t web_form_count(const struct web_form *f, struct pt_str key)
{
    size_t n = 0;
    for (size_t i = 0; i < f->count; i++)
        n += pt_str_eq(f->items[i].key, key);
    return n;
}
