/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * driver.c -- libFuzzer target for the shortest round-trip double formatter
 * (web_json_format_double in src/web/json.c), against the snprintf + strtod
 * formatter kept beside it as the reference (web_json_format_double_slow).
 *
 * Doubles from the input: every 8 bytes as a bit pattern (little-endian), with
 * its two neighbours (nextafter), and the input as text through strtod (so
 * decimals like "2.2250738585072011e-308" come in as typed). For each one:
 * the text fits WEB_JSON_DOUBLE_MAX, is a JSON number (jansson), strtod reads
 * it back to the same double (sign of zero included), "null" for NaN and
 * infinities; and it is the reference's text, except for a power of two, whose
 * lopsided rounding interval can admit a shorter decimal than the reference's
 * "%.{15,16,17}e" search finds: there it is no longer than the reference, the
 * same when as long, and no decimal with one digit fewer reads back (checked
 * with the two decimals of that length next to the value). A broken invariant
 * aborts, which libFuzzer reports as a crash.
 *
 *   make SANITIZE=address,undefined build/san/fuzz/json_double
 *   build/san/fuzz/json_double -max_total_time=60 tests/fuzz/json_double/corpus
 * Replay the seeds and regressions: pass the files (not the directories) as arguments.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web/json.h"
#include "../check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Number of significant digits of a JSON number text (no leading/trailing zeros). */
static int significant_digits(const char *s)
{
    int n = 0, zeros = 0;
    bool seen = false;
    for (; *s != '\0' && *s != 'e'; s++) {
        if (*s < '0' || *s > '9')
            continue;
        if (*s == '0') {
            if (seen)
                zeros++;
            continue;
        }
        seen = true;
        n += zeros + 1;
        zeros = 0;
    }
    return n;
}

/* Does any decimal of p significant digits read back as x > 0? */
static bool reads_back_with(double x, int p)
{
    char t[48];
    snprintf(t, sizeof(t), "%.*e", p - 1, x); /* the correctly rounded one */
    if (strtod(t, NULL) == x)
        return true;
    /* Its neighbour on the other side of x (strtod is monotonic). */
    unsigned long long m = 0, low = 1;
    const char *s = t;
    for (; *s != 'e'; s++)
        if (*s != '.')
            m = m * 10 + (unsigned long long)(*s - '0');
    int e = atoi(s + 1) - (p - 1);
    for (int i = 1; i < p; i++)
        low *= 10;
    if (strtod(t, NULL) > x) {
        if (m == low) {
            m = low * 10 - 1;
            e--;
        } else {
            m--;
        }
    } else {
        m++;
    }
    snprintf(t, sizeof(t), "%llue%d", m, e);
    return strtod(t, NULL) == x;
}

static void check_double(double v)
{
    char fast[WEB_JSON_DOUBLE_MAX + 8];
    memset(fast, 'x', sizeof(fast));
    size_t n = web_json_format_double(v, fast);
    CHECK(n == strlen(fast) && n < WEB_JSON_DOUBLE_MAX);
    if (!isfinite(v)) {
        CHECK(strcmp(fast, "null") == 0);
        return;
    }
    double back = strtod(fast, NULL);
    CHECK(back == v && signbit(back) == signbit(v));
    json_t *j = json_loadb(fast, n, JSON_DECODE_ANY, NULL);
    CHECK(j != NULL && json_is_number(j));
    json_decref(j);

    char slow[WEB_JSON_DOUBLE_MAX];
    size_t sn = web_json_format_double_slow(v, slow);
    if (strcmp(fast, slow) == 0)
        return;
    uint64_t bits;
    memcpy(&bits, &v, sizeof(bits));
    bool power_of_two = (bits & ((1ULL << 52) - 1)) == 0 && (bits & (0x7ffULL << 52)) != 0;
    if (!power_of_two)
        fprintf(stderr, "%a: fast \"%s\", reference \"%s\"\n", v, fast, slow);
    CHECK(power_of_two);
    int digits = significant_digits(fast);
    CHECK(n < sn && digits < significant_digits(slow));
    CHECK(digits == 1 || !reads_back_with(fabs(v), digits - 1));
}

static void check_bits(uint64_t bits)
{
    double v;
    memcpy(&v, &bits, sizeof(v));
    check_double(v);
    if (isfinite(v)) {
        check_double(nextafter(v, INFINITY));
        check_double(nextafter(v, -INFINITY));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (size_t i = 0; i + 8 <= size; i += 8) {
        uint64_t bits = 0;
        for (int b = 0; b < 8; b++)
            bits |= (uint64_t)data[i + b] << (8 * b);
        check_bits(bits);
    }
    if (size % 8 != 0) { /* the tail, zero-extended */
        uint64_t bits = 0;
        for (size_t b = 0; b < size % 8; b++)
            bits |= (uint64_t)data[size - size % 8 + b] << (8 * b);
        check_bits(bits);
    }
    char text[64];
    size_t len = size < sizeof(text) - 1 ? size : sizeof(text) - 1;
    memcpy(text, data, len);
    text[len] = '\0';
    char *end;
    double v = strtod(text, &end);
    if (end != text)
        check_double(v);
    return 0;
}
