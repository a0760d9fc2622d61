/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * astro_bench.c -- micro-benchmark of the astro layer: astro_position_compute() for
 * Mars seen from Paris at N instants one minute apart from 2025-01-01 (the pattern
 * of the shared truth.c benchmark, "truth -B mars"), then astro_time_parse() of an
 * ISO UTC string. Prints microseconds per call (best of 3 runs: the machine is
 * shared) and a checksum of the refracted altitudes.
 *
 * The benchmark checks its own output: every altitude must lie in [-90, 90], every
 * azimuth in [0, 360), every distance in Mars's 0.37..2.7 AU, and a second pass
 * must reproduce the first bit for bit; otherwise it exits with status 1.
 *
 * Run:  make build/bench/astro_bench && build/bench/astro_bench [N]   (default N 100000)
 * To compare against a baseline, build the same file at the baseline commit and run
 * both with the same N: the checksums must be equal, compare the us/call lines.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "astro/astro.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 100000;
    if (n <= 0) {
        fprintf(stderr, "usage: %s [N > 0]\n", argv[0]);
        return 2;
    }
    struct astro_ctx *ctx;
    if (astro_ctx_new(NULL, &ctx) != 0) {
        fprintf(stderr, "astro_ctx_new failed\n");
        return 1;
    }
    struct astro_time *times = pt_xmalloc((size_t)n * sizeof(*times));
    for (long i = 0; i < n; i++) {
        if (astro_time_from_jd(ctx, 2460676.5 + (double)i / 1440.0, ASTRO_UT1, &times[i]) != 0) {
            fprintf(stderr, "time %ld out of range\n", i);
            return 1;
        }
    }
    const struct astro_observer paris = {48.8566, 2.3522, 35.0, 1010.0, 15.0};
    struct astro_position p;
    if (astro_position_compute(ctx, ASTRO_MARS, &times[0], &paris, &p) != 0) /* warm-up */
        return 1;

    double best = INFINITY, sums[3] = {0};
    long bad = 0;
    for (int rep = 0; rep < 3; rep++) {
        double sum = 0;
        double t0 = now_s();
        for (long i = 0; i < n; i++) {
            if (astro_position_compute(ctx, ASTRO_MARS, &times[i], &paris, &p) != 0) {
                bad++;
                continue;
            }
            if (!(p.alt_deg >= -90 && p.alt_deg <= 90 && p.az_deg >= 0 && p.az_deg < 360 &&
                  p.distance_au > 0.37 && p.distance_au < 2.7))
                bad++;
            sum += p.alt_deg;
        }
        double dt = now_s() - t0;
        best = dt < best ? dt : best;
        sums[rep] = sum;
    }
    if (bad != 0 || sums[0] != sums[1] || sums[1] != sums[2]) {
        fprintf(stderr, "FAILED: %ld bad results, checksums %.9f %.9f %.9f\n", bad, sums[0],
                sums[1], sums[2]);
        return 1;
    }
    printf("astro_position_compute mars@Paris (%s): n=%ld  %.3f us/call (best of 3)  "
           "checksum %.9f\n",
           astro_ctx_ephemeris(ctx), n, best / (double)n * 1e6, sums[0] / (double)n);

    /* Time parsing, as every request with ?time= does; every result must be the same. */
    long m = n < 100000 ? n : 100000;
    struct pt_str text = PT_STR("2026-11-21T08:30:00.123+01:00");
    struct astro_time t0_parse, t;
    if (astro_time_parse(ctx, text, ASTRO_UTC, &t0_parse) != 0)
        return 1;
    double tbest = INFINITY;
    long differ = 0;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = now_s();
        for (long i = 0; i < m; i++) {
            if (astro_time_parse(ctx, text, ASTRO_UTC, &t) != 0 || t.jd_ut1 != t0_parse.jd_ut1)
                differ++;
        }
        double dt = now_s() - t0;
        tbest = dt < tbest ? dt : tbest;
    }
    if (differ != 0) {
        fprintf(stderr, "FAILED: %ld time parses differ\n", differ);
        return 1;
    }
    printf("astro_time_parse ISO UTC: n=%ld  %.3f us/call (best of 3)\n", m,
           tbest / (double)m * 1e6);

    free(times);
    astro_ctx_free(ctx);
    return 0;
}
