/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * internal.h -- what only the astro layer's own files share: the layout of the
 * ephemeris context and the per-thread libswe set-up. Never include it outside
 * src/astro/ (and its unit tests).
 */
#ifndef PT_ASTRO_INTERNAL_H
#define PT_ASTRO_INTERNAL_H

#include <pthread.h>
#include <stdint.h>

#include "astro/astro.h"

/* libswe's AS_MAXCH: the longest path string it copies, NUL included. */
#define ASTRO__PATH_MAX 256

struct astro_ctx {
    char ephe_path[ASTRO__PATH_MAX];
    int32_t eph_flag; /* SEFLG_SWIEPH or SEFLG_MOSEPH, requested on every call */
    bool has_files;
    double jd_ut1_min; /* supported range, inclusive */
    double jd_ut1_max;
    pthread_key_t thread_key; /* set (to the context) in each thread configured for it */
};

/*
 * Make sure the calling thread's copy of libswe is configured for ctx (ephemeris
 * path, sidereal-time model); does the set-up on a thread's first call. Must be
 * called before any libswe function. Thread-safe.
 */
void astro__thread_enter(const struct astro_ctx *ctx);

/* True if jd_ut1 is finite and inside ctx's supported range. */
bool astro__jd_in_range(const struct astro_ctx *ctx, double jd_ut1);

#endif /* PT_ASTRO_INTERNAL_H */
