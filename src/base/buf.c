/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * buf.c -- bounded byte buffers of base.h. A buffer never grows past the limit
 * given at initialization; appends that would cross it fail and change nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "base.h"

void pt_buf_init(struct pt_buf *b, size_t limit)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->limit = limit;
}

void pt_buf_deinit(struct pt_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

int pt_buf_reserve(struct pt_buf *b, size_t n)
{
    if (n > b->limit || b->len > b->limit - n)
        return PT_E_NOMEM;
    size_t need = b->len + n;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    if (cap > b->limit)
        cap = b->limit;
    b->data = pt_xrealloc(b->data, cap);
    b->cap = cap;
    return 0;
}

int pt_buf_append(struct pt_buf *b, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    int rc = pt_buf_reserve(b, n);
    if (rc < 0)
        return rc;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

int pt_buf_appendf(struct pt_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0)
        return PT_E_INVALID;
    if ((size_t)n < sizeof(small))
        return pt_buf_append(b, small, (size_t)n);
    int rc = pt_buf_reserve(b, (size_t)n + 1);
    if (rc < 0)
        return rc;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void pt_buf_consume(struct pt_buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

int pt_buf_read_file(struct pt_buf *b, const char *path, size_t max)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = 0;
    for (;;) {
        if (b->len >= max || pt_buf_reserve(b, 65536) < 0) {
            /* Full: the file is larger unless it ends exactly here. */
            char probe;
            ssize_t more = read(fd, &probe, 1);
            rc = more == 0 ? 0 : more < 0 ? -errno : PT_E_NOMEM;
            break;
        }
        size_t room = PT_MIN(b->cap - b->len, max - b->len);
        ssize_t n = read(fd, b->data + b->len, room);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -errno;
            break;
        }
        if (n == 0)
            break;
        b->len += (size_t)n;
    }
    close(fd);
    return rc;
}
