/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * parser_test.c -- unit tests of src/http/parser.c: the request-head parser and
 * the chunked body decoder.
 *
 * Table-driven, in the manner of picohttpparser's test.c: every valid request is
 * also parsed at every truncation point, fed one byte at a time with the last_len
 * hint and split in two at every offset, and must give the same answer each time;
 * every invalid request must give its error (and only PT_E_INCOMPLETE before it).
 * Every limit is crossed by one byte or one header. Inputs are copied into
 * exact-size heap buffers so AddressSanitizer catches any read past the end.
 *
 * Run: make SANITIZE=address,undefined build/san/tests/unit/http/parser_test &&
 *      build/san/tests/unit/http/parser_test
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>

#include "http/parser.h"

#define BAD PT_E_BAD_REQUEST

static const struct http_limits default_limits = {16384, 8192, HTTP_MAX_HEADERS};

/* A heap copy of exactly n bytes (ASan then catches reads past the end). */
static char *dup_exact(const char *s, size_t n)
{
    /*
     * No input is that large. The bound also keeps GCC 12 at -O2 from a false
     * -Wstringop-overflow (a SIZE_MAX memcpy) once this is inlined.
     */
    if (n > (size_t)1 << 24)
        abort();
    char *p = malloc(n ? n : 1);
    assert_non_null(p);
    if (n > 0)
        memcpy(p, s, n);
    return p;
}

static int parse_copy(const char *s, size_t n, const struct http_limits *lim,
                      struct http_request_head *h)
{
    char *b = dup_exact(s, n);
    int r = http_parse_request(b, n, 0, lim, h);
    free(b);
    return r;
}

static void assert_str(struct pt_str got, const char *want, const char *what, const char *name)
{
    size_t n = strlen(want);
    if (got.len != n || (n > 0 && memcmp(got.ptr, want, n) != 0)) {
        print_error("%s: %s is \"%.*s\", want \"%s\"\n", name, what, (int)got.len,
                    got.ptr ? got.ptr : "", want);
        fail();
    }
}

static void assert_slice_eq(const char *ba, struct pt_str a, const char *bb, struct pt_str b)
{
    assert_int_equal(a.len, b.len);
    if (a.ptr == NULL || b.ptr == NULL) /* only the "no authority" slice */
        assert_true(a.ptr == NULL && b.ptr == NULL);
    else
        assert_int_equal(a.ptr - ba, b.ptr - bb);
}

/* A slice inside buf[0..n) (an empty one may sit at buf + n). */
static void assert_in_buf(struct pt_str s, const char *buf, size_t n, const char *what,
                          const char *name)
{
    if (s.ptr == NULL || s.ptr < buf || s.ptr + s.len > buf + n) {
        print_error("%s: %s is not a slice of the head\n", name, what);
        fail();
    }
}

/* The same head, parsed from buffers ba and bb holding the same bytes. */
static void assert_heads_equal(const char *ba, const struct http_request_head *a, const char *bb,
                               const struct http_request_head *b)
{
    assert_slice_eq(ba, a->method, bb, b->method);
    assert_slice_eq(ba, a->target, bb, b->target);
    assert_slice_eq(ba, a->path, bb, b->path);
    assert_slice_eq(ba, a->query, bb, b->query);
    assert_slice_eq(ba, a->authority, bb, b->authority);
    assert_int_equal(a->absolute_form, b->absolute_form);
    assert_int_equal(a->minor_version, b->minor_version);
    assert_int_equal(a->num_headers, b->num_headers);
    for (size_t i = 0; i < a->num_headers; i++) {
        assert_slice_eq(ba, a->headers[i].name, bb, b->headers[i].name);
        assert_slice_eq(ba, a->headers[i].value, bb, b->headers[i].value);
    }
    assert_int_equal(a->content_length, b->content_length);
    assert_int_equal(a->chunked, b->chunked);
    assert_int_equal(a->keep_alive, b->keep_alive);
    assert_int_equal(a->expect_continue, b->expect_continue);
    assert_int_equal(a->upgrade, b->upgrade);
}

/*
 * The resumption checks shared by valid and invalid inputs: want is the result on
 * the whole buffer (and *whole its head when want > 0).
 *  - every prefix returns PT_E_INCOMPLETE or want, and PT_E_INCOMPLETE whenever
 *    it is shorter than a successful head;
 *  - feeding one byte at a time with last_len, the first result that is not
 *    PT_E_INCOMPLETE is want, with the same head;
 *  - a split in two at every offset gives want, with the same head.
 * Prefixes are checked all for short inputs, sampled for long ones.
 */
static void check_resumption(const char *name, const char *s, size_t n,
                             const struct http_limits *lim, int want, const char *whole_buf,
                             const struct http_request_head *whole)
{
    struct http_request_head h;
    size_t step = n < 2048 ? 1 : 61;

    for (size_t k = 0; k < n; k += step) {
        int r = parse_copy(s, k, lim, &h);
        if (r != PT_E_INCOMPLETE && r != want) {
            print_error("%s: prefix %zu gives %d, want %d or INCOMPLETE\n", name, k, r, want);
            fail();
        }
        if (want > 0 && k < (size_t)want && r != PT_E_INCOMPLETE) {
            print_error("%s: prefix %zu of a %d-byte head gives %d\n", name, k, want, r);
            fail();
        }
    }

    /* One byte at a time in one growing buffer, as a connection would. */
    char *b = dup_exact(s, n);
    size_t last = 0;
    int r = PT_E_INCOMPLETE;
    for (size_t k = 1; k <= n; k++) {
        r = http_parse_request(b, k, last, lim, &h);
        if (r != PT_E_INCOMPLETE)
            break;
        last = k;
    }
    if (r != want) {
        print_error("%s: byte-at-a-time gives %d, want %d\n", name, r, want);
        fail();
    }
    if (want > 0)
        assert_heads_equal(whole_buf, whole, b, &h);

    /* Split in two at every offset. */
    for (size_t k = 1; k < n; k += step) {
        r = http_parse_request(b, k, 0, lim, &h);
        if (r == PT_E_INCOMPLETE)
            r = http_parse_request(b, n, k, lim, &h);
        if (r != want) {
            print_error("%s: split at %zu gives %d, want %d\n", name, k, r, want);
            fail();
        }
        if (want > 0)
            assert_heads_equal(whole_buf, whole, b, &h);
    }
    free(b);
}

/* ------------------------------------------------------------------------ */
/* Valid requests                                                             */
/* ------------------------------------------------------------------------ */

struct valid_case {
    const char *name;
    const char *req; /* the input; may hold a pipelined request after the head */
    bool more;       /* bytes follow the head: it ends at the first CRLF CRLF */
    const char *method;
    const char *target;
    const char *path;
    const char *query;
    int minor;
    size_t num_headers;
    int64_t content_length;
    bool chunked;
    bool keep_alive;
    bool expect_continue;
    bool upgrade;
    const char *find_name;  /* optional: a header to look up (any case) ... */
    const char *find_value; /* ... and its expected value */
};

#define WRK_REQ                                                                                    \
    "GET /planets/mars?lat=48.93&lon=2.45&elevation=0 HTTP/1.1\r\n"                                \
    "Host: localhost:8000\r\n"                                                                     \
    "User-Agent: wrk/4.2.0 (Linux x86_64)\r\n"                                                     \
    "Accept: */*\r\n"                                                                              \
    "\r\n"

static const struct valid_case valid_cases[] = {
    {"simple get", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", false, "GET", "/", "/", "", 1, 1, -1, false,
     true, false, false, "host", "a"},
    {"wrk get", WRK_REQ, false, "GET", "/planets/mars?lat=48.93&lon=2.45&elevation=0",
     "/planets/mars", "lat=48.93&lon=2.45&elevation=0", 1, 3, -1, false, true, false, false,
     "USER-AGENT", "wrk/4.2.0 (Linux x86_64)"},
    {"post with body length",
     "POST /geo_location HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
     "Content-Length: 13\r\n\r\n",
     false, "POST", "/geo_location", "/geo_location", "", 1, 3, 13, false, true, false, false,
     "content-type", "application/json"},
    {"post body not part of head", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
     true, "POST", "/a", "/a", "", 1, 2, 5, false, true, false, false, NULL, NULL},
    {"head", "HEAD /index.html HTTP/1.1\r\nHost: a\r\n\r\n", false, "HEAD", "/index.html",
     "/index.html", "", 1, 1, -1, false, true, false, false, NULL, NULL},
    {"http/1.0 without host", "GET /x HTTP/1.0\r\n\r\n", false, "GET", "/x", "/x", "", 0, 0, -1,
     false, false, false, false, NULL, NULL},
    {"http/1.0 keep-alive", "GET /x HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", false, "GET", "/x",
     "/x", "", 0, 1, -1, false, true, false, false, "connection", "Keep-Alive"},
    {"http/1.0 close wins", "GET /x HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", false,
     "GET", "/x", "/x", "", 0, 1, -1, false, false, false, false, NULL, NULL},
    {"http/1.1 close", "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", false, "GET", "/",
     "/", "", 1, 2, -1, false, false, false, false, NULL, NULL},
    {"http/1.1 CLOSE upper case", "GET / HTTP/1.1\r\nConnection: CLOSE\r\nHost: a\r\n\r\n", false,
     "GET", "/", "/", "", 1, 2, -1, false, false, false, false, NULL, NULL},
    {"close in a second connection header",
     "GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, bar\r\nConnection: ,, close ,\r\n\r\n", false,
     "GET", "/", "/", "", 1, 3, -1, false, false, false, false, NULL, NULL},
    {"connection token close-ish is not close",
     "GET / HTTP/1.1\r\nHost: a\r\nConnection: closed, xclose\r\n\r\n", false, "GET", "/", "/", "",
     1, 2, -1, false, true, false, false, NULL, NULL},
    {"upgrade",
     "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n"
     "Sec-WebSocket-Version: 13\r\n\r\n",
     false, "GET", "/ws", "/ws", "", 1, 4, -1, false, true, false, true, "upgrade", "websocket"},
    {"upgrade header without connection token",
     "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n", false, "GET", "/ws", "/ws", "", 1,
     2, -1, false, true, false, false, NULL, NULL},
    {"connection upgrade without upgrade header",
     "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\n\r\n", false, "GET", "/ws", "/ws", "",
     1, 2, -1, false, true, false, false, NULL, NULL},
    {"upgrade ignored in http/1.0",
     "GET /ws HTTP/1.0\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n", false, "GET", "/ws",
     "/ws", "", 0, 2, -1, false, false, false, false, NULL, NULL},
    {"expect 100-continue",
     "PUT /f HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 10\r\n\r\n", false,
     "PUT", "/f", "/f", "", 1, 3, 10, false, true, true, false, NULL, NULL},
    {"other expectation ignored", "PUT /f HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n", false,
     "PUT", "/f", "/f", "", 1, 2, -1, false, true, false, false, NULL, NULL},
    {"expect ignored in http/1.0", "PUT /f HTTP/1.0\r\nExpect: 100-continue\r\n\r\n", false, "PUT",
     "/f", "/f", "", 0, 1, -1, false, false, false, false, NULL, NULL},
    {"chunked", "POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n", false, "POST",
     "/up", "/up", "", 1, 2, -1, true, true, false, false, NULL, NULL},
    {"duplicate equal content-length",
     "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 42\r\ncontent-length: 42\r\n\r\n", false,
     "POST", "/", "/", "", 1, 3, 42, false, true, false, false, NULL, NULL},
    {"content-length leading zeros",
     "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0000000000000000000000000007\r\n\r\n", false,
     "POST", "/", "/", "", 1, 2, 7, false, true, false, false, NULL, NULL},
    {"content-length 2^62",
     "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4611686018427387904\r\n\r\n", false, "POST",
     "/", "/", "", 1, 2, INT64_C(4611686018427387904), false, true, false, false, NULL, NULL},
    {"content-length zero", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", false,
     "POST", "/", "/", "", 1, 2, 0, false, true, false, false, NULL, NULL},
    {"options asterisk", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", false, "OPTIONS", "*", "*", "", 1,
     1, -1, false, true, false, false, NULL, NULL},
    {"leading empty lines", "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", false, "GET", "/", "/", "",
     1, 1, -1, false, true, false, false, NULL, NULL},
    {"ows trimmed", "GET / HTTP/1.1\r\nHost:a\r\nX-A:  \t two  words \t \r\n\r\n", false, "GET",
     "/", "/", "", 1, 2, -1, false, true, false, false, "x-a", "two  words"},
    {"empty values", "GET / HTTP/1.1\r\nHost:\r\nX-Empty:   \r\n\r\n", false, "GET", "/", "/", "",
     1, 2, -1, false, true, false, false, "X-EMPTY", ""},
    {"obs-text and tab in value",
     "GET / HTTP/1.1\r\nHost: a\r\nX-Name: caf\xc3\xa9\tand \x80\xff end\r\n\r\n", false, "GET",
     "/", "/", "", 1, 2, -1, false, true, false, false, "x-name", "caf\xc3\xa9\tand \x80\xff end"},
    {"long value crossing simd blocks",
     "GET / HTTP/1.1\r\nHost: a\r\nX-Long: 0123456789abcdef0123456789abcdef0123456789abcdef"
     "0123456789abcdef\t0123456789abcdef!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~\r\n\r\n",
     false, "GET", "/", "/", "", 1, 2, -1, false, true, false, false, "x-long",
     "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\t0123456789abcdef"
     "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"},
    {"pipelined: first head only",
     "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n", true, "GET", "/1",
     "/1", "", 1, 1, -1, false, true, false, false, NULL, NULL},
    {"pipelined: garbage after the head is not looked at",
     "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n\x01\x02 junk\n", true, "GET", "/1", "/1", "", 1, 1, -1,
     false, true, false, false, NULL, NULL},
    {"empty query", "GET /? HTTP/1.1\r\nHost: a\r\n\r\n", false, "GET", "/?", "/", "", 1, 1, -1,
     false, true, false, false, NULL, NULL},
    {"query split at first question mark", "GET /a?b?c=/d HTTP/1.1\r\nHost: a\r\n\r\n", false,
     "GET", "/a?b?c=/d", "/a", "b?c=/d", 1, 1, -1, false, true, false, false, NULL, NULL},
    {"all visible characters in target",
     "GET /!\"#$%&'()*+,-./0123456789:;<=>?@AZ[\\]^_`az{|}~ HTTP/1.1\r\nHost: a\r\n\r\n", false,
     "GET", "/!\"#$%&'()*+,-./0123456789:;<=>?@AZ[\\]^_`az{|}~", "/!\"#$%&'()*+,-./0123456789:;<=>",
     "@AZ[\\]^_`az{|}~", 1, 1, -1, false, true, false, false, NULL, NULL},
    {"extension method", "M-SEARCH|x~ /a HTTP/1.1\r\nHost: a\r\n\r\n", false, "M-SEARCH|x~", "/a",
     "/a", "", 1, 1, -1, false, true, false, false, NULL, NULL},
    {"every token character in a name",
     "GET / HTTP/1.1\r\nHost: a\r\n!#$%&'*+-.^_`|~09azAZ: v\r\n\r\n", false, "GET", "/", "/", "", 1,
     2, -1, false, true, false, false, "!#$%&'*+-.^_`|~09AZaz", "v"},
    {"colon in value", "GET / HTTP/1.1\r\nHost: a:8000\r\nX: a:b: c\r\n\r\n", false, "GET", "/",
     "/", "", 1, 2, -1, false, true, false, false, "x", "a:b: c"},
    /* RFC 9110 §2.5: a higher minor version of HTTP/1 is handled as HTTP/1.1. */
    {"http/1.2 is 1.1", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", false, "GET", "/", "/", "", 1, 1, -1,
     false, true, false, false, NULL, NULL},
    {"http/1.9 is 1.1, chunked allowed",
     "POST /u HTTP/1.9\r\nHost: a\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n",
     false, "POST", "/u", "/u", "", 1, 3, -1, true, true, true, false, NULL, NULL},
    /* Host values (more in test_host_values) */
    {"host ipv6 literal with port", "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", false, "GET", "/",
     "/", "", 1, 1, -1, false, true, false, false, "host", "[::1]:8080"},
    {"host pct-encoded reg-name", "GET / HTTP/1.1\r\nHost:  %41b%2d.example \r\n\r\n", false, "GET",
     "/", "/", "", 1, 1, -1, false, true, false, false, "host", "%41b%2d.example"},
};

static void check_valid_case(const struct valid_case *c, const struct http_limits *lim)
{
    size_t n = strlen(c->req);
    size_t head_len = c->more ? (size_t)(strstr(c->req, "\r\n\r\n") + 4 - c->req) : n;
    char *b = dup_exact(c->req, n);
    struct http_request_head h;
    memset(&h, 0xa5, sizeof(h));
    int r = http_parse_request(b, n, 0, lim, &h);
    if (r != (int)head_len) {
        print_error("%s: returns %d, want %zu\n", c->name, r, head_len);
        fail();
    }
    assert_str(h.method, c->method, "method", c->name);
    assert_str(h.target, c->target, "target", c->name);
    assert_str(h.path, c->path, "path", c->name);
    assert_str(h.query, c->query, "query", c->name);
    assert_int_equal(h.minor_version, c->minor);
    assert_int_equal(h.num_headers, c->num_headers);
    assert_int_equal(h.content_length, c->content_length);
    assert_int_equal(h.chunked, c->chunked);
    assert_int_equal(h.keep_alive, c->keep_alive);
    assert_int_equal(h.expect_continue, c->expect_continue);
    assert_int_equal(h.upgrade, c->upgrade);
    /* Every slice lies inside the head. */
    for (size_t i = 0; i < h.num_headers; i++) {
        assert_true(h.headers[i].name.ptr >= b);
        assert_true(h.headers[i].value.ptr + h.headers[i].value.len <= b + head_len);
    }
    if (c->find_name != NULL) {
        const struct http_header *f = http_head_find(&h, pt_str_c(c->find_name));
        assert_non_null(f);
        assert_str(f->value, c->find_value, "found value", c->name);
    }
    assert_null(http_head_find(&h, PT_STR("x-not-there")));
    /* Origin- and asterisk-form: the authority is the Host value, the same slice. */
    assert_false(h.absolute_form);
    const struct http_header *host = http_head_find(&h, PT_STR("host"));
    if (host != NULL) {
        assert_ptr_equal(h.authority.ptr, host->value.ptr);
        assert_int_equal(h.authority.len, host->value.len);
    } else {
        assert_null(h.authority.ptr);
        assert_int_equal(h.authority.len, 0);
    }
    check_resumption(c->name, c->req, n, lim, r, b, &h);
    free(b);
}

static void test_valid_requests(void **state)
{
    (void)state;
    for (size_t i = 0; i < PT_ARRAY_SIZE(valid_cases); i++)
        check_valid_case(&valid_cases[i], &default_limits);
}

/* ------------------------------------------------------------------------ */
/* Invalid requests                                                           */
/* ------------------------------------------------------------------------ */

struct invalid_case {
    const char *name;
    const char *req;
    int want;
};

#define H11 " HTTP/1.1\r\nHost: a\r\n"

static const struct invalid_case invalid_cases[] = {
    /* request line */
    {"double space after method", "GET  /" H11 "\r\n", BAD},
    {"double space after target", "GET /  HTTP/1.1\r\nHost: a\r\n\r\n", BAD},
    {"tab after method", "GET\t/" H11 "\r\n", BAD},
    {"leading space", " GET /" H11 "\r\n", BAD},
    {"empty method", " /" H11 "\r\n", BAD},
    {"bad method character", "GE(T /" H11 "\r\n", BAD},
    {"non-ascii method", "G\xc3\x89T /" H11 "\r\n", BAD},
    {"authority-form refused", "CONNECT a:443" H11 "\r\n", BAD},
    {"authority-form starting with h", "CONNECT host:443" H11 "\r\n", BAD},
    {"authority-form named http", "CONNECT http:443" H11 "\r\n", BAD},
    {"authority-form named https", "CONNECT https:443" H11 "\r\n", BAD},
    {"relative target starting with h", "GET hello" H11 "\r\n", BAD},
    /* absolute-form (more in test_host_values and test_absolute_early_errors) */
    {"absolute-form ftp", "GET ftp://a/b" H11 "\r\n", BAD},
    {"absolute-form scheme prefix only", "GET http" H11 "\r\n", BAD},
    {"absolute-form scheme and colon", "GET http:" H11 "\r\n", BAD},
    {"absolute-form one slash", "GET http:/a/b" H11 "\r\n", BAD},
    {"absolute-form no slashes", "GET http:a/b" H11 "\r\n", BAD},
    {"absolute-form backslashes", "GET http:\\\\a/b" H11 "\r\n", BAD},
    {"absolute-form httpx", "GET httpx://a/b" H11 "\r\n", BAD},
    {"absolute-form httpss", "GET httpss://a/b" H11 "\r\n", BAD},
    {"absolute-form empty authority", "GET http://" H11 "\r\n", BAD},
    {"absolute-form empty host with path", "GET http:///a" H11 "\r\n", BAD},
    {"absolute-form empty host with query", "GET https://?a" H11 "\r\n", BAD},
    {"absolute-form empty host with port", "GET http://:80/a" H11 "\r\n", BAD},
    {"absolute-form userinfo", "GET http://user@a/b" H11 "\r\n", BAD},
    {"absolute-form userinfo with password", "GET http://u:pw@a:80/b" H11 "\r\n", BAD},
    {"absolute-form empty userinfo", "GET http://@a/b" H11 "\r\n", BAD},
    {"absolute-form bad port", "GET http://a:80a/b" H11 "\r\n", BAD},
    {"absolute-form two ports", "GET http://a:80:81/b" H11 "\r\n", BAD},
    {"absolute-form open ipv6", "GET http://[::1/b" H11 "\r\n", BAD},
    {"absolute-form open ipv6 at end", "GET http://[::1" H11 "\r\n", BAD},
    {"absolute-form bad pct", "GET http://%zz/b" H11 "\r\n", BAD},
    {"absolute-form short pct", "GET http://a%4" H11 "\r\n", BAD},
    {"absolute-form fragment in authority", "GET http://a#f" H11 "\r\n", BAD},
    {"absolute-form control after scheme", "GET http:/\x01/a" H11 "\r\n", BAD},
    {"absolute-form non-ascii host", "GET http://caf\xc3\xa9/" H11 "\r\n", BAD},
    {"absolute-form http/1.1 without host", "GET http://a/b HTTP/1.1\r\n\r\n", BAD},
    {"absolute-form two hosts", "GET http://a/b" H11 "Host: a\r\n\r\n", BAD},
    {"absolute-form invalid host ignored but checked",
     "GET http://a/b HTTP/1.1\r\nHost: a b\r\n\r\n", BAD},
    {"absolute-form bad version", "GET http://a/b HTTP/2.0\r\nHost: a\r\n\r\n", PT_E_VERSION},
    {"asterisk for GET", "GET *" H11 "\r\n", BAD},
    {"asterisk with more", "OPTIONS *x" H11 "\r\n", BAD},
    {"relative target", "GET a/b" H11 "\r\n", BAD},
    {"control in target",
     "GET /a\x01"
     "b" H11 "\r\n",
     BAD},
    {"tab in target", "GET /a\tb" H11 "\r\n", BAD},
    {"del in target", "GET /a\x7f" H11 "\r\n", BAD},
    {"non-ascii in target", "GET /caf\xc3\xa9" H11 "\r\n", BAD},
    {"no version", "GET /\r\nHost: a\r\n\r\n", BAD},
    {"http/0.9 style", "GET /\r\n\r\n", BAD},
    {"lower-case version", "GET / http/1.1\r\nHost: a\r\n\r\n", BAD},
    {"version without minor", "GET / HTTP/1\r\nHost: a\r\n\r\n", BAD},
    {"two-digit minor", "GET / HTTP/1.10\r\nHost: a\r\n\r\n", BAD},
    {"two-digit major", "GET / HTTP/11.1\r\nHost: a\r\n\r\n", BAD},
    {"letter minor", "GET / HTTP/1.x\r\nHost: a\r\n\r\n", BAD},
    {"junk after version", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", BAD},
    {"version 2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", PT_E_VERSION},
    {"version 3.0", "GET / HTTP/3.0\r\nHost: a\r\n\r\n", PT_E_VERSION},
    {"version 2.1", "GET / HTTP/2.1\r\nHost: a\r\n\r\n", PT_E_VERSION},
    {"version 1.2 still needs its crlf", "GET / HTTP/1.2\n\r\n", BAD},
    {"version 1.2 with junk", "GET / HTTP/1.2x\r\nHost: a\r\n\r\n", BAD},
    {"version 1.22", "GET / HTTP/1.22\r\nHost: a\r\n\r\n", BAD},
    {"version 1,1", "GET / HTTP/1,1\r\nHost: a\r\n\r\n", BAD},
    {"version 0.9", "GET / HTTP/0.9\r\n\r\n", PT_E_VERSION},
    {"version 9.9", "GET / HTTP/9.9\r\n\r\n", PT_E_VERSION},
    /* line endings */
    {"bare lf everywhere", "GET / HTTP/1.1\nHost: a\n\n", BAD},
    {"bare lf after header", "GET / HTTP/1.1\r\nHost: a\n\r\n", BAD},
    {"bare lf as blank line", "GET / HTTP/1.1\r\nHost: a\r\n\n", BAD},
    {"bare cr after request line", "GET / HTTP/1.1\rHost: a\r\n\r\n", BAD},
    {"bare cr in value", "GET /" H11 "X: a\rb\r\n\r\n", BAD},
    {"bare cr as blank line", "GET /" H11 "\rX", BAD},
    {"cr cr lf", "GET /" H11 "X: a\r\r\n\r\n", BAD},
    {"leading bare lf", "\nGET /" H11 "\r\n", BAD},
    {"leading cr cr", "\r\rGET /" H11 "\r\n", BAD},
    /* header syntax */
    {"space before colon", "GET /" H11 "X-A : b\r\n\r\n", BAD},
    {"tab before colon", "GET /" H11 "X-A\t: b\r\n\r\n", BAD},
    {"obs-fold with space", "GET /" H11 "X-A: b\r\n c\r\n\r\n", BAD},
    {"obs-fold with tab", "GET /" H11 "X-A: b\r\n\tc\r\n\r\n", BAD},
    {"obs-fold as first header", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", BAD},
    {"empty name", "GET /" H11 ": b\r\n\r\n", BAD},
    {"no colon", "GET /" H11 "X-A\r\n\r\n", BAD},
    {"space in name", "GET /" H11 "X A: b\r\n\r\n", BAD},
    {"separator in name", "GET /" H11 "X@A: b\r\n\r\n", BAD},
    {"non-ascii in name", "GET /" H11 "X\xc3\xa9: b\r\n\r\n", BAD},
    {"control in value",
     "GET /" H11 "X: a\x01"
     "b\r\n\r\n",
     BAD},
    {"escape in value", "GET /" H11 "X: a\x1b[0m\r\n\r\n", BAD},
    {"del in value",
     "GET /" H11 "X: a\x7f"
     "b\r\n\r\n",
     BAD},
    {"vertical tab in value", "GET /" H11 "X: a\vb\r\n\r\n", BAD},
    {"control deep in a long value",
     "GET /" H11 "X: 0123456789abcdef0123456789abcdef01234\x02"
     "56789abcdef0123456789\r\n\r\n",
     BAD},
    /* Content-Length */
    {"content-length letters", "POST /" H11 "Content-Length: abc\r\n\r\n", BAD},
    {"content-length empty", "POST /" H11 "Content-Length:\r\n\r\n", BAD},
    {"content-length negative", "POST /" H11 "Content-Length: -1\r\n\r\n", BAD},
    {"content-length plus", "POST /" H11 "Content-Length: +1\r\n\r\n", BAD},
    {"content-length hex", "POST /" H11 "Content-Length: 0x10\r\n\r\n", BAD},
    {"content-length inner space", "POST /" H11 "Content-Length: 1 2\r\n\r\n", BAD},
    {"content-length list", "POST /" H11 "Content-Length: 5, 5\r\n\r\n", BAD},
    {"content-length decimal", "POST /" H11 "Content-Length: 5.0\r\n\r\n", BAD},
    {"content-length 2^62+1", "POST /" H11 "Content-Length: 4611686018427387905\r\n\r\n", BAD},
    {"content-length 2^64", "POST /" H11 "Content-Length: 18446744073709551616\r\n\r\n", BAD},
    {"content-length huge", "POST /" H11 "Content-Length: 99999999999999999999999999999\r\n\r\n",
     BAD},
    {"content-length differing", "POST /" H11 "Content-Length: 5\r\nContent-Length: 6\r\n\r\n",
     BAD},
    /* Transfer-Encoding */
    {"te and cl", "POST /" H11 "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", BAD},
    {"cl and te", "POST /" H11 "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", BAD},
    {"te gzip", "POST /" H11 "Transfer-Encoding: gzip\r\n\r\n", BAD},
    {"te identity", "POST /" H11 "Transfer-Encoding: identity\r\n\r\n", BAD},
    {"te gzip then chunked", "POST /" H11 "Transfer-Encoding: gzip, chunked\r\n\r\n", BAD},
    {"te chunked then gzip", "POST /" H11 "Transfer-Encoding: chunked, gzip\r\n\r\n", BAD},
    {"te chunked twice in a list", "POST /" H11 "Transfer-Encoding: chunked, chunked\r\n\r\n", BAD},
    {"te chunked twice",
     "POST /" H11 "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", BAD},
    {"te with parameter", "POST /" H11 "Transfer-Encoding: chunked;q=1\r\n\r\n", BAD},
    {"te empty", "POST /" H11 "Transfer-Encoding:\r\n\r\n", BAD},
    {"te in http/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", BAD},
    /* Host */
    {"http/1.1 without host", "GET / HTTP/1.1\r\nX: a\r\n\r\n", BAD},
    {"http/1.1 nothing at all", "GET / HTTP/1.1\r\n\r\n", BAD},
    {"two hosts", "GET /" H11 "host: b\r\n\r\n", BAD},
    {"two equal hosts", "GET /" H11 "Host: a\r\n\r\n", BAD},
    {"two hosts in http/1.0", "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", BAD},
    {"http/1.2 without host", "GET / HTTP/1.2\r\nX: a\r\n\r\n", BAD},
    {"te in http/1.2 with content-length",
     "POST / HTTP/1.2\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n", BAD},
    {"host with space", "GET / HTTP/1.1\r\nHost: bad host\r\n\r\n", BAD},
    {"host with userinfo", "GET / HTTP/1.1\r\nHost: a@b\r\n\r\n", BAD},
    {"host with bad port", "GET / HTTP/1.1\r\nHost: x:80a\r\n\r\n", BAD},
    {"host with open ipv6", "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", BAD},
    {"host with bad pct", "GET / HTTP/1.1\r\nHost: %zz\r\n\r\n", BAD},
    {"host with path", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", BAD},
    {"host as a url", "GET / HTTP/1.1\r\nHost: http://a\r\n\r\n", BAD},
    {"host with obs-text", "GET / HTTP/1.1\r\nHost: caf\xc3\xa9\r\n\r\n", BAD},
    {"invalid host in http/1.0", "GET / HTTP/1.0\r\nHost: a b\r\n\r\n", BAD},
};

static void test_invalid_requests(void **state)
{
    (void)state;
    for (size_t i = 0; i < PT_ARRAY_SIZE(invalid_cases); i++) {
        const struct invalid_case *c = &invalid_cases[i];
        size_t n = strlen(c->req);
        struct http_request_head h;
        int r = parse_copy(c->req, n, &default_limits, &h);
        int want = c->want;
        if (r != want) {
            print_error("%s: returns %d (%s), want %d (%s)\n", c->name, r, pt_error_name(r), want,
                        pt_error_name(want));
            fail();
        }
        check_resumption(c->name, c->req, n, &default_limits, want, NULL, NULL);
    }
}

/* NUL bytes cannot live in the string table above; these inputs carry explicit lengths. */
static void test_nul_bytes(void **state)
{
    (void)state;
    static const char target[] = "GET /a\0b HTTP/1.1\r\nHost: a\r\n\r\n";
    static const char value[] = "GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n";
    static const char name[] = "GET / HTTP/1.1\r\nHost: a\r\nX\0: b\r\n\r\n";
    static const char method[] = "G\0T / HTTP/1.1\r\nHost: a\r\n\r\n";
    static const char leading[] = "\0GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    const struct {
        const char *s;
        size_t n;
    } in[] = {{target, sizeof(target) - 1},
              {value, sizeof(value) - 1},
              {name, sizeof(name) - 1},
              {method, sizeof(method) - 1},
              {leading, sizeof(leading) - 1}};
    for (size_t i = 0; i < PT_ARRAY_SIZE(in); i++) {
        struct http_request_head h;
        assert_int_equal(parse_copy(in[i].s, in[i].n, &default_limits, &h), BAD);
        check_resumption("nul", in[i].s, in[i].n, &default_limits, BAD, NULL, NULL);
    }
}

/* Duplicate Content-Length headers are compared by value: 5 and 05 agree. */
static void test_duplicate_content_length_same_value(void **state)
{
    (void)state;
    const char *s = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 05\r\n\r\n";
    struct http_request_head h;
    assert_int_equal(parse_copy(s, strlen(s), &default_limits, &h), (int)strlen(s));
    assert_int_equal(h.content_length, 5);
}

/* ------------------------------------------------------------------------ */
/* Every byte value in every position                                         */
/* ------------------------------------------------------------------------ */

static bool ref_tchar(int c)
{
    return c < 0x80 && (isalnum(c) || (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL));
}

static bool ref_vchar(int c)
{
    return c >= 0x21 && c <= 0x7e;
}

static bool ref_field_byte(int c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* Parse pre + the byte c + post; *n receives the input length. */
static int parse_fmt(const char *pre, int c, const char *post, int *n)
{
    char buf[256];
    size_t a = strlen(pre), b = strlen(post);
    memcpy(buf, pre, a);
    buf[a] = (char)c;
    memcpy(buf + a + 1, post, b);
    *n = (int)(a + 1 + b);
    struct http_request_head h;
    return parse_copy(buf, a + 1 + b, &default_limits, &h);
}

static void test_every_byte(void **state)
{
    (void)state;
    for (int c = 0; c < 256; c++) {
        int n;
        int r = parse_fmt("G", c, "T /x HTTP/1.1\r\nHost: a\r\n\r\n", &n);
        assert_int_equal(r, ref_tchar(c) ? n : BAD);

        r = parse_fmt("GET /a", c, "b HTTP/1.1\r\nHost: a\r\n\r\n", &n);
        assert_int_equal(r, ref_vchar(c) ? n : BAD);

        r = parse_fmt("GET / HTTP/1.1\r\nHost: a\r\nX", c, "Y: v\r\n\r\n", &n);
        assert_int_equal(r, ref_tchar(c) || c == ':' ? n : BAD);

        r = parse_fmt("GET / HTTP/1.1\r\nHost: a\r\nX: v", c, "w\r\n\r\n", &n);
        assert_int_equal(r, ref_field_byte(c) ? n : BAD);
    }
}

/*
 * The same for long targets and values, with the byte at every offset of a
 * 48-byte run followed by more bytes, so the 16-byte vector paths see it in
 * every lane.
 */
static void test_every_byte_in_long_runs(void **state)
{
    (void)state;
    char run[49];
    for (int c = 0; c < 256; c++) {
        for (size_t pos = 0; pos < 48; pos++) {
            memset(run, 'r', 48);
            run[48] = '\0';
            int n;
            run[pos] = '\0'; /* split the run around the byte under test */
            char pre[128], post[128];
            snprintf(pre, sizeof(pre), "GET /%s", run);
            snprintf(post, sizeof(post), "%s HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n",
                     run + pos + 1);
            int r = parse_fmt(pre, c, post, &n);
            assert_int_equal(r, ref_vchar(c) ? n : BAD);

            snprintf(pre, sizeof(pre), "GET / HTTP/1.1\r\nX: %s", run);
            snprintf(post, sizeof(post), "%s\r\nHost: a\r\nAccept: */*\r\n\r\n", run + pos + 1);
            r = parse_fmt(pre, c, post, &n);
            assert_int_equal(r, ref_field_byte(c) ? n : BAD);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Absolute-form targets, Host values and versions                            */
/* ------------------------------------------------------------------------ */

struct absolute_case {
    const char *name;
    const char *req; /* one whole head */
    const char *target;
    const char *path;
    const char *query;
    const char *authority;
    int minor;
};

static const struct absolute_case absolute_cases[] = {
    {"absolute-form with port, path and query",
     "GET http://example.com:8000/planets/mars?lat=1 HTTP/1.1\r\nHost: example.com:8000\r\n\r\n",
     "/planets/mars?lat=1", "/planets/mars", "lat=1", "example.com:8000", 1},
    {"absolute-form authority wins over host",
     "GET http://a.example/x HTTP/1.1\r\nHost: other.example:81\r\n\r\n", "/x", "/x", "",
     "a.example", 1},
    {"https", "GET https://a/ HTTP/1.1\r\nHost: a\r\n\r\n", "/", "/", "", "a", 1},
    {"upper-case HTTP", "GET HTTP://A.EXAMPLE/P?Q HTTP/1.1\r\nHost: a\r\n\r\n", "/P?Q", "/P", "Q",
     "A.EXAMPLE", 1},
    {"mixed-case HTTPS", "GET hTtPs://a/p HTTP/1.1\r\nHost: a\r\n\r\n", "/p", "/p", "", "a", 1},
    {"no path, no query", "GET http://a HTTP/1.1\r\nHost: a\r\n\r\n", "/", "/", "", "a", 1},
    {"no path, with query", "GET http://a:8000?lat=1&lon=2 HTTP/1.1\r\nHost: a\r\n\r\n",
     "?lat=1&lon=2", "/", "lat=1&lon=2", "a:8000", 1},
    {"no path, empty query", "GET https://a? HTTP/1.1\r\nHost: a\r\n\r\n", "?", "/", "", "a", 1},
    {"root path with query", "GET http://a/?x HTTP/1.1\r\nHost: a\r\n\r\n", "/?x", "/", "x", "a",
     1},
    {"query holds slashes and question marks", "GET http://a/b?c/d?e HTTP/1.1\r\nHost: a\r\n\r\n",
     "/b?c/d?e", "/b", "c/d?e", "a", 1},
    {"double slash path", "GET http://a//b HTTP/1.1\r\nHost: a\r\n\r\n", "//b", "//b", "", "a", 1},
    {"ipv6 literal with port", "GET http://[::1]:8080/p HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", "/p",
     "/p", "", "[::1]:8080", 1},
    {"ipv6 with embedded ipv4", "GET http://[::ffff:192.0.2.1]/ HTTP/1.1\r\nHost: a\r\n\r\n", "/",
     "/", "", "[::ffff:192.0.2.1]", 1},
    {"ipvfuture", "GET http://[v1.fe80::a+en1]/ HTTP/1.1\r\nHost: a\r\n\r\n", "/", "/", "",
     "[v1.fe80::a+en1]", 1},
    {"ipv4 with port, no path", "GET http://127.0.0.1:8000 HTTP/1.1\r\nHost: a\r\n\r\n", "/", "/",
     "", "127.0.0.1:8000", 1},
    {"pct-encoded reg-name", "GET http://%41b%2dc.example/ HTTP/1.1\r\nHost: a\r\n\r\n", "/", "/",
     "", "%41b%2dc.example", 1},
    {"sub-delims in reg-name", "GET http://a!$&'()*+,;=b/ HTTP/1.1\r\nHost: a\r\n\r\n", "/", "/",
     "", "a!$&'()*+,;=b", 1},
    {"empty port", "GET http://a:/x HTTP/1.1\r\nHost: a\r\n\r\n", "/x", "/x", "", "a:", 1},
    {"empty host header", "GET http://a/x HTTP/1.1\r\nHost:\r\n\r\n", "/x", "/x", "", "a", 1},
    {"http/1.0 without host", "GET http://a/x HTTP/1.0\r\n\r\n", "/x", "/x", "", "a", 0},
    {"http/1.2", "GET http://a/x HTTP/1.2\r\nHost: a\r\n\r\n", "/x", "/x", "", "a", 1},
    {"options without path", "OPTIONS http://a:8001 HTTP/1.1\r\nHost: a\r\n\r\n", "/", "/", "",
     "a:8001", 1},
    {"post", "POST http://a/geo_location HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n",
     "/geo_location", "/geo_location", "", "a", 1},
    {"leading empty line", "\r\nGET http://a/x HTTP/1.1\r\nHost: a\r\n\r\n", "/x", "/x", "", "a",
     1},
    {"long path crossing simd blocks",
     "GET http://a/0123456789abcdef0123456789abcdef0123456789 HTTP/1.1\r\nHost: a\r\n\r\n",
     "/0123456789abcdef0123456789abcdef0123456789", "/0123456789abcdef0123456789abcdef0123456789",
     "", "a", 1},
};

static void test_absolute_form(void **state)
{
    (void)state;
    for (size_t i = 0; i < PT_ARRAY_SIZE(absolute_cases); i++) {
        const struct absolute_case *c = &absolute_cases[i];
        size_t n = strlen(c->req);
        char *b = dup_exact(c->req, n);
        struct http_request_head h;
        memset(&h, 0xa5, sizeof(h));
        int r = http_parse_request(b, n, 0, &default_limits, &h);
        if (r != (int)n) {
            print_error("%s: returns %d (%s), want %zu\n", c->name, r, pt_error_name(r), n);
            fail();
        }
        assert_true(h.absolute_form);
        assert_str(h.target, c->target, "target", c->name);
        assert_str(h.path, c->path, "path", c->name);
        assert_str(h.query, c->query, "query", c->name);
        assert_str(h.authority, c->authority, "authority", c->name);
        assert_int_equal(h.minor_version, c->minor);
        /* Every slice, the "/" of an empty path included, lies in the head. */
        assert_in_buf(h.target, b, n, "target", c->name);
        assert_in_buf(h.path, b, n, "path", c->name);
        assert_in_buf(h.query, b, n, "query", c->name);
        assert_in_buf(h.authority, b, n, "authority", c->name);
        assert_true(h.target.ptr[0] == '/' || h.target.ptr[0] == '?');
        if (h.target.ptr[0] == '/')
            assert_ptr_equal(h.path.ptr, h.target.ptr);
        check_resumption(c->name, c->req, n, &default_limits, r, b, &h);
        free(b);
    }
}

/* Prefixes of absolute-form targets: a bad byte is reported as soon as it arrives. */
static void test_absolute_early_errors(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int want;
    } cases[] = {
        {"GET h", PT_E_INCOMPLETE},
        {"GET H", PT_E_INCOMPLETE},
        {"GET http", PT_E_INCOMPLETE},
        {"GET https", PT_E_INCOMPLETE},
        {"GET http:/", PT_E_INCOMPLETE},
        {"GET http://", PT_E_INCOMPLETE},
        {"GET http://a", PT_E_INCOMPLETE},
        {"GET http://[", PT_E_INCOMPLETE},
        {"GET http://[::1", PT_E_INCOMPLETE},
        {"GET http://[v", PT_E_INCOMPLETE},
        {"GET http://[v1.", PT_E_INCOMPLETE},
        {"GET http://a%", PT_E_INCOMPLETE},
        {"GET http://a%4", PT_E_INCOMPLETE},
        {"GET http://a:", PT_E_INCOMPLETE},
        {"GET http://a/", PT_E_INCOMPLETE},
        {"GET f", BAD},
        {"GET hx", BAD},
        {"GET httpx", BAD},
        {"GET https:x", BAD},
        {"GET http:/x", BAD},
        {"GET http:///", BAD},
        {"GET http://?", BAD},
        {"GET http://:", BAD},
        {"GET http://u@", BAD},
        {"GET http://a:8x", BAD},
        {"GET http://%z", BAD},
        {"GET http://a%4z", BAD},
        {"GET http://[g", BAD},
        {"GET http://[::1]x", BAD},
        {"GET http://[v.", BAD},
        {"GET http://[v1.]", BAD},
        {"GET http://[]", BAD},
        {"GET http://[1.2]", BAD},
        {"GET http://a\"", BAD},
        {"GET http://[::1 ", BAD},
        {"GET http://a%4 ", BAD},
        {"GET https ", BAD},
    };
    for (size_t i = 0; i < PT_ARRAY_SIZE(cases); i++) {
        struct http_request_head h;
        size_t n = strlen(cases[i].in);
        int r = parse_copy(cases[i].in, n, &default_limits, &h);
        if (r != cases[i].want) {
            print_error("\"%s\": returns %d (%s), want %d (%s)\n", cases[i].in, r, pt_error_name(r),
                        cases[i].want, pt_error_name(cases[i].want));
            fail();
        }
        /* And the same through a resumed call whose new byte is the last one. */
        char *b = dup_exact(cases[i].in, n);
        if (n > 5) {
            assert_int_equal(http_parse_request(b, n - 1, 0, &default_limits, &h), PT_E_INCOMPLETE);
            assert_int_equal(http_parse_request(b, n, n - 1, &default_limits, &h), cases[i].want);
        }
        free(b);
    }
}

/* The target limit applies to an absolute-form target as received, scheme included. */
static void test_limit_target_bytes_absolute(void **state)
{
    (void)state;
    static const struct {
        size_t limit;
        const char *target;
        int want; /* 0: a valid head */
    } cases[] = {
        {16, "http://a/0123456", 0},
        {16, "http://a/01234567", PT_E_URI_TOO_LONG},
        {16, "http://a?0123456", 0},
        {16, "http://abcdefghi", 0},
        {16, "http://abcdefghij", PT_E_URI_TOO_LONG},
        {16, "http://a@bcdefghijklmnop", BAD},              /* bad byte inside the limit */
        {16, "http://abcdefghi@", PT_E_URI_TOO_LONG},       /* bad byte past it: not looked at */
        {16, "http://[::1/abcdefghij", BAD},                /* the '/' ends "[::1" */
        {16, "http://[::1:2:3:4:5:6]/", PT_E_URI_TOO_LONG}, /* unfinished at the limit */
        {7, "http://", BAD},
        {7, "http://a", PT_E_URI_TOO_LONG},
        {3, "http://a/", PT_E_URI_TOO_LONG},
        {3, "hxtp://a/", BAD},
        {3, "httx://a/", PT_E_URI_TOO_LONG},
        {1, "h", BAD},
        {0, "http://a/", PT_E_URI_TOO_LONG},
    };
    for (size_t i = 0; i < PT_ARRAY_SIZE(cases); i++) {
        struct http_limits lim = {300, cases[i].limit, 8};
        char s[256];
        int n = snprintf(s, sizeof(s), "GET %s HTTP/1.1\r\nHost: a\r\n\r\n", cases[i].target);
        char *b = dup_exact(s, (size_t)n);
        struct http_request_head h;
        int want = cases[i].want == 0 ? n : cases[i].want;
        int r = http_parse_request(b, (size_t)n, 0, &lim, &h);
        if (r != want) {
            print_error("%s (limit %zu): returns %d (%s), want %d (%s)\n", cases[i].target,
                        cases[i].limit, r, pt_error_name(r), want, pt_error_name(want));
            fail();
        }
        /* The received target is scheme, authority and, unless it borrowed the "/"
           of "://" for an empty path, target. */
        if (r > 0)
            assert_int_equal(7 + h.authority.len +
                                 (h.target.ptr > h.authority.ptr ? h.target.len : 0),
                             strlen(cases[i].target));
        check_resumption(cases[i].target, s, (size_t)n, &lim, want, b, r > 0 ? &h : NULL);
        free(b);
    }
}

struct host_case {
    const char *value;
    bool valid;    /* as a Host value, and for http_authority_is_valid */
    int in_target; /* as the authority of "http://<value>/x": 1 valid, 0 invalid, -1 not
                      tried (the value holds SP, HTAB or non-ASCII, or '/' or '?' that would
                      end the authority there) */
};

static const struct host_case host_cases[] = {
    {"localhost", true, 1},
    {"localhost:8000", true, 1},
    {"", true, 0}, /* an empty Host is valid (RFC 9112 §3.2), an empty URI host is not */
    {":80", true, 0},
    {"a:", true, 1},
    {"a:0123456789", true, 1},
    {"127.0.0.1", true, 1},
    {"127.0.0.1:80", true, 1},
    {"999.1.1.1", true, 1}, /* not an IPv4address, but a reg-name */
    {"EXAMPLE.COM", true, 1},
    {"a-b_c~d.e", true, 1},
    {"!$&'()*+,;=", true, 1},
    {"%41b%2dc", true, 1},
    {"%aF", true, 1},
    {"xn--caf-dma.example", true, 1},
    {"[::1]", true, 1},
    {"[::1]:8080", true, 1},
    {"[::1]:", true, 1},
    {"[2001:DB8::7]:443", true, 1},
    {"[::ffff:192.0.2.1]", true, 1},
    {"[v1.fe80::a+en1]", true, 1},
    {"[V7.x]:1", true, 1},
    {"[vAb.!$&'()*+,;=:-._~]", true, 1},
    {"bad host", false, -1},
    {"a\tb", false, -1},
    {"caf\xc3\xa9", false, -1},
    {"a@b", false, 0},
    {"@b", false, 0},
    {"user:pw@host", false, 0},
    {"x:80a", false, 0},
    {"x:-1", false, 0},
    {"x:8:0", false, 0},
    {"[::1", false, 0},
    {"[::1]x", false, 0},
    {"[::1]:a", false, 0},
    {"[::1]]", false, 0},
    {"[]", false, 0},
    {"[", false, 0},
    {"]", false, 0},
    {"[1.2.3.4]", false, 0}, /* no ':' */
    {"[::g]", false, 0},
    {"[v.x]", false, 0},
    {"[v1.]", false, 0},
    {"[v1]", false, 0},
    {"[vg.a]", false, 0},
    {"[v1.a/b]", false, -1},
    {"a[::1]", false, 0},
    {"%zz", false, 0},
    {"%4", false, 0},
    {"%", false, 0},
    {"a%4g", false, 0},
    {"a%%41", false, 0},
    {"a/b", false, -1},
    {"a?b", false, -1},
    {"a#b", false, 0},
    {"a\"b", false, 0},
    {"a<b>", false, 0},
    {"a\\b", false, 0},
    {"a^b", false, 0},
    {"a`b", false, 0},
    {"a{b}", false, 0},
    {"a|b", false, 0},
};

static void test_host_values(void **state)
{
    (void)state;
    for (size_t i = 0; i < PT_ARRAY_SIZE(host_cases); i++) {
        const struct host_case *c = &host_cases[i];
        char name[64];
        snprintf(name, sizeof(name), "host \"%s\"", c->value);

        /* The predicate, on an exact-size copy (no terminator to lean on). */
        size_t vn = strlen(c->value);
        char *v = dup_exact(c->value, vn);
        if (http_authority_is_valid(pt_str_make(v, vn)) != c->valid) {
            print_error("%s: http_authority_is_valid is %d\n", name, !c->valid);
            fail();
        }
        free(v);

        /*
         * As the Host header of an origin-form request, last (the head ends too soon
         * after it for the vector path) and followed by another header.
         */
        char s[256];
        int n;
        char *b;
        struct http_request_head h;
        int want, r;
        for (int more = 0; more <= 1; more++) {
            n = snprintf(s, sizeof(s), "GET / HTTP/1.1\r\nHost: %s\r\n%s\r\n", c->value,
                         more ? "Accept: */*\r\nUser-Agent: test\r\n" : "");
            b = dup_exact(s, (size_t)n);
            want = c->valid ? n : BAD;
            r = http_parse_request(b, (size_t)n, 0, &default_limits, &h);
            if (r != want) {
                print_error("%s: returns %d (%s), want %d\n", name, r, pt_error_name(r), want);
                fail();
            }
            if (r > 0) {
                assert_str(h.authority, c->value, "authority", name);
                assert_in_buf(h.authority, b, (size_t)n, "authority", name);
            }
            check_resumption(name, s, (size_t)n, &default_limits, want, b, r > 0 ? &h : NULL);
            free(b);
        }

        /* As the authority of an absolute-form target. */
        if (c->in_target < 0)
            continue;
        n = snprintf(s, sizeof(s), "GET http://%s/x HTTP/1.1\r\nHost: a\r\n\r\n", c->value);
        b = dup_exact(s, (size_t)n);
        want = c->in_target ? n : BAD;
        r = http_parse_request(b, (size_t)n, 0, &default_limits, &h);
        if (r != want) {
            print_error("%s in target: returns %d (%s), want %d\n", name, r, pt_error_name(r),
                        want);
            fail();
        }
        if (r > 0) {
            assert_str(h.authority, c->value, "authority", name);
            assert_str(h.target, "/x", "target", name);
        }
        check_resumption(name, s, (size_t)n, &default_limits, want, b, r > 0 ? &h : NULL);
        free(b);
    }
    /* The empty slice without a pointer, as a head without Host reports it. */
    assert_true(http_authority_is_valid(PT_STR_NULL));
}

/*
 * A Host value of at most 16 bytes with 16 bytes of the head from its start takes
 * a vector path: every byte value in every lane, against http_authority_is_valid
 * (the scalar check, tested above). 17 bytes take the scalar path.
 */
static void test_host_vector_lanes(void **state)
{
    (void)state;
    static const char *const bases[] = {"abcdefghijklmnop", "localhost:8000",
                                        "a.b-c.example:1",  "h",
                                        "0123456789:12345", "ABCDEFGHIJKLMNOPQ"};
    for (size_t k = 0; k < PT_ARRAY_SIZE(bases); k++) {
        size_t vn = strlen(bases[k]);
        for (size_t pos = 0; pos < vn; pos++) {
            for (int c = 0; c < 256; c++) {
                if ((c == ' ' || c == '\t') && (pos == 0 || pos == vn - 1))
                    continue; /* trimmed: another value */
                char v[32];
                memcpy(v, bases[k], vn);
                v[pos] = (char)c;
                char s[128];
                memcpy(s, "GET / HTTP/1.1\r\nHost: ", 22);
                memcpy(s + 22, v, vn);
                const char *tail = "\r\nAccept: */*\r\n\r\n";
                memcpy(s + 22 + vn, tail, strlen(tail));
                size_t n = 22 + vn + strlen(tail);
                struct http_request_head h;
                int want = http_authority_is_valid(pt_str_make(v, vn)) ? (int)n : BAD;
                int r = parse_copy(s, n, &default_limits, &h);
                if (r != want) {
                    print_error("host \"%s\" with byte 0x%02x at %zu: returns %d, want %d\n",
                                bases[k], c, pos, r, want);
                    fail();
                }
            }
        }
    }
}

static bool ref_reg_name(int c)
{
    return c > 0 && c < 0x80 && (isalnum(c) || strchr("-._~!$&'()*+,;=", c) != NULL);
}

/* Every byte value in a reg-name, a port, an IPv6 literal and the scheme. */
static void test_every_byte_in_authority(void **state)
{
    (void)state;
    for (int c = 0; c < 256; c++) {
        int n;
        int r = parse_fmt("GET / HTTP/1.1\r\nHost: a", c, "b\r\n\r\n", &n);
        assert_int_equal(r, ref_reg_name(c) ? n : BAD);

        char v[3] = {'a', (char)c, 'b'};
        assert_int_equal(http_authority_is_valid(pt_str_make(v, 3)), ref_reg_name(c));

        /* '/' and '?' end the authority: "a" then the path "/b/" or the query "b/". */
        r = parse_fmt("GET http://a", c, "b/ HTTP/1.1\r\nHost: a\r\n\r\n", &n);
        assert_int_equal(r, ref_reg_name(c) || c == '/' || c == '?' ? n : BAD);

        r = parse_fmt("GET / HTTP/1.1\r\nHost: a:1", c, "\r\n\r\n", &n);
        assert_int_equal(r, isdigit(c) || c == ' ' || c == '\t' ? n : BAD);

        r = parse_fmt("GET http://[::", c, "]/ HTTP/1.1\r\nHost: a\r\n\r\n", &n);
        assert_int_equal(r, isxdigit(c) || c == ':' || c == '.' ? n : BAD);

        r = parse_fmt("GET ", c, "ttp://a/ HTTP/1.1\r\nHost: a\r\n\r\n", &n);
        assert_int_equal(r, c == 'h' || c == 'H' || c == '/' ? n : BAD);

        r = parse_fmt("GET http", c, "://a/ HTTP/1.1\r\nHost: a\r\n\r\n", &n);
        assert_int_equal(r, c == 's' || c == 'S' ? n : BAD);
    }
}

/* "HTTP/" DIGIT "." DIGIT: major 1 only; minors 2..9 act as 1 (RFC 9110 §2.5). */
static void test_versions(void **state)
{
    (void)state;
    for (int major = 0; major <= 9; major++) {
        for (int minor = 0; minor <= 9; minor++) {
            char s[64];
            int n = snprintf(s, sizeof(s), "GET / HTTP/%d.%d\r\nHost: a\r\n\r\n", major, minor);
            char *b = dup_exact(s, (size_t)n);
            struct http_request_head h;
            int want = major == 1 ? n : PT_E_VERSION;
            int r = http_parse_request(b, (size_t)n, 0, &default_limits, &h);
            if (r != want) {
                print_error("HTTP/%d.%d: returns %d (%s), want %d\n", major, minor, r,
                            pt_error_name(r), want);
                fail();
            }
            if (r > 0) {
                assert_int_equal(h.minor_version, minor > 0);
                assert_int_equal(h.keep_alive, minor > 0);
            }
            check_resumption(s, s, (size_t)n, &default_limits, want, b, r > 0 ? &h : NULL);
            free(b);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Limits                                                                     */
/* ------------------------------------------------------------------------ */

/* A valid request of exactly n bytes (n >= 64): a padding header fills it up. */
static char *make_request_of(size_t n)
{
    const char *pre = "GET / HTTP/1.1\r\nHost: a\r\nX-Pad: ";
    size_t a = strlen(pre);
    assert_true(n >= a + 5);
    char *s = malloc(n + 1);
    assert_non_null(s);
    memcpy(s, pre, a);
    memset(s + a, 'p', n - a - 4);
    memcpy(s + n - 4, "\r\n\r\n", 4);
    s[n] = '\0';
    return s;
}

static void test_limit_head_bytes(void **state)
{
    (void)state;
    struct http_request_head h;
    const size_t sizes[] = {100, 1000, 16384};
    for (size_t i = 0; i < PT_ARRAY_SIZE(sizes); i++) {
        size_t n = sizes[i];
        struct http_limits lim = {n, 8192, HTTP_MAX_HEADERS};
        char *at = make_request_of(n);
        char *over = make_request_of(n + 1);
        assert_int_equal(parse_copy(at, n, &lim, &h), (int)n);
        assert_int_equal(parse_copy(over, n + 1, &lim, &h), PT_E_HEAD_TOO_LARGE);
        /* An unfinished head of exactly the limit may still end; one more byte cannot. */
        assert_int_equal(parse_copy(over, n, &lim, &h), PT_E_INCOMPLETE);
        assert_int_equal(parse_copy(over, n - 1, &lim, &h), PT_E_INCOMPLETE);
        /* A head at the limit followed by more bytes (a body) is fine. */
        char *more = malloc(n + 100);
        memcpy(more, at, n);
        memset(more + n, 'b', 100);
        assert_int_equal(parse_copy(more, n + 100, &lim, &h), (int)n);
        free(more);
        /* The same through the byte-at-a-time and split paths. */
        if (n <= 1000) {
            int r = parse_copy(at, n, &lim, &h);
            char *b = dup_exact(at, n);
            struct http_request_head h2;
            assert_int_equal(http_parse_request(b, n, 0, &lim, &h2), r);
            check_resumption("head at limit", at, n, &lim, r, b, &h2);
            free(b);
            check_resumption("head over limit", over, n + 1, &lim, PT_E_HEAD_TOO_LARGE, NULL, NULL);
        }
        free(at);
        free(over);
    }
    /* The defaults are 16 KiB. */
    char *at = make_request_of(16384);
    char *over = make_request_of(16385);
    assert_int_equal(parse_copy(at, 16384, &default_limits, &h), 16384);
    assert_int_equal(parse_copy(over, 16385, &default_limits, &h), PT_E_HEAD_TOO_LARGE);
    free(at);
    free(over);
}

/* Many bytes and no terminator: 431 once past the limit, whatever the bytes are. */
static void test_limit_head_bytes_unterminated(void **state)
{
    (void)state;
    struct http_request_head h;
    size_t n = 20000;
    char *s = malloc(n);
    memcpy(s, "GET / HTTP/1.1\r\nX: ", 19);
    memset(s + 19, 'v', n - 19);
    assert_int_equal(parse_copy(s, 16384, &default_limits, &h), PT_E_INCOMPLETE);
    assert_int_equal(parse_copy(s, 16385, &default_limits, &h), PT_E_HEAD_TOO_LARGE);
    assert_int_equal(parse_copy(s, n, &default_limits, &h), PT_E_HEAD_TOO_LARGE);
    /* Resumed after an incomplete call. */
    assert_int_equal(http_parse_request(s, 16000, 0, &default_limits, &h), PT_E_INCOMPLETE);
    assert_int_equal(http_parse_request(s, n, 16000, &default_limits, &h), PT_E_HEAD_TOO_LARGE);
    /* Leading empty lines count toward the head. */
    for (size_t i = 0; i < n; i += 2)
        memcpy(s + i, "\r\n", 2);
    assert_int_equal(parse_copy(s, 16384, &default_limits, &h), PT_E_INCOMPLETE);
    assert_int_equal(parse_copy(s, n, &default_limits, &h), PT_E_HEAD_TOO_LARGE);
    free(s);
}

/* "GET /ttt...t HTTP/1.1..." with a target of exactly t bytes. */
static char *make_target_request(size_t t, size_t *n)
{
    const char *tail = " HTTP/1.1\r\nHost: a\r\n\r\n";
    size_t a = strlen(tail);
    *n = 4 + t + a;
    char *s = malloc(*n + 1);
    memcpy(s, "GET /", 5);
    memset(s + 5, 't', t - 1);
    memcpy(s + 4 + t, tail, a + 1);
    return s;
}

static void test_limit_target_bytes(void **state)
{
    (void)state;
    struct http_request_head h;
    size_t n;
    const struct http_limits lims[] = {default_limits, {200, 10, 8}, {200, 1, 8}};
    for (size_t i = 0; i < PT_ARRAY_SIZE(lims); i++) {
        size_t t = lims[i].max_target_bytes;
        char *at = make_target_request(t, &n);
        assert_int_equal(parse_copy(at, n, &lims[i], &h), (int)n);
        assert_int_equal(h.target.len, t);
        if (n < 2048) {
            char *b = dup_exact(at, n);
            struct http_request_head h2;
            int r = http_parse_request(b, n, 0, &lims[i], &h2);
            check_resumption("target at limit", at, n, &lims[i], r, b, &h2);
            free(b);
        }
        free(at);

        char *over = make_target_request(t + 1, &n);
        assert_int_equal(parse_copy(over, n, &lims[i], &h), PT_E_URI_TOO_LONG);
        /* Known as soon as the (t+1)-th target byte arrives, with no SP yet. */
        assert_int_equal(parse_copy(over, 4 + t, &lims[i], &h), PT_E_INCOMPLETE);
        assert_int_equal(parse_copy(over, 4 + t + 1, &lims[i], &h), PT_E_URI_TOO_LONG);
        check_resumption("target over limit", over, n, &lims[i], PT_E_URI_TOO_LONG, NULL, NULL);
        free(over);
    }
    /* 9000 bytes of target and nothing else yet. */
    char *s = malloc(9004);
    memcpy(s, "GET /", 5);
    memset(s + 5, 'a', 8999);
    assert_int_equal(parse_copy(s, 9004, &default_limits, &h), PT_E_URI_TOO_LONG);
    free(s);
    /* A zero limit refuses every target. */
    struct http_limits zero = {200, 0, 8};
    const char *r = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    assert_int_equal(parse_copy(r, strlen(r), &zero, &h), PT_E_URI_TOO_LONG);
}

/* A request with count headers "Host: a", "H1: v", ... */
static char *make_headers_request(size_t count, size_t *n)
{
    char *s = malloc(64 + count * 16);
    size_t len = (size_t)sprintf(s, "GET / HTTP/1.1\r\nHost: a\r\n");
    for (size_t i = 1; i < count; i++)
        len += (size_t)sprintf(s + len, "H%zu: v\r\n", i);
    len += (size_t)sprintf(s + len, "\r\n");
    *n = len;
    return s;
}

static void test_limit_header_count(void **state)
{
    (void)state;
    struct http_request_head h;
    size_t n;
    const size_t maxes[] = {1, 3, 17, HTTP_MAX_HEADERS};
    for (size_t i = 0; i < PT_ARRAY_SIZE(maxes); i++) {
        struct http_limits lim = {16384, 8192, maxes[i]};
        char *at = make_headers_request(maxes[i], &n);
        assert_int_equal(parse_copy(at, n, &lim, &h), (int)n);
        assert_int_equal(h.num_headers, maxes[i]);
        char *b = dup_exact(at, n);
        struct http_request_head h2;
        int r = http_parse_request(b, n, 0, &lim, &h2);
        check_resumption("headers at limit", at, n, &lim, r, b, &h2);
        free(b);
        free(at);

        char *over = make_headers_request(maxes[i] + 1, &n);
        assert_int_equal(parse_copy(over, n, &lim, &h), PT_E_HEAD_TOO_LARGE);
        check_resumption("headers over limit", over, n, &lim, PT_E_HEAD_TOO_LARGE, NULL, NULL);
        free(over);
    }
    /* A limit above HTTP_MAX_HEADERS is clamped to it (the array's size). */
    struct http_limits big = {16384, 8192, 1000};
    char *over = make_headers_request(HTTP_MAX_HEADERS + 1, &n);
    assert_int_equal(parse_copy(over, n, &big, &h), PT_E_HEAD_TOO_LARGE);
    free(over);
}

/* ------------------------------------------------------------------------ */
/* Pipelining and lookup                                                      */
/* ------------------------------------------------------------------------ */

static void test_pipelined_sequence(void **state)
{
    (void)state;
    const char *r1 = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n";
    const char *r2 = "POST /2?q HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n";
    const char *r3 = "\r\nGET /3 HTTP/1.0\r\n\r\n";
    char s[256];
    int n = snprintf(s, sizeof(s), "%s%sabc%s", r1, r2, r3);
    char *b = dup_exact(s, (size_t)n);
    struct http_request_head h;
    size_t off = 0;

    int r = http_parse_request(b + off, (size_t)n - off, 0, &default_limits, &h);
    assert_int_equal(r, strlen(r1));
    assert_str(h.path, "/1", "path", "first");
    off += (size_t)r;

    r = http_parse_request(b + off, (size_t)n - off, 0, &default_limits, &h);
    assert_int_equal(r, strlen(r2));
    assert_str(h.path, "/2", "path", "second");
    assert_str(h.query, "q", "query", "second");
    assert_int_equal(h.content_length, 3);
    off += (size_t)r + 3;

    /* The stray CRLF after the body is ignored as an empty line (RFC 9112 §2.2). */
    r = http_parse_request(b + off, (size_t)n - off, 0, &default_limits, &h);
    assert_int_equal(r, strlen(r3));
    assert_str(h.path, "/3", "path", "third");
    assert_int_equal(h.minor_version, 0);
    free(b);
}

static void test_head_find(void **state)
{
    (void)state;
    const char *s = "GET / HTTP/1.1\r\nHost: a\r\nX-Dup: 1\r\nx-dup: 2\r\nAccept: */*\r\n\r\n";
    struct http_request_head h;
    char *b = dup_exact(s, strlen(s));
    assert_int_equal(http_parse_request(b, strlen(s), 0, &default_limits, &h), (int)strlen(s));
    const struct http_header *f = http_head_find(&h, PT_STR("X-DUP"));
    assert_ptr_equal(f, &h.headers[1]); /* the first of duplicates */
    f = http_head_find(&h, PT_STR("accept"));
    assert_non_null(f);
    assert_str(f->name, "Accept", "name", "find");
    assert_null(http_head_find(&h, PT_STR("accep")));
    assert_null(http_head_find(&h, PT_STR("accept2")));
    assert_null(http_head_find(&h, PT_STR("")));
    free(b);
}

/* last_len equal to len (no new bytes) and a resumed call that finds the end. */
static void test_resume_edges(void **state)
{
    (void)state;
    const char *s = "GET / HTTP/1.1\r\nHost: a\r\nX: y\r\n\r\n";
    size_t n = strlen(s);
    char *b = dup_exact(s, n);
    struct http_request_head h;
    assert_int_equal(http_parse_request(b, 20, 0, &default_limits, &h), PT_E_INCOMPLETE);
    assert_int_equal(http_parse_request(b, 20, 20, &default_limits, &h), PT_E_INCOMPLETE);
    assert_int_equal(http_parse_request(b, n, 20, &default_limits, &h), (int)n);
    assert_int_equal(h.num_headers, 2);
    assert_str(h.headers[1].value, "y", "value", "resume");
    /* A bad byte arriving in a resumed call is reported at once. */
    const char *bad = "GET / HTTP/1.1\r\nHost: a\r\nX: y\x01z";
    char *c = dup_exact(bad, strlen(bad));
    assert_int_equal(http_parse_request(c, 29, 0, &default_limits, &h), PT_E_INCOMPLETE);
    assert_int_equal(http_parse_request(c, strlen(bad), 29, &default_limits, &h), BAD);
    free(c);
    free(b);
}

/* ------------------------------------------------------------------------ */
/* Chunked decoder                                                            */
/* ------------------------------------------------------------------------ */

struct chunk_case {
    const char *name;
    const char *in;
    size_t in_len; /* 0: strlen(in) */
    const char *body;
    size_t body_len;  /* 0: strlen(body) */
    const char *rest; /* bytes after the body */
};

static const struct chunk_case chunk_cases[] = {
    {"one chunk", "5\r\nhello\r\n0\r\n\r\n", 0, "hello", 0, ""},
    {"two chunks", "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", 0, "hello world", 0, ""},
    {"empty body", "0\r\n\r\n", 0, "", 0, ""},
    {"hex digits both cases", "a\r\n0123456789\r\nB\r\nabcdefghijk\r\n0\r\n\r\n", 0,
     "0123456789abcdefghijk", 0, ""},
    {"leading zeros", "0005\r\nhello\r\n000\r\n\r\n", 0, "hello", 0, ""},
    {"extensions", "5;name=value\r\nhello\r\n3;a;b=\"x y\"\r\nabc\r\n0;last\r\n\r\n", 0, "helloabc",
     0, ""},
    {"whitespace before extension", "5 \t; a = b\r\nhello\r\n0\r\n\r\n", 0, "hello", 0, ""},
    {"trailers", "5\r\nhello\r\n0\r\nX-Sum: abc\r\nY:\r\nZ: a\tb \xff\r\n\r\n", 0, "hello", 0, ""},
    {"pipelined bytes kept", "3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n", 0, "abc", 0,
     "GET / HTTP/1.1\r\n\r\n"},
    {"pipelined bytes after trailers", "1\r\nx\r\n0\r\nA: b\r\n\r\nXYZ", 0, "x", 0, "XYZ"},
    {"binary data", "6\r\n\r\n\0\r\n\xff\r\n0\r\n\r\n", 16, "\r\n\0\r\n\xff", 6, ""},
    {"data looks like framing", "7\r\n0\r\n\r\n\r\n\r\n0\r\n\r\n", 0, "0\r\n\r\n\r\n", 0, ""},
};

/* Feed in[0..n) in pieces cut at the given offsets; collect the body and the rest. */
static int64_t feed_pieces(const char *in, size_t n, const size_t *cuts, size_t ncuts, char *body,
                           size_t *body_len, char *rest, size_t *rest_len)
{
    struct http_chunked c;
    http_chunked_init(&c);
    *body_len = 0;
    *rest_len = 0;
    size_t from = 0;
    int64_t r = PT_E_INCOMPLETE;
    for (size_t i = 0; i <= ncuts; i++) {
        size_t to = i < ncuts ? cuts[i] : n;
        size_t len = to - from;
        char *piece = dup_exact(in + from, len);
        r = http_chunked_decode(&c, piece, &len);
        assert_true(len <= to - from);
        memcpy(body + *body_len, piece, len);
        *body_len += len;
        if (r >= 0) {
            assert_true(len + (size_t)r <= to - from);
            memcpy(rest, piece + len, (size_t)r);
            memcpy(rest + r, in + to, n - to);
            *rest_len = (size_t)r + (n - to);
            free(piece);
            return r;
        }
        free(piece);
        if (r != PT_E_INCOMPLETE)
            return r;
        from = to;
    }
    return r;
}

static void check_chunk_output(const struct chunk_case *cc, int64_t r, const char *body,
                               size_t body_len, const char *rest, size_t rest_len, const char *how)
{
    size_t want_body = cc->body_len ? cc->body_len : strlen(cc->body);
    size_t want_rest = strlen(cc->rest);
    if (r < 0 || body_len != want_body || memcmp(body, cc->body, want_body) != 0 ||
        rest_len != want_rest || memcmp(rest, cc->rest, want_rest) != 0) {
        print_error("%s (%s): r=%lld body %zu bytes (want %zu), rest %zu (want %zu)\n", cc->name,
                    how, (long long)r, body_len, want_body, rest_len, want_rest);
        fail();
    }
}

static void test_chunked_valid(void **state)
{
    (void)state;
    char body[256], rest[256];
    size_t body_len, rest_len;
    for (size_t i = 0; i < PT_ARRAY_SIZE(chunk_cases); i++) {
        const struct chunk_case *cc = &chunk_cases[i];
        size_t n = cc->in_len ? cc->in_len : strlen(cc->in);
        size_t want_rest = strlen(cc->rest);
        size_t end = n - want_rest; /* where the body's framing ends */

        /* Whole buffer, decoded in place: body at the front, rest right after it. */
        int64_t r = feed_pieces(cc->in, n, NULL, 0, body, &body_len, rest, &rest_len);
        assert_int_equal(r, (int64_t)want_rest);
        check_chunk_output(cc, r, body, body_len, rest, rest_len, "whole");

        /* One byte at a time. */
        size_t cuts[256];
        for (size_t k = 1; k < n; k++)
            cuts[k - 1] = k;
        r = feed_pieces(cc->in, n, cuts, n - 1, body, &body_len, rest, &rest_len);
        check_chunk_output(cc, r, body, body_len, rest, rest_len, "byte at a time");

        /* Split in two, and every truncation. */
        for (size_t k = 0; k <= n; k++) {
            r = feed_pieces(cc->in, n, &k, 1, body, &body_len, rest, &rest_len);
            check_chunk_output(cc, r, body, body_len, rest, rest_len, "split");
            if (k < end) {
                r = feed_pieces(cc->in, k, NULL, 0, body, &body_len, rest, &rest_len);
                assert_int_equal(r, PT_E_INCOMPLETE);
                size_t want_body = cc->body_len ? cc->body_len : strlen(cc->body);
                assert_true(body_len <= want_body);
                assert_memory_equal(body, cc->body, body_len);
            }
        }
    }
}

struct chunk_bad {
    const char *name;
    const char *in;
};

static const struct chunk_bad chunk_bad_cases[] = {
    {"empty size line", "\r\n5\r\nhello\r\n0\r\n\r\n"},
    {"not hex", "g\r\nx\r\n0\r\n\r\n"},
    {"sign", "-5\r\nhello\r\n0\r\n\r\n"},
    {"0x prefix", "0x5\r\nhello\r\n0\r\n\r\n"},
    {"space before size", " 5\r\nhello\r\n0\r\n\r\n"},
    {"space after size", "5 \r\nhello\r\n0\r\n\r\n"},
    {"junk after size", "5x\r\nhello\r\n0\r\n\r\n"},
    {"bare lf after size", "5\nhello\r\n0\r\n\r\n"},
    {"cr without lf after size", "5\rhello\r\n0\r\n\r\n"},
    {"control in extension", "5;a\x01\r\nhello\r\n0\r\n\r\n"},
    {"bare lf in extension", "5;a\nb\r\nhello\r\n0\r\n\r\n"},
    {"data too long", "5\r\nhelloX\r\n0\r\n\r\n"},
    {"data too short", "5\r\nhell\r\n0\r\n\r\n"},
    {"bare lf after data", "5\r\nhello\n0\r\n\r\n"},
    {"cr only after data", "5\r\nhello\r0\r\n\r\n"},
    {"lf only after data", "5\r\nhelloX\n0\r\n\r\n"},
    {"size 2^62+1", "4000000000000001\r\n"},
    {"size 2^64", "10000000000000000\r\n"},
    {"size huge", "FFFFFFFFFFFFFFFFFFFFFFFF\r\n"},
    {"obs-fold trailer", "0\r\nX: a\r\n b\r\n\r\n"},
    {"space in trailer name", "0\r\nX a: b\r\n\r\n"},
    {"space before trailer colon", "0\r\nX : b\r\n\r\n"},
    {"empty trailer name", "0\r\n: b\r\n\r\n"},
    {"trailer without colon", "0\r\nX\r\n\r\n"},
    {"bare lf in trailer", "0\r\nX: a\nY: b\r\n\r\n"},
    {"control in trailer", "0\r\nX: a\x7f\r\n\r\n"},
    {"bare lf at end", "0\r\n\n"},
    {"cr cr at end", "0\r\n\r\r"},
    {"bare lf after last chunk", "0\n\r\n"},
};

/* An error is reported by every way of feeding, with only INCOMPLETE before it. */
static void check_chunk_error(const char *name, const char *in, size_t n)
{
    char *body = malloc(n + 1), *rest = malloc(n + 1);
    size_t body_len, rest_len;
    int64_t r = feed_pieces(in, n, NULL, 0, body, &body_len, rest, &rest_len);
    if (r != BAD) {
        print_error("%s: returns %lld, want BAD_REQUEST\n", name, (long long)r);
        fail();
    }
    for (size_t k = 0; k < n; k++) {
        r = feed_pieces(in, k, NULL, 0, body, &body_len, rest, &rest_len);
        assert_true(r == PT_E_INCOMPLETE || r == BAD);
        r = feed_pieces(in, n, &k, 1, body, &body_len, rest, &rest_len);
        assert_int_equal(r, BAD);
    }
    /* Byte at a time, and the error is sticky. */
    struct http_chunked c;
    http_chunked_init(&c);
    r = PT_E_INCOMPLETE;
    for (size_t k = 0; k < n && r == PT_E_INCOMPLETE; k++) {
        char b = in[k];
        size_t len = 1;
        r = http_chunked_decode(&c, &b, &len);
    }
    assert_int_equal(r, BAD);
    char more[4] = "0\r\n";
    size_t len = 3;
    assert_int_equal(http_chunked_decode(&c, more, &len), BAD);
    free(body);
    free(rest);
}

static void test_chunked_invalid(void **state)
{
    (void)state;
    for (size_t i = 0; i < PT_ARRAY_SIZE(chunk_bad_cases); i++)
        check_chunk_error(chunk_bad_cases[i].name, chunk_bad_cases[i].in,
                          strlen(chunk_bad_cases[i].in));
}

static void test_chunked_size_limits(void **state)
{
    (void)state;
    struct http_chunked c;
    char b[64];
    size_t len;

    /* 2^62 itself is a valid size: the decoder waits for the data. */
    http_chunked_init(&c);
    strcpy(b, "4000000000000000\r\nabc");
    len = strlen(b);
    assert_int_equal(http_chunked_decode(&c, b, &len), PT_E_INCOMPLETE);
    assert_int_equal(len, 3);
    assert_memory_equal(b, "abc", 3);

    /* Same with the digits spread over calls. */
    http_chunked_init(&c);
    const char *big = "0004000000000000000\r\n";
    for (size_t k = 0; big[k] != '\0'; k++) {
        b[0] = big[k];
        len = 1;
        assert_int_equal(http_chunked_decode(&c, b, &len), PT_E_INCOMPLETE);
        assert_int_equal(len, 0);
    }
    http_chunked_init(&c);
    const char *over = "4000000000000001";
    int64_t r = PT_E_INCOMPLETE;
    for (size_t k = 0; over[k] != '\0'; k++) {
        b[0] = over[k];
        len = 1;
        r = http_chunked_decode(&c, b, &len);
    }
    assert_int_equal(r, BAD); /* known at the last digit, before the CRLF */
}

/* A size or trailer line of 4096 bytes is accepted; 4097 is not. */
static void test_chunked_line_limits(void **state)
{
    (void)state;
    char *s = malloc(8192);
    for (size_t extra = 0; extra <= 1; extra++) {
        size_t line = 4096 + extra;
        /* size line: "1;" + padding */
        size_t n = 0;
        s[n++] = '1';
        s[n++] = ';';
        memset(s + n, 'e', line - 2);
        n += line - 2;
        memcpy(s + n, "\r\nx\r\n0\r\n\r\n", 10);
        n += 10;
        char *b = dup_exact(s, n);
        size_t len = n;
        struct http_chunked c;
        http_chunked_init(&c);
        int64_t r = http_chunked_decode(&c, b, &len);
        free(b);
        if (extra == 0) {
            assert_int_equal(r, 0);
            assert_int_equal(len, 1);
        } else {
            assert_int_equal(r, BAD);
        }

        /* trailer line: "T:" + padding */
        n = 0;
        memcpy(s, "0\r\nT:", 5);
        n = 5;
        memset(s + n, 'v', line - 2);
        n += line - 2;
        memcpy(s + n, "\r\n\r\n", 4);
        n += 4;
        b = dup_exact(s, n);
        len = n;
        http_chunked_init(&c);
        r = http_chunked_decode(&c, b, &len);
        free(b);
        assert_int_equal(r, extra == 0 ? 0 : BAD);

        /* leading zeros count toward the size line */
        memset(s, '0', line - 1);
        memcpy(s + line - 1, "1\r\nx\r\n0\r\n\r\n", 12);
        n = line + 10;
        b = dup_exact(s, n);
        len = n;
        http_chunked_init(&c);
        r = http_chunked_decode(&c, b, &len);
        free(b);
        assert_int_equal(r, extra == 0 ? 0 : BAD);
    }
    free(s);
}

/* The trailer section as a whole (CRLFs included) is bounded to 16 KiB. */
static void test_chunked_trailer_section_limit(void **state)
{
    (void)state;
    const char *line =
        "X-Trailer: 0123456789abcdef0123456789abcdef0123456789abcdefxyz\r\n"; /* 64 bytes */
    size_t ll = strlen(line);
    assert_int_equal(ll, 64);
    char *s = malloc(20000);
    for (size_t extra = 0; extra <= 1; extra++) {
        memcpy(s, "0\r\n", 3);
        size_t n = 3;
        for (size_t i = 0; i < 255; i++, n += ll)
            memcpy(s + n, line, ll);
        /* 255 * 64 + "P:" pad "\r\n" + "\r\n" = 16384 (+ extra) */
        memcpy(s + n, "P:", 2);
        memset(s + n + 2, 'p', 58 + extra);
        n += 60 + extra;
        memcpy(s + n, "\r\n\r\n", 4);
        n += 4;
        assert_int_equal(n - 3, 16384 + extra);
        char *b = dup_exact(s, n);
        size_t len = n;
        struct http_chunked c;
        http_chunked_init(&c);
        int64_t r = http_chunked_decode(&c, b, &len);
        free(b);
        assert_int_equal(r, extra == 0 ? 0 : BAD);
    }
    free(s);
}

static void test_chunked_done_and_zero_init(void **state)
{
    (void)state;
    struct http_chunked c;
    memset(&c, 0, sizeof(c)); /* zeroing is as good as init */
    char b[32] = "2\r\nok\r\n0\r\n\r\nNEXT";
    size_t len = strlen(b);
    assert_int_equal(http_chunked_decode(&c, b, &len), 4);
    assert_int_equal(len, 2);
    assert_memory_equal(b, "okNEXT", 6);
    /* After the end every byte is "after the body". */
    memcpy(b, "MORE", 4);
    len = 4;
    assert_int_equal(http_chunked_decode(&c, b, &len), 4);
    assert_int_equal(len, 0);
    assert_memory_equal(b, "MORE", 4);
    /* An empty call is harmless. */
    struct http_chunked d;
    http_chunked_init(&d);
    len = 0;
    assert_int_equal(http_chunked_decode(&d, b, &len), PT_E_INCOMPLETE);
    assert_int_equal(len, 0);
}

/* Every byte value as a second size digit, in an extension and in a trailer value. */
static void test_chunked_every_byte(void **state)
{
    (void)state;
    char s[128];
    for (int ch = 0; ch < 256; ch++) {
        size_t n = 0;
        int v = isxdigit(ch) ? (isdigit(ch) ? ch - '0' : (tolower(ch) - 'a' + 10)) : -1;
        s[n++] = '1';
        s[n++] = (char)ch;
        memcpy(s + n, "\r\n", 2);
        n += 2;
        size_t data = v >= 0 ? 16 + (size_t)v : 1;
        memset(s + n, 'd', data);
        n += data;
        memcpy(s + n, "\r\n0\r\n\r\n", 7);
        n += 7;
        char *b = dup_exact(s, n);
        size_t len = n;
        struct http_chunked c;
        http_chunked_init(&c);
        int64_t r = http_chunked_decode(&c, b, &len);
        free(b);
        if (v >= 0 || ch == ';') {
            assert_int_equal(r, 0);
            assert_int_equal(len, data);
        } else {
            assert_int_equal(r, BAD);
        }

        n = (size_t)sprintf(s, "1;a");
        s[n++] = (char)ch;
        n += (size_t)sprintf(s + n, "\r\nx\r\n0\r\nT: a");
        s[n++] = (char)ch;
        n += (size_t)sprintf(s + n, "\r\n\r\n");
        b = dup_exact(s, n);
        len = n;
        http_chunked_init(&c);
        r = http_chunked_decode(&c, b, &len);
        free(b);
        assert_int_equal(r, ref_field_byte(ch) ? 0 : BAD);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_requests),
        cmocka_unit_test(test_invalid_requests),
        cmocka_unit_test(test_nul_bytes),
        cmocka_unit_test(test_duplicate_content_length_same_value),
        cmocka_unit_test(test_every_byte),
        cmocka_unit_test(test_every_byte_in_long_runs),
        cmocka_unit_test(test_absolute_form),
        cmocka_unit_test(test_absolute_early_errors),
        cmocka_unit_test(test_limit_target_bytes_absolute),
        cmocka_unit_test(test_host_values),
        cmocka_unit_test(test_host_vector_lanes),
        cmocka_unit_test(test_every_byte_in_authority),
        cmocka_unit_test(test_versions),
        cmocka_unit_test(test_limit_head_bytes),
        cmocka_unit_test(test_limit_head_bytes_unterminated),
        cmocka_unit_test(test_limit_target_bytes),
        cmocka_unit_test(test_limit_header_count),
        cmocka_unit_test(test_pipelined_sequence),
        cmocka_unit_test(test_head_find),
        cmocka_unit_test(test_resume_edges),
        cmocka_unit_test(test_chunked_valid),
        cmocka_unit_test(test_chunked_invalid),
        cmocka_unit_test(test_chunked_size_limits),
        cmocka_unit_test(test_chunked_line_limits),
        cmocka_unit_test(test_chunked_trailer_section_limit),
        cmocka_unit_test(test_chunked_done_and_zero_init),
        cmocka_unit_test(test_chunked_every_byte),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
