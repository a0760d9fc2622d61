/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * ws.h -- the WebSocket (RFC 6455) codec of the http layer: upgrade handshake
 * validation, the Sec-WebSocket-Accept key, a pure incremental decoder of client
 * frames and encoders of server frames.
 *
 * Nothing here does I/O or knows of libuv or planets: the connection code feeds
 * the decoder the bytes it received and writes the frames these encoders build.
 * The decoder is pure (bytes in, event out); its only allocation is the message
 * buffer, bounded by the limit given at init, taken only when a message does not
 * fit the inline buffer and released after that message, so an idle connection
 * holds sizeof(struct http_ws_decoder) bytes and no heap. See ws.c for why this
 * is our own code rather than wslay.
 */
#ifndef PT_HTTP_WS_H
#define PT_HTTP_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/base.h"
#include "http/parser.h"

/* Frame opcodes (RFC 6455 §5.2). */
#define HTTP_WS_OP_CONT 0x0
#define HTTP_WS_OP_TEXT 0x1
#define HTTP_WS_OP_BINARY 0x2
#define HTTP_WS_OP_CLOSE 0x8
#define HTTP_WS_OP_PING 0x9
#define HTTP_WS_OP_PONG 0xA

/* Close codes this codec produces (RFC 6455 §7.4.1). */
#define HTTP_WS_CLOSE_NORMAL 1000
#define HTTP_WS_CLOSE_GOING_AWAY 1001
#define HTTP_WS_CLOSE_PROTOCOL 1002
#define HTTP_WS_CLOSE_NO_STATUS 1005
#define HTTP_WS_CLOSE_BAD_DATA 1007
#define HTTP_WS_CLOSE_TOO_BIG 1009

/* Largest control-frame payload (RFC 6455 §5.5). */
#define HTTP_WS_MAX_CONTROL_BYTES 125

/* Data messages up to this size are assembled without touching the heap. */
#define HTTP_WS_INLINE_BYTES 128

/* Longest frame header a server writes (no mask key): 2 + 8 bytes. */
#define HTTP_WS_MAX_HEADER_BYTES 10

/* The value of Sec-WebSocket-Version this server speaks. */
#define HTTP_WS_VERSION "13"

/* ------------------------------------------------------------------------ */
/* Handshake                                                                  */
/* ------------------------------------------------------------------------ */

/*
 * Validate an upgrade request head against RFC 6455 §4.2.1: method GET,
 * HTTP/1.1, no body (no Content-Length above 0, not chunked), a Connection
 * header whose token list holds "upgrade", an Upgrade header whose token list
 * holds "websocket" (both case-insensitive, over every such header), exactly one
 * Sec-WebSocket-Version, and exactly one Sec-WebSocket-Key that is the canonical
 * base64 encoding of 16 bytes (24 characters ending in "=="). Host is already
 * required by the request parser; Origin, subprotocols and extensions are left to
 * the caller (no extension is negotiated, so reserved frame bits stay zero).
 *
 * head: borrowed, as filled by http_parse_request(). why: OUT, set on error to a
 * static sentence naming what is wrong (for logs and the 400 body); untouched on
 * success; may be NULL.
 *
 * Returns 0 when the handshake is acceptable; PT_E_BAD_REQUEST (answer 400) when
 * it is malformed; PT_E_VERSION when Sec-WebSocket-Version is present but not
 * "13" (answer 426 Upgrade Required with "Sec-WebSocket-Version: 13", RFC 6455
 * §4.4). Version is checked after the other fields. Thread-safe.
 */
int http_ws_handshake_check(const struct http_request_head *head, const char **why);

/*
 * Compute the Sec-WebSocket-Accept value for a Sec-WebSocket-Key: base64 of the
 * SHA-1 of the key followed by the RFC 6455 GUID (OpenSSL libcrypto).
 * key: borrowed, the header value as received (any length). out: OUT, 28
 * characters and a NUL. Aborts only if libcrypto cannot allocate (heap
 * exhaustion). Thread-safe.
 */
void http_ws_accept_key(struct pt_str key, char out[29]);

/* ------------------------------------------------------------------------ */
/* Decoder of client frames                                                   */
/* ------------------------------------------------------------------------ */

enum http_ws_event_type {
    HTTP_WS_NONE,   /* more bytes are needed (or the decoder is finished) */
    HTTP_WS_TEXT,   /* a complete text message, valid UTF-8 */
    HTTP_WS_BINARY, /* a complete binary message */
    HTTP_WS_PING,   /* a ping; answer with a pong carrying the same payload */
    HTTP_WS_PONG,   /* a pong (solicited or not) */
    HTTP_WS_CLOSE,  /* the client's close frame; answer with a close, then close */
    HTTP_WS_ERROR,  /* a protocol violation; send a close with close_code, then close */
};

struct http_ws_event {
    enum http_ws_event_type type;
    /*
     * TEXT, BINARY: the whole message (all fragments, unmasked). PING, PONG: the
     * control payload. CLOSE: the reason text (valid UTF-8, without the code).
     * ERROR: a static NUL-terminated sentence naming the violation. NONE: empty.
     * Borrowed from the decoder until the next call on it (or its deinit).
     */
    struct pt_str payload;
    /*
     * CLOSE: the code received, HTTP_WS_CLOSE_NO_STATUS (1005) if none.
     * ERROR: the code to close with: 1002 (protocol), 1007 (bad UTF-8) or 1009
     * (message over the limit). 0 for the other types.
     */
    uint16_t close_code;
};

struct http_ws_decoder {
    /* private */
    size_t max_message_bytes; /* limit on a data message, all fragments together */
    uint64_t frame_remaining; /* payload bytes of the current frame still to come */
    size_t msg_len;           /* bytes of the current data message assembled so far */
    struct pt_buf heap;       /* message storage once it outgrows inline_msg */
    uint32_t utf8_state;      /* incremental UTF-8 validation of a text message */
    uint8_t state;            /* enum decode_state in ws.c */
    uint8_t hdr_len;          /* header bytes collected in hdr */
    uint8_t hdr[14];          /* the frame header being collected (at most 14 bytes) */
    uint8_t mask[4];          /* mask key of the current frame */
    uint8_t mask_pos;         /* payload offset within the current frame, mod 4 */
    uint8_t frame_opcode;     /* opcode of the current frame */
    uint8_t frame_fin;        /* FIN bit of the current frame */
    uint8_t msg_opcode;       /* TEXT or BINARY while a message is open, else 0 */
    uint8_t ctrl_len;         /* control payload bytes collected */
    bool release_msg;         /* the message was handed out: drop it on the next call */
    uint8_t ctrl[HTTP_WS_MAX_CONTROL_BYTES];
    uint8_t inline_msg[HTTP_WS_INLINE_BYTES];
};

/*
 * Initialize a decoder for a new connection. max_message_bytes: the largest data
 * message accepted, all fragments together (larger -> ERROR 1009); 0 accepts
 * only empty messages. No allocation. Thread-safe for distinct decoders.
 */
void http_ws_decoder_init(struct http_ws_decoder *d, size_t max_message_bytes);

/* Free the message buffer, if any. The decoder may be initialized again. */
void http_ws_decoder_deinit(struct http_ws_decoder *d);

/*
 * Decode client frames from data (borrowed; need not stay valid after return).
 *
 * Consumes bytes until one event is complete or data runs out, and returns the
 * number consumed (0..data.len; never negative). Every byte consumed is stored
 * or used, so the caller never keeps unconsumed bytes except those following an
 * event: call again with data advanced by the return value until a call
 * consumes 0 bytes and returns HTTP_WS_NONE. *ev (OUT) is always set: NONE when
 * more bytes are needed, otherwise the event (see struct http_ws_event).
 *
 * Enforced (ERROR with its close code): client frames are masked, reserved bits
 * are zero, opcodes are known, control frames are final and use the 7-bit
 * length form (at most 125 bytes), a continuation follows an unfinished data
 * message and a new data frame does not, a 64-bit length has its top bit clear
 * (1002); a data message's total length stays within max_message_bytes,
 * checked as each frame header arrives (1009); text messages and close reasons
 * are valid UTF-8, checked as bytes arrive (1007); a close payload is empty or
 * holds a code that may be sent (1000-1003, 1007-1014, 3000-4999) (1002).
 * Data frame lengths in a longer form than needed are accepted.
 *
 * After a CLOSE or ERROR event the decoder is finished: later calls consume
 * nothing and return NONE. A message larger than HTTP_WS_INLINE_BYTES is
 * assembled in a heap buffer that grows with the bytes received (never past
 * max_message_bytes) and is freed on the call after the message is handed out.
 * Thread-safe for distinct decoders.
 */
ssize_t http_ws_decode(struct http_ws_decoder *d, struct pt_str data, struct http_ws_event *ev);

/* True once the decoder has reported CLOSE or ERROR. */
bool http_ws_decoder_is_finished(const struct http_ws_decoder *d);

/*
 * True if code may appear in a close frame: 1000-1003, 1007-1011 (RFC 6455
 * §7.4.1), 1012-1014 (registered since with IANA) and 3000-4999 (§7.4.2).
 */
bool http_ws_close_code_is_valid(uint16_t code);

/* ------------------------------------------------------------------------ */
/* Encoders of server frames (unmasked, always final)                         */
/* ------------------------------------------------------------------------ */

/*
 * Write the header of a final, unmasked frame with opcode (its low 4 bits) and
 * a payload of len bytes into out, in the shortest length form. Returns the
 * header length: 2 (len <= 125), 4 (len <= 65535) or 10. Thread-safe.
 */
size_t http_ws_frame_header(uint8_t opcode, size_t len, uint8_t out[HTTP_WS_MAX_HEADER_BYTES]);

/*
 * Append one complete final frame (header and payload, borrowed) to out.
 * Returns 0; PT_E_INVALID if opcode is a control opcode and the payload is over
 * 125 bytes; or PT_E_NOMEM if out's limit would be crossed. On error out is
 * unchanged. Thread-safe for distinct buffers.
 */
int http_ws_append_frame(struct pt_buf *out, uint8_t opcode, struct pt_str payload);

/*
 * Append a close frame carrying code and reason (NUL-terminated, borrowed, may
 * be NULL for none) to out. code HTTP_WS_CLOSE_NO_STATUS (1005) writes a close
 * frame with an empty payload (reason must then be NULL or empty). Returns 0;
 * PT_E_INVALID if the code may not be sent (see http_ws_close_code_is_valid),
 * the reason is over 123 bytes or not valid UTF-8; or PT_E_NOMEM (limit). On
 * error out is unchanged. Thread-safe for distinct buffers.
 */
int http_ws_append_close(struct pt_buf *out, uint16_t code, const char *reason);

/*
 * A complete final frame (header and a copy of payload) as one shared message
 * with one reference (the caller's), ready for http_stream_send_latest(): one
 * serialized frame is shared by every subscriber. Returns NULL if opcode is a
 * control opcode and the payload is over 125 bytes. Aborts on heap exhaustion.
 * Thread-safe.
 */
struct pt_shared *http_ws_frame_shared_new(uint8_t opcode, struct pt_str payload);

#endif /* PT_HTTP_WS_H */
