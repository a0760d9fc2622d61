/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * parser.c -- the strict HTTP/1.1 request-head parser and the chunked body
 * decoder of the http layer (declared in parser.h).
 *
 * The head parser is one left-to-right pass over the bytes with no saved state:
 * every decision at a byte depends only on the bytes before it, so the result on
 * a prefix of a request is either PT_E_INCOMPLETE or the result on the whole
 * request. That property is what makes it resumable by re-scanning, and it is
 * what the unit tests and the fuzz driver check. A resumed call (last_len > 0)
 * re-scans only the last, unfinished line unless the new bytes may end the head.
 *
 * The chunked decoder is a byte-level state machine whose state lives in the
 * caller's struct http_chunked, so it can be fed one byte at a time; chunk data
 * are moved in bulk. Neither allocates nor touches global mutable state.
 */
#include "http/parser.h"

#include <limits.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* Largest Content-Length and chunk size accepted: 2^62 bytes. */
#define HTTP_SIZE_MAX ((uint64_t)1 << 62)

/* Longest chunk-size line or trailer line, without its CRLF. */
#define HTTP_CHUNKED_MAX_LINE 4096

/* Longest trailer section, all lines together, CRLFs included. */
#define HTTP_CHUNKED_MAX_TRAILER 16384

/* ------------------------------------------------------------------------ */
/* Character classes                                                          */
/* ------------------------------------------------------------------------ */

enum {
    CC_TCHAR = 1, /* token character (RFC 9110 §5.6.2) */
    CC_VCHAR = 2, /* visible ASCII 0x21..0x7E: request-target characters */
    CC_FIELD = 4, /* field value byte: VCHAR, SP, HTAB or obs-text 0x80..0xFF */
    CC_HOST = 8,  /* reg-name byte other than '%': unreserved / sub-delims (RFC 3986) */
};

/* One entry per byte value; the unit test checks every entry against the RFCs. */
static const uint8_t char_class[256] = {
    0,  0,  0,  0,  0,  0,  0,  0,  0,  4,  0,  0,  0,  0,  0,  0,  /* 0x00 */
    0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 0x10 */
    4,  15, 6,  7,  15, 7,  15, 15, 14, 14, 15, 15, 14, 15, 15, 6,  /* 0x20 */
    15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 6,  14, 6,  14, 6,  6,  /* 0x30 */
    6,  15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, /* 0x40 */
    15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 6,  6,  6,  7,  15, /* 0x50 */
    7,  15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, /* 0x60 */
    15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 6,  7,  6,  15, 0,  /* 0x70 */
    4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  /* 0x80 */
    4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  /* 0x90 */
    4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  /* 0xa0 */
    4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  /* 0xb0 */
    4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  /* 0xc0 */
    4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  /* 0xd0 */
    4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  /* 0xe0 */
    4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  /* 0xf0 */
};

static inline bool has_class(char c, uint8_t cls)
{
    return (char_class[(unsigned char)c] & cls) != 0;
}

/* Value of a hexadecimal digit, or -1. */
static inline int hex_value(char c)
{
    unsigned u = (unsigned char)c;
    if (u - '0' < 10u)
        return (int)(u - '0');
    u |= 0x20; /* only 'A'..'F' and 'a'..'f' land in 'a'..'f' */
    if (u - 'a' < 6u)
        return (int)(u - 'a' + 10);
    return -1;
}

/*
 * Compare s with a lowercase literal of n bytes, ignoring ASCII case. Folding with
 * "| 0x20" is exact here because s holds no control characters (they never pass
 * the head scanner): only the upper-case letter maps onto each lower-case letter,
 * and '-' or a digit only onto itself.
 */
static inline bool eq_lower(struct pt_str s, const char *lit, size_t n)
{
    if (s.len != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((s.ptr[i] | 0x20) != lit[i])
            return false;
    return true;
}

/*
 * Index of the first byte in buf[p..end) outside 0x21..0x7E, or end. The SSE2 path
 * tests 16 bytes at a time; its signed compare also catches bytes >= 0x80, which
 * are negative as signed chars.
 */
static inline size_t skip_target_chars(const char *buf, size_t p, size_t end)
{
#if defined(__SSE2__)
    const __m128i excl_lo = _mm_set1_epi8(0x21);
    const __m128i del = _mm_set1_epi8(0x7f);
    while (end - p >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(buf + p));
        __m128i bad = _mm_or_si128(_mm_cmplt_epi8(v, excl_lo), _mm_cmpeq_epi8(v, del));
        unsigned mask = (unsigned)_mm_movemask_epi8(bad);
        if (mask != 0)
            return p + (size_t)__builtin_ctz(mask);
        p += 16;
    }
#endif
    while (p < end && has_class(buf[p], CC_VCHAR))
        p++;
    return p;
}

/*
 * Index of the first byte in buf[p..end) that cannot appear in a field value
 * (a control character other than HTAB, or DEL), or end.
 */
static inline size_t skip_field_chars(const char *buf, size_t p, size_t end)
{
#if defined(__SSE2__)
    const __m128i zero = _mm_setzero_si128();
    const __m128i sp = _mm_set1_epi8(0x20);
    const __m128i tab = _mm_set1_epi8(0x09);
    const __m128i del = _mm_set1_epi8(0x7f);
    while (end - p >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(buf + p));
        /* 0x00..0x1F: below SP as signed bytes, but not negative (obs-text). */
        __m128i ctl = _mm_andnot_si128(_mm_cmplt_epi8(v, zero), _mm_cmplt_epi8(v, sp));
        ctl = _mm_andnot_si128(_mm_cmpeq_epi8(v, tab), ctl);
        unsigned mask = (unsigned)_mm_movemask_epi8(_mm_or_si128(ctl, _mm_cmpeq_epi8(v, del)));
        if (mask != 0)
            return p + (size_t)__builtin_ctz(mask);
        p += 16;
    }
#endif
    while (p < end && has_class(buf[p], CC_FIELD))
        p++;
    return p;
}

/* ------------------------------------------------------------------------ */
/* Authority                                                                  */
/* ------------------------------------------------------------------------ */

/*
 * Check s[0..n) as an RFC 3986 authority without userinfo: uri-host [":" port].
 * With whole false, s is only the beginning of an authority (the rest has not
 * arrived) and the answer is whether some continuation could still be valid.
 * The check is one left-to-right pass that fails at the first byte no valid
 * authority can have there, so a prefix of an invalid authority is either
 * invalid itself or invalid only as a whole ("[::1", "%4"): that is what keeps
 * the head parser's prefix property for absolute-form targets.
 */
static bool authority_ok(const char *s, size_t n, bool whole)
{
    size_t i = 0;
    if (n > 0 && s[0] == '[') {
        /* IP-literal, checked for structure only (not for a well-formed address). */
        i = 1;
        if (i < n && (s[i] | 0x20) == 'v') {
            /* IPvFuture: "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" ) */
            size_t h0 = ++i;
            while (i < n && hex_value(s[i]) >= 0)
                i++;
            if (i == n)
                return !whole;
            if (s[i] != '.' || i == h0)
                return false;
            size_t r0 = ++i;
            while (i < n && (has_class(s[i], CC_HOST) || s[i] == ':'))
                i++;
            if (i == n)
                return !whole;
            if (s[i] != ']' || i == r0)
                return false;
        } else {
            /* IPv6address: hex digits, ':' and '.' (an embedded IPv4), one ':' at least. */
            bool colon = false;
            while (i < n && (hex_value(s[i]) >= 0 || s[i] == ':' || s[i] == '.')) {
                colon |= s[i] == ':';
                i++;
            }
            if (i == n)
                return !whole;
            if (s[i] != ']' || !colon)
                return false;
        }
        i++;
    } else {
        /* reg-name (IPv4address is one too): unreserved, sub-delims and pct-encoded. */
        for (;;) {
            while (i < n && has_class(s[i], CC_HOST))
                i++;
            if (i == n || s[i] != '%')
                break;
            if ((i + 1 < n && hex_value(s[i + 1]) < 0) || (i + 2 < n && hex_value(s[i + 2]) < 0))
                return false;
            if (n - i < 3)
                return !whole;
            i += 3;
        }
    }
    if (i == n)
        return true;
    if (s[i] != ':')
        return false;
    for (i++; i < n; i++)
        if ((unsigned)(unsigned char)s[i] - '0' > 9u)
            return false;
    return true;
}

bool http_authority_is_valid(struct pt_str authority)
{
    return authority_ok(authority.ptr, authority.len, true);
}

#if defined(__SSE2__)
/*
 * Mask of the bytes of x in lo..hi: shifting lo to -128 turns the range test
 * into one signed compare.
 */
static inline __m128i in_range(__m128i x, unsigned char lo, unsigned char hi)
{
    __m128i y = _mm_add_epi8(x, _mm_set1_epi8((char)(0x80 - lo)));
    return _mm_cmplt_epi8(y, _mm_set1_epi8((char)(0x80 + hi - lo + 1)));
}

/*
 * The Host value of nearly every request, checked 16 bytes at once: letters,
 * digits, '-' and '.', then optionally ':' and digits. v is a header value of at
 * most 16 bytes with 16 readable bytes at v.ptr. True means v has that form, so
 * http_authority_is_valid(v) holds; false means "not known".
 *
 * Folding with | 0x20 maps the letters onto 'a'..'z' and keeps '-', '.', the
 * digits and ':'; the only other bytes it maps into those ranges are control
 * characters 0x0D..0x1A, which a header value cannot hold (HTAB becomes ')',
 * out of range, so it still fails).
 */
static inline bool host_is_plain(struct pt_str v)
{
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)v.ptr);
    x = _mm_or_si128(x, _mm_set1_epi8(0x20));
    __m128i digit = in_range(x, '0', '9');
    __m128i name = _mm_or_si128(_mm_or_si128(in_range(x, '-', '.'), in_range(x, 'a', 'z')), digit);
    unsigned in = (1u << v.len) - 1;
    unsigned name_mask = (unsigned)_mm_movemask_epi8(name);
    unsigned colon = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_set1_epi8(':'))) & in;
    if (colon == 0)
        return (name_mask & in) == in;
    unsigned host = (1u << __builtin_ctz(colon)) - 1;
    unsigned port = in & ~(host << 1 | 1u);
    return (name_mask & host) == host && ((unsigned)_mm_movemask_epi8(digit) & port) == port;
}
#endif /* __SSE2__ */

/*
 * http_authority_is_valid for a Host value inside a head that ends at head_end,
 * with a vector fast path when the bytes after the value allow the 16-byte read.
 */
static bool host_value_ok(struct pt_str v, const char *head_end)
{
#if defined(__SSE2__)
    if (v.len <= 16 && head_end - v.ptr >= 16 && host_is_plain(v))
        return true;
#else
    (void)head_end;
#endif
    return authority_ok(v.ptr, v.len, true);
}

/* ------------------------------------------------------------------------ */
/* Request head                                                               */
/* ------------------------------------------------------------------------ */

/* Set path and query from an origin-form target t ("/..."), which ends at t + n. */
static void split_query(const char *t, size_t n, struct http_request_head *out)
{
    const char *q = memchr(t, '?', n);
    if (q != NULL) {
        out->path = pt_str_make(t, (size_t)(q - t));
        out->query = pt_str_make(q + 1, (size_t)(t + n - (q + 1)));
    } else {
        out->path = pt_str_make(t, n);
        out->query = pt_str_make(t + n, 0);
    }
}

/*
 * Check an absolute-form target s[0..n): "http" ["s"] "://" authority, in any
 * case, then an optional path-abempty and an optional "?" query (their bytes
 * are already known to be VCHAR). With whole false, s is the part of the target
 * received so far, and only its validity as a beginning is checked. With whole
 * true, fills target, path, query and authority: target, path and query as for
 * the origin-form part; an empty path reads "/", a slice of the last '/' of "://",
 * and target is then that same "/" without a query, or the slice from '?' with
 * one. Returns 0 or PT_E_BAD_REQUEST.
 */
static int scan_absolute(const char *s, size_t n, bool whole, struct http_request_head *out)
{
    int eos = whole ? PT_E_BAD_REQUEST : 0; /* the verdict when s ends in the prefix */
    size_t i = 0;
    for (; i < 4; i++) {
        if (i == n)
            return eos;
        if ((s[i] | 0x20) != "http"[i]) /* exact: s holds VCHAR bytes only */
            return PT_E_BAD_REQUEST;
    }
    if (i < n && (s[i] | 0x20) == 's')
        i++;
    size_t colon = i;
    for (; i < colon + 3; i++) {
        if (i == n)
            return eos;
        if (s[i] != "://"[i - colon])
            return PT_E_BAD_REQUEST;
    }

    size_t a0 = i;
    while (i < n && s[i] != '/' && s[i] != '?')
        i++;
    bool auth_done = i < n || whole;
    /* RFC 9110 §4.2.1: an "http" URI with an empty host is invalid. */
    if ((i > a0 && s[a0] == ':') || (auth_done && i == a0))
        return PT_E_BAD_REQUEST;
    if (!authority_ok(s + a0, i - a0, auth_done))
        return PT_E_BAD_REQUEST;
    if (!whole)
        return 0;

    out->authority = pt_str_make(s + a0, i - a0);
    if (i < n && s[i] == '/') {
        out->target = pt_str_make(s + i, n - i);
        split_query(s + i, n - i, out);
        return 0;
    }
    /* Empty path: RFC 9110 §4.2.3 makes it "/". */
    out->path = pt_str_make(s + colon + 2, 1);
    if (i == n) {
        out->target = out->path;
        out->query = pt_str_make(s + n, 0);
    } else {
        out->target = pt_str_make(s + i, n - i);
        out->query = pt_str_make(s + i + 1, n - i - 1);
    }
    return 0;
}

/*
 * The scanners below read only buf[0..end), where end = min(len, max_head_bytes).
 * Reaching end without a decision returns eob: PT_E_INCOMPLETE, or
 * PT_E_HEAD_TOO_LARGE when the caller's buffer already holds more than
 * max_head_bytes (the next byte the head needs is beyond the limit).
 */

/* The version after the request target, byte by byte: "HTTP/" DIGIT "." DIGIT CRLF. */
static int scan_version_slow(const char *buf, size_t p, size_t end, int eob,
                             struct http_request_head *out, size_t *pos)
{
    static const char pattern[] = "HTTP/#.#\r\n"; /* '#' stands for a digit */
    for (size_t i = 0; i < 10; i++) {
        if (p + i == end)
            return eob;
        char c = buf[p + i];
        if (pattern[i] == '#' ? (c < '0' || c > '9') : c != pattern[i])
            return PT_E_BAD_REQUEST;
    }
    if (buf[p + 5] != '1')
        return PT_E_VERSION;
    out->minor_version = buf[p + 7] != '0'; /* RFC 9110 §2.5: 1.2 .. 1.9 act as 1.1 */
    *pos = p + 10;
    return 0;
}

/*
 * Scan the request line, after any empty lines (RFC 9112 §2.2: we ignore every
 * CRLF before it; they count toward the head size). Fills method, target, path,
 * query, absolute_form and minor_version, and authority for an absolute-form
 * target. Returns 0 with *pos at the first header line, or an error code, or eob.
 */
static int scan_request_line(const char *buf, size_t end, int eob, const struct http_limits *lim,
                             struct http_request_head *out, size_t *pos)
{
    size_t p = 0;
    while (p < end && buf[p] == '\r') {
        if (p + 1 == end)
            return eob;
        if (buf[p + 1] != '\n')
            return PT_E_BAD_REQUEST;
        p += 2;
    }

    size_t m0 = p;
    while (p < end && has_class(buf[p], CC_TCHAR))
        p++;
    if (p == end)
        return eob;
    if (buf[p] != ' ' || p == m0)
        return PT_E_BAD_REQUEST;
    out->method = pt_str_make(buf + m0, p - m0);

    /*
     * Origin-form "/...", asterisk-form "*" or absolute-form "http://..." (RFC 9112
     * §3.2); authority-form, and anything else, is refused.
     */
    size_t t0 = ++p;
    if (p == end)
        return eob;
    char c0 = buf[p];
    if (c0 != '/' && c0 != '*' && (c0 | 0x20) != 'h')
        return PT_E_BAD_REQUEST;
    size_t tend = end - t0 > lim->max_target_bytes ? t0 + lim->max_target_bytes : end;
    p = skip_target_chars(buf, p, tend);
    if (p == end || buf[p] != ' ') {
        /*
         * An absolute-form target is judged as far as it goes, so that a bad byte in
         * it is reported as soon as it arrives, and before "too long".
         */
        if (c0 != '/' && c0 != '*' && scan_absolute(buf + t0, p - t0, false, out) < 0)
            return PT_E_BAD_REQUEST;
        if (p == end)
            return eob;
        /* A visible byte here means the target goes on past the limit. */
        if (p - t0 == lim->max_target_bytes && has_class(buf[p], CC_VCHAR))
            return PT_E_URI_TOO_LONG;
        return PT_E_BAD_REQUEST;
    }
    size_t tlen = p - t0;
    out->absolute_form = false;
    if (c0 == '/') {
        out->target = pt_str_make(buf + t0, tlen);
        split_query(buf + t0, tlen, out);
    } else if (c0 == '*') {
        if (tlen != 1 || !pt_str_eq(out->method, PT_STR("OPTIONS")))
            return PT_E_BAD_REQUEST;
        out->target = pt_str_make(buf + t0, 1);
        out->path = out->target;
        out->query = pt_str_make(buf + p, 0);
    } else {
        out->absolute_form = true;
        int r = scan_absolute(buf + t0, tlen, true, out);
        if (r < 0)
            return r;
    }
    p++;

    if (end - p >= 10 && memcmp(buf + p, "HTTP/1.", 7) == 0 &&
        (unsigned)(unsigned char)buf[p + 7] - '0' < 10u && buf[p + 8] == '\r' &&
        buf[p + 9] == '\n') {
        out->minor_version = buf[p + 7] != '0'; /* RFC 9110 §2.5: 1.2 .. 1.9 act as 1.1 */
        *pos = p + 10;
        return 0;
    }
    return scan_version_slow(buf, p, end, eob, out, pos);
}

/*
 * Scan header lines from buf[p], the start of a line, with n headers already
 * stored in out->headers. Returns the head length (just past the blank line),
 * with out->num_headers set, or an error code, or eob.
 */
static int scan_headers(const char *buf, size_t p, size_t end, int eob, size_t max_headers,
                        size_t n, struct http_request_head *out)
{
    for (;;) {
        if (p == end)
            return eob;
        if (buf[p] == '\r') {
            if (p + 1 == end)
                return eob;
            if (buf[p + 1] != '\n')
                return PT_E_BAD_REQUEST;
            out->num_headers = n;
            return (int)(p + 2);
        }
        if (n == max_headers)
            return PT_E_HEAD_TOO_LARGE;

        /* field-name ":" -- no space before the colon; SP/HTAB first is obs-fold. */
        size_t n0 = p;
        while (p < end && has_class(buf[p], CC_TCHAR))
            p++;
        if (p == end)
            return eob;
        if (buf[p] != ':' || p == n0)
            return PT_E_BAD_REQUEST;
        struct http_header *h = &out->headers[n++];
        h->name = pt_str_make(buf + n0, p - n0);
        p++;

        /* OWS field-value OWS CRLF */
        while (p < end && (buf[p] == ' ' || buf[p] == '\t'))
            p++;
        size_t v0 = p;
        p = skip_field_chars(buf, p, end);
        if (p == end)
            return eob;
        if (buf[p] != '\r')
            return PT_E_BAD_REQUEST;
        if (p + 1 == end)
            return eob;
        if (buf[p + 1] != '\n')
            return PT_E_BAD_REQUEST;
        size_t v1 = p;
        while (v1 > v0 && (buf[v1 - 1] == ' ' || buf[v1 - 1] == '\t'))
            v1--;
        h->value = pt_str_make(buf + v0, v1 - v0);
        p += 2;
    }
}

/* 1*DIGIT, at most 2^62. */
static int parse_content_length(struct pt_str v, uint64_t *out)
{
    if (v.len == 0)
        return PT_E_BAD_REQUEST;
    uint64_t x = 0;
    for (size_t i = 0; i < v.len; i++) {
        unsigned d = (unsigned)(unsigned char)v.ptr[i] - '0';
        if (d > 9 || x > (HTTP_SIZE_MAX - d) / 10)
            return PT_E_BAD_REQUEST;
        x = x * 10 + d;
    }
    *out = x;
    return 0;
}

struct conn_tokens {
    bool close;
    bool keep_alive;
    bool upgrade;
};

/* Note the tokens of a Connection value: a comma list, empty elements allowed. */
static void scan_connection(struct pt_str v, struct conn_tokens *t)
{
    size_t i = 0;
    while (i < v.len) {
        while (i < v.len && (v.ptr[i] == ' ' || v.ptr[i] == '\t' || v.ptr[i] == ','))
            i++;
        size_t s = i;
        while (i < v.len && v.ptr[i] != ',')
            i++;
        struct pt_str tok = pt_str_trim(pt_str_make(v.ptr + s, i - s));
        if (eq_lower(tok, "close", 5))
            t->close = true;
        else if (eq_lower(tok, "keep-alive", 10))
            t->keep_alive = true;
        else if (eq_lower(tok, "upgrade", 7))
            t->upgrade = true;
    }
}

/*
 * Derive framing and connection semantics from a complete, well-formed head
 * that ends at head_end.
 */
static int derive_semantics(struct http_request_head *h, const char *head_end)
{
    uint64_t cl = 0;
    bool has_cl = false, te = false, has_upgrade = false, expect = false;
    size_t hosts = 0;
    struct pt_str host = PT_STR_NULL;
    struct conn_tokens conn = {false, false, false};

    for (size_t i = 0; i < h->num_headers; i++) {
        struct pt_str name = h->headers[i].name;
        struct pt_str v = h->headers[i].value;
        switch (name.len) { /* cheap dispatch: only these lengths matter */
        case 4:
            if (eq_lower(name, "host", 4)) {
                hosts++;
                host = v;
            }
            break;
        case 6:
            if (eq_lower(name, "expect", 6) && eq_lower(v, "100-continue", 12))
                expect = true;
            break;
        case 7:
            if (eq_lower(name, "upgrade", 7))
                has_upgrade = true;
            break;
        case 10:
            if (eq_lower(name, "connection", 10))
                scan_connection(v, &conn);
            break;
        case 14:
            if (eq_lower(name, "content-length", 14)) {
                uint64_t x;
                if (parse_content_length(v, &x) < 0 || (has_cl && x != cl))
                    return PT_E_BAD_REQUEST;
                cl = x;
                has_cl = true;
            }
            break;
        case 17:
            /* Only a single "chunked"; a second one would apply it twice. */
            if (eq_lower(name, "transfer-encoding", 17)) {
                if (te || !eq_lower(v, "chunked", 7))
                    return PT_E_BAD_REQUEST;
                te = true;
            }
            break;
        default:
            break;
        }
    }

    bool v11 = h->minor_version == 1;
    if (te && (has_cl || !v11)) /* RFC 9112 §6.1 and §6.3 */
        return PT_E_BAD_REQUEST;
    if (hosts > 1 || (v11 && hosts == 0)) /* RFC 9112 §3.2 */
        return PT_E_BAD_REQUEST;
    if (hosts == 1 && !host_value_ok(host, head_end))
        return PT_E_BAD_REQUEST;
    if (!h->absolute_form) /* else the target's authority wins (RFC 9112 §3.2.2) */
        h->authority = host;
    h->content_length = has_cl ? (int64_t)cl : -1;
    h->chunked = te;
    h->keep_alive = !conn.close && (v11 || conn.keep_alive);
    h->expect_continue = expect && v11;              /* RFC 9110 §10.1.1 */
    h->upgrade = conn.upgrade && has_upgrade && v11; /* RFC 9110 §7.8 */
    return 0;
}

#define RESCAN 1

/*
 * The resumed path. The previous call saw buf[0..last_len) and returned
 * PT_E_INCOMPLETE, so those bytes are a valid beginning of a head. If the new
 * bytes may hold the terminating CRLF CRLF, or we are still in the request line,
 * return RESCAN (a full scan follows). Otherwise re-scan only from the start of
 * the last, unfinished line, with the header count rebuilt from the line feeds
 * before it, and return that scan's verdict: it can only be eob or an error.
 */
static int resume(const char *buf, size_t last_len, size_t end, int eob, size_t max_headers,
                  struct http_request_head *out)
{
    size_t from = last_len > 3 ? last_len - 3 : 0;
    if (end - from >= 4 && memmem(buf + from, end - from, "\r\n\r\n", 4) != NULL)
        return RESCAN;

    size_t p = 0;
    while (p + 1 < last_len && buf[p] == '\r' && buf[p + 1] == '\n')
        p += 2;
    const char *lf = memrchr(buf + p, '\n', last_len - p);
    if (lf == NULL)
        return RESCAN;
    size_t line = (size_t)(lf - buf) + 1;
    size_t lines = 0;
    for (const char *q = buf + p; (q = memchr(q, '\n', (size_t)(buf + line - q))) != NULL; q++)
        lines++;
    if (lines - 1 > max_headers)
        return RESCAN;
    int r = scan_headers(buf, line, end, eob, max_headers, lines - 1, out);
    return r >= 0 ? RESCAN : r;
}

int http_parse_request(const char *buf, size_t len, size_t last_len,
                       const struct http_limits *limits, struct http_request_head *out)
{
    size_t max_head = PT_MIN(limits->max_head_bytes, (size_t)INT_MAX);
    size_t max_headers = PT_MIN(limits->max_headers, (size_t)HTTP_MAX_HEADERS);
    size_t end = PT_MIN(len, max_head);
    int eob = len > max_head ? PT_E_HEAD_TOO_LARGE : PT_E_INCOMPLETE;

    if (last_len > 0 && last_len <= end) {
        int r = resume(buf, last_len, end, eob, max_headers, out);
        if (r != RESCAN)
            return r;
    }

    size_t p;
    int r = scan_request_line(buf, end, eob, limits, out, &p);
    if (r < 0)
        return r;
    int n = scan_headers(buf, p, end, eob, max_headers, 0, out);
    if (n < 0)
        return n;
    r = derive_semantics(out, buf + n);
    return r < 0 ? r : n;
}

const struct http_header *http_head_find(const struct http_request_head *head, struct pt_str name)
{
    for (size_t i = 0; i < head->num_headers; i++)
        if (pt_str_eq_nocase(head->headers[i].name, name))
            return &head->headers[i];
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Chunked body                                                               */
/* ------------------------------------------------------------------------ */

enum http_chunked_state {
    HTTP_CHUNKED_SIZE = 0, /* hex digits; line_bytes > 0 once one is seen */
    HTTP_CHUNKED_SIZE_WS,  /* SP/HTAB after the size: only ';' may follow */
    HTTP_CHUNKED_EXT,      /* chunk extension, ignored up to CR */
    HTTP_CHUNKED_SIZE_LF,  /* CR of the size line seen */
    HTTP_CHUNKED_DATA,     /* remaining bytes of chunk data to move */
    HTTP_CHUNKED_DATA_CR,  /* CRLF after the data */
    HTTP_CHUNKED_DATA_LF,
    HTTP_CHUNKED_TRAILER_START, /* start of a trailer line or of the final CRLF */
    HTTP_CHUNKED_TRAILER_NAME,
    HTTP_CHUNKED_TRAILER_VALUE,
    HTTP_CHUNKED_TRAILER_LF,
    HTTP_CHUNKED_END_LF, /* CR of the final CRLF seen */
    HTTP_CHUNKED_DONE,
    HTTP_CHUNKED_ERROR,
};

void http_chunked_init(struct http_chunked *c)
{
    c->state = HTTP_CHUNKED_SIZE;
    c->remaining = 0;
    c->line_bytes = 0;
}

/*
 * Size and trailer lines count their bytes (without CRLF) in line_bytes. While in
 * the trailer section, remaining (otherwise unused, since the last chunk had size
 * 0) counts the bytes of the whole section.
 */
int64_t http_chunked_decode(struct http_chunked *c, char *buf, size_t *len)
{
    size_t n = *len, src = 0, dst = 0;
    int st = c->state;

    while (src < n && st != HTTP_CHUNKED_DONE && st != HTTP_CHUNKED_ERROR) {
        if (st == HTTP_CHUNKED_DATA) {
            size_t k = c->remaining < n - src ? (size_t)c->remaining : n - src;
            if (dst != src)
                memmove(buf + dst, buf + src, k);
            dst += k;
            src += k;
            c->remaining -= k;
            if (c->remaining == 0)
                st = HTTP_CHUNKED_DATA_CR;
            continue;
        }

        char ch = buf[src++];
        if (st >= HTTP_CHUNKED_TRAILER_START && ++c->remaining > HTTP_CHUNKED_MAX_TRAILER) {
            st = HTTP_CHUNKED_ERROR;
            break;
        }
        switch (st) {
        case HTTP_CHUNKED_SIZE: {
            int d = hex_value(ch);
            if (d >= 0) {
                if (c->remaining > (HTTP_SIZE_MAX - (unsigned)d) / 16) {
                    st = HTTP_CHUNKED_ERROR;
                    break;
                }
                c->remaining = c->remaining * 16 + (unsigned)d;
            } else if (c->line_bytes == 0) {
                st = HTTP_CHUNKED_ERROR; /* no digit */
            } else if (ch == '\r') {
                st = HTTP_CHUNKED_SIZE_LF;
                break;
            } else if (ch == ';') {
                st = HTTP_CHUNKED_EXT;
            } else if (ch == ' ' || ch == '\t') {
                st = HTTP_CHUNKED_SIZE_WS;
            } else {
                st = HTTP_CHUNKED_ERROR;
            }
            c->line_bytes++;
            break;
        }
        case HTTP_CHUNKED_SIZE_WS:
            if (ch == ';')
                st = HTTP_CHUNKED_EXT;
            else if (ch != ' ' && ch != '\t')
                st = HTTP_CHUNKED_ERROR;
            c->line_bytes++;
            break;
        case HTTP_CHUNKED_EXT:
            if (ch == '\r')
                st = HTTP_CHUNKED_SIZE_LF;
            else if (!has_class(ch, CC_FIELD))
                st = HTTP_CHUNKED_ERROR;
            else
                c->line_bytes++;
            break;
        case HTTP_CHUNKED_SIZE_LF:
            if (ch != '\n') {
                st = HTTP_CHUNKED_ERROR;
                break;
            }
            c->line_bytes = 0;
            st = c->remaining > 0 ? HTTP_CHUNKED_DATA : HTTP_CHUNKED_TRAILER_START;
            break;
        case HTTP_CHUNKED_DATA_CR:
            st = ch == '\r' ? HTTP_CHUNKED_DATA_LF : HTTP_CHUNKED_ERROR;
            break;
        case HTTP_CHUNKED_DATA_LF:
            st = ch == '\n' ? HTTP_CHUNKED_SIZE : HTTP_CHUNKED_ERROR;
            c->line_bytes = 0;
            break;
        case HTTP_CHUNKED_TRAILER_START:
            if (ch == '\r') {
                st = HTTP_CHUNKED_END_LF;
            } else if (has_class(ch, CC_TCHAR)) {
                st = HTTP_CHUNKED_TRAILER_NAME; /* SP/HTAB here would be obs-fold */
                c->line_bytes = 1;
            } else {
                st = HTTP_CHUNKED_ERROR;
            }
            break;
        case HTTP_CHUNKED_TRAILER_NAME:
            if (ch == ':')
                st = HTTP_CHUNKED_TRAILER_VALUE;
            else if (!has_class(ch, CC_TCHAR))
                st = HTTP_CHUNKED_ERROR;
            c->line_bytes++;
            break;
        case HTTP_CHUNKED_TRAILER_VALUE:
            if (ch == '\r')
                st = HTTP_CHUNKED_TRAILER_LF;
            else if (!has_class(ch, CC_FIELD))
                st = HTTP_CHUNKED_ERROR;
            else
                c->line_bytes++;
            break;
        case HTTP_CHUNKED_TRAILER_LF:
            st = ch == '\n' ? HTTP_CHUNKED_TRAILER_START : HTTP_CHUNKED_ERROR;
            break;
        case HTTP_CHUNKED_END_LF:
            st = ch == '\n' ? HTTP_CHUNKED_DONE : HTTP_CHUNKED_ERROR;
            break;
        default:
            st = HTTP_CHUNKED_ERROR;
            break;
        }
        if (c->line_bytes > HTTP_CHUNKED_MAX_LINE)
            st = HTTP_CHUNKED_ERROR;
    }

    c->state = st;
    if (st == HTTP_CHUNKED_ERROR) {
        *len = dst;
        return PT_E_BAD_REQUEST;
    }
    if (st != HTTP_CHUNKED_DONE) {
        *len = dst;
        return PT_E_INCOMPLETE;
    }
    if (dst != src)
        memmove(buf + dst, buf + src, n - src);
    *len = dst;
    return (int64_t)(n - src);
}
