/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * client.c -- libcurl's multi interface on the libuv loop (see client.h).
 *
 * curl tells us, through two callbacks, what to wait for: the socket callback
 * names a socket and the events it wants (we keep one uv_poll per socket, its
 * struct sock attached to the socket with curl_multi_assign), and the timer
 * callback the delay before curl wants to be called anyway (one uv_timer). When
 * either fires we call curl_multi_socket_action, then collect the finished
 * transfers (curl_multi_info_read) and run their callbacks, always outside
 * curl's own callbacks, so a done callback may start or cancel fetches or close
 * the client.
 *
 * Lifetimes: a fetch lives from client_get to its done callback (or cancel); a
 * sock from curl's first mention of its socket to CURL_POLL_REMOVE, which curl
 * sends before it closes the socket (and the poll is stopped at once, so a
 * descriptor number reused by the next connection is never watched twice). The
 * client lives until client_close has closed the timer and every poll.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/client.h"

#define DEFAULT_TIMEOUT_MS 60000
#define DEFAULT_CONNECT_MS 10000
#define DEFAULT_STALL_MS 30000
#define DEFAULT_MAX_BYTES (16u * 1024 * 1024)
#define DEFAULT_HOST_CONNECTIONS 4

struct sock {
    uv_poll_t poll;
    struct client *c;
    curl_socket_t fd;
    struct sock *prev, *next; /* c->socks */
};

struct client_fetch {
    struct client *c;
    CURL *easy;
    struct curl_slist *headers;
    client_done_fn done;
    void *data;
    struct pt_buf body;
    bool too_large;
    uint64_t started_ms;
    char error[CURL_ERROR_SIZE];
    struct client_fetch *prev, *next; /* c->fetches */
};

struct client {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;
    struct sock *socks;
    struct client_fetch *fetches;
    size_t nfetches;
    char user_agent[128];
    int in_action; /* inside socket_action or the done loop */
    bool closing;
    size_t handles_open; /* timer + polls not yet closed */
    void (*closed)(void *data);
    void *closed_data;
};

static void maybe_finish_close(struct client *c);

/* ------------------------------------------------------------- sockets */

static void on_sock_closed(uv_handle_t *h)
{
    struct sock *k = h->data;
    struct client *c = k->c;
    free(k);
    c->handles_open--;
    maybe_finish_close(c);
}

static void sock_close(struct sock *k)
{
    struct client *c = k->c;
    if (k->prev != NULL)
        k->prev->next = k->next;
    else
        c->socks = k->next;
    if (k->next != NULL)
        k->next->prev = k->prev;
    uv_poll_stop(&k->poll);
    uv_close((uv_handle_t *)&k->poll, on_sock_closed);
}

static void run_curl(struct client *c, curl_socket_t fd, int flags);

static void on_poll(uv_poll_t *p, int status, int events)
{
    struct sock *k = p->data;
    int flags = 0;
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    else {
        if (events & UV_READABLE)
            flags |= CURL_CSELECT_IN;
        if (events & UV_WRITABLE)
            flags |= CURL_CSELECT_OUT;
    }
    run_curl(k->c, k->fd, flags);
}

static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void)easy;
    struct client *c = userp;
    struct sock *k = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (k != NULL) {
            curl_multi_assign(c->multi, fd, NULL);
            sock_close(k);
        }
        return 0;
    }
    if (k == NULL) {
        k = calloc(1, sizeof(*k));
        if (k == NULL)
            return -1;
        if (uv_poll_init_socket(c->loop, &k->poll, fd) != 0) {
            free(k);
            return -1;
        }
        k->poll.data = k;
        k->c = c;
        k->fd = fd;
        k->next = c->socks;
        if (c->socks != NULL)
            c->socks->prev = k;
        c->socks = k;
        c->handles_open++;
        curl_multi_assign(c->multi, fd, k);
    }
    int events = 0;
    if (what & CURL_POLL_IN)
        events |= UV_READABLE;
    if (what & CURL_POLL_OUT)
        events |= UV_WRITABLE;
    uv_poll_start(&k->poll, events, on_poll);
    return 0;
}

/* ------------------------------------------------------------- timer */

static void on_timer(uv_timer_t *t)
{
    run_curl(t->data, CURL_SOCKET_TIMEOUT, 0);
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    struct client *c = userp;
    if (timeout_ms < 0)
        uv_timer_stop(&c->timer);
    else /* 0 too goes through the loop: curl must not be re-entered from here */
        uv_timer_start(&c->timer, on_timer, (uint64_t)timeout_ms, 0);
    return 0;
}

/* ------------------------------------------------------------- transfers */

static size_t on_body(char *p, size_t size, size_t n, void *userp)
{
    struct client_fetch *f = userp;
    size_t len = size * n;
    if (pt_buf_append(&f->body, p, len) < 0) {
        f->too_large = true;
        return 0; /* CURLE_WRITE_ERROR ends the transfer */
    }
    return len;
}

static void fetch_unlink(struct client_fetch *f)
{
    struct client *c = f->c;
    if (f->prev != NULL)
        f->prev->next = f->next;
    else
        c->fetches = f->next;
    if (f->next != NULL)
        f->next->prev = f->prev;
    c->nfetches--;
}

static void fetch_free(struct client_fetch *f)
{
    curl_multi_remove_handle(f->c->multi, f->easy);
    curl_easy_cleanup(f->easy);
    curl_slist_free_all(f->headers);
    pt_buf_deinit(&f->body);
    free(f);
}

/* One response header of the last answer into out ("" when absent). */
static void copy_header(CURL *easy, const char *name, char *out, size_t cap)
{
    struct curl_header *h = NULL;
    out[0] = '\0';
    if (curl_easy_header(easy, name, 0, CURLH_HEADER, -1, &h) == CURLHE_OK && h != NULL)
        snprintf(out, cap, "%s", h->value);
}

static void fill_result(struct client_fetch *f, CURLcode code, struct client_result *r)
{
    memset(r, 0, sizeof(*r));
    curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &r->status);
    r->seconds = (double)(uv_now(f->c->loop) - f->started_ms) / 1000.0;
    if (code == CURLE_OK) {
        copy_header(f->easy, "ETag", r->etag, sizeof(r->etag));
        copy_header(f->easy, "Last-Modified", r->last_modified, sizeof(r->last_modified));
        r->body = f->body;
        f->body = (struct pt_buf){0};
        return;
    }
    if (f->too_large || code == CURLE_FILESIZE_EXCEEDED)
        r->error = PT_E_BODY_TOO_LARGE;
    else if (code == CURLE_OPERATION_TIMEDOUT)
        r->error = PT_E_TIMEOUT;
    else
        r->error = PT_E_INVALID;
    if (f->too_large)
        snprintf(r->message, sizeof(r->message), "the body is over %zu bytes", f->body.limit);
    else
        snprintf(r->message, sizeof(r->message), "%s",
                 f->error[0] != '\0' ? f->error : curl_easy_strerror(code));
}

/* Run the callbacks of the finished transfers. */
static void collect_done(struct client *c)
{
    CURLMsg *msg;
    int left;
    while (!c->closing && (msg = curl_multi_info_read(c->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        struct client_fetch *f = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&f);
        if (f == NULL)
            continue;
        struct client_result r;
        fill_result(f, msg->data.result, &r);
        fetch_unlink(f);
        client_done_fn done = f->done;
        void *data = f->data;
        fetch_free(f);
        done(&r, data);
        pt_buf_deinit(&r.body);
    }
}

static void run_curl(struct client *c, curl_socket_t fd, int flags)
{
    if (c->closing)
        return;
    int running;
    c->in_action++;
    curl_multi_socket_action(c->multi, fd, flags, &running);
    collect_done(c);
    c->in_action--;
    maybe_finish_close(c);
}

static bool set_options(struct client_fetch *f, const struct client_request *req)
{
    uint64_t timeout = req->timeout_ms ? req->timeout_ms : DEFAULT_TIMEOUT_MS;
    uint64_t connect = req->connect_timeout_ms ? req->connect_timeout_ms : DEFAULT_CONNECT_MS;
    if (connect > timeout)
        connect = timeout;
    uint64_t stall = req->stall_timeout_ms ? req->stall_timeout_ms : DEFAULT_STALL_MS;
    size_t max = req->max_bytes ? req->max_bytes : DEFAULT_MAX_BYTES;
    pt_buf_init(&f->body, max);
    CURL *e = f->easy;
    bool ok = curl_easy_setopt(e, CURLOPT_URL, req->url) == CURLE_OK;
    ok = ok && curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK;
    ok = ok && curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") == CURLE_OK;
    curl_easy_setopt(e, CURLOPT_PRIVATE, f);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, f->error);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, ""); /* whatever curl can decode */
    curl_easy_setopt(e, CURLOPT_USERAGENT, f->c->user_agent);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)timeout);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)connect);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (long)((stall + 999) / 1000));
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, f);
    for (const char *const *h = req->headers; ok && h != NULL && *h != NULL; h++) {
        struct curl_slist *l = curl_slist_append(f->headers, *h);
        ok = l != NULL;
        if (ok)
            f->headers = l;
    }
    if (ok && f->headers != NULL)
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, f->headers);
    return ok;
}

int client_get(struct client *c, const struct client_request *req, client_done_fn done, void *data,
               struct client_fetch **out)
{
    if (out != NULL)
        *out = NULL;
    if (c->closing)
        return PT_E_CLOSED;
    if (req->url == NULL || req->url[0] == '\0')
        return PT_E_INVALID;
    struct client_fetch *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return PT_E_NOMEM;
    f->c = c;
    f->done = done;
    f->data = data;
    f->started_ms = uv_now(c->loop);
    f->easy = curl_easy_init();
    if (f->easy == NULL) {
        free(f);
        return PT_E_NOMEM;
    }
    if (!set_options(f, req) || curl_multi_add_handle(c->multi, f->easy) != CURLM_OK) {
        curl_easy_cleanup(f->easy);
        curl_slist_free_all(f->headers);
        pt_buf_deinit(&f->body);
        free(f);
        return PT_E_INVALID;
    }
    /* curl_multi_add_handle asked for a timer of 0: the transfer starts from the loop. */
    f->next = c->fetches;
    if (c->fetches != NULL)
        c->fetches->prev = f;
    c->fetches = f;
    c->nfetches++;
    if (out != NULL)
        *out = f;
    return 0;
}

void client_fetch_cancel(struct client_fetch *f)
{
    fetch_unlink(f);
    fetch_free(f);
}

size_t client_pending(const struct client *c)
{
    return c->nfetches;
}

/* ------------------------------------------------------------- life */

int client_new(uv_loop_t *loop, const struct client_config *cfg, struct client **out)
{
    struct client *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return PT_E_NOMEM;
    c->loop = loop;
    c->multi = curl_multi_init();
    if (c->multi == NULL) {
        free(c);
        return PT_E_NOMEM;
    }
    snprintf(c->user_agent, sizeof(c->user_agent), "%s",
             cfg != NULL && cfg->user_agent != NULL ? cfg->user_agent : "PlanetTracker");
    long per_host = cfg != NULL && cfg->max_host_connections > 0 ? cfg->max_host_connections
                                                                 : DEFAULT_HOST_CONNECTIONS;
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, per_host);
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    c->handles_open = 1;
    *out = c;
    return 0;
}

static void on_timer_closed(uv_handle_t *h)
{
    struct client *c = h->data;
    c->handles_open--;
    maybe_finish_close(c);
}

/* The last step of client_close, once no curl call is on the stack. */
static void close_now(struct client *c)
{
    while (c->fetches != NULL) {
        struct client_fetch *f = c->fetches;
        fetch_unlink(f);
        fetch_free(f);
    }
    /* Cleanup may still report sockets it removes; any it does not, we close. */
    curl_multi_cleanup(c->multi);
    c->multi = NULL;
    while (c->socks != NULL)
        sock_close(c->socks);
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, on_timer_closed);
}

static void maybe_finish_close(struct client *c)
{
    if (!c->closing || c->in_action > 0)
        return;
    if (c->multi != NULL) {
        close_now(c);
        return;
    }
    if (c->handles_open == 0) {
        void (*closed)(void *) = c->closed;
        void *data = c->closed_data;
        free(c);
        if (closed != NULL)
            closed(data);
    }
}

void client_close(struct client *c, void (*closed)(void *data), void *data)
{
    if (c->closing)
        return;
    c->closing = true;
    c->closed = closed;
    c->closed_data = data;
    maybe_finish_close(c);
}
