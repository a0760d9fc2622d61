/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * driver.c -- libFuzzer target for http_parse_request() (src/http/parser.c).
 *
 * Each input is parsed whole under two sets of limits (the defaults and tiny
 * ones, so the limit paths are reached too), then again resumed: split in two and
 * three pieces at several offsets and, for short inputs, fed one byte at a time
 * with the last_len hint. Every resumed run must end with the whole-buffer result
 * and the same head, with only PT_E_INCOMPLETE before it. On success the head's
 * invariants are checked: length within the input and the limit, every slice
 * inside the head, values trimmed and free of CR/LF, the target's form and the
 * authority consistent with the Host header, framing consistent. A broken
 * invariant aborts, which libFuzzer reports as a crash.
 *
 * Build and run (about two minutes):
 *   make SANITIZE=address,undefined build/san/fuzz/http_parser
 *   build/san/fuzz/http_parser -dict=tests/fuzz/http_parser/dict \
 *       -max_total_time=120 tests/fuzz/http_parser/corpus
 * Replay the seeds and regressions: pass the files (not the directories) as arguments.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/parser.h"
#include "../check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool in_head(struct pt_str s, const char *buf, int n)
{
    return s.ptr != NULL && s.ptr >= buf && s.ptr + s.len <= buf + n;
}

static bool is_known_result(int r)
{
    return r > 0 || r == PT_E_INCOMPLETE || r == PT_E_BAD_REQUEST || r == PT_E_URI_TOO_LONG ||
           r == PT_E_HEAD_TOO_LARGE || r == PT_E_VERSION;
}

static void check_head(const char *buf, size_t size, int n, const struct http_limits *lim,
                       const struct http_request_head *h)
{
    CHECK((size_t)n <= size && (size_t)n <= lim->max_head_bytes && n >= 16);
    CHECK(memcmp(buf + n - 4, "\r\n\r\n", 4) == 0);

    CHECK(in_head(h->method, buf, n) && h->method.len > 0);
    CHECK(in_head(h->target, buf, n) && h->target.len > 0);
    CHECK(h->target.len <= lim->max_target_bytes);
    CHECK(in_head(h->path, buf, n) && h->path.len > 0);
    CHECK(in_head(h->query, buf, n));
    if (h->absolute_form && h->target.ptr[0] == '?') {
        /* Empty path with a query: path is the '/' that ends "://", before the authority. */
        CHECK(h->path.len == 1 && h->path.ptr[0] == '/' && h->path.ptr + 1 == h->authority.ptr);
        CHECK(h->query.ptr == h->target.ptr + 1 && h->query.len + 1 == h->target.len);
    } else {
        CHECK(h->target.ptr[0] == '/' ||
              (!h->absolute_form && h->target.len == 1 && h->target.ptr[0] == '*'));
        CHECK(h->path.ptr == h->target.ptr);
        const char *q = memchr(h->target.ptr, '?', h->target.len);
        if (q == NULL) {
            CHECK(h->path.len == h->target.len && h->query.len == 0);
        } else {
            CHECK(h->path.len == (size_t)(q - h->target.ptr));
            CHECK(h->query.ptr == q + 1 && h->path.len + 1 + h->query.len == h->target.len);
        }
    }
    for (size_t i = 0; i < h->target.len; i++)
        CHECK(h->target.ptr[i] > 0x20 && h->target.ptr[i] < 0x7f);
    if (h->absolute_form) {
        /* The authority follows "http[s]://"; an empty path borrowed the '/' before it. */
        CHECK(in_head(h->authority, buf, n) && h->authority.len > 0);
        CHECK(h->authority.ptr[0] != ':' && http_authority_is_valid(h->authority));
        CHECK(h->authority.ptr[-1] == '/' && h->authority.ptr[-2] == '/' &&
              h->authority.ptr[-3] == ':');
        if (h->path.ptr < h->authority.ptr)
            CHECK(
                h->path.ptr + 1 == h->authority.ptr &&
                (h->target.ptr[0] == '?' || (h->target.ptr == h->path.ptr && h->target.len == 1)));
        else
            CHECK(h->target.ptr == h->path.ptr && h->target.ptr > h->authority.ptr);
    }
    CHECK(h->minor_version == 0 || h->minor_version == 1);

    CHECK(h->num_headers <= lim->max_headers && h->num_headers <= HTTP_MAX_HEADERS);
    size_t hosts = 0;
    for (size_t i = 0; i < h->num_headers; i++) {
        struct pt_str name = h->headers[i].name, v = h->headers[i].value;
        CHECK(in_head(name, buf, n) && name.len > 0);
        CHECK(in_head(v, buf, n));
        CHECK(name.ptr > h->target.ptr);
        CHECK(v.ptr > name.ptr + name.len && v.ptr[-1] != '\n');
        CHECK(memchr(name.ptr, ':', name.len) == NULL);
        for (size_t k = 0; k < v.len; k++) {
            unsigned char c = (unsigned char)v.ptr[k];
            CHECK(c == '\t' || (c >= 0x20 && c != 0x7f));
        }
        if (v.len > 0) {
            CHECK(v.ptr[0] != ' ' && v.ptr[0] != '\t');
            CHECK(v.ptr[v.len - 1] != ' ' && v.ptr[v.len - 1] != '\t');
        }
        if (pt_str_eq_nocase(name, PT_STR("host")))
            hosts++;
        /* Lookup finds this header or an earlier one of the same name. */
        const struct http_header *f = http_head_find(h, name);
        CHECK(f != NULL && f <= &h->headers[i] && pt_str_eq_nocase(f->name, name));
    }
    CHECK(hosts <= 1 && (h->minor_version == 0 || hosts == 1));
    const struct http_header *host = http_head_find(h, PT_STR("host"));
    CHECK(host == NULL || http_authority_is_valid(host->value));
    if (!h->absolute_form && host != NULL)
        CHECK(h->authority.ptr == host->value.ptr && h->authority.len == host->value.len);
    if (!h->absolute_form && host == NULL)
        CHECK(h->authority.ptr == NULL && h->authority.len == 0);
    CHECK(h->content_length >= -1 && h->content_length <= (INT64_C(1) << 62));
    CHECK(!(h->chunked && h->content_length >= 0));
    CHECK(!h->chunked || h->minor_version == 1);
    CHECK(!h->upgrade || http_head_find(h, PT_STR("upgrade")) != NULL);
    CHECK(!h->keep_alive || h->minor_version == 1 || http_head_find(h, PT_STR("connection")));
}

static void check_same_head(const struct http_request_head *a, const struct http_request_head *b)
{
    CHECK(pt_str_eq(a->method, b->method) && a->method.ptr == b->method.ptr);
    CHECK(a->target.ptr == b->target.ptr && a->target.len == b->target.len);
    CHECK(a->path.ptr == b->path.ptr && a->path.len == b->path.len);
    CHECK(a->query.ptr == b->query.ptr && a->query.len == b->query.len);
    CHECK(a->authority.ptr == b->authority.ptr && a->authority.len == b->authority.len);
    CHECK(a->absolute_form == b->absolute_form);
    CHECK(a->minor_version == b->minor_version && a->num_headers == b->num_headers);
    for (size_t i = 0; i < a->num_headers; i++) {
        CHECK(a->headers[i].name.ptr == b->headers[i].name.ptr);
        CHECK(a->headers[i].name.len == b->headers[i].name.len);
        CHECK(a->headers[i].value.ptr == b->headers[i].value.ptr);
        CHECK(a->headers[i].value.len == b->headers[i].value.len);
    }
    CHECK(a->content_length == b->content_length && a->chunked == b->chunked);
    CHECK(a->keep_alive == b->keep_alive && a->expect_continue == b->expect_continue);
    CHECK(a->upgrade == b->upgrade);
}

/* Parse buf[0..size) in pieces ending at cuts[0] < cuts[1] < ... and then size. */
static void check_resumed(const char *buf, size_t size, const size_t *cuts, size_t ncuts,
                          const struct http_limits *lim, int want,
                          const struct http_request_head *whole)
{
    struct http_request_head h;
    size_t last = 0;
    int r = PT_E_INCOMPLETE;
    for (size_t i = 0; i <= ncuts; i++) {
        size_t len = i < ncuts ? cuts[i] : size;
        if (len <= last && i < ncuts)
            continue;
        r = http_parse_request(buf, len, last, lim, &h);
        if (r != PT_E_INCOMPLETE)
            break;
        last = len;
    }
    CHECK(r == want);
    if (r > 0)
        check_same_head(whole, &h);
}

static void run(const char *buf, size_t size, const struct http_limits *lim)
{
    struct http_request_head whole;
    int r = http_parse_request(buf, size, 0, lim, &whole);
    CHECK(is_known_result(r));
    if (r > 0)
        check_head(buf, size, r, lim, &whole);
    if (r == PT_E_INCOMPLETE)
        CHECK(size <= lim->max_head_bytes);

    /* A prefix gives PT_E_INCOMPLETE or the same answer. */
    struct http_request_head h;
    size_t cuts[3] = {size / 2, size / 3, size > 0 ? size - 1 : 0};
    for (size_t i = 0; i < 3; i++) {
        int p = http_parse_request(buf, cuts[i], 0, lim, &h);
        CHECK(p == PT_E_INCOMPLETE || p == r);
        if (r > 0 && p > 0)
            check_same_head(&whole, &h);
    }

    size_t one[1];
    const size_t at[] = {
        1, 2, 5, 16, size / 3, size / 2, size > 4 ? size - 4 : 0, size > 0 ? size - 1 : 0};
    for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
        if (at[i] == 0 || at[i] >= size)
            continue;
        one[0] = at[i];
        check_resumed(buf, size, one, 1, lim, r, &whole);
    }
    size_t three[3] = {size / 4, size / 2, (size / 4) * 3};
    if (three[0] > 0)
        check_resumed(buf, size, three, 3, lim, r, &whole);

    if (size <= 512) {
        size_t all[512];
        for (size_t k = 1; k < size; k++)
            all[k - 1] = k;
        check_resumed(buf, size, all, size > 0 ? size - 1 : 0, lim, r, &whole);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    static const struct http_limits tiny = {96, 24, 3};
    run(buf, size, &HTTP_LIMITS_DEFAULT);
    run(buf, size, &tiny);
    return 0;
}
