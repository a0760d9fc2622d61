/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * driver.c -- libFuzzer target for the streaming JSON writer (src/web/json.c).
 *
 * The input is a program: each byte picks a writer call (begin/end object or
 * array, key, string, double, int, bool, null, raw), and the bytes after it
 * give the call's argument. A shadow model of the nesting predicts whether the
 * program misuses the writer. Checked: web_json_finish reports PT_E_INVALID
 * exactly when the model says misuse or an incomplete document; a complete
 * document parses with jansson; the same program under a tight buffer limit
 * gives the same bytes or PT_E_NOMEM; every double reads back exactly with
 * strtod and is a JSON number. A broken invariant aborts, which libFuzzer
 * reports as a crash.
 *
 * Build and run:
 *   make SANITIZE=address,undefined build/san/fuzz/json_writer
 *   build/san/fuzz/json_writer -max_total_time=90 tests/fuzz/json_writer/corpus
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

/* Shadow model of the writer's nesting rules. */
struct model {
    bool misuse;
    int depth;
    bool object[WEB_JSON_MAX_DEPTH + 2];
    bool have_key;
    bool top_done;
};

static void model_value(struct model *m)
{
    if (m->depth == 0) {
        if (m->top_done)
            m->misuse = true;
        m->top_done = true;
    } else if (m->object[m->depth]) {
        if (!m->have_key)
            m->misuse = true;
        m->have_key = false;
    }
}

static void model_begin(struct model *m, bool object)
{
    model_value(m);
    if (m->depth >= WEB_JSON_MAX_DEPTH) {
        m->misuse = true;
        return;
    }
    m->object[++m->depth] = object;
}

static void model_end(struct model *m, bool object)
{
    if (m->depth == 0 || m->object[m->depth] != object || m->have_key)
        m->misuse = true;
    else
        m->depth--;
}

static void model_key(struct model *m)
{
    if (m->depth == 0 || !m->object[m->depth] || m->have_key)
        m->misuse = true;
    m->have_key = true;
}

static void check_double(double v)
{
    char buf[WEB_JSON_DOUBLE_MAX];
    size_t n = web_json_format_double(v, buf);
    CHECK(n == strlen(buf) && n < WEB_JSON_DOUBLE_MAX);
    if (!isfinite(v)) {
        CHECK(strcmp(buf, "null") == 0);
        return;
    }
    double back = strtod(buf, NULL);
    CHECK(back == v && signbit(back) == signbit(v));
    json_t *j = json_loadb(buf, n, JSON_DECODE_ANY, NULL);
    CHECK(j != NULL && json_is_number(j));
    json_decref(j);
    char slow[WEB_JSON_DOUBLE_MAX];
    web_json_format_double_slow(v, slow);
    CHECK(strlen(slow) >= n);
}

/* Run the program; fill the model when m is not NULL. */
static int run(const uint8_t *data, size_t size, struct pt_buf *out, struct model *m)
{
    struct web_json j;
    web_json_init(&j, out);
    size_t i = 0;
    while (i < size && !(m && m->misuse)) {
        uint8_t op = data[i++] % 12;
        size_t len = 0;
        if (op == 4 || op == 5 || op == 11) {
            len = i < size ? data[i++] % 32 : 0;
            if (len > size - i)
                len = size - i;
        }
        const char *arg = (const char *)data + i;
        switch (op) {
        case 0:
            web_json_object_begin(&j);
            if (m)
                model_begin(m, true);
            break;
        case 1:
            web_json_object_end(&j);
            if (m)
                model_end(m, true);
            break;
        case 2:
            web_json_array_begin(&j);
            if (m)
                model_begin(m, false);
            break;
        case 3:
            web_json_array_end(&j);
            if (m)
                model_end(m, false);
            break;
        case 4: {
            /* jansson, the validator, refuses "\u0000" in keys (valid JSON): avoid it. */
            char key[32];
            for (size_t k = 0; k < len; k++)
                key[k] = arg[k] == '\0' ? '0' : arg[k];
            web_json_key_str(&j, pt_str_make(key, len));
            if (m)
                model_key(m);
            break;
        }
        case 5:
        case 11:
            web_json_string(&j, pt_str_make(arg, len));
            if (m)
                model_value(m);
            break;
        case 6:
        case 7: {
            uint64_t bits = 0;
            len = size - i < 8 ? size - i : 8;
            memcpy(&bits, arg, len);
            double v;
            memcpy(&v, &bits, sizeof(v));
            if (op == 6) {
                web_json_double(&j, v);
                if (m)
                    check_double(v);
            } else {
                web_json_int(&j, (int64_t)bits);
            }
            if (m)
                model_value(m);
            break;
        }
        case 8:
            web_json_bool(&j, i < size && (data[i] & 1));
            len = i < size ? 1 : 0;
            if (m)
                model_value(m);
            break;
        case 9:
            web_json_null(&j);
            if (m)
                model_value(m);
            break;
        case 10:
            web_json_raw(&j, PT_STR("[1,{\"a\":null}]"));
            if (m)
                model_value(m);
            break;
        }
        i += len;
    }
    return web_json_finish(&j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct model m = {0};
    struct pt_buf full;
    pt_buf_init(&full, 1 << 22);
    int rc = run(data, size, &full, &m);
    bool complete = !m.misuse && m.depth == 0 && !m.have_key && m.top_done;
    CHECK(rc == (complete ? 0 : PT_E_INVALID));
    if (rc == 0) {
        json_error_t err;
        json_t *root = json_loadb(full.data, full.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
        if (root == NULL)
            fprintf(stderr, "jansson: %s at %d: %.*s\n", err.text, err.position, (int)full.len,
                    full.data);
        CHECK(root != NULL);
        json_decref(root);

        size_t limit = size > 0 ? full.len * data[0] / 255 : 0;
        struct pt_buf small;
        pt_buf_init(&small, limit);
        int rc2 = run(data, size, &small, NULL);
        if (full.len <= limit) {
            CHECK(rc2 == 0 && small.len == full.len);
            CHECK(memcmp(small.data, full.data, full.len) == 0);
        } else {
            CHECK(rc2 == PT_E_NOMEM && small.len <= limit);
        }
        pt_buf_deinit(&small);
    }
    pt_buf_deinit(&full);
    return 0;
}
