/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * base.h -- shared basics of PlanetTracker: string slices, arenas, bounded byte
 * buffers, the error table, logging and clocks.
 *
 * Every other layer may include this header; it depends on libc only. Nothing
 * here keeps mutable global state except the log level, which main() sets once
 * before any thread starts.
 */
#ifndef PT_BASE_H
#define PT_BASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define PT_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define PT_MIN(a, b) ((a) < (b) ? (a) : (b))
#define PT_MAX(a, b) ((a) > (b) ? (a) : (b))

/* Recover the owner of an embedded member, as libuv's container_of. */
#define pt_container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

#define PT_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))

/* ------------------------------------------------------------------------ */
/* Errors                                                                     */
/* ------------------------------------------------------------------------ */

/*
 * The project's own error codes: name, negative value, HTTP status used when the
 * error becomes a response, and a human sentence. libuv's codes (UV_E*, all above
 * -4100) pass through unchanged; ours live in -30000..-30999.
 */
#define PT_ERROR_MAP(X)                                                                  \
    X(INCOMPLETE, -30001, 400, "more input is needed")                                   \
    X(INVALID, -30002, 400, "the input is malformed")                                    \
    X(BAD_REQUEST, -30003, 400, "the request is malformed")                              \
    X(URI_TOO_LONG, -30004, 414, "the request target is too long")                       \
    X(HEAD_TOO_LARGE, -30005, 431, "the request head is too large")                      \
    X(BODY_TOO_LARGE, -30006, 413, "the request body is too large")                      \
    X(NOT_IMPLEMENTED, -30007, 501, "the request uses a feature this server lacks")      \
    X(LENGTH_REQUIRED, -30008, 411, "the request needs a Content-Length")                \
    X(VERSION, -30009, 505, "the HTTP version is not supported")                         \
    X(NOT_FOUND, -30010, 404, "no such resource")                                        \
    X(METHOD, -30011, 405, "the method is not allowed on this resource")                 \
    X(UNSUPPORTED_MEDIA, -30012, 415, "the request body has an unsupported media type") \
    X(RANGE, -30013, 400, "a value is out of range")                                     \
    X(EPHEMERIS, -30014, 500, "the ephemeris computation failed")                        \
    X(NOMEM, -30015, 503, "a resource limit was reached")                                \
    X(TIMEOUT, -30016, 408, "the request took too long to arrive")                     \
    X(PEER_LIMIT, -30017, 429, "too many connections or streams from this address")     \
    X(BUSY, -30018, 503, "the server is at capacity; retry shortly")                     \
    X(CLOSED, -30019, 503, "the connection is closed")

enum pt_error {
#define PT_ERROR_ENUM(name, code, status, msg) PT_E_##name = (code),
    PT_ERROR_MAP(PT_ERROR_ENUM)
#undef PT_ERROR_ENUM
};

/* Decoders return bytes consumed, or one of these (see STYLE.md §3). */
#define PT_INCOMPLETE PT_E_INCOMPLETE
#define PT_INVALID PT_E_INVALID

/* Name of an error code ("URI_TOO_LONG"), or "UNKNOWN". Thread-safe. */
const char *pt_error_name(int err);

/* Human sentence for an error code; libuv codes are described by uv_strerror(). */
const char *pt_error_message(int err);

/* HTTP status that an error code becomes; 500 for unknown codes. */
int pt_error_status(int err);

/* ------------------------------------------------------------------------ */
/* Memory                                                                     */
/* ------------------------------------------------------------------------ */

/* malloc/calloc/realloc/strdup that abort the process when the heap is exhausted. */
void *pt_xmalloc(size_t n);
void *pt_xcalloc(size_t count, size_t size);
void *pt_xrealloc(void *p, size_t n);
char *pt_xstrndup(const char *s, size_t n);

/* ------------------------------------------------------------------------ */
/* String slices                                                              */
/* ------------------------------------------------------------------------ */

/* A borrowed view of bytes; never assumed NUL-terminated. Passed by value. */
struct pt_str {
    const char *ptr;
    size_t len;
};

#define PT_STR(lit) ((struct pt_str){(lit), sizeof(lit) - 1})
#define PT_STR_NULL ((struct pt_str){NULL, 0})

static inline struct pt_str pt_str_make(const char *p, size_t n)
{
    return (struct pt_str){p, n};
}

/* View of a NUL-terminated C string (borrowed). */
static inline struct pt_str pt_str_c(const char *s)
{
    return (struct pt_str){s, s ? strlen(s) : 0};
}

/* The w (4 or 8) bytes at p as a word, for pt_bytes_eq. */
static inline uint64_t pt__word(const char *p, size_t w)
{
    uint64_t v = 0;
    memcpy(&v, p, w);
    return v;
}

/* The first and the last w bytes of p and q (n >= w) are the same; w is a constant at
 * each call, so the loads are single moves. */
static inline bool pt__ends_eq(const char *p, const char *q, size_t n, size_t w)
{
    return ((pt__word(p, w) ^ pt__word(q, w)) |
            (pt__word(p + n - w, w) ^ pt__word(q + n - w, w))) == 0;
}

/* Bytes p[0, n) equal q[0, n). Up to 16 bytes without a call: the first and the last w
 * bytes of each side (w = 8 from 8 bytes, 4 from 4; they overlap when n < 2w) or, under
 * 4, the first, middle and last byte; most of what is compared per request (query keys,
 * route segments, body names) is that short. */
static inline bool pt_bytes_eq(const char *p, const char *q, size_t n)
{
    if (n < 4)
        return n == 0 || (p[0] == q[0] && p[n / 2] == q[n / 2] && p[n - 1] == q[n - 1]);
    if (n > 16)
        return memcmp(p, q, n) == 0;
    return n >= 8 ? pt__ends_eq(p, q, n, 8) : pt__ends_eq(p, q, n, 4);
}

static inline bool pt_str_eq(struct pt_str a, struct pt_str b)
{
    return a.len == b.len && pt_bytes_eq(a.ptr, b.ptr, a.len);
}

/* ASCII case-insensitive equality (header names, tokens). */
bool pt_str_eq_nocase(struct pt_str a, struct pt_str b);

/* True if the slice starts with the prefix. */
bool pt_str_has_prefix(struct pt_str s, struct pt_str prefix);

/* Trim spaces and horizontal tabs on both ends. */
struct pt_str pt_str_trim(struct pt_str s);

/*
 * Parse a whole slice as a finite decimal double (strtod syntax without hex,
 * inf or nan, and without surrounding spaces). Returns 0, or PT_E_INVALID.
 * OUT: *out.
 */
int pt_str_to_double(struct pt_str s, double *out);

/* Parse a whole slice as a non-negative decimal integer that fits in int64_t. */
int pt_str_to_u63(struct pt_str s, int64_t *out);

/*
 * FNV-1a, 64 bits, of n bytes, continuing from seed (PT_HASH_SEED to start):
 * for hash tables and cache slots, never for anything an attacker must not steer.
 */
#define PT_HASH_SEED 0xcbf29ce484222325ull
uint64_t pt_hash_bytes(uint64_t seed, const void *p, size_t n);

/*
 * The same use, for a key of n doubles (an observer's numbers), a word at a time:
 * each word is folded in with a multiply and the result is mixed so that every
 * bit of every number reaches the low bits a table index takes. Doubles equal as
 * numbers but not as bits (0.0 and -0.0) hash apart, like pt_hash_bytes.
 */
uint64_t pt_hash_doubles(uint64_t seed, const double *v, size_t n);

/* ------------------------------------------------------------------------ */
/* Arena                                                                      */
/* ------------------------------------------------------------------------ */

/*
 * A bump allocator for everything that lives as long as one request. Blocks
 * are chained; pt_arena_reset() keeps the first block so a connection reuses
 * it request after request without touching malloc. Cleanups run in reverse
 * order of registration on reset and deinit.
 */
struct pt_arena_block;
struct pt_arena_cleanup;

struct pt_arena {
    /* private */
    struct pt_arena_block *head;   /* current block; older ones follow */
    struct pt_arena_cleanup *cleanups;
    size_t block_size;             /* size of the first block */
};

/* Initialize an empty arena whose first block will hold block_size bytes. */
void pt_arena_init(struct pt_arena *a, size_t block_size);

/* Run the cleanups and free every block. The arena may be initialized again. */
void pt_arena_deinit(struct pt_arena *a);

/* Run the cleanups and free every block but the first, which is kept for reuse. */
void pt_arena_reset(struct pt_arena *a);

/* Allocate n bytes aligned for any type; never fails (aborts on heap exhaustion). */
void *pt_arena_alloc(struct pt_arena *a, size_t n);

/* Copy a slice into the arena and NUL-terminate it; returns the copy. */
char *pt_arena_strndup(struct pt_arena *a, const char *s, size_t n);

/* Register fn(data) to run when the arena is reset or deinitialized. */
void pt_arena_defer(struct pt_arena *a, void (*fn)(void *data), void *data);

/* ------------------------------------------------------------------------ */
/* Bounded byte buffer                                                        */
/* ------------------------------------------------------------------------ */

/*
 * A growable byte buffer with a hard limit set at creation. Appends past the
 * limit fail with PT_E_NOMEM and leave the buffer unchanged, so growth a client
 * drives is refused, never an abort.
 */
struct pt_buf {
    char *data;
    size_t len;
    size_t cap;
    size_t limit; /* the capacity never grows past this */
};

/* Initialize an empty buffer (no allocation yet). */
void pt_buf_init(struct pt_buf *b, size_t limit);

/* Free the storage. The buffer may be initialized again. */
void pt_buf_deinit(struct pt_buf *b);

/* Make room for n more bytes. Returns 0 or PT_E_NOMEM (limit reached). */
int pt_buf_reserve(struct pt_buf *b, size_t n);

/* Append bytes. Returns 0 or PT_E_NOMEM (limit reached; nothing appended). */
int pt_buf_append(struct pt_buf *b, const void *p, size_t n);

static inline int pt_buf_append_str(struct pt_buf *b, struct pt_str s)
{
    return pt_buf_append(b, s.ptr, s.len);
}

/* Append printf-formatted text. Returns 0 or PT_E_NOMEM. */
int pt_buf_appendf(struct pt_buf *b, const char *fmt, ...) PT_PRINTF(2, 3);

/* Drop the first n bytes, moving the rest to the front. */
void pt_buf_consume(struct pt_buf *b, size_t n);

/*
 * Append the whole file at path to b, which may then hold at most max bytes (and
 * never more than its limit). Returns 0, PT_E_NOMEM when the file is larger (b
 * keeps what was read), or -errno from open(2) or read(2).
 */
int pt_buf_read_file(struct pt_buf *b, const char *path, size_t max);

static inline struct pt_str pt_buf_str(const struct pt_buf *b)
{
    return pt_str_make(b->data, b->len);
}

/* ------------------------------------------------------------------------ */
/* Shared immutable messages                                                  */
/* ------------------------------------------------------------------------ */

/*
 * One immutable block of bytes held by many owners (a push message sent to
 * thousands of subscribers), released when the last owner lets go. The count
 * is not atomic: a message belongs to one thread (the loop).
 */
struct pt_shared {
    unsigned refs;
    size_t len;
    char data[];
};

/* A new message holding a copy of n bytes, with one reference (the caller's). */
struct pt_shared *pt_shared_new(const void *p, size_t n);

/* A new message of n bytes for the caller to fill (data[n] is already '\0'), one reference. */
struct pt_shared *pt_shared_alloc(size_t n);

/* Take one more reference; returns m. */
struct pt_shared *pt_shared_ref(struct pt_shared *m);

/* Drop one reference, freeing the block with the last. NULL does nothing. */
void pt_shared_unref(struct pt_shared *m);

/* ------------------------------------------------------------------------ */
/* Logging                                                                    */
/* ------------------------------------------------------------------------ */

enum pt_log_level { PT_LOG_ERROR, PT_LOG_WARN, PT_LOG_INFO, PT_LOG_DEBUG };

/* Set the threshold; call from main() before any thread starts. */
void pt_log_set_level(enum pt_log_level level);

/* Write one line to stderr with a timestamp and level. Thread-safe. */
void pt_log(enum pt_log_level level, const char *fmt, ...) PT_PRINTF(2, 3);

#define pt_log_error(...) pt_log(PT_LOG_ERROR, __VA_ARGS__)
#define pt_log_warn(...) pt_log(PT_LOG_WARN, __VA_ARGS__)
#define pt_log_info(...) pt_log(PT_LOG_INFO, __VA_ARGS__)
#define pt_log_debug(...) pt_log(PT_LOG_DEBUG, __VA_ARGS__)

/* ------------------------------------------------------------------------ */
/* Clock                                                                      */
/* ------------------------------------------------------------------------ */

/* Wall-clock time as Unix seconds with sub-second precision. */
double pt_clock_unix_s(void);

/* Monotonic milliseconds. */
uint64_t pt_clock_mono_ms(void);

/*
 * Format Unix seconds as an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") into
 * out, which must hold 30 bytes (29 characters plus the NUL).
 */
void pt_format_http_date(int64_t unix_s, char out[30]);

#endif /* PT_BASE_H */
