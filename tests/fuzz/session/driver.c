/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * driver.c -- libFuzzer target for web_session_open() and web_cookie_find()
 * (src/web/session.c), with a fixed key.
 *
 * The input is used three ways: as a session token (which must open only if it
 * is a real one -- the seeds include a few sealed with the fixed key, expiring in
 * 2100 -- and then yield at most WEB_SESSION_MAX_PLAINTEXT bytes); as a Cookie
 * header searched for "pt_session" and for its own first name (a found value
 * must lie inside the header, trimmed, unquoted); and, up to the size limit, as
 * a plaintext that must survive seal then open. A broken invariant aborts, which
 * libFuzzer reports as a crash.
 *
 * Build and run:
 *   make SANITIZE=address,undefined build/san/fuzz/session
 *   build/san/fuzz/session -dict=tests/fuzz/session/dict -max_total_time=90 \
 *       tests/fuzz/session/corpus
 * Replay the seeds and regressions: pass the files (not the directories) as arguments.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web/session.h"
#include "../check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW 1700000000LL /* 2023-11-14; the seed tokens expire in 2100 */

static bool inside(struct pt_str s, struct pt_str outer)
{
    return s.ptr >= outer.ptr && s.ptr + s.len <= outer.ptr + outer.len;
}

static void check_cookie(struct pt_str header, struct pt_str name)
{
    struct pt_str v = PT_STR_NULL;
    if (!web_cookie_find(header, name, &v))
        return;
    CHECK(inside(v, header));
    /* A quoted value is returned as it stands between its quotes. */
    bool quoted = v.ptr > header.ptr && v.ptr[-1] == '"' &&
                  v.ptr + v.len < header.ptr + header.len && v.ptr[v.len] == '"';
    if (v.len > 0 && !quoted) {
        CHECK(v.ptr[0] != ' ' && v.ptr[0] != '\t');
        CHECK(v.ptr[v.len - 1] != ' ' && v.ptr[v.len - 1] != '\t');
        CHECK(memchr(v.ptr, ';', v.len) == NULL);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct web_session_key key;
    static bool have_key;
    if (!have_key) {
        CHECK(web_session_key_from_secret(PT_STR("fuzzing secret"), &key) == 0);
        have_key = true;
    }
    struct pt_str in = pt_str_make((const char *)data, size);
    struct pt_arena arena;
    pt_arena_init(&arena, 512);

    struct pt_str plain = PT_STR("untouched");
    int rc = web_session_open(&key, in, NOW, &arena, &plain);
    CHECK(rc == 0 || rc == PT_E_INVALID);
    if (rc == 0)
        CHECK(plain.len <= WEB_SESSION_MAX_PLAINTEXT && plain.ptr[plain.len] == '\0');
    else
        CHECK(pt_str_eq(plain, PT_STR("untouched")));

    check_cookie(in, PT_STR("pt_session"));
    const char *eq = memchr(in.ptr, '=', size);
    if (eq != NULL)
        check_cookie(in, pt_str_trim(pt_str_make(in.ptr, (size_t)(eq - in.ptr))));

    if (size <= WEB_SESSION_MAX_PLAINTEXT) {
        struct pt_buf tok;
        pt_buf_init(&tok, 8192);
        CHECK(web_session_seal(&key, in, NOW + 1, &tok) == 0);
        struct pt_str back;
        CHECK(web_session_open(&key, pt_buf_str(&tok), NOW, &arena, &back) == 0);
        CHECK(pt_str_eq(back, in));
        CHECK(web_session_open(&key, pt_buf_str(&tok), NOW + 1, &arena, &back) == PT_E_INVALID);
        pt_buf_deinit(&tok);
    }
    pt_arena_deinit(&arena);
    return 0;
}
