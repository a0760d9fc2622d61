/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * testutil.h -- what the astro unit tests share: where the reference data and the
 * ephemeris files are, a CSV reader for the truth cases, and a cmocka fixture
 * that opens a context on the Debian ephemeris files. Include after cmocka.h.
 */
#ifndef PT_TESTS_ASTRO_TESTUTIL_H
#define PT_TESTS_ASTRO_TESTUTIL_H

#include <string.h>
#include <sys/stat.h>

#include "astro/astro.h"

#define TRUTH_CSV "tests/data/truth-cases-public.csv"
#define DEBIAN_EPHE "/usr/share/libswe/ephe"

/* Index of column name in the header fields, or fail the test. */
static inline int column(char **names, int n, const char *want)
{
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], want) == 0)
            return i;
    fail_msg("column %s missing from %s", want, TRUTH_CSV);
    return -1;
}

/* Split a CSV line in place into at most max fields; returns how many. */
static inline int split(char *line, char **fields, int max)
{
    int n = 0;
    line[strcspn(line, "\r\n")] = '\0';
    for (char *p = line; n < max;) {
        fields[n++] = p;
        char *comma = strchr(p, ',');
        if (comma == NULL)
            break;
        *comma = '\0';
        p = comma + 1;
    }
    return n;
}

/* cmocka group setup: a context on the Debian files (skips the group without them). */
static inline int setup_debian_ctx(void **state)
{
    struct stat st;
    if (stat(DEBIAN_EPHE "/semo_18.se1", &st) != 0)
        return -1;
    struct astro_ctx *ctx;
    if (astro_ctx_new(DEBIAN_EPHE, &ctx) != 0)
        return -1;
    *state = ctx;
    return 0;
}

static inline int teardown_ctx(void **state)
{
    astro_ctx_free(*state);
    return 0;
}

#endif /* PT_TESTS_ASTRO_TESTUTIL_H */
