/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * astro_fast_bench.c -- micro-benchmark of the astro layer's fast path against libswe.
 * Modes (nanoseconds per body per call, best of 3 runs: the machine is shared):
 *
 *   observer  the Moon at one instant for N different observers: the per-request
 *             observer part alone (the step is cached; nothing else runs)
 *   fast      astro_position_compute(): Mars from Paris at N instants one minute
 *             apart from 2025-01-01 (a new 1.5-hour step every 90 calls, as a live
 *             server sees), the pattern of the shared truth.c benchmark
 *   all       astro_position_compute_all(): the 10 bodies at each of those instants,
 *             reported per body
 *   exact     astro_position_compute_exact(): libswe's own computation, same instants
 *   cold      astro_position_compute() at random instants 1900-2100 (every call
 *             misses the cache: the worst case), against exact on the same instants
 *   events    astro_events_range(): 366 days of the Moon at Greenwich from 2027-01-01
 *             (N ignored; milliseconds per call, the cache cold for most of the year)
 *
 * The benchmark checks its own output: every fast result of the first 2000 calls of
 * each mode is compared with libswe's (astro_position_compute_exact) and must agree
 * within 0.002" in az/alt; otherwise it exits with status 1.
 *
 * Run:  make build/bench/astro_fast_bench && build/bench/astro_fast_bench [MODE] [N]
 *       (default: every mode, N = 100000; cold uses N / 10). For instruction counts:
 *       valgrind --tool=callgrind build/bench/astro_fast_bench observer 10000 nocheck
 *       and subtract the same run with N = 0 (set-up), divide by 3 x N (3 runs).
 * To compare against a baseline build, run both with the same MODE and N: the
 * checksums must be equal, compare the ns/call lines.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "astro/astro.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t rng = 88172645463325252ULL;

static double rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}

static double sep_arcsec(const struct astro_position *a, const struct astro_position *b)
{
    double r = M_PI / 180.0;
    double p1 = a->alt_airless_deg * r, p2 = b->alt_airless_deg * r;
    double dl = (b->az_deg - a->az_deg) * r;
    double num = hypot(cos(p2) * sin(dl), cos(p1) * sin(p2) - sin(p1) * cos(p2) * cos(dl));
    double den = sin(p1) * sin(p2) + cos(p1) * cos(p2) * cos(dl);
    return atan2(num, den) / r * 3600.0;
}

struct bench {
    const struct astro_ctx *ctx;
    long n;
    struct astro_time *times;         /* n instants */
    struct astro_observer *observers; /* n observers */
    int bad;
};

static void verify(struct bench *b, enum astro_body body, const struct astro_time *t,
                   const struct astro_observer *o, const struct astro_position *p)
{
    struct astro_position e;
    if (astro_position_compute_exact(b->ctx, body, t, o, &e) != 0 || sep_arcsec(p, &e) > 0.002) {
        fprintf(stderr, "MISMATCH body %d JD %.6f: %.6f\"\n", body, t->jd_ut1, sep_arcsec(p, &e));
        b->bad++;
    }
}

/* One timed run of a mode; returns seconds, adds the altitudes to *sum. */
static double run(struct bench *b, const char *mode, bool check, double *sum, long *calls)
{
    struct astro_position p, all[ASTRO_BODY_COUNT];
    const struct astro_observer paris = {48.8566, 2.3522, 35.0, 1010.0, 15.0};
    double t0 = now_s();
    *calls = 0;
    for (long i = 0; i < b->n; i++) {
        bool vf = check && i < 2000;
        if (strcmp(mode, "observer") == 0) {
            if (astro_position_compute(b->ctx, ASTRO_MOON, &b->times[0], &b->observers[i], &p))
                b->bad++;
            if (vf)
                verify(b, ASTRO_MOON, &b->times[0], &b->observers[i], &p);
            *sum += p.alt_deg;
            ++*calls;
        } else if (strcmp(mode, "fast") == 0 || strcmp(mode, "cold") == 0) {
            enum astro_body body =
                strcmp(mode, "fast") == 0 ? ASTRO_MARS : (enum astro_body)(i % 10);
            if (astro_position_compute(b->ctx, body, &b->times[i], &paris, &p))
                b->bad++;
            if (vf)
                verify(b, body, &b->times[i], &paris, &p);
            *sum += p.alt_deg;
            ++*calls;
        } else if (strcmp(mode, "all") == 0) {
            if (astro_position_compute_all(b->ctx, &b->times[i], &paris, all))
                b->bad++;
            for (int k = 0; k < ASTRO_BODY_COUNT; k++) {
                if (vf && i < 200)
                    verify(b, (enum astro_body)k, &b->times[i], &paris, &all[k]);
                *sum += all[k].alt_deg;
            }
            *calls += ASTRO_BODY_COUNT;
        } else if (strcmp(mode, "exact") == 0 || strcmp(mode, "exact-cold") == 0) {
            enum astro_body body =
                strcmp(mode, "exact") == 0 ? ASTRO_MARS : (enum astro_body)(i % 10);
            if (astro_position_compute_exact(b->ctx, body, &b->times[i], &paris, &p))
                b->bad++;
            *sum += p.alt_deg;
            ++*calls;
        }
    }
    return now_s() - t0;
}

static bool no_check;

/* 366 days of Moon events, N times over different years (cold cache). */
static int bench_events(const struct astro_ctx *ctx, long n)
{
    const struct astro_observer greenwich = {51.4769, -0.0005, 0.0, 1010.0, 15.0};
    static struct astro_riseset out[366];
    double best = INFINITY;
    int rises = 0;
    for (long i = 0; i < (n < 1 ? 1 : n > 5 ? 5 : n); i++) {
        struct astro_time t;
        if (astro_time_from_jd(ctx, 2461406.5 + 400.0 * (double)i, ASTRO_UT1, &t) != 0)
            return 1;
        double t0 = now_s();
        if (astro_events_range(ctx, ASTRO_MOON, &t, 366, &greenwich, out) != 0)
            return 1;
        double dt = now_s() - t0;
        best = dt < best ? dt : best;
        rises = 0;
        for (int d = 0; d < 366; d++)
            rises += !isnan(out[d].rise.jd_ut1);
    }
    printf("%-10s 366 days of the Moon: %.1f ms per call  (%d rises)\n", "events", best * 1e3,
           rises);
    return rises >= 350 && rises <= 356 ? 0 : 1;
}

static int bench_mode(const struct astro_ctx *ctx, const char *mode, long n)
{
    struct bench b = {ctx, n, NULL, NULL, 0};
    bool cold = strcmp(mode, "cold") == 0 || strcmp(mode, "exact-cold") == 0;
    b.times = pt_xmalloc((size_t)(n > 0 ? n : 1) * sizeof(*b.times));
    b.observers = pt_xmalloc((size_t)(n > 0 ? n : 1) * sizeof(*b.observers));
    rng = 88172645463325252ULL;
    for (long i = 0; i < n; i++) {
        double jd = cold ? 2415020.5 + rnd() * 73049.0 : 2460676.5 + (double)i / 1440.0;
        if (astro_time_from_jd(ctx, jd, ASTRO_UT1, &b.times[i]) != 0) {
            fprintf(stderr, "time %ld out of range\n", i);
            return 1;
        }
        b.observers[i] = (struct astro_observer){rnd() * 179.8 - 89.9, rnd() * 360.0 - 180.0,
                                                 rnd() * 10500.0 - 500.0, 1010.0, 15.0};
    }
    double best = INFINITY, sum = 0.0;
    long calls = 0;
    for (int rep = 0; rep < 3; rep++) {
        double s = 0.0;
        double dt = run(&b, mode, rep == 0 && !no_check, &s, &calls);
        if (rep > 0 && s != sum) {
            fprintf(stderr, "%s: run %d differs from the first (%.17g vs %.17g)\n", mode, rep, s,
                    sum);
            b.bad++;
        }
        sum = s;
        best = dt < best ? dt : best;
        if (cold)
            break; /* a second run would hit the cache */
    }
    if (calls > 0)
        printf("%-10s n=%-7ld %8.1f ns/call  (checksum %.9f)\n", mode, calls, best / calls * 1e9,
               sum / calls);
    free(b.times);
    free(b.observers);
    return b.bad ? 1 : 0;
}

int main(int argc, char **argv)
{
    const char *only = argc > 1 ? argv[1] : NULL;
    long n = argc > 2 ? strtol(argv[2], NULL, 10) : 100000;
    no_check = argc > 3 && strcmp(argv[3], "nocheck") == 0;
    if (n < 0) {
        fprintf(stderr,
                "usage: %s [observer|fast|all|exact|cold|exact-cold|events] [N >= 0] [nocheck]\n",
                argv[0]);
        return 2;
    }
    struct astro_ctx *ctx;
    if (astro_ctx_new(NULL, &ctx) != 0 || !astro_ctx_has_files(ctx)) {
        fprintf(stderr, "astro_ctx_new failed or no ephemeris files\n");
        return 1;
    }
    static const char *const modes[] = {"observer", "fast",       "all",   "exact",
                                        "cold",     "exact-cold", "events"};
    int bad = 0;
    for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
        if (only != NULL && strcmp(only, modes[m]) != 0)
            continue;
        if (strcmp(modes[m], "events") == 0) {
            bad |= bench_events(ctx, only == NULL ? 3 : n);
            continue;
        }
        bool cold = strncmp(modes[m], "cold", 4) == 0 || strcmp(modes[m], "exact-cold") == 0;
        bad |= bench_mode(ctx, modes[m], cold && only == NULL ? n / 10 : n);
    }
    astro_ctx_free(ctx);
    if (bad)
        fprintf(stderr, "FAILED: fast results differ from libswe or between runs\n");
    return bad ? 1 : 0;
}
