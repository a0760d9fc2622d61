/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* sse_test.c -- web_sse_format: the event and one "data:" field per line of the data;
 * web_sse_event_new gives the same bytes (one-line data takes its own path). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "web/web.h"

static void expect_format(const char *event, const char *data, const char *want)
{
    struct pt_buf b;
    pt_buf_init(&b, 1 << 16);
    assert_int_equal(web_sse_format(&b, event, pt_str_c(data)), 0);
    if (b.len != strlen(want) || memcmp(b.data, want, b.len) != 0)
        fail_msg("event %s data '%s': got '%.*s' want '%s'", event ? event : "(none)", data,
                 (int)b.len, b.data, want);
    pt_buf_deinit(&b);
    struct pt_shared *m = web_sse_event_new(event, pt_str_c(data));
    assert_non_null(m);
    if (m->len != strlen(want) || memcmp(m->data, want, m->len) != 0 || m->data[m->len] != '\0')
        fail_msg("event_new %s data '%s': got '%.*s' want '%s'", event ? event : "(none)", data,
                 (int)m->len, m->data, want);
    pt_shared_unref(m);
}

static void test_lines_become_data_fields(void **state)
{
    (void)state;
    expect_format("positions", "{\"a\":1}", "event: positions\ndata: {\"a\":1}\n\n");
    expect_format(NULL, "x", "data: x\n\n");
    expect_format("e", "", "event: e\ndata: \n\n");
    expect_format("e", "a\nb", "event: e\ndata: a\ndata: b\n\n");
    expect_format("e", "a\n", "event: e\ndata: a\n\n"); /* a last newline ends the last line */
    expect_format("e", "\n\n", "event: e\ndata: \ndata: \n\n");
    expect_format("e", "a\n\nb\n", "event: e\ndata: a\ndata: \ndata: b\n\n");
    expect_format(NULL, "{\"b\":[1,2]}", "data: {\"b\":[1,2]}\n\n");
    expect_format("a-much-longer-event-name", "y", "event: a-much-longer-event-name\ndata: y\n\n");
}

static void test_limit_is_an_error(void **state)
{
    (void)state;
    struct pt_buf b;
    pt_buf_init(&b, 32);
    assert_int_equal(web_sse_format(&b, "positions", PT_STR("0123456789012345678901234567")),
                     PT_E_NOMEM);
    pt_buf_deinit(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines_become_data_fields),
        cmocka_unit_test(test_limit_is_an_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
