/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * form_test.c -- unit tests of src/web/form.c: percent-decoding (table of good
 * and bad escapes, zero-copy when nothing changes), percent-encoding, and the
 * query/form decoder (pairs, empty pairs, '+', repeated keys, the item limit
 * crossed by one, every truncation of an escape).
 *
 * Run: make SANITIZE=address,undefined build/san/tests/unit/web/form_test &&
 *      build/san/tests/unit/web/form_test
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web/form.h"

static int setup(void **state)
{
    struct pt_arena *a = malloc(sizeof(*a));
    if (a == NULL)
        return -1;
    pt_arena_init(a, 1024);
    *state = a;
    return 0;
}

static int teardown(void **state)
{
    pt_arena_deinit(*state);
    free(*state);
    return 0;
}

#define S(lit) pt_str_make(lit, sizeof(lit) - 1)

static void assert_str(struct pt_str got, const char *want, size_t want_len)
{
    if (got.len != want_len || (want_len && memcmp(got.ptr, want, want_len) != 0))
        fail_msg("got \"%.*s\" (%zu bytes), wanted \"%.*s\" (%zu bytes)", (int)got.len, got.ptr,
                 got.len, (int)want_len, want, want_len);
}

/* ------------------------------------------------------------------------ */
/* Percent-decoding                                                           */
/* ------------------------------------------------------------------------ */

static void test_decode_table(void **state)
{
    struct pt_arena *a = *state;
    static const struct {
        const char *in;
        bool plus;
        const char *want; /* NULL: PT_E_BAD_REQUEST */
        size_t want_len;
    } cases[] = {
        {"", true, "", 0},
        {"mars", true, "mars", 4},
        {"m%61rs", false, "mars", 4},
        {"%4D%4d", false, "MM", 2},
        {"a+b", true, "a b", 3},
        {"a+b", false, "a+b", 3},
        {"a%2Bb", true, "a+b", 3},
        {"%20", true, " ", 1},
        {"%2F", false, "/", 1},
        {"%C3%A9", true, "\xc3\xa9", 2},
        {"%ff%FE", true, "\xff\xfe", 2},
        {"100%25", true, "100%", 4},
        {"%01", true, "\x01", 1},
        {"%", true, NULL, 0},
        {"%4", true, NULL, 0},
        {"a%4", true, NULL, 0},
        {"%zz", true, NULL, 0},
        {"%g0", true, NULL, 0},
        {"%0g", true, NULL, 0},
        {"%%41", true, NULL, 0},
        {"% 1", true, NULL, 0},
        {"%00", true, NULL, 0},
        {"a%00b", false, NULL, 0},
        {"ok%2", false, NULL, 0},
    };
    for (size_t i = 0; i < PT_ARRAY_SIZE(cases); i++) {
        struct pt_str out = S("untouched");
        int rc = web_percent_decode(pt_str_c(cases[i].in), cases[i].plus, a, &out);
        if (cases[i].want == NULL) {
            if (rc != PT_E_BAD_REQUEST)
                fail_msg("case %zu \"%s\": rc %d, wanted PT_E_BAD_REQUEST", i, cases[i].in, rc);
            assert_str(out, "untouched", 9);
            assert_false(web_percent_is_valid(pt_str_c(cases[i].in)));
        } else {
            if (rc != 0)
                fail_msg("case %zu \"%s\": rc %d", i, cases[i].in, rc);
            assert_str(out, cases[i].want, cases[i].want_len);
            assert_true(web_percent_is_valid(pt_str_c(cases[i].in)));
        }
    }
}

static void test_decode_raw_nul_rejected(void **state)
{
    struct pt_arena *a = *state;
    struct pt_str out;
    assert_int_equal(web_percent_decode(S("a\0b"), false, a, &out), PT_E_BAD_REQUEST);
    assert_int_equal(web_percent_decode(S("a%41\0"), false, a, &out), PT_E_BAD_REQUEST);
    assert_false(web_percent_is_valid(S("\0")));
}

static void test_decode_zero_copy(void **state)
{
    struct pt_arena *a = *state;
    struct pt_str in = S("plain-value_1.2~x");
    struct pt_str out;
    assert_int_equal(web_percent_decode(in, true, a, &out), 0);
    assert_ptr_equal(out.ptr, in.ptr);
    assert_int_equal(out.len, in.len);

    /* A changed value is a NUL-terminated arena copy; the input is untouched. */
    char buf[] = "a%41+";
    assert_int_equal(web_percent_decode(pt_str_c(buf), true, a, &out), 0);
    assert_ptr_not_equal(out.ptr, buf);
    assert_str(out, "aA ", 3);
    assert_int_equal(out.ptr[3], '\0');
    assert_string_equal(buf, "a%41+");
}

/* The scan for escapes reads eight bytes at a time: an escape, a '+' or a NUL at any
 * offset of a long component (and of a whole query) is found, none is invented. */
static void test_decode_every_offset(void **state)
{
    struct pt_arena *a = *state;
    const char *clean = "abcdefghijklmnopqrstuvwxyz0123456789-._~ABCDEFGH";
    size_t n = strlen(clean);
    for (size_t p = 0; p <= n; p++) {
        char in[80], want[80];
        struct pt_str out;
        memcpy(in, clean, p);
        memcpy(in + p, "%41", 3);
        memcpy(in + p + 3, clean + p, n - p);
        memcpy(want, clean, p);
        want[p] = 'A';
        memcpy(want + p + 1, clean + p, n - p);
        assert_int_equal(web_percent_decode(pt_str_make(in, n + 3), false, a, &out), 0);
        assert_str(out, want, n + 1);

        memcpy(in + p, "+", 1);
        memcpy(in + p + 1, clean + p, n - p);
        want[p] = ' ';
        assert_int_equal(web_percent_decode(pt_str_make(in, n + 1), true, a, &out), 0);
        assert_str(out, want, n + 1);
        assert_int_equal(web_percent_decode(pt_str_make(in, n + 1), false, a, &out), 0);
        assert_ptr_equal(out.ptr, in);

        in[p] = '\0';
        assert_int_equal(web_percent_decode(pt_str_make(in, n + 1), false, a, &out),
                         PT_E_BAD_REQUEST);

        /* The same in a query: "k=" then the component, the '+' at offset p + 2. */
        char q[90];
        memcpy(q, "k=", 2);
        memcpy(q + 2, in, n + 1);
        q[2 + p] = '+';
        struct web_form f;
        assert_int_equal(web_form_parse(pt_str_make(q, n + 3), a, 4, &f), 0);
        assert_int_equal(f.count, 1);
        assert_str(f.items[0].value, want, n + 1);
        q[2 + p] = '\0';
        assert_int_equal(web_form_parse(pt_str_make(q, n + 3), a, 4, &f), PT_E_BAD_REQUEST);
        q[2 + p] = 'x';
        assert_int_equal(web_form_parse(pt_str_make(q, n + 3), a, 4, &f), 0);
        assert_ptr_equal(f.items[0].value.ptr, q + 2);
    }
}

/* Every byte value survives encode then decode, and encoding is exact. */
static void test_encode(void **state)
{
    struct pt_arena *a = *state;
    struct pt_buf b;
    pt_buf_init(&b, 4096);
    assert_int_equal(web_percent_encode(S("AZaz09-._~"), &b), 0);
    assert_str(pt_buf_str(&b), "AZaz09-._~", 10);
    b.len = 0;
    assert_int_equal(web_percent_encode(S("a b/c?d&e=f+g%\xc3\xa9"), &b), 0);
    assert_str(pt_buf_str(&b), "a%20b%2Fc%3Fd%26e%3Df%2Bg%25%C3%A9", 34);

    char all[255];
    for (int i = 0; i < 255; i++)
        all[i] = (char)(i + 1);
    b.len = 0;
    assert_int_equal(web_percent_encode(pt_str_make(all, sizeof(all)), &b), 0);
    struct pt_str back;
    assert_int_equal(web_percent_decode(pt_buf_str(&b), false, a, &back), 0);
    assert_str(back, all, sizeof(all));
    pt_buf_deinit(&b);

    /* The limit: "%2F" needs 3 bytes; nothing is appended when it does not fit. */
    pt_buf_init(&b, 4);
    assert_int_equal(web_percent_encode(S("x/"), &b), 0);
    assert_int_equal(b.len, 4);
    assert_int_equal(web_percent_encode(S("y"), &b), PT_E_NOMEM);
    assert_int_equal(b.len, 4);
    pt_buf_deinit(&b);
    pt_buf_init(&b, 3);
    assert_int_equal(web_percent_encode(S("x/"), &b), PT_E_NOMEM);
    assert_int_equal(b.len, 0);
    pt_buf_deinit(&b);
}

/* ------------------------------------------------------------------------ */
/* Forms                                                                      */
/* ------------------------------------------------------------------------ */

static void expect_items(struct pt_arena *a, const char *raw, const char *const *want, size_t n)
{
    struct web_form f;
    int rc = web_form_parse(pt_str_c(raw), a, 100, &f);
    if (rc != 0)
        fail_msg("\"%s\": rc %d", raw, rc);
    if (f.count != n)
        fail_msg("\"%s\": %zu items, wanted %zu", raw, f.count, n);
    for (size_t i = 0; i < n; i++) {
        assert_str(f.items[i].key, want[2 * i], strlen(want[2 * i]));
        assert_str(f.items[i].value, want[2 * i + 1], strlen(want[2 * i + 1]));
    }
}

#define EXPECT(raw, ...)                                                                           \
    do {                                                                                           \
        static const char *const want_[] = {__VA_ARGS__};                                          \
        expect_items(a, raw, want_, PT_ARRAY_SIZE(want_) / 2);                                     \
    } while (0)

static void test_form_pairs(void **state)
{
    struct pt_arena *a = *state;
    EXPECT("lat=48.93&lon=2.45", "lat", "48.93", "lon", "2.45");
    EXPECT("a=1&&b=2", "a", "1", "b", "2");
    EXPECT("&a=1&", "a", "1");
    EXPECT("flag", "flag", "");
    EXPECT("flag&x=", "flag", "", "x", "");
    EXPECT("=v", "", "v");
    EXPECT("a=b=c", "a", "b=c");
    EXPECT("q=hello+world&x=%2B1", "q", "hello world", "x", "+1");
    EXPECT("na%6De=v%61l", "name", "val");
    EXPECT("k+ey=v", "k ey", "v");
    EXPECT("a=1&a=2&b=3&a=4", "a", "1", "a", "2", "b", "3", "a", "4");
    EXPECT("a=1;b=2", "a", "1;b=2");
    EXPECT("time=2024-01-01T00%3A00%3A00%2B02%3A00", "time", "2024-01-01T00:00:00+02:00");

    struct web_form f;
    assert_int_equal(web_form_parse(S(""), a, 10, &f), 0);
    assert_int_equal(f.count, 0);
    assert_null(f.items);
    assert_int_equal(web_form_parse(S("&&&"), a, 0, &f), 0);
    assert_int_equal(f.count, 0);
}

/*
 * One special byte at every place of queries of every length up to 48 (so in a whole
 * 16-byte block, in a short tail after blocks, and in a query shorter than one block),
 * in an exact-size heap copy so ASan sees any load past the end: '&' splits, '=' ends
 * the key, '+' decodes to a space.
 */
static void test_form_special_at_every_place(void **state)
{
    struct pt_arena *a = *state;
    for (size_t len = 1; len <= 48; len++) {
        for (size_t at = 0; at < len; at++) {
            for (int kind = 0; kind < 3; kind++) {
                char *q = malloc(len);
                assert_non_null(q);
                memset(q, 'x', len);
                q[at] = "&=+"[kind];
                struct web_form f;
                assert_int_equal(web_form_parse(pt_str_make(q, len), a, 64, &f), 0);
                size_t left = at, right = len - at - 1;
                if (kind == 0) {
                    assert_int_equal(f.count, (left > 0) + (right > 0));
                    if (left > 0)
                        assert_int_equal(f.items[0].key.len, left);
                    if (right > 0)
                        assert_int_equal(f.items[f.count - 1].key.len, right);
                    for (size_t i = 0; i < f.count; i++)
                        assert_int_equal(f.items[i].value.len, 0);
                } else if (kind == 1) {
                    assert_int_equal(f.count, 1);
                    assert_int_equal(f.items[0].key.len, left);
                    assert_int_equal(f.items[0].value.len, right);
                } else {
                    assert_int_equal(f.count, 1);
                    assert_int_equal(f.items[0].key.len, len);
                    assert_int_equal(f.items[0].key.ptr[at], ' ');
                }
                free(q);
                pt_arena_reset(a);
            }
        }
    }
}

static void test_form_zero_copy(void **state)
{
    struct pt_arena *a = *state;
    struct pt_str raw = S("lat=1&lon=2");
    struct web_form f;
    assert_int_equal(web_form_parse(raw, a, 10, &f), 0);
    assert_ptr_equal(f.items[0].key.ptr, raw.ptr);
    assert_ptr_equal(f.items[1].value.ptr, raw.ptr + 10);
}

static void test_form_get_and_count(void **state)
{
    struct pt_arena *a = *state;
    struct web_form f;
    assert_int_equal(web_form_parse(S("a=1&b=2&a=3&c"), a, 10, &f), 0);
    const struct pt_str *v = web_form_get(&f, S("a"));
    assert_non_null(v);
    assert_str(*v, "1", 1);
    v = web_form_get(&f, S("c"));
    assert_non_null(v);
    assert_int_equal(v->len, 0);
    assert_null(web_form_get(&f, S("d")));
    assert_null(web_form_get(&f, S("A")));
    assert_int_equal(web_form_count(&f, S("a")), 2);
    assert_int_equal(web_form_count(&f, S("b")), 1);
    assert_int_equal(web_form_count(&f, S("d")), 0);

    struct web_form empty = {NULL, 0};
    assert_null(web_form_get(&empty, S("a")));
    assert_int_equal(web_form_count(&empty, S("a")), 0);
}

static void test_form_limit(void **state)
{
    struct pt_arena *a = *state;
    struct web_form f;
    /* Exactly at the limit, then one over; empty pairs do not count. */
    assert_int_equal(web_form_parse(S("a=1&b=2&c=3"), a, 3, &f), 0);
    assert_int_equal(f.count, 3);
    assert_int_equal(web_form_parse(S("a=1&b=2&c=3&d"), a, 3, &f), PT_E_RANGE);
    assert_int_equal(f.count, 0);
    assert_null(f.items);
    assert_int_equal(web_form_parse(S("a=1&&&b=2&&c=3&&"), a, 3, &f), 0);
    assert_int_equal(web_form_parse(S("a"), a, 0, &f), PT_E_RANGE);
    /* The limit is checked before decoding. */
    assert_int_equal(web_form_parse(S("a=%zz&b&c"), a, 2, &f), PT_E_RANGE);
}

static void test_form_bad_escapes(void **state)
{
    struct pt_arena *a = *state;
    struct web_form f;
    const char *bad[] = {"a=%zz", "a=%4", "%4=1", "a=1&b=%", "a=%00", "k%00=v", "a=%%"};
    for (size_t i = 0; i < PT_ARRAY_SIZE(bad); i++) {
        if (web_form_parse(pt_str_c(bad[i]), a, 10, &f) != PT_E_BAD_REQUEST)
            fail_msg("\"%s\" was accepted", bad[i]);
        assert_int_equal(f.count, 0);
    }
    assert_int_equal(web_form_parse(S("a=1\0"), a, 10, &f), PT_E_BAD_REQUEST);

    /* Every truncation of a valid form: valid unless it cuts an escape. */
    const char *full = "x=%41%42&y=%C3%A9+z";
    size_t len = strlen(full);
    for (size_t n = 0; n <= len; n++) {
        int rc = web_form_parse(pt_str_make(full, n), a, 10, &f);
        bool cut = false;
        for (size_t k = 0; k < n; k++)
            if (full[k] == '%' && k + 3 > n)
                cut = true;
        assert_int_equal(rc, cut ? PT_E_BAD_REQUEST : 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_decode_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decode_raw_nul_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decode_every_offset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decode_zero_copy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_encode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_form_pairs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_form_special_at_every_place, setup, teardown),
        cmocka_unit_test_setup_teardown(test_form_zero_copy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_form_get_and_count, setup, teardown),
        cmocka_unit_test_setup_teardown(test_form_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_form_bad_escapes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
