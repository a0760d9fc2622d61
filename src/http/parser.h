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
    struct pt_str method;    /* token, e.g. "GET" */
    struct pt_str target;    /* origin-form part of the request target: path plus
                                optional "?query", or "*"; never a scheme or an
                                authority ("?query" for an absolute-form target
                                with an empty path: see http_parse_request) */
    struct pt_str path;      /* target up to the first '?' (still percent-encoded),
                                "/" for an empty absolute-form path; never empty */
    struct pt_str query;     /* after '?', without it; empty if none */
    struct pt_str authority; /* effective authority, uri-host [":" port]: the
                                absolute-form target's, else the Host value; empty
                                (ptr NULL) when there is neither */
    bool absolute_form;      /* the target was received in absolute-form */
    int minor_version;       /* 0 or 1 (HTTP/1.x only; 1.2 .. 1.9 give 1) */
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
 * line; "HTTP/" DIGIT "." DIGIT as the version, where major 1 is required
 * (PT_E_VERSION otherwise) and a minor above 1 is taken as 1 (RFC 9110 §2.5);
 * CRLF line ends only; no obs-fold; no space before a colon. Empty lines (CRLF)
 * before the request line are skipped (RFC 9112 §2.2) and count in the returned
 * length.
 *
 * The request target (bytes 0x21-0x7E only; at most max_target_bytes as
 * received, whatever its form) is one of (RFC 9112 §3.2):
 *   origin-form    "/" path ["?" query]: target is all of it;
 *   asterisk-form  "*", for OPTIONS only: target and path are "*";
 *   absolute-form  ("http" / "https") "://" authority [path-abempty] ["?" query],
 *                  scheme in any case, for any method: absolute_form is set,
 *                  authority is the target's (never empty: RFC 9110 §4.2.1, and
 *                  valid as for http_authority_is_valid, so without userinfo),
 *                  and target, path and query describe the rest exactly as for
 *                  an origin-form request. An empty path reads "/" (RFC 9110
 *                  §4.2.3): path is then a one-byte slice of the '/' that ends
 *                  "://", and target is that same "/" when there is no query,
 *                  or the slice from the '?' ("?query", the one target not
 *                  starting with '/') when there is one. Like every slice of
 *                  the result these point into buf.
 * Authority-form (CONNECT's "host:port") and any other target is
 * PT_E_BAD_REQUEST. An absolute-form target is checked as far as it has arrived
 * on every call, so an error in it is reported as soon as its byte arrives.
 *
 * Semantics checked once the head is complete: Content-Length is 1*DIGIT up to
 * 2^62, repeated only with the same value; Transfer-Encoding must be exactly one
 * "chunked" (any other coding or list is PT_E_BAD_REQUEST, not 501), only in
 * HTTP/1.1 and without Content-Length; an HTTP/1.1 request has exactly one Host,
 * an HTTP/1.0 request at most one, also with an absolute-form target (whose
 * authority then replaces the Host value in authority, RFC 9112 §3.2.2), and a
 * Host value must pass http_authority_is_valid (empty is valid). Expect:
 * 100-continue and Upgrade are honoured in HTTP/1.1 only.
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
 *                        LF, missing or bad version, a target in none of the
 *                        forms above, an absolute-form target with another
 *                        scheme, an empty host, userinfo or a bad authority, a
 *                        missing, repeated or invalid Host, both Content-Length and
 *                        Transfer-Encoding, differing duplicate Content-Length,
 *                        bad Content-Length digits, Transfer-Encoding other than a
 *                        final "chunked", control characters in values, ...);
 *   PT_E_URI_TOO_LONG    the request target exceeds max_target_bytes (reported as
 *                        soon as it is known, even before the head is complete);
 *   PT_E_HEAD_TOO_LARGE  the head exceeds max_head_bytes (also when len exceeds it
 *                        and the head has not ended by then), or too many headers;
 *   PT_E_VERSION         a well-formed HTTP version whose major is not 1
 *                        ("HTTP/2.0", "HTTP/0.9").
 * *out is unspecified on error. Thread-safe.
 */
int http_parse_request(const char *buf, size_t len, size_t last_len,
                       const struct http_limits *limits, struct http_request_head *out);

/*
 * Whether authority (borrowed; ptr may be NULL when len is 0) is an RFC 3986
 * authority without userinfo (the form of a Host value, RFC 9110 §7.2, and of an
 * http(s) URI's authority, §4.2.4): uri-host [":" port], where port is *DIGIT and
 * uri-host is
 *   an IP-literal "[" ... "]", checked for structure only: IPv6 hex digits, ':'
 *     and '.' with at least one ':', or IPvFuture "v" 1*HEXDIG "." 1*(unreserved
 *     / sub-delims / ":");
 *   or a reg-name *(unreserved / pct-encoded / sub-delims), which covers
 *     IPv4address; pct-encoded is '%' HEXDIG HEXDIG.
 * The empty string is valid (an empty reg-name: "Host:" with no value, RFC 9112
 * §3.2). No other byte is: "a b", "a@b", "a/b", "x:80a", "[::1", "%zz" are
 * refused. Pure; thread-safe.
 */
bool http_authority_is_valid(struct pt_str authority);

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
