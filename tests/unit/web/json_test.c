/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * json_test.c -- unit tests of src/web/json.c: document structure, string
 * escaping, misuse and limit errors, and the shortest round-trip double format.
 *
 * The double test compares web_json_format_double with an independent
 * reference, the smallest precision p for which "%.{p}g" reads back exactly,
 * over random doubles (random bit patterns, random values in the fast range,
 * short mantissas) plus every power of two and its neighbours. The number of
 * random values defaults to 300000; set PT_JSON_DOUBLES=10000000 to run more.
 *
 * Run: make SANITIZE=address,undefined build/san/tests/unit/web/json_test &&
 *      build/san/tests/unit/web/json_test
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "web/json.h"

/* ------------------------------------------------------------------------ */
/* Helpers                                                                    */
/* ------------------------------------------------------------------------ */

struct doc {
    struct pt_buf buf;
    struct web_json j;
};

static void doc_init(struct doc *d, size_t limit)
{
    pt_buf_init(&d->buf, limit);
    web_json_init(&d->j, &d->buf);
}

/* Finish and compare with the expected text; frees the buffer. */
static void doc_expect(struct doc *d, const char *want)
{
    assert_int_equal(web_json_finish(&d->j), 0);
    assert_int_equal(d->buf.len, strlen(want));
    assert_memory_equal(d->buf.data, want, d->buf.len);
    pt_buf_deinit(&d->buf);
}

static void doc_expect_error(struct doc *d, int err)
{
    assert_int_equal(web_json_finish(&d->j), err);
    pt_buf_deinit(&d->buf);
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

static uint64_t rng(void)
{
    /* xorshift64*: fixed seed, so a failure reproduces. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1DULL;
}

/*
 * Reduce a decimal text to its significant digits (no leading or trailing
 * zeros) and the exponent such that value = 0.DIGITS * 10^decpt.
 */
static void normalize(const char *s, bool *neg, char *digits, int *decpt)
{
    *neg = *s == '-';
    if (*neg)
        s++;
    int n = 0, point = -1, lead = 0;
    bool seen = false;
    for (; *s != '\0' && *s != 'e' && *s != 'E'; s++) {
        if (*s == '.') {
            point = n + lead;
            continue;
        }
        if (*s == '0' && !seen) {
            lead++;
            continue;
        }
        seen = true;
        digits[n++] = *s;
    }
    int total = n + lead;
    if (point < 0)
        point = total;
    int exp = (*s == 'e' || *s == 'E') ? atoi(s + 1) : 0;
    while (n > 0 && digits[n - 1] == '0')
        n--;
    digits[n] = '\0';
    *decpt = point - lead + exp;
}

/* Smallest p with "%.{p}g" reading back exactly; that text in out. */
static int reference_shortest(double v, char out[40])
{
    for (int p = 1; p <= 17; p++) {
        snprintf(out, 40, "%.*g", p, v);
        if (strtod(out, NULL) == v)
            return p;
    }
    fail_msg("%.17g does not round-trip at 17 digits", v);
    return 17;
}

/* True when s is a JSON number (RFC 8259 grammar). */
static bool is_json_number(const char *s)
{
    if (*s == '-')
        s++;
    if (*s == '0')
        s++;
    else if (*s >= '1' && *s <= '9')
        while (*s >= '0' && *s <= '9')
            s++;
    else
        return false;
    if (*s == '.') {
        s++;
        if (!(*s >= '0' && *s <= '9'))
            return false;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-')
            s++;
        if (!(*s >= '0' && *s <= '9'))
            return false;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    return *s == '\0';
}

/*
 * Check one double: valid JSON number, exact round trip (sign of zero too),
 * and as short as the reference; equal digits when equally short. Returns
 * whether ours is strictly shorter (allowed only for power-of-two mantissas).
 */
static bool check_double(double v)
{
    char ours[WEB_JSON_DOUBLE_MAX];
    size_t len = web_json_format_double(v, ours);
    assert_int_equal(len, strlen(ours));
    if (!is_json_number(ours))
        fail_msg("%.17g formatted as \"%s\": not a JSON number", v, ours);
    double back = strtod(ours, NULL);
    if (back != v || signbit(back) != signbit(v))
        fail_msg("%.17g formatted as \"%s\" reads back as %.17g", v, ours, back);

    char ref[40], dref[24], dours[24];
    reference_shortest(v, ref);
    bool nref, nours;
    int eref, eours;
    normalize(ref, &nref, dref, &eref);
    normalize(ours, &nours, dours, &eours);
    size_t lref = strlen(dref), lours = strlen(dours);
    if (lours > lref)
        fail_msg("%.17g: \"%s\" is longer than the reference \"%s\"", v, ours, ref);
    if (lours == lref && (strcmp(dref, dours) != 0 || eref != eours))
        fail_msg("%.17g: \"%s\" differs from the reference \"%s\"", v, ours, ref);
    if (lours < lref) {
        uint64_t bits;
        memcpy(&bits, &v, sizeof(bits));
        if ((bits & ((1ULL << 52) - 1)) != 0)
            fail_msg("%.17g: \"%s\" shorter than \"%s\" but not a power of two", v, ours, ref);
    }
    return lours < lref;
}

/* ------------------------------------------------------------------------ */
/* Structure                                                                  */
/* ------------------------------------------------------------------------ */

static void test_object_and_array(void **state)
{
    (void)state;
    struct doc d;
    doc_init(&d, 4096);
    web_json_object_begin(&d.j);
    web_json_key(&d.j, "name");
    web_json_cstring(&d.j, "mars");
    web_json_key(&d.j, "az");
    web_json_double(&d.j, 215.02249665749204);
    web_json_key(&d.j, "up");
    web_json_bool(&d.j, true);
    web_json_key(&d.j, "down");
    web_json_bool(&d.j, false);
    web_json_key(&d.j, "rise");
    web_json_null(&d.j);
    web_json_key(&d.j, "list");
    web_json_array_begin(&d.j);
    web_json_int(&d.j, 1);
    web_json_int(&d.j, -2);
    web_json_array_begin(&d.j);
    web_json_array_end(&d.j);
    web_json_object_begin(&d.j);
    web_json_object_end(&d.j);
    web_json_raw(&d.j, PT_STR("{\"x\":1}"));
    web_json_array_end(&d.j);
    web_json_key(&d.j, "n");
    web_json_cstring(&d.j, NULL);
    web_json_object_end(&d.j);
    doc_expect(&d, "{\"name\":\"mars\",\"az\":215.02249665749204,\"up\":true,\"down\":false,"
                   "\"rise\":null,\"list\":[1,-2,[],{},{\"x\":1}],\"n\":null}");
}

static void test_members_raw(void **state)
{
    (void)state;
    struct doc d;
    doc_init(&d, 256); /* first, between and last members; empty writes nothing */
    web_json_object_begin(&d.j);
    web_json_members_raw(&d.j, PT_STR("\"a\":1,\"b\":[2]"));
    web_json_key(&d.j, "c");
    web_json_int(&d.j, 3);
    web_json_members_raw(&d.j, PT_STR(""));
    web_json_members_raw(&d.j, PT_STR("\"d\":{}"));
    web_json_object_end(&d.j);
    doc_expect(&d, "{\"a\":1,\"b\":[2],\"c\":3,\"d\":{}}");

    doc_init(&d, 256); /* into an empty object only: nothing, and the object stays valid */
    web_json_object_begin(&d.j);
    web_json_members_raw(&d.j, PT_STR(""));
    web_json_key(&d.j, "x");
    web_json_null(&d.j);
    web_json_object_end(&d.j);
    doc_expect(&d, "{\"x\":null}");

    doc_init(&d, 256); /* in an array */
    web_json_array_begin(&d.j);
    web_json_members_raw(&d.j, PT_STR("\"a\":1"));
    doc_expect_error(&d, PT_E_INVALID);

    doc_init(&d, 256); /* with a key pending */
    web_json_object_begin(&d.j);
    web_json_key(&d.j, "k");
    web_json_members_raw(&d.j, PT_STR("\"a\":1"));
    doc_expect_error(&d, PT_E_INVALID);

    doc_init(&d, 256); /* at top level */
    web_json_members_raw(&d.j, PT_STR("\"a\":1"));
    doc_expect_error(&d, PT_E_INVALID);
}

static void test_top_level_scalars(void **state)
{
    (void)state;
    struct doc d;
    doc_init(&d, 64);
    web_json_int(&d.j, INT64_MIN);
    doc_expect(&d, "-9223372036854775808");
    doc_init(&d, 64);
    web_json_int(&d.j, INT64_MAX);
    doc_expect(&d, "9223372036854775807");
    doc_init(&d, 64);
    web_json_int(&d.j, 0);
    doc_expect(&d, "0");
    doc_init(&d, 64);
    web_json_double(&d.j, NAN);
    doc_expect(&d, "null");
    doc_init(&d, 64);
    web_json_double(&d.j, -INFINITY);
    doc_expect(&d, "null");
    doc_init(&d, 64);
    web_json_array_begin(&d.j);
    web_json_double(&d.j, INFINITY);
    web_json_double(&d.j, -0.0);
    web_json_array_end(&d.j);
    doc_expect(&d, "[null,-0.0]");
}

static void test_appends_after_existing_bytes(void **state)
{
    (void)state;
    struct doc d;
    doc_init(&d, 64);
    pt_buf_append(&d.buf, "data: ", 6);
    web_json_array_begin(&d.j);
    web_json_int(&d.j, 7);
    web_json_array_end(&d.j);
    doc_expect(&d, "data: [7]");
}

static void test_deep_nesting_limit(void **state)
{
    (void)state;
    struct doc d;
    doc_init(&d, 4096);
    for (int i = 0; i < WEB_JSON_MAX_DEPTH; i++)
        web_json_array_begin(&d.j);
    for (int i = 0; i < WEB_JSON_MAX_DEPTH; i++)
        web_json_array_end(&d.j);
    assert_int_equal(web_json_finish(&d.j), 0);
    assert_int_equal(d.buf.len, 2 * WEB_JSON_MAX_DEPTH);
    pt_buf_deinit(&d.buf);

    doc_init(&d, 4096);
    for (int i = 0; i < WEB_JSON_MAX_DEPTH + 1; i++)
        web_json_array_begin(&d.j);
    doc_expect_error(&d, PT_E_INVALID);

    /* Objects alternate with arrays: the kind of each level is remembered. */
    doc_init(&d, 4096);
    for (int i = 0; i < WEB_JSON_MAX_DEPTH; i++) {
        if (i % 2) {
            web_json_object_begin(&d.j);
            web_json_key(&d.j, "k");
        } else {
            web_json_array_begin(&d.j);
        }
    }
    web_json_int(&d.j, 1);
    for (int i = WEB_JSON_MAX_DEPTH - 1; i >= 0; i--) {
        if (i % 2)
            web_json_object_end(&d.j);
        else
            web_json_array_end(&d.j);
    }
    assert_int_equal(web_json_finish(&d.j), 0);
    json_error_t jerr;
    json_t *root = json_loadb(d.buf.data, d.buf.len, 0, &jerr);
    assert_non_null(root);
    json_decref(root);
    pt_buf_deinit(&d.buf);
}

/* ------------------------------------------------------------------------ */
/* Misuse and limits                                                          */
/* ------------------------------------------------------------------------ */

static void test_misuse(void **state)
{
    (void)state;
    struct doc d;

    doc_init(&d, 256); /* nothing written */
    doc_expect_error(&d, PT_E_INVALID);

    doc_init(&d, 256); /* value without a key in an object */
    web_json_object_begin(&d.j);
    web_json_int(&d.j, 1);
    web_json_object_end(&d.j);
    doc_expect_error(&d, PT_E_INVALID);

    doc_init(&d, 256); /* key inside an array */
    web_json_array_begin(&d.j);
    web_json_key(&d.j, "a");
    doc_expect_error(&d, PT_E_INVALID);

    doc_init(&d, 256); /* key at top level */
    web_json_key(&d.j, "a");
    doc_expect_error(&d, PT_E_INVALID);

    doc_init(&d, 256); /* two keys in a row */
    web_json_object_begin(&d.j);
    web_json_key(&d.j, "a");
    web_json_key(&d.j, "b");
    doc_expect_error(&d, PT_E_INVALID);

    doc_init(&d, 256); /* key left without a value */
    web_json_object_begin(&d.j);
    web_json_key(&d.j, "a");
    web_json_object_end(&d.j);
    doc_expect_error(&d, PT_E_INVALID);

    doc_init(&d, 256); /* unclosed */
    web_json_object_begin(&d.j);
    doc_expect_error(&d, PT_E_INVALID);

    doc_init(&d, 256); /* mismatched end */
    web_json_array_begin(&d.j);
    web_json_object_end(&d.j);
    doc_expect_error(&d, PT_E_INVALID);

    doc_init(&d, 256); /* end without begin */
    web_json_array_end(&d.j);
    doc_expect_error(&d, PT_E_INVALID);

    doc_init(&d, 256); /* two top-level values */
    web_json_int(&d.j, 1);
    web_json_int(&d.j, 2);
    doc_expect_error(&d, PT_E_INVALID);

    doc_init(&d, 256); /* empty raw value */
    web_json_raw(&d.j, PT_STR(""));
    doc_expect_error(&d, PT_E_INVALID);

    doc_init(&d, 256); /* NULL key */
    web_json_object_begin(&d.j);
    web_json_key(&d.j, NULL);
    doc_expect_error(&d, PT_E_INVALID);

    /* The first error sticks: nothing more is written after it. */
    doc_init(&d, 256);
    web_json_array_begin(&d.j);
    web_json_key(&d.j, "a");
    size_t len = d.buf.len;
    web_json_int(&d.j, 5);
    web_json_array_end(&d.j);
    assert_int_equal(d.buf.len, len);
    doc_expect_error(&d, PT_E_INVALID);
}

static void test_buffer_limit(void **state)
{
    (void)state;
    /* "[1,2]" is 5 bytes: a limit of 5 fits, 4 does not. */
    struct doc d;
    doc_init(&d, 5);
    web_json_array_begin(&d.j);
    web_json_int(&d.j, 1);
    web_json_int(&d.j, 2);
    web_json_array_end(&d.j);
    doc_expect(&d, "[1,2]");

    doc_init(&d, 4);
    web_json_array_begin(&d.j);
    web_json_int(&d.j, 1);
    web_json_int(&d.j, 2);
    web_json_array_end(&d.j);
    assert_true(d.buf.len <= 4);
    doc_expect_error(&d, PT_E_NOMEM);

    /* A long string crossing the limit by one byte. */
    char big[100];
    memset(big, 'x', sizeof(big));
    doc_init(&d, sizeof(big) + 2);
    web_json_string(&d.j, pt_str_make(big, sizeof(big)));
    assert_int_equal(web_json_finish(&d.j), 0);
    pt_buf_deinit(&d.buf);
    doc_init(&d, sizeof(big) + 1);
    web_json_string(&d.j, pt_str_make(big, sizeof(big)));
    doc_expect_error(&d, PT_E_NOMEM);
}

/* ------------------------------------------------------------------------ */
/* Strings                                                                    */
/* ------------------------------------------------------------------------ */

static void check_string(struct pt_str in, const char *want)
{
    struct doc d;
    doc_init(&d, 4096);
    web_json_string(&d.j, in);
    doc_expect(&d, want);
}

#define STR_CASE(lit, want) check_string(pt_str_make(lit, sizeof(lit) - 1), want)

static void test_string_escapes(void **state)
{
    (void)state;
    STR_CASE("", "\"\"");
    STR_CASE("plain text", "\"plain text\"");
    STR_CASE("a\"b\\c/d", "\"a\\\"b\\\\c/d\"");
    STR_CASE("\b\f\n\r\t", "\"\\b\\f\\n\\r\\t\"");
    STR_CASE("\x01\x1f\x7f", "\"\\u0001\\u001f\x7f\"");
    STR_CASE("nul\0in", "\"nul\\u0000in\"");
    /* Valid UTF-8 is kept: é, €, U+FFFF, U+10FFFF, G clef. */
    STR_CASE("\xc3\xa9\xe2\x82\xac\xef\xbf\xbf\xf4\x8f\xbf\xbf\xf0\x9d\x84\x9e",
             "\"\xc3\xa9\xe2\x82\xac\xef\xbf\xbf\xf4\x8f\xbf\xbf\xf0\x9d\x84\x9e\"");
}

static void test_string_invalid_utf8(void **state)
{
    (void)state;
    STR_CASE("\x80", "\"\\ufffd\"");                                  /* lone continuation */
    STR_CASE("a\xc0\x80z", "\"a\\ufffd\\ufffdz\"");                   /* overlong NUL */
    STR_CASE("\xc1\xbf", "\"\\ufffd\\ufffd\"");                       /* overlong */
    STR_CASE("\xe0\x80\x80", "\"\\ufffd\\ufffd\\ufffd\"");            /* overlong 3-byte */
    STR_CASE("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"");            /* surrogate D800 */
    STR_CASE("\xf0\x80\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""); /* overlong 4-byte */
    STR_CASE("\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""); /* > U+10FFFF */
    STR_CASE("\xf5\xff", "\"\\ufffd\\ufffd\"");
    STR_CASE("\xe2\x82", "\"\\ufffd\\ufffd\"");                   /* truncated at the end */
    STR_CASE("\xe2\x82x\xc3\xa9", "\"\\ufffd\\ufffdx\xc3\xa9\""); /* truncated, then valid */
}

static void test_keys_are_escaped(void **state)
{
    (void)state;
    struct doc d;
    doc_init(&d, 256);
    web_json_object_begin(&d.j);
    web_json_key(&d.j, "q\"\n");
    web_json_int(&d.j, 1);
    web_json_key_str(&d.j, PT_STR("b"));
    web_json_int(&d.j, 2);
    web_json_object_end(&d.j);
    doc_expect(&d, "{\"q\\\"\\n\":1,\"b\":2}");
}

/* Every byte string survives a round trip through jansson when it is valid UTF-8. */
static void test_strings_parse_back(void **state)
{
    (void)state;
    for (int round = 0; round < 2000; round++) {
        char s[32];
        size_t n = rng() % sizeof(s);
        for (size_t i = 0; i < n; i++)
            s[i] = (char)(rng() % 128); /* ASCII including controls and NUL */
        struct doc d;
        doc_init(&d, 1024);
        web_json_string(&d.j, pt_str_make(s, n));
        assert_int_equal(web_json_finish(&d.j), 0);
        json_error_t jerr;
        json_t *v = json_loadb(d.buf.data, d.buf.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
        assert_non_null(v);
        assert_true(json_is_string(v));
        assert_int_equal(json_string_length(v), n);
        assert_memory_equal(json_string_value(v), s, n);
        json_decref(v);
        pt_buf_deinit(&d.buf);
    }
}

/* ------------------------------------------------------------------------ */
/* Doubles                                                                    */
/* ------------------------------------------------------------------------ */

static void expect_double(double v, const char *want)
{
    char buf[WEB_JSON_DOUBLE_MAX];
    size_t n = web_json_format_double(v, buf);
    if (strcmp(buf, want) != 0)
        fail_msg("%.17g: wanted \"%s\", got \"%s\"", v, want, buf);
    assert_int_equal(n, strlen(want));
}

/* Expected texts are Python 3's repr() of the same values. */
static void test_double_known_values(void **state)
{
    (void)state;
    expect_double(0.0, "0.0");
    expect_double(-0.0, "-0.0");
    expect_double(0.5, "0.5");
    expect_double(1.0, "1.0");
    expect_double(-1.5, "-1.5");
    expect_double(100.0, "100.0");
    expect_double(0.1, "0.1");
    expect_double(0.3, "0.3");
    expect_double(0.1 + 0.2, "0.30000000000000004");
    expect_double(2.0 / 3.0, "0.6666666666666666");
    expect_double(215.02249665749204, "215.02249665749204");
    expect_double(123.456, "123.456");
    expect_double(0.0001, "0.0001");
    expect_double(0.00001, "1e-05");
    expect_double(1.5e-5, "1.5e-05");
    expect_double(1234567890123456.0, "1234567890123456.0");
    expect_double(9007199254740992.0, "9007199254740992.0");
    expect_double(1e16, "1e+16");
    expect_double(1e22, "1e+22");
    expect_double(1e300, "1e+300");
    expect_double(-1e-300, "-1e-300");
    expect_double(5e-324, "5e-324");
    expect_double(2.2250738585072014e-308, "2.2250738585072014e-308");
    expect_double(1.7976931348623157e308, "1.7976931348623157e+308");
    expect_double(6.103515625e-05, "6.103515625e-05");
    expect_double(51.4769, "51.4769");
    expect_double(-0.0005, "-0.0005");
    expect_double(NAN, "null");
    expect_double(INFINITY, "null");
}

static void test_double_random(void **state)
{
    (void)state;
    long n = 300000;
    const char *env = getenv("PT_JSON_DOUBLES");
    if (env != NULL && atol(env) > 0)
        n = atol(env);
    long shorter = 0;
    for (long i = 0; i < n; i++) {
        uint64_t bits = rng();
        switch (i % 4) {
        case 0: /* any bit pattern: mostly huge or tiny, the snprintf path */
            break;
        case 1: /* the fast range, 2^-16 .. 2^56, both signs */
        case 2: {
            uint64_t exp = (uint64_t)(1023 - 16 + (int)(rng() % 72));
            bits = (bits & ~(0x7ffULL << 52)) | (exp << 52);
            break;
        }
        case 3: { /* short mantissas: values with few decimal digits are common */
            uint64_t exp = (uint64_t)(1023 - 16 + (int)(rng() % 72));
            bits = (bits & ~(0x7ffULL << 52)) | (exp << 52);
            bits &= ~((1ULL << (rng() % 53)) - 1);
            break;
        }
        }
        double v;
        memcpy(&v, &bits, sizeof(v));
        if (!isfinite(v))
            continue;
        shorter += check_double(v);
    }
    print_message("%ld random doubles checked, %ld shorter than the %%.{p}g search\n", n, shorter);
}

static void test_double_powers_of_two_and_neighbours(void **state)
{
    (void)state;
    long shorter = 0;
    for (int e = -1074; e <= 1023; e++) {
        double p2 = ldexp(1.0, e);
        double v = p2;
        for (int k = 0; k < 3; k++)
            v = nextafter(v, 0);
        for (int k = 0; k < 7; k++) {
            if (v != 0 && isfinite(v)) {
                shorter += check_double(v);
                shorter += check_double(-v);
            }
            v = nextafter(v, INFINITY);
        }
    }
    print_message("powers of two: %ld shorter than the %%.{p}g search\n", shorter);
}

/* Decimals with few digits, the kind a service prints most, come out as typed. */
static void test_double_short_decimals(void **state)
{
    (void)state;
    char text[40];
    for (int i = 0; i < 100000; i++) {
        int digits = 1 + (int)(rng() % 15);
        uint64_t mant = rng() % 1000000000000000ULL;
        uint64_t lim = 1;
        for (int k = 0; k < digits; k++)
            lim *= 10;
        mant %= lim;
        if (mant == 0 || mant % 10 == 0)
            continue;
        int exp = (int)(rng() % 40) - 20;
        snprintf(text, sizeof(text), "%llue%d", (unsigned long long)mant, exp);
        double v = strtod(text, NULL);
        check_double(v);
        char ours[WEB_JSON_DOUBLE_MAX], dours[24], dtext[24];
        web_json_format_double(v, ours);
        bool neg;
        int e1, e2;
        normalize(ours, &neg, dours, &e1);
        normalize(text, &neg, dtext, &e2);
        if (strcmp(dours, dtext) != 0 || e1 != e2)
            fail_msg("\"%s\" formatted as \"%s\"", text, ours);
    }
}

static void test_double_slow_path_agrees(void **state)
{
    (void)state;
    for (int i = 0; i < 100000; i++) {
        uint64_t bits = rng();
        uint64_t exp = (uint64_t)(1023 - 14 + (int)(rng() % 68));
        bits = (bits & ~(0x7ffULL << 52)) | (exp << 52);
        if ((bits & ((1ULL << 52) - 1)) == 0)
            continue; /* powers of two may legitimately differ */
        double v;
        memcpy(&v, &bits, sizeof(v));
        char fast[WEB_JSON_DOUBLE_MAX], slow[WEB_JSON_DOUBLE_MAX];
        web_json_format_double(v, fast);
        web_json_format_double_slow(v, slow);
        if (strcmp(fast, slow) != 0)
            fail_msg("%.17g: fast \"%s\", slow \"%s\"", v, fast, slow);
    }
}

/* The unescaped key path writes the same bytes as the general one, and the same misuse fails. */
static void test_plain_strings_match_escaped_strings(void **state)
{
    (void)state;
    static const char *const values[] = {"2026-12-03T13:48:43.734Z", "rises_sets", "", "x"};
    struct pt_buf a, b;
    pt_buf_init(&a, 4096);
    pt_buf_init(&b, 4096);
    struct web_json ja, jb;
    web_json_init(&ja, &a);
    web_json_init(&jb, &b);
    web_json_array_begin(&ja); /* in an array (commas), then as members of an object */
    web_json_array_begin(&jb);
    for (size_t i = 0; i < PT_ARRAY_SIZE(values); i++) {
        web_json_cstring(&ja, values[i]);
        web_json_string_plain(&jb, values[i], strlen(values[i]));
    }
    web_json_object_begin(&ja);
    web_json_object_begin(&jb);
    for (size_t i = 0; i < PT_ARRAY_SIZE(values); i++) {
        WEB_JSON_KEY(&ja, "k");
        WEB_JSON_KEY(&jb, "k");
        web_json_cstring(&ja, values[i]);
        web_json_string_plain(&jb, values[i], strlen(values[i]));
    }
    web_json_object_end(&ja);
    web_json_object_end(&jb);
    web_json_array_end(&ja);
    web_json_array_end(&jb);
    assert_int_equal(web_json_finish(&ja), 0);
    assert_int_equal(web_json_finish(&jb), 0);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    pt_buf_deinit(&a);
    pt_buf_deinit(&b);
    /* A value without its key inside an object is misuse. */
    struct doc d;
    doc_init(&d, 256);
    web_json_object_begin(&d.j);
    web_json_string_plain(&d.j, "v", 1);
    doc_expect_error(&d, PT_E_INVALID);
}

static void test_plain_keys_match_escaped_keys(void **state)
{
    (void)state;
    static const char *const keys[] = {"name", "az", "alt_airless", "jd_ut1", "distance_au", ""};
    struct pt_buf a, b;
    pt_buf_init(&a, 4096);
    pt_buf_init(&b, 4096);
    struct web_json ja, jb;
    web_json_init(&ja, &a);
    web_json_init(&jb, &b);
    web_json_object_begin(&ja);
    web_json_object_begin(&jb);
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        web_json_key(&ja, keys[i]);
        web_json_key_plain(&jb, keys[i], strlen(keys[i]));
        web_json_int(&ja, (int64_t)i);
        web_json_int(&jb, (int64_t)i);
    }
    WEB_JSON_KEY(&ja, "last");
    WEB_JSON_KEY(&jb, "last");
    web_json_null(&ja);
    web_json_null(&jb);
    web_json_object_end(&ja);
    web_json_object_end(&jb);
    assert_int_equal(web_json_finish(&ja), 0);
    assert_int_equal(web_json_finish(&jb), 0);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    /* A key outside an object, or two keys in a row, is misuse on both paths. */
    struct pt_buf c;
    pt_buf_init(&c, 4096);
    struct web_json jc;
    web_json_init(&jc, &c);
    WEB_JSON_KEY(&jc, "x");
    assert_int_equal(web_json_finish(&jc), PT_E_INVALID);
    web_json_init(&jc, &c);
    web_json_object_begin(&jc);
    WEB_JSON_KEY(&jc, "x");
    WEB_JSON_KEY(&jc, "y");
    assert_int_equal(web_json_finish(&jc), PT_E_INVALID);
    pt_buf_deinit(&a);
    pt_buf_deinit(&b);
    pt_buf_deinit(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_keys_match_escaped_keys),
        cmocka_unit_test(test_plain_strings_match_escaped_strings),
        cmocka_unit_test(test_object_and_array),
        cmocka_unit_test(test_members_raw),
        cmocka_unit_test(test_top_level_scalars),
        cmocka_unit_test(test_appends_after_existing_bytes),
        cmocka_unit_test(test_deep_nesting_limit),
        cmocka_unit_test(test_misuse),
        cmocka_unit_test(test_buffer_limit),
        cmocka_unit_test(test_string_escapes),
        cmocka_unit_test(test_string_invalid_utf8),
        cmocka_unit_test(test_keys_are_escaped),
        cmocka_unit_test(test_strings_parse_back),
        cmocka_unit_test(test_double_known_values),
        cmocka_unit_test(test_double_random),
        cmocka_unit_test(test_double_powers_of_two_and_neighbours),
        cmocka_unit_test(test_double_short_decimals),
        cmocka_unit_test(test_double_slow_path_agrees),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
