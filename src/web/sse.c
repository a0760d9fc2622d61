/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * sse.c -- Server-Sent Events on top of http streams: the response head that
 * keeps proxies from buffering, and the text/event-stream framing of one event.
 */
#include "web/internal.h"

int web_sse_start(struct web_ctx *ctx, const struct http_stream_handlers *handlers, void *data,
                  struct http_stream **out)
{
    web_header_add(ctx, "Cache-Control: no-cache");
    web_header_add(ctx, "X-Accel-Buffering: no");
    ctx->sent = true;
    ctx->status = 200;
    int rc = http_stream_start(ctx->req, 200, "text/event-stream; charset=utf-8",
                               pt_buf_str(&ctx->headers), true, handlers, data, out);
    return rc == 0 ? WEB_DONE : rc;
}

int web_sse_format(struct pt_buf *out, const char *event, struct pt_str data)
{
    int rc = 0;
    if (event != NULL)
        rc = pt_buf_appendf(out, "event: %s\n", event);
    /* Each line of the data becomes its own "data:" field (the spec joins them). */
    size_t i = 0;
    do {
        size_t j = i;
        while (j < data.len && data.ptr[j] != '\n')
            j++;
        if (rc == 0)
            rc = pt_buf_append(out, "data: ", 6);
        if (rc == 0)
            rc = pt_buf_append(out, data.ptr + i, j - i);
        if (rc == 0)
            rc = pt_buf_append(out, "\n", 1);
        i = j + 1;
    } while (i < data.len);
    if (rc == 0)
        rc = pt_buf_append(out, "\n", 1);
    return rc;
}
