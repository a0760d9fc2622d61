/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * json_test.c -- unit tests of src/web/json.c: document structure, string
 * escaping, misuse and limit errors, and the shortest round-trip double format.
 *
 * The double tests hold web_json_format_double to a reference built from libc's
 * correctly rounded conversions only (check_double): its n digits read back
 * exactly, no decimal of n - 1 digits does, and no other n-digit decimal that
 * does is nearer; it must also equal the snprintf formatter of json.c except on
 * a power of two, where that one can be longer. Inputs: known hard cases (with
 * Python's repr() of each), every power of two and its neighbours, random bit
 * patterns over the whole exponent range (subnormals included), random
 * decimals of up to 15 digits, which must come back as typed. The number of
 * random doubles defaults to 100000; set PT_JSON_DOUBLES=100000000 to run more
 * (optimized build: about 5 microseconds each, some 10 minutes for 10^8).
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

/*
 * The reference for doubles. The decimals strtod reads back as x > 0 form an
 * interval around x, so no p-digit decimal reads back as x when neither of the
 * two p-digit decimals next to x does: the correctly rounded one ("%.{p-1}e",
 * ties to even) and its neighbour on the other side of x. And the nearest
 * p-digit decimal that reads back is the correctly rounded one if it does, else
 * that neighbour. Unlike a search for the smallest p at which "%.{p}g" reads
 * back, this is also right where x's rounding interval is lopsided (powers of
 * two, whose lower neighbour is half as far as the upper one).
 */
struct decimal {
    uint64_t m; /* p digits */
    int e;      /* value m * 10^e */
    int p;
};

static double decimal_read(struct decimal d)
{
    char t[48];
    snprintf(t, sizeof(t), "%llue%d", (unsigned long long)d.m, d.e);
    return strtod(t, NULL);
}

/* x > 0 correctly rounded to p significant digits. */
static struct decimal decimal_round(double x, int p)
{
    char t[48];
    snprintf(t, sizeof(t), "%.*e", p - 1, x);
    struct decimal d = {0, 0, p};
    const char *s = t;
    for (; *s != 'e'; s++)
        if (*s != '.')
            d.m = d.m * 10 + (uint64_t)(*s - '0');
    d.e = atoi(s + 1) - (p - 1);
    return d;
}

/* The p-digit decimal next to d on the other side of x; d must not read back as x. */
static struct decimal decimal_other_side(struct decimal d, double x)
{
    uint64_t low = 1; /* 10^(p-1) */
    for (int i = 1; i < d.p; i++)
        low *= 10;
    if (decimal_read(d) > x) { /* strtod is monotonic: d > x */
        if (d.m == low) {
            d.m = low * 10 - 1;
            d.e--;
        } else {
            d.m--;
        }
    } else if (d.m == low * 10 - 1) {
        d.m = low;
        d.e++;
    } else {
        d.m++;
    }
    return d;
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
 * Check one finite nonzero double: valid JSON number, exact round trip, the n
 * digits are the shortest (no n - 1 digits read back) and the nearest n digits
 * that read back; the snprintf formatter writes the same text unless v is a
 * power of two and ours is shorter. Returns whether it is.
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

    char dours[24];
    bool neg;
    int decpt;
    normalize(ours, &neg, dours, &decpt);
    int n = (int)strlen(dours);
    double x = fabs(v);
    if (n > 1) {
        struct decimal r = decimal_round(x, n - 1);
        if (decimal_read(r) == x || decimal_read(decimal_other_side(r, x)) == x)
            fail_msg("%.17g: \"%s\" is not the shortest: %d digits read back", v, ours, n - 1);
    }
    struct decimal r = decimal_round(x, n);
    if (decimal_read(r) != x)
        r = decimal_other_side(r, x);
    char want[24];
    snprintf(want, sizeof(want), "%llu", (unsigned long long)r.m);
    if (strcmp(want, dours) != 0 || r.e + n != decpt)
        fail_msg("%.17g: \"%s\" is not the nearest %d digits, %llue%d", v, ours, n,
                 (unsigned long long)r.m, r.e);

    char slow[WEB_JSON_DOUBLE_MAX];
    web_json_format_double_slow(v, slow);
    if (strcmp(slow, ours) == 0)
        return false;
    uint64_t bits;
    memcpy(&bits, &v, sizeof(bits));
    if ((bits & ((1ULL << 52) - 1)) != 0 || strlen(slow) <= len)
        fail_msg("%.17g: \"%s\", the snprintf formatter \"%s\"", v, ours, slow);
    return true;
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

/*
 * Known hard cases, as bit patterns, with Python 3's repr() of each: the ends of
 * the range, the edges of the former fast path, powers of two, digit counts,
 * values that troubled published shortest-digit algorithms, and the doubles
 * whose 128-bit products in json.c come nearest an integer. Each is checked
 * with both signs, against the text and against the reference.
 */
static const struct {
    uint64_t bits;
    const char *repr;
} hard_cases[] = {
    /* the ends: smallest subnormal, largest subnormal, DBL_MIN, DBL_MAX */
    {0x0000000000000001ULL, "5e-324"},
    {0x0000000000000001ULL, "5e-324"}, /* 4.9406564584124654e-324 */
    {0x0000000000000002ULL, "1e-323"},
    {0x0000000000000003ULL, "1.5e-323"},
    {0x0000000000000005ULL, "2.5e-323"},
    {0x000fffffffffffffULL, "2.225073858507201e-308"},  /* largest subnormal */
    {0x000fffffffffffffULL, "2.225073858507201e-308"},  /* 2.2250738585072011e-308 */
    {0x0010000000000000ULL, "2.2250738585072014e-308"}, /* 2.2250738585072012e-308 */
    {0x0010000000000000ULL, "2.2250738585072014e-308"},
    {0x0010000000000001ULL, "2.225073858507202e-308"}, /* DBL_MIN + 1 ulp */
    {0x0000000000010000ULL, "3.2379e-319"},            /* subnormal 2^16 ulps */
    {0x00000000000f4240ULL, "4.940656e-318"},
    {0x00000000016e3600ULL, "1.18575755e-316"},
    {0x0000008cdcdea440ULL, "2.989102097996e-312"},
    {0x00005c0ab9347ed7ULL, "5e-310"},
    {0x000ffffffffffffdULL, "2.2250738585072e-308"},
    {0x0000000000000014ULL, "1e-322"},
    {0x000730d67819e8d2ULL, "1e-308"},
    {0x0031fa182c40c60dULL, "1e-307"},
    {0x7fefffffffffffffULL, "1.7976931348623157e+308"}, /* 1.7976931348623157e308 */
    {0x7feffffffffffffeULL, "1.7976931348623155e+308"}, /* DBL_MAX - 1 ulp */
    {0x7fefffffffffffffULL, "1.7976931348623157e+308"}, /* 1.7976931348623158e308 */
    {0x7fe0000000000000ULL, "8.98846567431158e+307"},   /* 2^1023 */
    {0x7fe1ccf385ebc8a0ULL, "1e+308"},                  /* 1e308 */
    /* around the old fast range: 2^-14, 2^53, 2^54 */
    {0x3f10000000000000ULL, "6.103515625e-05"},        /* 2^-14 */
    {0x3f0fffffffffffffULL, "6.103515624999999e-05"},  /* 2^-14 - 1 ulp */
    {0x3f10000000000001ULL, "6.103515625000001e-05"},  /* 2^-14 + 1 ulp */
    {0x3f00000000000000ULL, "3.0517578125e-05"},       /* 2^-15 */
    {0x4340000000000000ULL, "9007199254740992.0"},     /* 2^53 */
    {0x4340000000000000ULL, "9007199254740992.0"},     /* 9007199254740993 */
    {0x433fffffffffffffULL, "9007199254740991.0"},     /* 2^53 - 1 ulp */
    {0x4340000000000001ULL, "9007199254740994.0"},     /* 2^53 + 1 ulp */
    {0x4350000000000000ULL, "1.8014398509481984e+16"}, /* 2^54 */
    {0x434fffffffffffffULL, "1.8014398509481982e+16"}, /* 2^54 - 1 ulp */
    {0x4350000000000001ULL, "1.8014398509481988e+16"}, /* 2^54 + 1 ulp */
    {0x4360000000000000ULL, "3.602879701896397e+16"},  /* 2^55 */
    {0x43e0000000000000ULL, "9.223372036854776e+18"},  /* 2^63 */
    {0x43f0000000000000ULL, "1.8446744073709552e+19"}, /* 2^64 */
    {0x4341c37937e07fffULL, "9999999999999998.0"},     /* 9999999999999998 */
    {0x4341c37937e08000ULL, "1e+16"},                  /* 9999999999999999 */
    {0x430c6bf526340000ULL, "1000000000000000.0"},     /* 1e15 */
    {0x4341c37937e08000ULL, "1e+16"},                  /* 1e16 */
    {0x4376345785d8a000ULL, "1e+17"},                  /* 1e17 */
    {0x444b1ae4d6e2ef50ULL, "1e+21"},                  /* 1e21 */
    {0x4480f0cf064dd592ULL, "1e+22"},                  /* 1e22 */
    {0x44b52d02c7e14af6ULL, "1e+23"},                  /* 1e23 */
    {0x437b69b4ba630f35ULL, "1.2345678901234568e+17"}, /* 123456789012345678 */
    {0x4345ee2a2eb5a5c4ULL, "1.2345678901234568e+16"}, /* 12345678901234567 */
    /* powers of two whose lower neighbour is half as far: shorter than a %.{p}g search */
    {0x3e70000000000000ULL, "5.960464477539063e-08"},   /* 2^-24 */
    {0x3d30000000000000ULL, "5.684341886080802e-14"},   /* 2^-44 */
    {0x3b20000000000000ULL, "6.617444900424222e-24"},   /* 2^-77 */
    {0x0060000000000000ULL, "7.120236347223045e-307"},  /* 2^-1017 */
    {0x4580000000000000ULL, "6.189700196426902e+26"},   /* 2^89 */
    {0x7cf0000000000000ULL, "6.386688990511104e+293"},  /* 2^976 */
    {0x0010000000000000ULL, "2.2250738585072014e-308"}, /* 2^-1022 */
    {0x0020000000000000ULL, "4.450147717014403e-308"},  /* 2^-1021 */
    {0x3e60000000000000ULL, "2.9802322387695312e-08"},  /* 2^-25 */
    {0x3ff0000000000000ULL, "1.0"},                     /* 1 */
    {0x3fe0000000000000ULL, "0.5"},                     /* 2^-1 */
    /* digit counts and layouts */
    {0x3ff3333333333333ULL, "1.2"},
    {0x3ff3ae147ae147aeULL, "1.23"},
    {0x3ff3be76c8b43958ULL, "1.234"},
    {0x3ff3c083126e978dULL, "1.2345"},
    {0x3ff3c0c1fc8f3238ULL, "1.23456"},
    {0x3ff3c0c9539b8887ULL, "1.234567"},
    {0x3ff3c0ca2a5b1d5dULL, "1.2345678"},
    {0x3ff3c0ca4283de1bULL, "1.23456789"},
    {0x3ff3c0ca42c8964bULL, "1.234567891"},
    {0x3ff3c0ca42d654bbULL, "1.2345678912"},
    {0x3ff3c0ca42d8647fULL, "1.23456789123"},
    {0x3ff3c0ca42d8aaddULL, "1.234567891234"},
    {0x3ff3c0ca42d8b3a9ULL, "1.2345678912345"},
    {0x3ff3c0ca42d8b4b7ULL, "1.23456789123456"},
    {0x3ff3c0ca42d8b4d7ULL, "1.234567891234567"},
    {0x3ff3c0ca428c59fbULL, "1.2345678901234567"},
    {0x3fd3333333333333ULL, "0.3"},
    {0x3fd5555555555555ULL, "0.3333333333333333"}, /* 1/3 */
    {0x3f50624dd2f1a9fcULL, "0.001"},
    {0x3f1a36e2eb1c432dULL, "0.0001"},
    {0x3ee4f8b588e368f1ULL, "1e-05"},              /* 0.00001 */
    {0x3e7ad7f29abcaf48ULL, "1e-07"},              /* 1e-7 */
    {0x419d6f3454000000ULL, "123456789.0"},        /* 123456789 */
    {0x43118b54f22aeb00ULL, "1234567890123456.0"}, /* 1234567890123456 */
    {0x3f202e85be111841ULL, "0.000123456789"},
    {0x3eb0000000000000ULL, "9.5367431640625e-07"},
    {0xbf50000000000000ULL, "-0.0009765625"},
    /* classic hard cases of shortest-digit algorithms */
    {0xc352bd2668e077c4ULL, "-2.109808898695963e+16"},  /* -2.109808898695963e16 */
    {0x434018601510c000ULL, "9060801153433600.0"},      /* 9.0608011534336e15 */
    {0x43d055dc36f24000ULL, "4.708356024711512e+18"},   /* 4.708356024711512e18 */
    {0x43e052961c6f8000ULL, "9.409340012568248e+18"},   /* 9.409340012568248e18 */
    {0x435141f4bf38cb29ULL, "1.9430376160308388e+16"},  /* 1.9430376160308388e16 */
    {0xc40e3ee5e02e9b8dULL, "-6.9741824662760956e+19"}, /* -6.9741824662760956e19 */
    {0x43ce674b4b31190fULL, "4.3816050601147837e+18"},  /* 4.3816050601147837e18 */
    {0x0040000000000000ULL, "1.7800590868057611e-307"},
    {0x007fffffffffffffULL, "2.8480945388892175e-306"},
    {0x0290000000000000ULL, "2.446494580089078e-296"},
    {0x029fffffffffffffULL, "4.8929891601781557e-296"},
    {0x435fffffffffffffULL, "3.6028797018963964e+16"}, /* 3.6028797018963964e16 */
    {0x1330000000000000ULL, "2.900835519859558e-216"},
    {0x133fffffffffffffULL, "5.801671039719115e-216"},
    {0x3a6fa7161a4d6e0cULL, "3.196104012172126e-27"},
    {0x433fffffffffffffULL, "9007199254740991.0"}, /* 9.007199254740991e15 */
    /* tools/gen_pow10.py --closest 40: the products nearest an integer */
    {0x6cbf92bacb3cb40cULL, "6.802601037806062e+215"},
    {0x4d63de005bd620dfULL, "6.538311315939327e+64"},
    {0x0d07c0747bd76fa1ULL, "6.794064501329792e-246"},
    {0x4d53de005bd620dfULL, "3.2691556579696634e+64"},
    {0x494ec55666d8f9ecULL, "1.3724257545517827e+45"},
    {0x494ec55666d8f9edULL, "1.3724257545517829e+45"},
    {0x15e7f399fe02c4b9ULL, "3.819679239585126e-203"},
    {0x15e7f399fe02c4baULL, "3.8196792395851266e-203"},
    {0x67c43e72fcd3aeb2ULL, "7.215764341273685e+191"},
    {0x67c43e72fcd3aeb3ULL, "7.215764341273686e+191"},
    {0x59fc66f5ea0149cbULL, "3.004069940446111e+125"},
    {0x59fc66f5ea0149ccULL, "3.0040699404461114e+125"},
    {0x0cf7c0747bd76fa1ULL, "3.397032250664896e-246"},
    {0x3c9b7738011e75feULL, "9.529078328103644e-17"},
    {0x3c9b7738011e75ffULL, "9.529078328103645e-17"},
    {0x2b559a2783ce70abULL, "6.17275068316372e-100"},
    {0x20f8823a57adbef8ULL, "7.487252720986825e-150"},
    {0x20f8823a57adbef9ULL, "7.487252720986827e-150"},
    {0x495ec55666d8f9ecULL, "2.7448515091035655e+45"},
    {0x495ec55666d8f9edULL, "2.7448515091035658e+45"},
    {0x1ff6404b5f1623acULL, "1.0372291183354031e-154"},
    {0x1ff6404b5f1623adULL, "1.0372291183354033e-154"},
    {0x10e1d467e94b856eULL, "2.35200139756706e-227"},
    {0x11164981e39e66c9ULL, "2.3520013975670597e-226"},
    {0x11164981e39e66caULL, "2.35200139756706e-226"},
    {0x3076e22db4568793ULL, "3.1620135772958786e-75"},
    {0x4f208ce499519ce3ULL, "1.462098026959957e+73"},
    {0x4f208ce499519ce4ULL, "1.4620980269599572e+73"},
    {0x1057406753df2f0cULL, "5.990674574353199e-230"},
    {0x1057406753df2f0dULL, "5.9906745743532e-230"},
    {0x5c5e735b3003e352ULL, "8.853073057590707e+136"},
    {0x67d43e72fcd3aeb2ULL, "1.443152868254737e+192"},
    {0x67d43e72fcd3aeb3ULL, "1.4431528682547373e+192"},
    {0x20c8823a57adbef8ULL, "9.359065901233532e-151"},
    {0x20c8823a57adbef9ULL, "9.359065901233533e-151"},
    {0x3334ee1a87b481c1ULL, "5.087823603781025e-62"},
    {0x3334ee1a87b481c2ULL, "5.087823603781026e-62"},
    {0x325b888aae5ed711ULL, "4.085077236406931e-66"},
    {0x325b888aae5ed712ULL, "4.085077236406932e-66"},
    {0x7c1873cf8ee72812ULL, "5.957404457740729e+289"},
};

static void test_double_hard_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(hard_cases) / sizeof(hard_cases[0]); i++) {
        double v;
        memcpy(&v, &hard_cases[i].bits, sizeof(v));
        expect_double(v, hard_cases[i].repr);
        char neg[WEB_JSON_DOUBLE_MAX + 1];
        snprintf(neg, sizeof(neg), "%s%s", v < 0 ? "" : "-", hard_cases[i].repr + (v < 0));
        expect_double(-v, neg);
        check_double(v);
        check_double(-v);
    }
}

static long doubles_to_check(long fallback)
{
    const char *env = getenv("PT_JSON_DOUBLES");
    return env != NULL && atol(env) > 0 ? atol(env) : fallback;
}

/* A random double of one of eight kinds (i % 8); may be NaN or infinite. */
static double random_double(long i)
{
    uint64_t bits = rng();
    uint64_t exp_mask = 0x7ffULL << 52, frac_mask = (1ULL << 52) - 1;
    switch (i % 8) {
    case 0: /* any bit pattern: every exponent equally likely */
        break;
    case 1: /* the range of this service's values, 2^-16 .. 2^56, both signs */
    case 2: {
        uint64_t exp = (uint64_t)(1023 - 16 + (int)(rng() % 72));
        bits = (bits & ~exp_mask) | (exp << 52);
        break;
    }
    case 3:   /* short mantissas there: values with few decimal digits are common */
    case 4: { /* and at any exponent */
        uint64_t exp = i % 8 == 3 ? (uint64_t)(1023 - 16 + (int)(rng() % 72)) : rng() % 2047;
        bits = (bits & ~exp_mask) | (exp << 52);
        bits &= ~((1ULL << (rng() % 53)) - 1);
        break;
    }
    case 5: /* subnormals, down to the smallest */
        bits = (bits & (1ULL << 63)) | ((bits & frac_mask) >> (rng() % 53));
        break;
    case 6: { /* powers of two and their next few neighbours, any exponent */
        uint64_t exp = rng() % 2047;
        uint64_t frac = rng() % 4;
        if (rng() % 2)
            frac = frac_mask - frac;
        bits = (bits & (1ULL << 63)) | (exp << 52) | frac;
        break;
    }
    case 7: { /* near a power of ten, 1e-323 .. 1e308 */
        char text[16];
        snprintf(text, sizeof(text), "1e%d", (int)(rng() % 632) - 323);
        double p10 = strtod(text, NULL);
        memcpy(&bits, &p10, sizeof(bits));
        bits += (rng() % 9) - 4;
        break;
    }
    }
    double v;
    memcpy(&v, &bits, sizeof(v));
    return v;
}

static void test_double_random(void **state)
{
    (void)state;
    long n = doubles_to_check(100000);
    long shorter = 0, checked = 0;
    for (long i = 0; i < n; i++) {
        double v = random_double(i);
        if (!isfinite(v) || v == 0)
            continue;
        shorter += check_double(v);
        checked++;
    }
    print_message("%ld random doubles checked, %ld shorter than the snprintf formatter's\n",
                  checked, shorter);
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
    /* 46 powers of two, both signs (2^-24 is 5.960464477539063e-08, not ...0625e-08). */
    print_message("powers of two: %ld shorter than the snprintf formatter's\n", shorter);
    assert_int_equal(shorter, 92);
}

/*
 * Whole numbers (the formatter's own path below 2^53): every one near zero, the
 * neighbours of every power of two and of ten up to past 2^53 (where the other path takes
 * over), and random ones of every size; against the libc-built reference.
 */
static void test_double_whole_numbers(void **state)
{
    (void)state;
    for (int i = -70000; i <= 70000; i++)
        if (i != 0)
            check_double(i);
    expect_double(1010.0, "1010.0");
    expect_double(-15.0, "-15.0");
    expect_double(9007199254740991.0, "9007199254740991.0");
    expect_double(9007199254740992.0, "9007199254740992.0");
    expect_double(1e15, "1000000000000000.0");
    expect_double(1e16, "1e+16");
    for (int e = 10; e <= 60; e++) {
        double p2 = ldexp(1.0, e);
        for (double d = -3; d <= 3; d++) {
            check_double(p2 + d);
            check_double(-(p2 + d));
        }
    }
    for (double p10 = 1e4; p10 <= 1e18; p10 *= 10)
        for (double d = -2; d <= 2; d++)
            check_double(p10 + d);
    for (int i = 0; i < 200000; i++) {
        uint64_t m = rng() >> (rng() % 64);
        check_double((double)(m & ((1ULL << 54) - 1)) + 1);
    }
}

/*
 * Decimals of up to 15 significant digits (DBL_DIG), anywhere in the normal
 * range, read back as doubles: those come out as typed.
 */
static void test_double_short_decimals(void **state)
{
    (void)state;
    char text[40];
    long n = doubles_to_check(100000) / 2;
    for (long i = 0; i < n; i++) {
        int digits = 1 + (int)(rng() % 15);
        uint64_t lim = 1;
        for (int k = 0; k < digits; k++)
            lim *= 10;
        uint64_t mant = rng() % lim;
        if (mant == 0 || mant % 10 == 0)
            continue;
        int exp = i % 2 ? (int)(rng() % 40) - 20 : (int)(rng() % 630) - 322;
        snprintf(text, sizeof(text), "%s%llue%d", rng() % 4 ? "" : "-", (unsigned long long)mant,
                 exp);
        double v = strtod(text, NULL);
        if (fpclassify(v) != FP_NORMAL)
            continue; /* subnormals hold fewer digits; infinities none */
        check_double(v);
        char ours[WEB_JSON_DOUBLE_MAX], dours[24], dtext[24];
        web_json_format_double(v, ours);
        bool neg1, neg2;
        int e1, e2;
        normalize(ours, &neg1, dours, &e1);
        normalize(text, &neg2, dtext, &e2);
        if (strcmp(dours, dtext) != 0 || e1 != e2 || neg1 != neg2)
            fail_msg("\"%s\" formatted as \"%s\"", text, ours);
    }
}

/* The snprintf formatter, the reference of the fuzz target, agrees everywhere else. */
static void test_double_slow_path_agrees(void **state)
{
    (void)state;
    for (int i = 0; i < 100000; i++) {
        double v = random_double(i);
        uint64_t bits;
        memcpy(&bits, &v, sizeof(bits));
        if ((bits & ((1ULL << 52) - 1)) == 0 && (bits & (0x7ffULL << 52)) != 0)
            continue; /* powers of two may legitimately differ */
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
        cmocka_unit_test(test_double_hard_cases),
        cmocka_unit_test(test_double_random),
        cmocka_unit_test(test_double_powers_of_two_and_neighbours),
        cmocka_unit_test(test_double_whole_numbers),
        cmocka_unit_test(test_double_short_decimals),
        cmocka_unit_test(test_double_slow_path_agrees),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
