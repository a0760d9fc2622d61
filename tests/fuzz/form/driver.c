/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * driver.c -- libFuzzer target for the query/form decoder and percent-coding of
 * src/web/form.c (web_form_parse, web_percent_decode, web_percent_encode).
 *
 * The first input byte picks the item limit; the rest is the raw query. Checked
 * on every input: the limit is honoured; a decoded key or value never holds a
 * NUL byte; slices point into the input or are NUL-terminated arena copies;
 * web_form_get agrees with a linear scan and web_form_count with the items;
 * re-encoding each decoded value and decoding it again gives it back; and the
 * whole input decodes (plus as space and not) exactly when web_percent_is_valid
 * says so; a value pt_str_to_double accepts (the numbers of every query) is
 * strtod's double bit for bit, and one strtod reads whole and finite is accepted
 * unless it is hexadecimal, inf or nan, or has spaces (the strict syntax). A broken invariant aborts, which libFuzzer reports as a crash.
 *
 * Build and run:
 *   make SANITIZE=address,undefined build/san/fuzz/form
 *   build/san/fuzz/form -dict=tests/fuzz/form/dict -max_total_time=90 tests/fuzz/form/corpus
 * Replay the seeds and regressions: pass the files (not the directories) as arguments.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web/form.h"
#include "../check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool inside(struct pt_str s, struct pt_str outer)
{
    return s.len == 0 || (s.ptr >= outer.ptr && s.ptr + s.len <= outer.ptr + outer.len);
}

/* pt_str_to_double (its short-decimal fast path included) against strtod. */
static void check_number(struct pt_str s)
{
    char tmp[64]; /* pt_str_to_double's own limit: longer text is refused */
    if (s.len == 0 || s.len >= sizeof(tmp))
        return;
    memcpy(tmp, s.ptr, s.len);
    tmp[s.len] = '\0';
    char *end;
    double want = strtod(tmp, &end);
    double got;
    if (pt_str_to_double(s, &got) == 0) {
        CHECK(end == tmp + s.len);
        CHECK(memcmp(&got, &want, sizeof(got)) == 0);
    } else if (end == tmp + s.len && isfinite(want) && strpbrk(tmp, "xXiInN \t\n\v\f\r") == NULL) {
        CHECK(false); /* a plain finite decimal refused */
    }
}

static void check_component(struct pt_str s, struct pt_str raw)
{
    CHECK(memchr(s.ptr ? s.ptr : "", '\0', s.len) == NULL);
    if (!inside(s, raw))
        CHECK(s.ptr[s.len] == '\0');
}

/* The form by its definition, the slow way: compared with web_form_parse's one pass. */
static void check_reference(struct pt_str raw, size_t max_items, struct pt_arena *arena,
                            int rc, const struct web_form *f)
{
    size_t count = 0;
    for (size_t i = 0, start = 0; i <= raw.len; i++) {
        if (i == raw.len || raw.ptr[i] == '&') {
            count += i > start;
            start = i + 1;
        }
    }
    if (count > max_items) {
        CHECK(rc == PT_E_RANGE);
        return;
    }
    size_t k = 0;
    int want = 0;
    for (size_t i = 0, start = 0; i <= raw.len && want == 0; i++) {
        if (i < raw.len && raw.ptr[i] != '&')
            continue;
        if (i > start) {
            struct pt_str pair = pt_str_make(raw.ptr + start, i - start);
            const char *eq = memchr(pair.ptr, '=', pair.len);
            size_t klen = eq != NULL ? (size_t)(eq - pair.ptr) : pair.len;
            struct pt_str key, value;
            if (web_percent_decode(pt_str_make(pair.ptr, klen), true, arena, &key) < 0 ||
                web_percent_decode(eq != NULL ? pt_str_make(eq + 1, pair.len - klen - 1)
                                              : PT_STR_NULL,
                                   true, arena, &value) < 0) {
                want = PT_E_BAD_REQUEST;
                break;
            }
            CHECK(rc != 0 || (k < f->count && pt_str_eq(f->items[k].key, key) &&
                              pt_str_eq(f->items[k].value, value)));
            k++;
        }
        start = i + 1;
    }
    CHECK(rc == want);
    CHECK(rc != 0 || k == f->count);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t max_items = data[0] % 40;
    struct pt_str raw = pt_str_make((const char *)data + 1, size - 1);
    struct pt_arena arena;
    pt_arena_init(&arena, 512);

    struct web_form f;
    int rc = web_form_parse(raw, &arena, max_items, &f);
    CHECK(rc == 0 || rc == PT_E_RANGE || rc == PT_E_BAD_REQUEST);
    check_reference(raw, max_items, &arena, rc, &f);
    if (rc != 0) {
        CHECK(f.count == 0 && f.items == NULL);
    } else {
        CHECK(f.count <= max_items);
        struct pt_buf enc;
        pt_buf_init(&enc, 1 << 20);
        for (size_t i = 0; i < f.count; i++) {
            check_component(f.items[i].key, raw);
            check_component(f.items[i].value, raw);
            check_number(f.items[i].value);
            const struct pt_str *first = web_form_get(&f, f.items[i].key);
            CHECK(first != NULL);
            size_t k = 0;
            while (!pt_str_eq(f.items[k].key, f.items[i].key))
                k++;
            CHECK(first == &f.items[k].value);
            CHECK(web_form_count(&f, f.items[i].key) >= 1);

            enc.len = 0;
            CHECK(web_percent_encode(f.items[i].value, &enc) == 0);
            struct pt_str back;
            CHECK(web_percent_decode(pt_buf_str(&enc), true, &arena, &back) == 0);
            CHECK(pt_str_eq(back, f.items[i].value));
        }
        pt_buf_deinit(&enc);
    }

    bool valid = web_percent_is_valid(raw);
    for (int plus = 0; plus < 2; plus++) {
        struct pt_str out;
        rc = web_percent_decode(raw, plus, &arena, &out);
        CHECK(rc == (valid ? 0 : PT_E_BAD_REQUEST));
        if (rc == 0) {
            CHECK(out.len <= raw.len);
            check_component(out, raw);
            size_t escapes = 0;
            for (size_t i = 0; i < raw.len; i++)
                escapes += raw.ptr[i] == '%';
            CHECK(out.len == raw.len - 2 * escapes); /* each escape is 3 bytes for 1 */
        }
    }
    pt_arena_deinit(&arena);
    return 0;
}
