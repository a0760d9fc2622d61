/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * parser.h -- the strict, zero-copy HTTP/1.1 request-head parser and the chunked
 * body decoder of the http layer.
 *
 * Both are pure: bytes in, result out; no I/O, no allocation, no globals; limits
 * come in as parameters, so they can be fuzzed. Slices in the results point into
 * the caller's buffer and stay valid as long as it does.
 */
#ifndef PT_HTTP_PARSER_H
#define PT_HTTP_PARSER_H

#include "base/base.h"

#define HTTP_MAX_HEADERS 64

struct http_header {
    struct pt_str name;  /* as received (case preserved) */
    struct pt_str value; /* leading and trailing spaces/tabs removed */
};

struct http_limits {
    size_t max_head_bytes;   /* request line + headers + final CRLF, counting any empty
                                lines before the request line; larger -> 431; values
                                above INT_MAX act as INT_MAX */
    size_t max_target_bytes; /* request target; longer -> 414 */
    size_t max_headers;      /* header count; more -> 431; values above
                                HTTP_MAX_HEADERS act as HTTP_MAX_HEADERS */
};

/* The defaults of issue #2: 16 KiB head, 8 KiB target, 64 headers. */
#define HTTP_LIMITS_DEFAULT ((struct http_limits){16384, 8192, HTTP_MAX_HEADERS})

struct http_request_head {
    struct pt_str method; /* token, e.g. "GET" */
    struct pt_str target; /* raw request target: path plus optional "?query" (or "*") */
    struct pt_str path;   /* target up to the first '?' (still percent-encoded) */
    struct pt_str query;  /* after '?', without it; empty if none */
    int minor_version;    /* 0 or 1 (HTTP/1.x only) */
    size_t num_headers;
    struct http_header headers[HTTP_MAX_HEADERS];

    /* Framing and connection semantics, derived from the headers. */
    int64_t content_length; /* -1 when absent */
    bool chunked;           /* Transfer-Encoding: chunked (the final coding) */
    bool keep_alive;        /* 1.1 unless "Connection: close"; 1.0 only with keep-alive */
    bool expect_continue;   /* Expect: 100-continue */
    bool upgrade;           /* Connection: upgrade with an Upgrade header */
};

/*
 * Parse a request head from buf[0..len).
 *
 * Resumable by re-scanning: call again with the same buffer, grown, after more
 * bytes arrive; last_len is the length given on the previous call for the same
 * request (0 the first time) and only lets the parser skip re-searching the
 * terminator in bytes it has already seen.
 *
 * The grammar is RFC 9112's, strictly: one SP between the parts of the request
 * line; the target in origin-form ("/...", bytes 0x21-0x7E only) or "*" for
 * OPTIONS (absolute- and authority-form are refused with PT_E_BAD_REQUEST);
 * "HTTP/1.0" or "HTTP/1.1"; CRLF line ends only; no obs-fold; no space before a
 * colon. Empty lines (CRLF) before the request line are skipped (RFC 9112 §2.2)
 * and count in the returned length. Semantics checked once the head is complete:
 * Content-Length is 1*DIGIT up to 2^62, repeated only with the same value;
 * Transfer-Encoding must be exactly one "chunked" (any other coding or list is
 * PT_E_BAD_REQUEST, not 501), only in HTTP/1.1 and without Content-Length; an
 * HTTP/1.1 request has exactly one Host, an HTTP/1.0 request at most one.
 * Expect: 100-continue and Upgrade are honoured in HTTP/1.1 only.
 *
 * Decisions depend only on the bytes before them, so a prefix of the input gives
 * PT_E_INCOMPLETE or the result of the whole input, and errors are reported as
 * soon as the offending byte arrives. The parser never reads at or beyond
 * buf[max_head_bytes]. A resumed call costs a scan of the last unfinished line,
 * or one full scan when the new bytes may complete the head.
 *
 * Returns the number of bytes of the head (through the blank line) on success,
 * filling *out; or one of:
 *   PT_E_INCOMPLETE      no complete head yet, and no limit crossed so far;
 *   PT_E_BAD_REQUEST     malformed (bad token characters, obs-fold, bare CR or
 *                        LF, missing or bad version, both Content-Length and
 *                        Transfer-Encoding, differing duplicate Content-Length,
 *                        bad Content-Length digits, Transfer-Encoding other than a
 *                        final "chunked", control characters in values, ...);
 *   PT_E_URI_TOO_LONG    the request target exceeds max_target_bytes (reported as
 *                        soon as it is known, even before the head is complete);
 *   PT_E_HEAD_TOO_LARGE  the head exceeds max_head_bytes (also when len exceeds it
 *                        and the head has not ended by then), or too many headers;
 *   PT_E_VERSION         an HTTP version other than 1.0 or 1.1.
 * *out is unspecified on error. Thread-safe.
 */
int http_parse_request(const char *buf, size_t len, size_t last_len,
                       const struct http_limits *limits, struct http_request_head *out);

/*
 * Find a header by case-insensitive name. Returns a pointer to the first match in
 * head->headers, or NULL. Borrowed.
 */
const struct http_header *http_head_find(const struct http_request_head *head, struct pt_str name);

/* State of the chunked-body decoder; zero it (or call init) before the first call. */
struct http_chunked {
    /* private */
    int state;
    uint64_t remaining; /* bytes left in the current chunk (size being read while
                           in a size line; trailer bytes seen in the trailer) */
    size_t line_bytes;  /* bytes of the current size or trailer line seen */
};

/* Reset a decoder for a new body (the same as zeroing it). */
void http_chunked_init(struct http_chunked *c);

/*
 * Decode a chunked body in place (picohttpparser's phr_decode_chunked model).
 * buf[0..*len) holds received bytes that follow what earlier calls consumed.
 * On return the decoded data occupy buf[0..*len) (moved to the front) and:
 *   >= 0            the body is complete (final zero-size chunk and trailer
 *                   section seen); the return value is the number of bytes that
 *                   followed the body (the next pipelined request), which now
 *                   sit at buf[*len .. *len + ret);
 *   PT_E_INCOMPLETE all input was consumed and more is needed;
 *   PT_E_BAD_REQUEST malformed framing (bad hex, size above 2^62, size or trailer
 *                   line longer than 4 KiB, trailer section longer than 16 KiB,
 *                   missing CRLF after chunk data, bare CR or LF, control
 *                   characters, obs-fold or a malformed trailer field); the
 *                   error is sticky, and *len then holds the bytes decoded by
 *                   this call.
 * Chunk extensions (";..." after the size, optionally preceded by SP/HTAB) are
 * accepted and ignored; trailer fields are checked for syntax and skipped. Once
 * the body is complete, further calls return every byte given as following it.
 * Thread-safe for distinct decoders.
 */
int64_t http_chunked_decode(struct http_chunked *c, char *buf, size_t *len);

#endif /* PT_HTTP_PARSER_H */
