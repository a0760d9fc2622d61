/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * form.c -- percent-decoding and encoding, and the form/query decoder of form.h.
 *
 * The common case (no escape, no '+') allocates nothing: slices point into the
 * caller's input. Only components that change are copied into the arena, and the
 * copy is never longer than the input.
 */
#include "web/form.h"

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

/* Length of the pair starting at offset i of raw (up to the next '&' or the end). */
static inline size_t pair_len(struct pt_str raw, size_t i)
{
    const char *amp = memchr(raw.ptr + i, '&', raw.len - i);
    return amp ? (size_t)(amp - (raw.ptr + i)) : raw.len - i;
}

int web_form_parse(struct pt_str raw, struct pt_arena *arena, size_t max_items,
                   struct web_form *out)
{
    out->items = NULL;
    out->count = 0;

    size_t count = 0;
    for (size_t i = 0; i < raw.len;) {
        size_t n = pair_len(raw, i);
        if (n > 0 && ++count > max_items)
            return PT_E_RANGE;
        i += n + 1;
    }
    if (count == 0)
        return 0;

    struct web_kv *items = pt_arena_alloc(arena, count * sizeof(*items));
    /* Nothing anywhere to decode (the common case): every component is its own slice. */
    bool plain = clean_prefix(raw, true) == raw.len;
    size_t k = 0;
    for (size_t i = 0; i < raw.len;) {
        size_t n = pair_len(raw, i);
        if (n > 0) {
            const char *p = raw.ptr + i;
            const char *eq = memchr(p, '=', n);
            size_t klen = eq ? (size_t)(eq - p) : n;
            struct pt_str key = pt_str_make(p, klen);
            struct pt_str value = eq ? pt_str_make(eq + 1, n - klen - 1) : pt_str_make(p + n, 0);
            if (plain) {
                items[k].key = key;
                items[k].value = value;
            } else if (web_percent_decode(key, true, arena, &items[k].key) < 0 ||
                       web_percent_decode(value, true, arena, &items[k].value) < 0) {
                return PT_E_BAD_REQUEST;
            }
            k++;
        }
        i += n + 1;
    }
    out->items = items;
    out->count = count;
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
