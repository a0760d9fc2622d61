/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * session.h -- encrypted, authenticated session cookies for the web layer, and
 * Cookie header parsing.
 *
 * A session token is the base64url text (no padding) of
 *     version (1 byte, 0x01) | nonce (12 random bytes) |
 *     ChaCha20-Poly1305 ciphertext of (expires_unix as 8 bytes big-endian |
 *     plaintext) | tag (16 bytes),
 * with the version byte as additional authenticated data. The server keeps no
 * session state: whoever holds the key can read and check a token, nobody else
 * can read or forge one. All functions are pure apart from the random nonce and
 * may be called from any thread.
 */
#ifndef PT_WEB_SESSION_H
#define PT_WEB_SESSION_H

#include "base/base.h"

#define WEB_SESSION_KEY_BYTES 32
#define WEB_SESSION_MAX_PLAINTEXT 2048 /* bytes sealed in one token */
#define WEB_SESSION_MAX_TOKEN 4096     /* characters of a token accepted by open */

struct web_session_key {
    unsigned char bytes[WEB_SESSION_KEY_BYTES];
};

/*
 * Derive a key from a configured secret (SECRET_KEY) with HKDF-SHA256 and a
 * fixed, versioned context label, so the same secret always gives the same key
 * and tokens survive restarts and spread across instances.
 * Returns 0, or PT_E_INVALID for an empty secret or a crypto library failure.
 */
int web_session_key_from_secret(struct pt_str secret, struct web_session_key *out);

/* Fill a key with random bytes (tokens then die with the process). Returns 0 or PT_E_INVALID. */
int web_session_key_generate(struct web_session_key *out);

/*
 * Encrypt and authenticate plaintext (borrowed; at most WEB_SESSION_MAX_PLAINTEXT
 * bytes) together with its expiry (Unix seconds), appending the cookie-safe token
 * (characters A-Z a-z 0-9 - _) to out.
 * Returns 0; PT_E_RANGE when plaintext is too long; PT_E_NOMEM when out would
 * cross its limit; PT_E_INVALID when the crypto library fails. On error nothing
 * is appended.
 */
int web_session_seal(const struct web_session_key *key, struct pt_str plaintext,
                     int64_t expires_unix, struct pt_buf *out);

/*
 * Check and decrypt a token made by web_session_seal with the same key.
 * now_unix: the current time; a token with expires_unix <= now_unix is expired.
 * arena: receives the plaintext (NUL-terminated; not counted in its length).
 * OUT: *plaintext, untouched on error.
 * Returns 0, or PT_E_INVALID for anything wrong: not base64url (padding is not
 * accepted), too short, longer than WEB_SESSION_MAX_TOKEN, unknown version,
 * failed authentication (tampered, truncated, or sealed with another key),
 * expired. Never crashes, whatever the input.
 */
int web_session_open(const struct web_session_key *key, struct pt_str token, int64_t now_unix,
                     struct pt_arena *arena, struct pt_str *plaintext);

/*
 * Find the first cookie called name (exact, case-sensitive) in a Cookie request
 * header value ("a=1; b=2"). Spaces and tabs around names and values are ignored;
 * a value in double quotes is returned without them; pairs without '=' are
 * skipped. OUT: *value, borrowed from cookie_header. Returns whether it was found.
 */
bool web_cookie_find(struct pt_str cookie_header, struct pt_str name, struct pt_str *value);

#endif /* PT_WEB_SESSION_H */
