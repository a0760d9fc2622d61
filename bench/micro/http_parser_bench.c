/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * http_parser_bench.c -- micro-benchmark of http_parse_request() (src/http/parser.c)
 * on the request wrk sends for the API's hot route.
 *
 * Parses the same head N times (argv[1], default 1,000,000), checks every result
 * (length, method, path, query, header count, a header value, keep-alive), and
 * prints the mean time per parse. A wrong answer exits with status 1, so a fast
 * but broken parser cannot post a result.
 *
 *   make build/bench/http_parser_bench && build/bench/http_parser_bench
 *   valgrind --tool=callgrind build/bench/http_parser_bench 10000
 *       (instructions per parse = total Ir of http_parse_request / 10000, read with
 *        callgrind_annotate --inclusive=yes)
 * To compare with a baseline, build both trees with the same flags (the default
 * -O2 -g) and run each binary on the same idle core (taskset -c 1).
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "http/parser.h"

static const char request[] = "GET /planets/mars?lat=48.93&lon=2.45&elevation=0 HTTP/1.1\r\n"
                              "Host: localhost:8000\r\n"
                              "User-Agent: wrk/4.2.0\r\n"
                              "Accept: */*\r\n"
                              "\r\n";

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static bool head_is_right(int r, const struct http_request_head *h)
{
    const struct http_header *ua = http_head_find(h, PT_STR("user-agent"));
    return r == (int)(sizeof(request) - 1) && pt_str_eq(h->method, PT_STR("GET")) &&
           pt_str_eq(h->path, PT_STR("/planets/mars")) &&
           pt_str_eq(h->query, PT_STR("lat=48.93&lon=2.45&elevation=0")) && h->minor_version == 1 &&
           h->num_headers == 3 && ua != NULL && pt_str_eq(ua->value, PT_STR("wrk/4.2.0")) &&
           h->keep_alive && !h->chunked && h->content_length == -1;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 1000000;
    if (n <= 0) {
        fprintf(stderr, "usage: %s [iterations]\n", argv[0]);
        return 2;
    }
    const struct http_limits lim = HTTP_LIMITS_DEFAULT;
    struct http_request_head h;
    /* A copy the compiler cannot see through, as a connection's input buffer. */
    char *buf = malloc(sizeof(request));
    if (buf == NULL)
        return 2;
    memcpy(buf, request, sizeof(request));

    double t0 = now_ns();
    for (long i = 0; i < n; i++) {
        int r = http_parse_request(buf, sizeof(request) - 1, 0, &lim, &h);
        if (!head_is_right(r, &h)) {
            fprintf(stderr, "wrong result at iteration %ld: %d\n", i, r);
            return 1;
        }
    }
    double t1 = now_ns();
    printf("http_parse_request: %ld parses of %zu bytes, %.1f ns/op\n", n, sizeof(request) - 1,
           (t1 - t0) / (double)n);
    free(buf);
    return 0;
}
