/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * json_bench.c -- micro-benchmark of the JSON writer (src/web/json.c) on the
 * hot path: serializing a typical planet body (10 doubles, 6 strings, a bool)
 * into a reused buffer, plus the cost of one double through the Schubfach
 * formatter, the snprintf/strtod reference formatter (which the formatter used to
 * fall back on outside 2^-14 .. 2^54), and a plain "%.17g" for comparison.
 *
 * It checks its own output first (STYLE.md §8): a body parsed back with jansson
 * must hold exactly the doubles and strings written, and each formatter's text
 * must read back to the same double; a fast wrong answer exits with status 1.
 *
 * Run:   make bench && build/bench/json_bench [iterations, default 300000]
 * Compare with a baseline: build the baseline commit the same way (optimized,
 * not SANITIZE) into another checkout and run both binaries on the same idle
 * core, e.g. `taskset -c 1 build/bench/json_bench`; results go to bench/results/.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "web/json.h"

#define BODIES 1024 /* distinct inputs, cycled, so no single value is cached */
#define ROUNDS 5

struct body {
    const char *name;
    const char *constellation;
    double az_deg, alt_deg, ra_deg, dec_deg, distance_au, magnitude, phase, elongation_deg;
    double lat_deg, lon_deg;
    bool above_horizon;
};

static uint64_t rng_state = 0x2545F4914F6CDD1DULL;

static double uniform(double lo, double hi)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return lo + (hi - lo) * (double)(rng_state >> 11) / 9007199254740992.0;
}

static void write_body(struct web_json *j, const struct body *b)
{
    web_json_object_begin(j);
    web_json_key(j, "name");
    web_json_cstring(j, b->name);
    web_json_key(j, "az");
    web_json_double(j, b->az_deg);
    web_json_key(j, "alt");
    web_json_double(j, b->alt_deg);
    web_json_key(j, "ra");
    web_json_double(j, b->ra_deg);
    web_json_key(j, "dec");
    web_json_double(j, b->dec_deg);
    web_json_key(j, "distance_au");
    web_json_double(j, b->distance_au);
    web_json_key(j, "magnitude");
    web_json_double(j, b->magnitude);
    web_json_key(j, "phase");
    web_json_double(j, b->phase);
    web_json_key(j, "elongation");
    web_json_double(j, b->elongation_deg);
    web_json_key(j, "constellation");
    web_json_cstring(j, b->constellation);
    web_json_key(j, "above_horizon");
    web_json_bool(j, b->above_horizon);
    web_json_key(j, "time");
    web_json_cstring(j, "2024-06-21T22:14:07.123Z");
    web_json_key(j, "rise");
    web_json_cstring(j, "2024-06-21T01:02:03Z");
    web_json_key(j, "transit");
    web_json_cstring(j, "2024-06-21T08:09:10Z");
    web_json_key(j, "set");
    web_json_cstring(j, "2024-06-21T15:16:17Z");
    web_json_key(j, "observer");
    web_json_object_begin(j);
    web_json_key(j, "lat");
    web_json_double(j, b->lat_deg);
    web_json_key(j, "lon");
    web_json_double(j, b->lon_deg);
    web_json_object_end(j);
    web_json_object_end(j);
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static bool same_double(json_t *obj, const char *key, double want)
{
    json_t *v = json_object_get(obj, key);
    return v != NULL && json_is_number(v) && json_number_value(v) == want;
}

/* Parse one body back and compare every field with what was written. */
static bool verify_body(const struct pt_buf *buf, const struct body *b)
{
    json_error_t err;
    json_t *o = json_loadb(buf->data, buf->len, 0, &err);
    if (o == NULL) {
        fprintf(stderr, "body does not parse: %s\n", err.text);
        return false;
    }
    json_t *obs = json_object_get(o, "observer");
    bool ok =
        same_double(o, "az", b->az_deg) && same_double(o, "alt", b->alt_deg) &&
        same_double(o, "ra", b->ra_deg) && same_double(o, "dec", b->dec_deg) &&
        same_double(o, "distance_au", b->distance_au) &&
        same_double(o, "magnitude", b->magnitude) && same_double(o, "phase", b->phase) &&
        same_double(o, "elongation", b->elongation_deg) && obs != NULL &&
        same_double(obs, "lat", b->lat_deg) && same_double(obs, "lon", b->lon_deg) &&
        strcmp(json_string_value(json_object_get(o, "name")), b->name) == 0 &&
        strcmp(json_string_value(json_object_get(o, "constellation")), b->constellation) == 0 &&
        json_is_boolean(json_object_get(o, "above_horizon")) &&
        json_boolean_value(json_object_get(o, "above_horizon")) == b->above_horizon;
    json_decref(o);
    return ok;
}

static size_t format_g17(double v, char buf[WEB_JSON_DOUBLE_MAX])
{
    return (size_t)snprintf(buf, WEB_JSON_DOUBLE_MAX, "%.17g", v);
}

static double time_doubles(size_t (*fn)(double v, char buf[WEB_JSON_DOUBLE_MAX]),
                           const double *vals, size_t n, long iters, size_t *sink)
{
    char buf[WEB_JSON_DOUBLE_MAX];
    double t0 = now_ns();
    for (long i = 0; i < iters; i++)
        *sink += fn(vals[(size_t)i % n], buf);
    return (now_ns() - t0) / (double)iters;
}

int main(int argc, char **argv)
{
    long iters = argc > 1 ? atol(argv[1]) : 300000;
    if (iters <= 0)
        iters = 300000;

    static const char *const names[] = {"sun",     "moon",   "mercury", "venus",   "mars",
                                        "jupiter", "saturn", "uranus",  "neptune", "pluto"};
    static const char *const constellations[] = {"Gemini", "Sagittarius", "Ophiuchus", "Leo"};
    static struct body bodies[BODIES];
    static double doubles[BODIES * 10];
    for (size_t i = 0; i < BODIES; i++) {
        struct body *b = &bodies[i];
        b->name = names[i % PT_ARRAY_SIZE(names)];
        b->constellation = constellations[i % PT_ARRAY_SIZE(constellations)];
        b->az_deg = uniform(0, 360);
        b->alt_deg = uniform(-90, 90);
        b->ra_deg = uniform(0, 360);
        b->dec_deg = uniform(-30, 30);
        b->distance_au = uniform(0.0024, 50);
        b->magnitude = uniform(-27, 15);
        b->phase = uniform(0, 1);
        b->elongation_deg = uniform(0, 180);
        b->lat_deg = round(uniform(-90, 90) * 1e4) / 1e4; /* typed coordinates */
        b->lon_deg = round(uniform(-180, 180) * 1e4) / 1e4;
        b->above_horizon = b->alt_deg > 0;
        const double d[10] = {b->az_deg,      b->alt_deg,   b->ra_deg, b->dec_deg,
                              b->distance_au, b->magnitude, b->phase,  b->elongation_deg,
                              b->lat_deg,     b->lon_deg};
        memcpy(&doubles[i * 10], d, sizeof(d));
    }

    /* Self-check before timing anything. */
    struct pt_buf buf;
    pt_buf_init(&buf, 1 << 16);
    for (size_t i = 0; i < BODIES; i++) {
        buf.len = 0;
        struct web_json j;
        web_json_init(&j, &buf);
        write_body(&j, &bodies[i]);
        if (web_json_finish(&j) != 0 || !verify_body(&buf, &bodies[i])) {
            fprintf(stderr, "self-check failed on body %zu: %.*s\n", i, (int)buf.len, buf.data);
            return 1;
        }
    }
    for (size_t i = 0; i < PT_ARRAY_SIZE(doubles); i++) {
        char a[WEB_JSON_DOUBLE_MAX], b[WEB_JSON_DOUBLE_MAX];
        web_json_format_double(doubles[i], a);
        web_json_format_double_slow(doubles[i], b);
        if (strtod(a, NULL) != doubles[i] || strcmp(a, b) != 0) {
            fprintf(stderr, "self-check failed: %.17g -> \"%s\" / \"%s\"\n", doubles[i], a, b);
            return 1;
        }
    }
    buf.len = 0;
    struct web_json j;
    web_json_init(&j, &buf);
    write_body(&j, &bodies[0]);
    printf("body example (%zu bytes): %.*s\n", buf.len, (int)buf.len, buf.data);

    /* Each figure is the best of ROUNDS runs, to shed noise from other processes. */
    size_t sink = 0;
    double body_ns = 1e300, fast_ns = 1e300, slow_ns = 1e300, g17_ns = 1e300;
    long dbl_iters = iters * 4;
    for (int round = 0; round < ROUNDS; round++) {
        double t0 = now_ns();
        for (long i = 0; i < iters; i++) {
            buf.len = 0;
            web_json_init(&j, &buf);
            write_body(&j, &bodies[(size_t)i % BODIES]);
            sink += buf.len + (size_t)web_json_finish(&j);
        }
        body_ns = fmin(body_ns, (now_ns() - t0) / (double)iters);
        fast_ns = fmin(fast_ns, time_doubles(web_json_format_double, doubles,
                                             PT_ARRAY_SIZE(doubles), dbl_iters, &sink));
        slow_ns = fmin(slow_ns, time_doubles(web_json_format_double_slow, doubles,
                                             PT_ARRAY_SIZE(doubles), dbl_iters / 10, &sink));
        g17_ns = fmin(g17_ns, time_doubles(format_g17, doubles, PT_ARRAY_SIZE(doubles),
                                           dbl_iters / 4, &sink));
    }

    printf("planet body (10 doubles, 6 strings): %8.1f ns/op  (best of %d x %ld)\n", body_ns,
           ROUNDS, iters);
    printf("one double, fast shortest:           %8.1f ns/op\n", fast_ns);
    printf("one double, snprintf+strtod search:  %8.1f ns/op\n", slow_ns);
    printf("one double, plain %%.17g (not short): %8.1f ns/op\n", g17_ns);
    printf("(checksum %zu)\n", sink);
    pt_buf_deinit(&buf);
    return 0;
}
