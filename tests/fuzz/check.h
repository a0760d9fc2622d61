/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * check.h -- what every libFuzzer driver of tests/fuzz shares: CHECK(cond) aborts
 * with the failed invariant, which libFuzzer reports as a crash (and saves the input).
 */
#ifndef PT_TESTS_FUZZ_CHECK_H
#define PT_TESTS_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#endif
