/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * json.h -- a small streaming JSON writer for the web layer's hot output path
 * (every position response). It appends to a bounded struct pt_buf, places
 * commas and colons itself, and checks the nesting.
 *
 * Errors are sticky: the first one (buffer limit or misuse) is recorded, every
 * later call does nothing, and web_json_finish reports it, so a handler writes a
 * whole body and checks once. After an error the buffer may hold a partial
 * document and must be discarded. A writer is used by one thread at a time.
 *
 * Doubles are written with the fewest significant digits that strtod reads back
 * to exactly the same value, laid out as Python's repr() does ("0.5", "1.0",
 * "215.02249665749204", "1e-05", "1e+16", "-0.0"), so bodies match the original
 * Python service byte for byte where the values do.
 */
#ifndef PT_WEB_JSON_H
#define PT_WEB_JSON_H

#include "base/base.h"

#define WEB_JSON_MAX_DEPTH 63 /* nested objects/arrays */

/* Longest text web_json_format_double writes, including the NUL. */
#define WEB_JSON_DOUBLE_MAX 32

struct web_json {
    struct pt_buf *out;  /* borrowed */
    int error;           /* first error, or 0 */
    unsigned depth;      /* 0 at top level */
    uint64_t need_comma; /* bit d: level d already holds a value */
    /* private */
    uint64_t in_object; /* bit d: level d is an object */
    bool have_key;      /* a key was written; its value is pending */
};

/* Start a document that will be appended to out (borrowed; existing bytes are kept). */
void web_json_init(struct web_json *j, struct pt_buf *out);

/*
 * Begin/end an object or array (a begin is a value, so inside an object it
 * needs a key first); an end must match the innermost begin and no key may be
 * left without its value.
 */
void web_json_object_begin(struct web_json *j);
void web_json_object_end(struct web_json *j);
void web_json_array_begin(struct web_json *j);
void web_json_array_end(struct web_json *j);

/* Write an object key (escaped as a string); the next value belongs to it. NULL is misuse. */
void web_json_key(struct web_json *j, const char *key);

/* Same as web_json_key with a slice. */
void web_json_key_str(struct web_json *j, struct pt_str key);

/*
 * Same as web_json_key for a key the caller knows needs no escaping: len bytes of
 * printable ASCII without '"' or '\\' (a literal of the program, never input).
 * Skips the escaping scan, which shows in profiles of answers with many members.
 */
void web_json_key_plain(struct web_json *j, const char *key, size_t len);

/* web_json_key_plain for a string literal. */
#define WEB_JSON_KEY(j, lit) web_json_key_plain((j), "" lit "", sizeof(lit) - 1)

/*
 * Write a string value. Escapes '"', '\\' and control characters (\n, \t, ...
 * or \u00XX); valid UTF-8 is copied as is; each byte of an invalid UTF-8
 * sequence (overlong, surrogate, beyond U+10FFFF, truncated) becomes \ufffd.
 */
void web_json_string(struct web_json *j, struct pt_str s);

/*
 * Same as web_json_string for text the caller knows needs no escaping: len bytes
 * of printable ASCII without '"' or '\\' (names of the program, ISO times).
 */
void web_json_string_plain(struct web_json *j, const char *s, size_t len);

/* Same for a NUL-terminated string; NULL writes null. */
void web_json_cstring(struct web_json *j, const char *s);

/* Write a number in the shortest round-trip form (see above); NaN and infinities write null. */
void web_json_double(struct web_json *j, double v);

/* Write an integer (exact, all 64 bits), true/false, or null. */
void web_json_int(struct web_json *j, int64_t v);
void web_json_bool(struct web_json *j, bool v);
void web_json_null(struct web_json *j);

/* Write a pre-serialized value as is (borrowed; not validated; empty is misuse). */
void web_json_raw(struct web_json *j, struct pt_str json);

/*
 * Write pre-serialized members `"k":v,"k2":v2` (borrowed, not validated; no
 * leading or trailing comma) into the current object, as if each had been
 * written with its key; the comma before them is the writer's. Empty writes
 * nothing. Misuse outside an object or with a key pending.
 */
void web_json_members_raw(struct web_json *j, struct pt_str members);

/*
 * Direct writing, for the renderers of the hottest answers: room for up to max
 * bytes at the current position of an object (no key pending), the separating
 * comma already written. The caller writes one or more complete members
 * (`"key":value`, comma-separated, none leading or trailing; not validated) and
 * hands the end back to web_json_members_commit(). Returns NULL after an error
 * (the document then fails; skip the commit).
 */
char *web_json_members_open(struct web_json *j, size_t max);
void web_json_members_commit(struct web_json *j, const char *end);

/*
 * Returns 0 when the document is complete (exactly one top-level value, every
 * object and array closed); else the first error: PT_E_NOMEM when out reached
 * its limit, PT_E_INVALID for misuse (unbalanced or mismatched nesting, a value
 * without a key inside an object, a key outside an object, two top-level values,
 * nesting deeper than WEB_JSON_MAX_DEPTH, nothing written).
 */
int web_json_finish(const struct web_json *j);

/*
 * Format v as web_json_double does into buf (NUL-terminated), "null" for NaN
 * and infinities. Returns the length (at most WEB_JSON_DOUBLE_MAX - 1).
 * Pure; thread-safe.
 */
size_t web_json_format_double(double v, char buf[WEB_JSON_DOUBLE_MAX]);

/*
 * The reference formatter, snprintf + strtod: 15, 16 then 17 significant digits
 * ("%.14e" ... "%.16e"; from 1 digit for subnormals), keeping the first that
 * strtod reads back exactly, with the same layout. web_json_format_double gives
 * the same text, except that it is one digit shorter for 46 powers of two, whose
 * rounding interval is lopsided. Some 30 times slower; for tests and
 * benchmarks. Pure; thread-safe.
 */
size_t web_json_format_double_slow(double v, char buf[WEB_JSON_DOUBLE_MAX]);

#endif /* PT_WEB_JSON_H */
