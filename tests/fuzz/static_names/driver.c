/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * driver.c -- libFuzzer target for what static.c reads from a request
 * (src/web/names.c): web__accepts_gzip() on an Accept-Encoding value and
 * web__strip_build_id() on a /static/ name. The input is copied to a buffer of
 * exactly its size (no NUL after it), so a read past the slice -- a strspn once
 * did that -- is an ASan report. Invariants: the name without its id is a
 * suffix of the name, shorter by exactly 13 bytes when an id was taken off;
 * "versioned" only for today's id; gzip is never admitted by a value holding
 * neither "gzip" (any case) nor "*".
 *
 *   make SANITIZE=address,undefined build/san/fuzz/static_names
 *   build/san/fuzz/static_names -max_total_time=60 tests/fuzz/static_names/corpus
 */
#include <stdlib.h>
#include <string.h>

#include "web/assets.h"
#include "web/internal.h"
#include "../check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

const char web_assets_build_id[] = "0123456789ab";

/* A str* call on a slice reads to the NUL it hopes for: make ASan check every byte it may. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "strict_string_checks=1";
}

static bool mentions_gzip(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '*')
            return true;
        if (i + 4 <= n && strncasecmp(p + i, "gzip", 4) == 0)
            return true;
    }
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size ? size : 1);
    if (copy == NULL)
        return 0;
    memcpy(copy, data, size);
    struct pt_str in = pt_str_make(copy, size);

    bool gz = web__accepts_gzip(in);
    if (!mentions_gzip(copy, size))
        CHECK(!gz);

    bool versioned = true;
    struct pt_str rest = web__strip_build_id(in, &versioned);
    CHECK(rest.ptr >= in.ptr && rest.ptr + rest.len == in.ptr + in.len);
    CHECK(rest.len == in.len || rest.len + 13 == in.len);
    if (versioned)
        CHECK(rest.len + 13 == in.len && memcmp(copy, web_assets_build_id, 12) == 0);
    free(copy);
    return 0;
}
