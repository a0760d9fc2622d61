/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * form.h -- percent-encoding and application/x-www-form-urlencoded decoding for
 * the web layer: URL query strings, form bodies, path segments.
 *
 * Everything here is pure: bytes in, result out, no globals, so any thread may
 * call it. Decoded slices point into the caller's input when decoding changed
 * nothing, else into the caller's arena; either way they live as long as both.
 * A decoded value never contains a NUL byte.
 */
#ifndef PT_WEB_FORM_H
#define PT_WEB_FORM_H

#include "base/base.h"

/* One decoded key/value pair. */
struct web_kv {
    struct pt_str key;
    struct pt_str value;
};

/* Decoded pairs in the order they appeared; repeated keys are all kept. */
struct web_form {
    struct web_kv *items; /* arena-owned array; NULL when count is 0 */
    size_t count;
};

/*
 * Decode a query string or an application/x-www-form-urlencoded body.
 *
 * raw: the bytes after '?' (without it) or the whole body; borrowed, must outlive
 * the result. Pairs are separated by '&'; "key=value", a key without '=' has an
 * empty value; empty pairs ("a=1&&b=2", a leading or trailing '&') are skipped;
 * '+' decodes to a space and %XX to its byte, in keys and values alike.
 * arena: where the items array and changed keys/values are allocated.
 * max_items: the most pairs accepted (0 accepts none).
 * OUT: *out (zeroed on error).
 *
 * Returns 0; PT_E_RANGE when raw holds more than max_items pairs (checked
 * before anything is decoded); PT_E_BAD_REQUEST for a bad escape ("%zz", a
 * truncated "%4") or a NUL byte, raw or decoded. Thread-safe.
 */
int web_form_parse(struct pt_str raw, struct pt_arena *arena, size_t max_items,
                   struct web_form *out);

/* First value of key (exact, case-sensitive match), or NULL if absent. Borrowed from f. */
const struct pt_str *web_form_get(const struct web_form *f, struct pt_str key);

/* How many times key occurs in f. */
size_t web_form_count(const struct web_form *f, struct pt_str key);

/*
 * Percent-decode one component (a path segment, a key or a value).
 *
 * plus_is_space: decode '+' as a space (forms and queries), else keep it (paths).
 * arena: used only when decoding changes something; the copy is NUL-terminated.
 * OUT: *out, which is `in` itself when nothing needed decoding.
 *
 * Returns 0, or PT_E_BAD_REQUEST for a bad or truncated escape or a NUL byte
 * (raw or decoded); *out is unchanged on error. Thread-safe.
 */
int web_percent_decode(struct pt_str in, bool plus_is_space, struct pt_arena *arena,
                       struct pt_str *out);

/*
 * True if `in` would percent-decode without error: every '%' starts a valid
 * escape, and there is no NUL byte, raw or decoded. Allocates nothing. Thread-safe.
 */
bool web_percent_is_valid(struct pt_str in);

/*
 * Append `in` to out percent-encoded: every byte except the unreserved ones of
 * RFC 3986 (A-Z a-z 0-9 - . _ ~) becomes %XX with upper-case hex digits, so the
 * result is safe in a path segment, a query key or a query value.
 *
 * Returns 0, or PT_E_NOMEM when out would cross its limit (nothing appended).
 */
int web_percent_encode(struct pt_str in, struct pt_buf *out);

#endif /* PT_WEB_FORM_H */
