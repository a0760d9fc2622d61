/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * names.c -- what static.c reads from a request, as pure functions of slices
 * of the input buffer (never NUL-terminated: no str* calls on them): whether
 * an Accept-Encoding value admits gzip, and a /static/ name without its build
 * id. Fuzzed by tests/fuzz/static_names.
 */
#include <string.h>

#include "web/assets.h"
#include "web/internal.h"

bool web__accepts_gzip(struct pt_str h)
{
    size_t i = 0;
    while (h.ptr != NULL && i < h.len) {
        size_t j = i;
        while (j < h.len && h.ptr[j] != ',')
            j++;
        struct pt_str item = pt_str_trim(pt_str_make(h.ptr + i, j - i));
        struct pt_str token = item;
        const char *semi = memchr(item.ptr, ';', item.len);
        if (semi != NULL)
            token = pt_str_trim(pt_str_make(item.ptr, (size_t)(semi - item.ptr)));
        if (pt_str_eq_nocase(token, PT_STR("gzip")) || pt_str_eq(token, PT_STR("*"))) {
            /* q=0 (0, 0.0, 0.00, 0.000) refuses it. */
            struct pt_str q = semi != NULL ? pt_str_trim(pt_str_make(semi + 1,
                                                                     item.len - (size_t)(semi + 1 - item.ptr)))
                                           : PT_STR_NULL;
            bool zero = q.len >= 3 && (q.ptr[0] == 'q' || q.ptr[0] == 'Q') && q.ptr[1] == '=';
            for (size_t k = 2; zero && k < q.len; k++) /* bounded: headers are not C strings */
                zero = q.ptr[k] == '0' || q.ptr[k] == '.';
            return !zero;
        }
        i = j + 1;
    }
    return false;
}

struct pt_str web__strip_build_id(struct pt_str name, bool *versioned)
{
    *versioned = false;
    const char *slash = memchr(name.ptr, '/', name.len);
    size_t n = slash != NULL ? (size_t)(slash - name.ptr) : 0;
    if (n != 12)
        return name;
    for (size_t i = 0; i < n; i++) /* name is not NUL-terminated: no str* calls on it */
        if (!((name.ptr[i] >= '0' && name.ptr[i] <= '9') || (name.ptr[i] >= 'a' && name.ptr[i] <= 'f')))
            return name;
    *versioned = memcmp(name.ptr, web_assets_build_id, 12) == 0;
    return pt_str_make(slash + 1, name.len - n - 1);
}
