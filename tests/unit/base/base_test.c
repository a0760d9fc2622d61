/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * base_test.c -- unit tests of src/base: arena, bounded buffers, slices,
 * strict number parsing, the error table and the HTTP date format.
 * Run: make SANITIZE=address,undefined build/san/tests/unit/base/base_test && that binary.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "base/base.h"

static void test_arena_alloc_alignment_and_growth(void **state)
{
    (void)state;
    struct pt_arena a;
    pt_arena_init(&a, 256);
    char *prev = NULL;
    for (int i = 1; i < 2000; i += 7) {
        char *p = pt_arena_alloc(&a, (size_t)i);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % _Alignof(max_align_t), 0);
        memset(p, 0xab, (size_t)i); /* ASan reports any overlap or overflow */
        assert_ptr_not_equal(p, prev);
        prev = p;
    }
    char *big = pt_arena_alloc(&a, 100000);
    memset(big, 1, 100000);
    pt_arena_deinit(&a);
}

static int cleanup_calls;
static int cleanup_order[4];

static void on_cleanup(void *data)
{
    cleanup_order[cleanup_calls++] = *(int *)data;
}

static void test_arena_cleanups_run_in_reverse_on_reset(void **state)
{
    (void)state;
    struct pt_arena a;
    pt_arena_init(&a, 512);
    static int one = 1, two = 2;
    cleanup_calls = 0;
    pt_arena_defer(&a, on_cleanup, &one);
    pt_arena_defer(&a, on_cleanup, &two);
    pt_arena_reset(&a);
    assert_int_equal(cleanup_calls, 2);
    assert_int_equal(cleanup_order[0], 2);
    assert_int_equal(cleanup_order[1], 1);
    /* Reset keeps one block: the arena is reusable and cleanups do not run twice. */
    char *s = pt_arena_strndup(&a, "abc", 3);
    assert_string_equal(s, "abc");
    pt_arena_deinit(&a);
    assert_int_equal(cleanup_calls, 2);
}

static void test_buf_limit_is_exact(void **state)
{
    (void)state;
    struct pt_buf b;
    pt_buf_init(&b, 10);
    assert_int_equal(pt_buf_append(&b, "0123456789", 10), 0);
    assert_int_equal(b.len, 10);
    /* One byte past the limit fails and changes nothing. */
    assert_int_equal(pt_buf_append(&b, "x", 1), PT_E_NOMEM);
    assert_int_equal(b.len, 10);
    pt_buf_consume(&b, 4);
    assert_int_equal(b.len, 6);
    assert_memory_equal(b.data, "456789", 6);
    assert_int_equal(pt_buf_appendf(&b, "%d", 1234), 0);
    assert_int_equal(pt_buf_appendf(&b, "%d", 5), PT_E_NOMEM);
    assert_memory_equal(b.data, "4567891234", 10);
    pt_buf_deinit(&b);
}

static void test_buf_appendf_long(void **state)
{
    (void)state;
    struct pt_buf b;
    pt_buf_init(&b, 1 << 20);
    char big[1000];
    memset(big, 'z', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(pt_buf_appendf(&b, "<%s>", big), 0);
    assert_int_equal(b.len, 1001);
    assert_int_equal(b.data[0], '<');
    assert_int_equal(b.data[1000], '>');
    pt_buf_deinit(&b);
}

static void test_str_helpers(void **state)
{
    (void)state;
    assert_true(pt_str_eq_nocase(PT_STR("Content-Length"), PT_STR("content-length")));
    assert_false(pt_str_eq_nocase(PT_STR("Content-Length"), PT_STR("content-lengt")));
    assert_true(pt_str_has_prefix(PT_STR("/static/x"), PT_STR("/static/")));
    assert_false(pt_str_has_prefix(PT_STR("/stat"), PT_STR("/static/")));
    struct pt_str t = pt_str_trim(PT_STR(" \t a b \t"));
    assert_int_equal(t.len, 3);
    assert_memory_equal(t.ptr, "a b", 3);
}

/* pt_str_eq and pt_str_has_prefix against memcmp for every length up to 40 and every
 * place of a differing byte; exact-size heap copies, so ASan reports any load past an
 * end (the short paths load 4 or 8 bytes at a time). */
static void test_str_eq_short_paths(void **state)
{
    (void)state;
    for (size_t n = 0; n <= 40; n++) {
        char *a = malloc(n + 1), *b = malloc(n + 1);
        assert_non_null(a);
        assert_non_null(b);
        for (size_t i = 0; i < n; i++)
            a[i] = b[i] = (char)('a' + (i * 7) % 26);
        struct pt_str sa = pt_str_make(a, n), sb = pt_str_make(b, n);
        assert_true(pt_str_eq(sa, sb));
        assert_true(pt_str_has_prefix(sa, sb));
        for (size_t i = 0; i < n; i++) {
            char keep = b[i];
            b[i] = (char)(keep ^ 0x40);
            assert_false(pt_str_eq(sa, sb));
            assert_false(pt_str_has_prefix(sa, sb));
            assert_int_equal(memcmp(a, b, n) == 0, 0);
            b[i] = keep;
        }
        if (n > 0) {
            assert_false(pt_str_eq(sa, pt_str_make(b, n - 1)));
            assert_true(pt_str_has_prefix(sa, pt_str_make(b, n - 1)));
        }
        free(a);
        free(b);
    }
    assert_true(pt_str_eq(PT_STR(""), PT_STR_NULL));
}

static void test_str_to_double_strict(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int rc;
        double want;
    } cases[] = {
        {"48.93", 0, 48.93},  {"-0.0005", 0, -0.0005}, {"+1", 0, 1},       {"1e3", 0, 1000},
        {".5", 0, 0.5},       {"5.", 0, 5},            {"", -1, 0},        {" 1", -1, 0},
        {"1 ", -1, 0},        {"abc", -1, 0},          {"1e", -1, 0},      {"nan", -1, 0},
        {"inf", -1, 0},       {"0x10", -1, 0},         {"1e999", -1, 0},   {"--1", -1, 0},
        {".", -1, 0},         {"1.2.3", -1, 0},
    };
    for (size_t i = 0; i < PT_ARRAY_SIZE(cases); i++) {
        double v = 0;
        int rc = pt_str_to_double(pt_str_c(cases[i].in), &v);
        if ((rc == 0) != (cases[i].rc == 0))
            fail_msg("'%s': rc %d, wanted %s", cases[i].in, rc, cases[i].rc == 0 ? "ok" : "error");
        if (rc == 0 && v != cases[i].want)
            fail_msg("'%s': got %.17g want %.17g", cases[i].in, v, cases[i].want);
    }
    int64_t n;
    assert_int_equal(pt_str_to_u63(PT_STR("1048576"), &n), 0);
    assert_int_equal(n, 1048576);
    assert_int_equal(pt_str_to_u63(PT_STR("-1"), &n), PT_E_INVALID);
    assert_int_equal(pt_str_to_u63(PT_STR("1234567890123456789"), &n), PT_E_INVALID);
}

/* The short-decimal fast path gives strtod's double, bit for bit (and its sign of zero). */
static void test_str_to_double_matches_strtod(void **state)
{
    (void)state;
    static const char *fixed[] = {"-0",     "-0.0",   "0.000",  "000123.4500", "999999999999999",
                                  "0.000000000000001",  "9007199254740.993", "-180.0000",
                                  "89.99999999999",     "1234567890.12345",  "+.1"};
    uint64_t x = 0x2545F4914F6CDD1DULL;
    char text[40];
    for (size_t i = 0; i < PT_ARRAY_SIZE(fixed) + 200000; i++) {
        const char *in = text;
        if (i < PT_ARRAY_SIZE(fixed)) {
            in = fixed[i];
        } else {
            /* 1..15 digits, a point anywhere (or none), a sign or not. */
            x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
            uint64_t r = x * 0x2545F4914F6CDD1DULL;
            int n = 1 + (int)(r % 15), point = (int)((r >> 8) % (uint64_t)(n + 2)) - 1;
            char *p = text;
            if ((r >> 16) % 3 == 0)
                *p++ = '-';
            for (int k = 0; k < n; k++) {
                if (k == point)
                    *p++ = '.';
                *p++ = (char)('0' + (r >> (20 + 3 * (k % 14))) % 10);
            }
            if (point == n)
                *p++ = '.';
            *p = '\0';
        }
        double got = 0, want = strtod(in, NULL);
        assert_int_equal(pt_str_to_double(pt_str_c(in), &got), 0);
        if (memcmp(&got, &want, sizeof(got)) != 0)
            fail_msg("'%s': got %.17g want %.17g", in, got, want);
    }
}

/*
 * pt_hash_doubles spreads observers over a table: 10,000 places on a 0.01-degree
 * grid (the shape of nearby clients) into 4096 slots leave no slot with more than
 * a dozen; the sign of zero, the seed and every single bit of every number change
 * the index bits. A hash that ignored a number, or the high bits of one, fails.
 */
static void test_hash_doubles_spreads(void **state)
{
    (void)state;
    static unsigned slots[4096];
    memset(slots, 0, sizeof(slots));
    for (int i = 0; i < 100; i++)
        for (int k = 0; k < 100; k++) {
            const double v[3] = {48.0 + i * 0.01, 2.0 + k * 0.01, 35.0};
            slots[pt_hash_doubles(PT_HASH_SEED, v, 3) % 4096]++;
        }
    unsigned most = 0;
    for (size_t i = 0; i < 4096; i++)
        most = slots[i] > most ? slots[i] : most;
    assert_true(most <= 12);

    const double a[3] = {48.93, 2.45, 0.0}, b[3] = {48.93, 2.45, -0.0};
    assert_int_not_equal(pt_hash_doubles(PT_HASH_SEED, a, 3), pt_hash_doubles(PT_HASH_SEED, b, 3));
    assert_int_not_equal(pt_hash_doubles(PT_HASH_SEED, a, 3), pt_hash_doubles(PT_HASH_SEED ^ 1, a, 3));
    uint64_t base = pt_hash_doubles(PT_HASH_SEED, a, 3) % 4096;
    int moved = 0;
    for (int w = 0; w < 3; w++)
        for (int bit = 0; bit < 64; bit++) {
            double c[3] = {a[0], a[1], a[2]};
            uint64_t u;
            memcpy(&u, &c[w], sizeof(u));
            u ^= 1ull << bit;
            memcpy(&c[w], &u, sizeof(u));
            moved += pt_hash_doubles(PT_HASH_SEED, c, 3) % 4096 != base;
        }
    assert_true(moved >= 180); /* of 192: a flipped bit rarely keeps the slot (1 in 4096) */
}

static void test_error_table(void **state)
{
    (void)state;
    assert_int_equal(pt_error_status(PT_E_HEAD_TOO_LARGE), 431);
    assert_int_equal(pt_error_status(PT_E_URI_TOO_LONG), 414);
    assert_int_equal(pt_error_status(PT_E_BODY_TOO_LARGE), 413);
    assert_int_equal(pt_error_status(-1), 500);
    assert_string_equal(pt_error_name(PT_E_NOT_FOUND), "NOT_FOUND");
    assert_string_equal(pt_error_name(12345), "UNKNOWN");
}

static void test_http_date(void **state)
{
    (void)state;
    char d[30];
    pt_format_http_date(784111777, d); /* RFC 9110's example instant */
    assert_string_equal(d, "Sun, 06 Nov 1994 08:49:37 GMT");
    pt_format_http_date(0, d);
    assert_string_equal(d, "Thu, 01 Jan 1970 00:00:00 GMT");
}

static void test_buf_read_file(void **state)
{
    (void)state;
    char path[] = "/tmp/pt-base-test-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "0123456789", 10), 10);
    close(fd);
    struct pt_buf b;
    pt_buf_init(&b, 1 << 20);
    assert_int_equal(pt_buf_read_file(&b, path, 10), 0); /* exactly the limit */
    assert_int_equal(b.len, 10);
    assert_memory_equal(b.data, "0123456789", 10);
    pt_buf_deinit(&b);
    pt_buf_init(&b, 1 << 20);
    assert_int_equal(pt_buf_read_file(&b, path, 9), PT_E_NOMEM);
    assert_int_equal(b.len, 9);
    pt_buf_deinit(&b);
    unlink(path);
    pt_buf_init(&b, 1 << 20);
    assert_int_equal(pt_buf_read_file(&b, path, 100), -ENOENT);
    assert_int_equal(b.len, 0);
    pt_buf_deinit(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arena_alloc_alignment_and_growth),
        cmocka_unit_test(test_arena_cleanups_run_in_reverse_on_reset),
        cmocka_unit_test(test_buf_limit_is_exact),
        cmocka_unit_test(test_buf_appendf_long),
        cmocka_unit_test(test_str_helpers),
        cmocka_unit_test(test_str_eq_short_paths),
        cmocka_unit_test(test_str_to_double_strict),
        cmocka_unit_test(test_str_to_double_matches_strtod),
        cmocka_unit_test(test_hash_doubles_spreads),
        cmocka_unit_test(test_error_table),
        cmocka_unit_test(test_http_date),
        cmocka_unit_test(test_buf_read_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
