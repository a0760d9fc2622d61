/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * ws.c -- the WebSocket (RFC 6455) codec of the http layer: handshake checks,
 * the accept key, a pure incremental decoder of client frames and the encoders
 * of server frames. Invariant: the decoder stores or uses every byte it
 * consumes, never holds more than one message of at most max_message_bytes, and
 * holds no heap between messages.
 *
 * Why not wslay (Debian libwslay-dev 1.1.1)? Measured on this machine: heap per
 * context with glibc's mallinfo2() over 1,000 contexts; speed on the workloads of
 * bench/micro/ws_bench.c (masked frames in 16 KiB reads, one core, -O2), run
 * through wslay by a scratch harness that is not kept in the tree.
 *  - wslay_event_* (the API that validates UTF-8, close codes and message size)
 *    takes 8,784 heap bytes per idle server context, twice our 4 KiB budget per
 *    subscriber, and decodes a 46-byte text message in 162 ns (ours: 37 ns). It
 *    also copies every outgoing message into its own queue
 *    (wslay_event_queue_msg), where we share one serialized frame among
 *    thousands of subscribers and keep only the newest for a slow reader
 *    (http_stream_send_latest): we would use half of it and fight the rest.
 *  - wslay_frame_* (header parsing and unmasking only) still takes 4,272 heap
 *    bytes per idle context, as it embeds a 4 KiB input buffer into which it
 *    copies what its recv callback pulls, whereas our stream hands us bytes
 *    already in memory (on_read). It unmasks byte by byte (1.2 GB/s on 64 KiB
 *    frames; ours, unmasking 8 bytes at a time and assembling the message,
 *    19 GB/s), and leaves fragmentation, the size limit, UTF-8 and close codes,
 *    most of this file, to us. Driven by callbacks, it is not a pure function
 *    of bytes that a fuzzer can check against a reference.
 *  - Debian's package ships no pkg-config file (only a CMake config), so it
 *    would be the one dependency outside the Makefile's pkg-config list.
 * Once those parts are ours, a frame codec adds about 150 lines of header
 * parsing and unmasking, so we keep our own: sizeof(struct http_ws_decoder) is
 * 344 bytes and an idle connection holds no heap; the decoder is fuzzed against
 * an independent reference (tests/fuzz/ws_frame).
 */
#include <stdlib.h>

#include <openssl/evp.h>

#include "http/ws.h"

enum decode_state {
    DECODE_HEADER,  /* collecting a frame header into d->hdr */
    DECODE_PAYLOAD, /* consuming d->frame_remaining payload bytes */
    DECODE_DONE,    /* a CLOSE or ERROR was reported */
};

static const char WS_GUID[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/* ------------------------------------------------------------------------ */
/* Handshake                                                                  */
/* ------------------------------------------------------------------------ */

static bool is_tchar_sep(char c)
{
    return c == ',' || c == ' ' || c == '\t';
}

/* True if some header called name holds token in its comma-separated list. */
static bool list_has_token(const struct http_request_head *head, struct pt_str name,
                           struct pt_str token)
{
    for (size_t i = 0; i < head->num_headers; i++) {
        if (!pt_str_eq_nocase(head->headers[i].name, name))
            continue;
        struct pt_str v = head->headers[i].value;
        size_t p = 0;
        while (p < v.len) {
            while (p < v.len && is_tchar_sep(v.ptr[p]))
                p++;
            size_t start = p;
            while (p < v.len && v.ptr[p] != ',')
                p++;
            struct pt_str item = pt_str_trim(pt_str_make(v.ptr + start, p - start));
            if (item.len > 0 && pt_str_eq_nocase(item, token))
                return true;
        }
    }
    return false;
}

/* The single header called name: 1 and *out, 0 if absent, 2 if repeated. */
static int find_single(const struct http_request_head *head, struct pt_str name, struct pt_str *out)
{
    int n = 0;
    for (size_t i = 0; i < head->num_headers; i++) {
        if (pt_str_eq_nocase(head->headers[i].name, name)) {
            if (++n > 1)
                return 2;
            *out = head->headers[i].value;
        }
    }
    return n;
}

static bool is_base64_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

/* Canonical base64 of 16 bytes: 22 characters, "==", and zero padding bits. */
static bool is_key_valid(struct pt_str key)
{
    if (key.len != 24 || key.ptr[22] != '=' || key.ptr[23] != '=')
        return false;
    for (size_t i = 0; i < 22; i++) {
        if (!is_base64_char(key.ptr[i]))
            return false;
    }
    /* The last character carries 2 data bits and 4 padding bits that must be 0. */
    char last = key.ptr[21];
    return last == 'A' || last == 'Q' || last == 'g' || last == 'w';
}

static int refuse(const char **why, const char *sentence)
{
    if (why)
        *why = sentence;
    return PT_E_BAD_REQUEST;
}

int http_ws_handshake_check(const struct http_request_head *head, const char **why)
{
    if (!pt_str_eq(head->method, PT_STR("GET")))
        return refuse(why, "a WebSocket handshake must use the GET method");
    if (head->minor_version != 1)
        return refuse(why, "a WebSocket handshake must use HTTP/1.1");
    if (head->content_length > 0 || head->chunked)
        return refuse(why, "a WebSocket handshake must not have a body");
    if (!list_has_token(head, PT_STR("Connection"), PT_STR("upgrade")))
        return refuse(why, "the Connection header must include \"upgrade\"");
    if (!list_has_token(head, PT_STR("Upgrade"), PT_STR("websocket")))
        return refuse(why, "the Upgrade header must include \"websocket\"");

    struct pt_str key = PT_STR_NULL;
    int n = find_single(head, PT_STR("Sec-WebSocket-Key"), &key);
    if (n == 0)
        return refuse(why, "the Sec-WebSocket-Key header is missing");
    if (n > 1)
        return refuse(why, "the Sec-WebSocket-Key header is repeated");
    if (!is_key_valid(key))
        return refuse(why, "Sec-WebSocket-Key must be the base64 encoding of 16 bytes");

    struct pt_str version = PT_STR_NULL;
    n = find_single(head, PT_STR("Sec-WebSocket-Version"), &version);
    if (n == 0)
        return refuse(why, "the Sec-WebSocket-Version header is missing");
    if (n > 1)
        return refuse(why, "the Sec-WebSocket-Version header is repeated");
    if (!pt_str_eq(version, PT_STR(HTTP_WS_VERSION))) {
        if (why)
            *why = "only WebSocket version 13 is supported";
        return PT_E_VERSION;
    }
    return 0;
}

void http_ws_accept_key(struct pt_str key, char out[29])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) != 1 ||
        EVP_DigestUpdate(ctx, key.ptr ? key.ptr : "", key.len) != 1 ||
        EVP_DigestUpdate(ctx, WS_GUID, sizeof(WS_GUID) - 1) != 1 ||
        EVP_DigestFinal_ex(ctx, md, &md_len) != 1 || md_len != 20)
        abort(); /* only allocation can fail here */
    EVP_MD_CTX_free(ctx);
    /* 20 bytes encode to 28 characters; EVP_EncodeBlock adds the NUL. */
    EVP_EncodeBlock((unsigned char *)out, md, 20);
}

/* ------------------------------------------------------------------------ */
/* UTF-8                                                                      */
/* ------------------------------------------------------------------------ */

/*
 * Incremental UTF-8 validation (RFC 3629, Unicode Table 3-7): the state packs
 * the continuation bytes still expected (bits 0-7) and the allowed range of the
 * next one (bits 8-15 low, 16-23 high), so overlong forms, surrogates and code
 * points above U+10FFFF fail at the first byte that proves them. State 0 is the
 * start and the only accepting state at the end of a message. Returns n if all
 * bytes are acceptable so far, else the index of the first bad byte (the state
 * is then meaningless).
 */
static size_t utf8_feed(uint32_t *state, const uint8_t *p, size_t n)
{
    uint32_t need = *state & 0xFF;
    uint32_t lo = (*state >> 8) & 0xFF;
    uint32_t hi = (*state >> 16) & 0xFF;
    size_t i = 0;
    while (i < n) {
        if (need == 0) {
            /* Skip ASCII eight bytes at a time: JSON is mostly ASCII. */
            while (n - i >= 8) {
                uint64_t w;
                memcpy(&w, p + i, 8);
                if (w & 0x8080808080808080ULL)
                    break;
                i += 8;
            }
            if (i == n)
                break;
            uint8_t c = p[i++];
            if (c < 0x80)
                continue;
            lo = 0x80;
            hi = 0xBF;
            if (c >= 0xC2 && c <= 0xDF) {
                need = 1;
            } else if (c >= 0xE0 && c <= 0xEF) {
                need = 2;
                if (c == 0xE0)
                    lo = 0xA0; /* overlong below U+0800 */
                else if (c == 0xED)
                    hi = 0x9F; /* surrogates U+D800-DFFF */
            } else if (c >= 0xF0 && c <= 0xF4) {
                need = 3;
                if (c == 0xF0)
                    lo = 0x90; /* overlong below U+10000 */
                else if (c == 0xF4)
                    hi = 0x8F; /* above U+10FFFF */
            } else {
                return i - 1; /* continuation byte, C0/C1 overlong, or F5-FF */
            }
            continue;
        }
        uint8_t c = p[i];
        if (c < lo || c > hi)
            return i;
        i++;
        need--;
        lo = 0x80;
        hi = 0xBF;
    }
    *state = need == 0 ? 0 : need | lo << 8 | hi << 16;
    return n;
}

static bool utf8_is_valid(const uint8_t *p, size_t n)
{
    uint32_t st = 0;
    return utf8_feed(&st, p, n) == n && st == 0;
}

/* ------------------------------------------------------------------------ */
/* Decoder                                                                    */
/* ------------------------------------------------------------------------ */

bool http_ws_close_code_is_valid(uint16_t code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}

void http_ws_decoder_init(struct http_ws_decoder *d, size_t max_message_bytes)
{
    memset(d, 0, sizeof(*d));
    d->max_message_bytes = max_message_bytes;
    d->state = DECODE_HEADER;
    pt_buf_init(&d->heap, max_message_bytes);
}

void http_ws_decoder_deinit(struct http_ws_decoder *d)
{
    pt_buf_deinit(&d->heap);
    d->msg_len = 0;
    d->release_msg = false;
}

bool http_ws_decoder_is_finished(const struct http_ws_decoder *d)
{
    return d->state == DECODE_DONE;
}

static bool is_control(uint8_t opcode)
{
    return (opcode & 0x8) != 0;
}

/* Nothing more will be decoded: drop any partial message at once. */
static void finish(struct http_ws_decoder *d)
{
    d->state = DECODE_DONE;
    pt_buf_deinit(&d->heap);
    d->msg_len = 0;
    d->msg_opcode = 0;
}

/* Report a violation; the decoder is finished. Returns consumed for chaining. */
static ssize_t fail(struct http_ws_decoder *d, struct http_ws_event *ev, uint16_t code,
                    const char *sentence, size_t consumed)
{
    finish(d);
    ev->type = HTTP_WS_ERROR;
    ev->payload = pt_str_c(sentence);
    ev->close_code = code;
    return (ssize_t)consumed;
}

/* Total header length once its first two bytes are known. */
static size_t header_size(const uint8_t hdr[2])
{
    size_t n = 2;
    uint8_t len7 = hdr[1] & 0x7F;
    if (len7 == 126)
        n += 2;
    else if (len7 == 127)
        n += 8;
    if (hdr[1] & 0x80)
        n += 4;
    return n;
}

/* Check the first header byte against the decoder's state; NULL if acceptable. */
static const char *check_byte0(const struct http_ws_decoder *d, uint8_t b0)
{
    uint8_t opcode = b0 & 0x0F;
    bool fin = (b0 & 0x80) != 0;
    if (b0 & 0x70)
        return "reserved bits are set but no extension was negotiated";
    switch (opcode) {
    case HTTP_WS_OP_CONT:
        if (d->msg_opcode == 0)
            return "a continuation frame arrived with no message to continue";
        return NULL;
    case HTTP_WS_OP_TEXT:
    case HTTP_WS_OP_BINARY:
        if (d->msg_opcode != 0)
            return "a new data frame arrived before the fragmented message ended";
        return NULL;
    case HTTP_WS_OP_CLOSE:
    case HTTP_WS_OP_PING:
    case HTTP_WS_OP_PONG:
        if (!fin)
            return "a control frame is fragmented";
        return NULL;
    default:
        return "the frame uses an unknown opcode";
    }
}

/*
 * Where the next n payload bytes of the data message go: the inline buffer while
 * the message fits it, else the heap buffer, which then holds the whole message.
 * NULL only if the heap buffer's limit would be crossed, which the header check
 * already excludes.
 */
static uint8_t *message_reserve(struct http_ws_decoder *d, size_t n)
{
    if (d->heap.data == NULL && d->msg_len + n <= HTTP_WS_INLINE_BYTES) {
        uint8_t *dst = d->inline_msg + d->msg_len;
        d->msg_len += n;
        return dst;
    }
    if (d->heap.data == NULL) {
        if (pt_buf_reserve(&d->heap, d->msg_len + n) < 0 ||
            pt_buf_append(&d->heap, d->inline_msg, d->msg_len) < 0)
            return NULL;
    }
    if (pt_buf_reserve(&d->heap, n) < 0)
        return NULL;
    uint8_t *dst = (uint8_t *)d->heap.data + d->heap.len;
    d->heap.len += n;
    d->msg_len += n;
    return dst;
}

static struct pt_str message_get(const struct http_ws_decoder *d)
{
    const char *p = d->heap.data ? d->heap.data : (const char *)d->inline_msg;
    return pt_str_make(p, d->msg_len);
}

/* dst[i] = src[i] ^ mask[(*pos + i) % 4], advancing *pos. */
static void unmask(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t mask[4], uint8_t *pos)
{
    size_t i = 0;
    if (n >= 16) {
        uint8_t m8[8];
        for (size_t k = 0; k < 8; k++)
            m8[k] = mask[(*pos + k) & 3];
        uint64_t m;
        memcpy(&m, m8, 8);
        for (; n - i >= 8; i += 8) {
            uint64_t w;
            memcpy(&w, src + i, 8);
            w ^= m;
            memcpy(dst + i, &w, 8);
        }
    }
    /* i is a multiple of 8, so the mask phase is still *pos here. */
    for (; i < n; i++)
        dst[i] = src[i] ^ mask[(*pos + i) & 3];
    *pos = (uint8_t)((*pos + n) & 3);
}

/* The header in d->hdr is complete: validate it and enter the payload. */
static const char *start_frame(struct http_ws_decoder *d, uint16_t *code)
{
    const uint8_t *h = d->hdr;
    uint8_t len7 = h[1] & 0x7F;
    uint64_t len = len7;
    size_t p = 2;
    if (len7 == 126) {
        len = (uint64_t)h[2] << 8 | h[3];
        p = 4;
    } else if (len7 == 127) {
        len = 0;
        for (size_t i = 0; i < 8; i++)
            len = len << 8 | h[2 + i];
        p = 10;
        if (len >> 63) {
            *code = HTTP_WS_CLOSE_PROTOCOL;
            return "a 64-bit frame length has its most significant bit set";
        }
    }
    memcpy(d->mask, h + p, 4);
    d->mask_pos = 0;
    d->frame_opcode = h[0] & 0x0F;
    d->frame_fin = (h[0] & 0x80) != 0;
    d->frame_remaining = len;
    if (is_control(d->frame_opcode)) {
        d->ctrl_len = 0;
    } else {
        if (len > d->max_message_bytes - d->msg_len) {
            *code = HTTP_WS_CLOSE_TOO_BIG;
            return "the message exceeds the size limit";
        }
        if (d->frame_opcode != HTTP_WS_OP_CONT) {
            d->msg_opcode = d->frame_opcode;
            d->msg_len = 0;
            d->utf8_state = 0;
        }
    }
    d->state = DECODE_PAYLOAD;
    return NULL;
}

/* A close frame is complete: report CLOSE, or ERROR if its payload is invalid. */
static void finish_close(const struct http_ws_decoder *d, struct http_ws_event *ev)
{
    if (d->ctrl_len == 0) {
        ev->type = HTTP_WS_CLOSE;
        ev->close_code = HTTP_WS_CLOSE_NO_STATUS;
        return;
    }
    ev->type = HTTP_WS_ERROR;
    ev->close_code = HTTP_WS_CLOSE_PROTOCOL;
    if (d->ctrl_len == 1) {
        ev->payload = PT_STR("a close frame has a one-byte payload");
        return;
    }
    uint16_t code = (uint16_t)(d->ctrl[0] << 8 | d->ctrl[1]);
    if (!http_ws_close_code_is_valid(code)) {
        ev->payload = PT_STR("a close frame carries a code that may not be sent");
        return;
    }
    if (!utf8_is_valid(d->ctrl + 2, d->ctrl_len - 2u)) {
        ev->close_code = HTTP_WS_CLOSE_BAD_DATA;
        ev->payload = PT_STR("a close reason is not valid UTF-8");
        return;
    }
    ev->type = HTTP_WS_CLOSE;
    ev->close_code = code;
    ev->payload = pt_str_make((const char *)d->ctrl + 2, d->ctrl_len - 2u);
}

/* The current frame's payload is complete: report it if it ends something. */
static void finish_frame(struct http_ws_decoder *d, struct http_ws_event *ev)
{
    d->state = DECODE_HEADER;
    d->hdr_len = 0;
    struct pt_str ctrl = pt_str_make((const char *)d->ctrl, d->ctrl_len);
    switch (d->frame_opcode) {
    case HTTP_WS_OP_PING:
        ev->type = HTTP_WS_PING;
        ev->payload = ctrl;
        return;
    case HTTP_WS_OP_PONG:
        ev->type = HTTP_WS_PONG;
        ev->payload = ctrl;
        return;
    case HTTP_WS_OP_CLOSE:
        finish(d);
        finish_close(d, ev);
        return;
    default:
        break;
    }
    if (!d->frame_fin)
        return;
    if (d->msg_opcode == HTTP_WS_OP_TEXT && d->utf8_state != 0) {
        finish(d);
        ev->type = HTTP_WS_ERROR;
        ev->close_code = HTTP_WS_CLOSE_BAD_DATA;
        ev->payload = PT_STR("a text message ends inside a UTF-8 sequence");
        return;
    }
    ev->type = d->msg_opcode == HTTP_WS_OP_TEXT ? HTTP_WS_TEXT : HTTP_WS_BINARY;
    ev->payload = message_get(d);
    d->msg_opcode = 0;
    d->release_msg = true;
}

ssize_t http_ws_decode(struct http_ws_decoder *d, struct pt_str data, struct http_ws_event *ev)
{
    ev->type = HTTP_WS_NONE;
    ev->payload = PT_STR_NULL;
    ev->close_code = 0;
    if (d->release_msg) {
        /* The previous call handed the message out; its borrow has ended. */
        pt_buf_deinit(&d->heap);
        d->msg_len = 0;
        d->release_msg = false;
    }
    const uint8_t *in = (const uint8_t *)data.ptr;
    size_t i = 0;
    while (d->state != DECODE_DONE) {
        if (d->state == DECODE_HEADER) {
            if (i == data.len)
                break;
            uint8_t b = in[i++];
            d->hdr[d->hdr_len++] = b;
            if (d->hdr_len == 1) {
                const char *bad = check_byte0(d, b);
                if (bad)
                    return fail(d, ev, HTTP_WS_CLOSE_PROTOCOL, bad, i);
                continue;
            }
            if (d->hdr_len == 2) {
                if (!(b & 0x80))
                    return fail(d, ev, HTTP_WS_CLOSE_PROTOCOL, "a client frame is not masked", i);
                if (is_control(d->hdr[0] & 0x0F) && (b & 0x7F) > HTTP_WS_MAX_CONTROL_BYTES)
                    return fail(d, ev, HTTP_WS_CLOSE_PROTOCOL,
                                "a control frame payload is longer than 125 bytes", i);
            }
            if (d->hdr_len < header_size(d->hdr))
                continue;
            uint16_t code = 0;
            const char *bad = start_frame(d, &code);
            if (bad)
                return fail(d, ev, code, bad, i);
        } else {
            if (d->frame_remaining > 0) {
                if (i == data.len)
                    break;
                size_t n = data.len - i;
                if (n > d->frame_remaining)
                    n = (size_t)d->frame_remaining;
                uint8_t *dst;
                if (is_control(d->frame_opcode)) {
                    dst = d->ctrl + d->ctrl_len;
                    d->ctrl_len = (uint8_t)(d->ctrl_len + n);
                } else {
                    dst = message_reserve(d, n);
                    if (!dst)
                        return fail(d, ev, HTTP_WS_CLOSE_TOO_BIG,
                                    "the message exceeds the size limit", i);
                }
                unmask(dst, in + i, n, d->mask, &d->mask_pos);
                if (!is_control(d->frame_opcode) && d->msg_opcode == HTTP_WS_OP_TEXT) {
                    size_t ok = utf8_feed(&d->utf8_state, dst, n);
                    if (ok < n)
                        return fail(d, ev, HTTP_WS_CLOSE_BAD_DATA,
                                    "a text message is not valid UTF-8", i + ok + 1);
                }
                i += n;
                d->frame_remaining -= n;
                if (d->frame_remaining > 0)
                    break;
            }
            finish_frame(d, ev);
            if (ev->type != HTTP_WS_NONE)
                break;
        }
    }
    return (ssize_t)i;
}

/* ------------------------------------------------------------------------ */
/* Encoders                                                                   */
/* ------------------------------------------------------------------------ */

size_t http_ws_frame_header(uint8_t opcode, size_t len, uint8_t out[HTTP_WS_MAX_HEADER_BYTES])
{
    out[0] = (uint8_t)(0x80 | (opcode & 0x0F));
    if (len <= 125) {
        out[1] = (uint8_t)len;
        return 2;
    }
    if (len <= 0xFFFF) {
        out[1] = 126;
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        return 4;
    }
    out[1] = 127;
    uint64_t v = len;
    for (size_t i = 0; i < 8; i++)
        out[2 + i] = (uint8_t)(v >> (56 - 8 * i));
    return 10;
}

int http_ws_append_frame(struct pt_buf *out, uint8_t opcode, struct pt_str payload)
{
    if (is_control(opcode & 0x0F) && payload.len > HTTP_WS_MAX_CONTROL_BYTES)
        return PT_E_INVALID;
    uint8_t hdr[HTTP_WS_MAX_HEADER_BYTES];
    size_t n = http_ws_frame_header(opcode, payload.len, hdr);
    if (payload.len > SIZE_MAX - n)
        return PT_E_NOMEM;
    int rc = pt_buf_reserve(out, n + payload.len);
    if (rc < 0)
        return rc;
    /* Both appends fit the reservation, so neither can fail half-way. */
    pt_buf_append(out, hdr, n);
    pt_buf_append_str(out, payload);
    return 0;
}

int http_ws_append_close(struct pt_buf *out, uint16_t code, const char *reason)
{
    size_t rlen = reason ? strlen(reason) : 0;
    if (code == HTTP_WS_CLOSE_NO_STATUS) {
        if (rlen > 0)
            return PT_E_INVALID;
        return http_ws_append_frame(out, HTTP_WS_OP_CLOSE, PT_STR_NULL);
    }
    if (!http_ws_close_code_is_valid(code) || rlen > HTTP_WS_MAX_CONTROL_BYTES - 2 ||
        !utf8_is_valid((const uint8_t *)(reason ? reason : ""), rlen))
        return PT_E_INVALID;
    char payload[HTTP_WS_MAX_CONTROL_BYTES];
    payload[0] = (char)(code >> 8);
    payload[1] = (char)(code & 0xFF);
    if (rlen > 0)
        memcpy(payload + 2, reason, rlen);
    return http_ws_append_frame(out, HTTP_WS_OP_CLOSE, pt_str_make(payload, rlen + 2));
}

struct pt_shared *http_ws_frame_shared_new(uint8_t opcode, struct pt_str payload)
{
    if (is_control(opcode & 0x0F) && payload.len > HTTP_WS_MAX_CONTROL_BYTES)
        return NULL;
    uint8_t hdr[HTTP_WS_MAX_HEADER_BYTES];
    size_t n = http_ws_frame_header(opcode, payload.len, hdr);
    struct pt_shared *m = pt_shared_alloc(n + payload.len);
    memcpy(m->data, hdr, n);
    if (payload.len > 0)
        memcpy(m->data + n, payload.ptr, payload.len);
    return m;
}
