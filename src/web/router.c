/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * router.c -- the route table of router.h: pattern parsing, matching and URL
 * reversal.
 *
 * Patterns are split into segments once, when a route is added; regex segments
 * are compiled by PCRE2 anchored at both ends and JIT-compiled. A match splits
 * and decodes the request path once (one pass when it holds no '%', the usual
 * case; decoding allocates only for segments that contain an escape), then walks
 * the routes in order comparing segment counts, static text and plain parameters
 * before running any regex.
 *
 * Static texts are interned when routes are added: equal texts share an id. A
 * request segment found equal to one text is then known to differ from every
 * other, so the routes after the first comparison at a position cost an integer
 * compare there ("/planets" is compared once, not once per /planets/... route).
 *
 * PCRE2 needs a match-data block per match. Allocating one with malloc on every
 * request is what we avoid: when (and only when) a regex has to run, the match
 * data is carved from the request arena through a PCRE2 general context whose
 * allocator is the arena, so it costs two bump allocations and is released with
 * the request. The compiled patterns and the shared match context (which bounds
 * backtracking) are read-only after start-up, so matching is thread-safe with no
 * per-thread state.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>

#include "web/form.h"
#include "web/router.h"

#define METHOD_MAX 15
/* Bounds on one regex match, so a pathological pattern cannot stall a worker. */
#define REGEX_MATCH_LIMIT 100000
#define REGEX_HEAP_LIMIT_KIB 256

enum segment_kind {
    SEGMENT_STATIC, /* text must equal the decoded request segment */
    SEGMENT_PARAM,  /* any non-empty decoded segment without '/' */
    SEGMENT_REGEX,  /* decoded segment must match re */
};

struct segment {
    enum segment_kind kind;
    char *text; /* static text, or the parameter name; owned, NUL-terminated */
    size_t text_len;
    unsigned id;    /* SEGMENT_STATIC: equal texts have equal ids, from 1 */
    pcre2_code *re; /* SEGMENT_REGEX only; owned */
    bool jit;       /* re was JIT-compiled */
};

static inline struct pt_str segment_text(const struct segment *seg)
{
    return pt_str_make(seg->text, seg->text_len);
}

struct route {
    char *method;
    size_t method_len;
    uint64_t method_word; /* the method's bytes, zero-padded, when it has at most 8 */
    char *name; /* NULL when unnamed */
    void *data;
    size_t num_segments;
    struct segment *segments;
    bool has_regex;
    size_t next_same; /* the next route with as many segments, or NO_ROUTE */
};

#define NO_ROUTE SIZE_MAX

struct web_router {
    struct route *routes;
    size_t count;
    size_t cap;
    size_t max_segments;       /* largest num_segments of any route */
    unsigned static_ids;       /* distinct static texts so far */
    /* Routes by segment count, each list in the order added: [n] = first, last. */
    size_t first_same[WEB_ROUTER_MAX_SEGMENTS + 1];
    size_t last_same[WEB_ROUTER_MAX_SEGMENTS + 1];
    pcre2_match_context *mctx; /* read-only after creation */
};

/* ------------------------------------------------------------------------ */
/* Creation                                                                   */
/* ------------------------------------------------------------------------ */

struct web_router *web_router_new(void)
{
    struct web_router *r = pt_xcalloc(1, sizeof(*r));
    r->mctx = pcre2_match_context_create(NULL);
    if (r->mctx == NULL) {
        fprintf(stderr, "fatal: out of memory creating a PCRE2 match context\n");
        abort();
    }
    for (size_t n = 0; n <= WEB_ROUTER_MAX_SEGMENTS; n++)
        r->first_same[n] = r->last_same[n] = NO_ROUTE;
    pcre2_set_match_limit(r->mctx, REGEX_MATCH_LIMIT);
    pcre2_set_heap_limit(r->mctx, REGEX_HEAP_LIMIT_KIB);
    return r;
}

static void segments_free(struct segment *segs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(segs[i].text);
        pcre2_code_free(segs[i].re);
    }
    free(segs);
}

void web_router_free(struct web_router *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->count; i++) {
        struct route *rt = &r->routes[i];
        free(rt->method);
        free(rt->name);
        segments_free(rt->segments, rt->num_segments);
    }
    free(r->routes);
    pcre2_match_context_free(r->mctx);
    free(r);
}

size_t web_router_count(const struct web_router *r)
{
    return r->count;
}

static bool is_tchar(unsigned char c)
{
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
        return true;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool is_valid_method(const char *m)
{
    size_t n = strlen(m);
    if (n == 0 || n > METHOD_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_tchar((unsigned char)m[i]))
            return false;
    return true;
}

static bool is_name_start(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static bool is_name_char(char c)
{
    return is_name_start(c) || (c >= '0' && c <= '9');
}

/*
 * Find the '}' that closes a "{name:regex}" parameter, starting at the regex.
 * Braces of quantifiers ("\d{4}") nest; backslash escapes and character
 * classes are skipped. Returns NULL when there is none.
 */
static const char *find_regex_end(const char *p)
{
    int depth = 0;
    while (*p != '\0') {
        if (*p == '\\') {
            if (p[1] == '\0')
                return NULL;
            p += 2;
            continue;
        }
        if (*p == '[') {
            /* A ']' right after '[' or '[^' is literal. */
            p++;
            if (*p == '^')
                p++;
            if (*p == ']')
                p++;
            while (*p != '\0' && *p != ']') {
                if (*p == '\\' && p[1] != '\0')
                    p++;
                p++;
            }
            if (*p == '\0')
                return NULL;
            p++;
            continue;
        }
        if (*p == '{') {
            depth++;
        } else if (*p == '}') {
            if (depth == 0)
                return p;
            depth--;
        }
        p++;
    }
    return NULL;
}

static int compile_regex(const char *pattern, struct pt_str src, struct segment *seg)
{
    int err;
    PCRE2_SIZE err_off;
    seg->re =
        pcre2_compile((PCRE2_SPTR)src.ptr, src.len,
                      PCRE2_ANCHORED | PCRE2_ENDANCHORED | PCRE2_NEVER_UTF, &err, &err_off, NULL);
    if (seg->re == NULL) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(err, msg, sizeof(msg));
        pt_log_error("router: pattern \"%s\": regex \"%.*s\" at offset %zu: %s", pattern,
                     (int)src.len, src.ptr, (size_t)err_off, (const char *)msg);
        return PT_E_INVALID;
    }
    /* Without JIT (some platforms, or a hardened kernel) the interpreter still works. */
    seg->jit = pcre2_jit_compile(seg->re, PCRE2_JIT_COMPLETE) == 0;
    if (!seg->jit)
        pt_log_debug("router: pattern \"%s\": no JIT for \"%.*s\"", pattern, (int)src.len, src.ptr);
    return 0;
}

/* Parse a pattern into segments. On error, logs why and frees what it made. */
static int parse_pattern(const char *pattern, struct route *rt)
{
    struct segment segs[WEB_ROUTER_MAX_SEGMENTS];
    size_t n = 0;
    size_t nparams = 0;
    const char *why = NULL;

    if (pattern[0] != '/') {
        why = "must start with '/'";
        goto out_invalid;
    }
    const char *p = pattern + 1;
    for (;;) {
        if (n == WEB_ROUTER_MAX_SEGMENTS) {
            why = "too many segments";
            goto out_invalid;
        }
        struct segment *seg = &segs[n];
        memset(seg, 0, sizeof(*seg));
        if (*p == '{') {
            const char *name = ++p;
            if (!is_name_start(*p)) {
                why = "a parameter name must match [A-Za-z_][A-Za-z0-9_]*";
                goto out_invalid;
            }
            while (is_name_char(*p))
                p++;
            size_t name_len = (size_t)(p - name);
            for (size_t i = 0; i < n; i++) {
                if (segs[i].kind != SEGMENT_STATIC && segs[i].text_len == name_len &&
                    memcmp(segs[i].text, name, name_len) == 0) {
                    why = "duplicate parameter name";
                    goto out_invalid;
                }
            }
            if (++nparams > WEB_MAX_PARAMS) {
                why = "too many parameters";
                goto out_invalid;
            }
            if (*p == '}') {
                seg->kind = SEGMENT_PARAM;
                p++;
            } else if (*p == ':') {
                const char *re = ++p;
                p = find_regex_end(re);
                if (p == NULL) {
                    why = "unterminated '{'";
                    goto out_invalid;
                }
                if (p == re) {
                    why = "empty regex";
                    goto out_invalid;
                }
                seg->kind = SEGMENT_REGEX;
                if (compile_regex(pattern, pt_str_make(re, (size_t)(p - re)), seg) < 0)
                    goto out_free;
                p++;
            } else {
                why = *p == '\0' ? "unterminated '{'" : "bad character in a parameter name";
                goto out_invalid;
            }
            seg->text = pt_xstrndup(name, name_len);
            seg->text_len = name_len;
            n++;
            if (*p != '/' && *p != '\0') {
                why = "a parameter must fill its whole segment";
                goto out_invalid;
            }
        } else {
            const char *text = p;
            while (*p != '/' && *p != '\0') {
                if (*p == '{' || *p == '}') {
                    why = "'{' or '}' inside static text";
                    goto out_invalid;
                }
                p++;
            }
            seg->kind = SEGMENT_STATIC;
            seg->text_len = (size_t)(p - text);
            seg->text = pt_xstrndup(text, seg->text_len);
            n++;
        }
        if (*p == '\0')
            break;
        p++; /* '/' */
    }

    rt->segments = pt_xmalloc(n * sizeof(*rt->segments));
    memcpy(rt->segments, segs, n * sizeof(*rt->segments));
    rt->num_segments = n;
    rt->has_regex = false;
    for (size_t i = 0; i < n; i++)
        rt->has_regex |= segs[i].kind == SEGMENT_REGEX;
    return 0;

out_invalid:
    pt_log_error("router: bad pattern \"%s\": %s", pattern, why);
out_free:
    /* A compiled regex is always counted in n before any later failure. */
    for (size_t i = 0; i < n; i++) {
        free(segs[i].text);
        pcre2_code_free(segs[i].re);
    }
    return PT_E_INVALID;
}

/* The id of a static text: that of an equal text already added, else a new one. */
static unsigned intern_static(struct web_router *r, const struct segment *seg)
{
    for (size_t i = 0; i < r->count; i++) {
        const struct route *rt = &r->routes[i];
        for (size_t k = 0; k < rt->num_segments; k++)
            if (rt->segments[k].kind == SEGMENT_STATIC &&
                pt_str_eq(segment_text(&rt->segments[k]), segment_text(seg)))
                return rt->segments[k].id;
    }
    return ++r->static_ids;
}

/* Up to 8 bytes as one word (zero-padded), for comparing short methods at once. */
static uint64_t short_word(struct pt_str s)
{
    uint64_t w = 0;
    for (size_t i = 0; i < s.len; i++)
        w |= (uint64_t)(unsigned char)s.ptr[i] << (8 * i);
    return w;
}

static const struct route *find_named(const struct web_router *r, const char *name)
{
    for (size_t i = 0; i < r->count; i++)
        if (r->routes[i].name != NULL && strcmp(r->routes[i].name, name) == 0)
            return &r->routes[i];
    return NULL;
}

int web_router_add(struct web_router *r, const char *method, const char *pattern, const char *name,
                   void *data)
{
    if (method == NULL || !is_valid_method(method)) {
        pt_log_error("router: bad method \"%s\" for pattern \"%s\"", method ? method : "(null)",
                     pattern ? pattern : "(null)");
        return PT_E_INVALID;
    }
    if (pattern == NULL) {
        pt_log_error("router: NULL pattern");
        return PT_E_INVALID;
    }
    if (name != NULL && find_named(r, name) != NULL) {
        pt_log_error("router: duplicate route name \"%s\" (pattern \"%s\")", name, pattern);
        return PT_E_INVALID;
    }
    struct route rt = {.data = data};
    int rc = parse_pattern(pattern, &rt);
    if (rc < 0)
        return rc;
    rt.method_len = strlen(method);
    rt.method = pt_xstrndup(method, rt.method_len);
    if (rt.method_len <= 8)
        rt.method_word = short_word(pt_str_make(rt.method, rt.method_len));
    for (size_t i = 0; i < rt.num_segments; i++)
        if (rt.segments[i].kind == SEGMENT_STATIC)
            rt.segments[i].id = intern_static(r, &rt.segments[i]);
    rt.name = name ? pt_xstrndup(name, strlen(name)) : NULL;
    if (r->count == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 16;
        r->routes = pt_xrealloc(r->routes, r->cap * sizeof(*r->routes));
    }
    size_t n = rt.num_segments;
    rt.next_same = NO_ROUTE;
    if (r->last_same[n] == NO_ROUTE)
        r->first_same[n] = r->count;
    else
        r->routes[r->last_same[n]].next_same = r->count;
    r->last_same[n] = r->count;
    r->routes[r->count++] = rt;
    if (rt.num_segments > r->max_segments)
        r->max_segments = rt.num_segments;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Matching                                                                   */
/* ------------------------------------------------------------------------ */

static void *arena_malloc(size_t n, void *arena)
{
    return pt_arena_alloc(arena, n);
}

static void arena_free(void *p, void *arena)
{
    /* Released with the arena. */
    (void)p;
    (void)arena;
}

/*
 * Per-call matching state: the regex match data, made on first use; for each
 * request segment, the id of the static text it is known to equal (0: not
 * compared yet); whether any segment was decoded (only then can one hold '/').
 */
struct match_state {
    const struct web_router *r;
    struct pt_arena *arena;
    pcre2_match_data *md;
    bool decoded;
    unsigned known[WEB_ROUTER_MAX_SEGMENTS];
};

/* Does request segment i equal seg's static text? Compares bytes at most once per text. */
static bool static_matches(struct match_state *st, size_t i, const struct segment *seg,
                           struct pt_str s)
{
    if (st->known[i] != 0)
        return st->known[i] == seg->id; /* equal to one text, so to no other */
    if (!pt_str_eq(s, segment_text(seg)))
        return false;
    st->known[i] = seg->id;
    return true;
}

static bool regex_matches(struct match_state *st, const struct segment *seg, struct pt_str s)
{
    if (st->md == NULL) {
        pcre2_general_context *g =
            pcre2_general_context_create(arena_malloc, arena_free, st->arena);
        st->md = g ? pcre2_match_data_create(1, g) : NULL;
        if (st->md == NULL)
            return false;
    }
    int rc;
    if (seg->jit)
        rc = pcre2_jit_match(seg->re, (PCRE2_SPTR)s.ptr, s.len, 0, 0, st->md, st->r->mctx);
    else
        rc = pcre2_match(seg->re, (PCRE2_SPTR)s.ptr, s.len, 0, 0, st->md, st->r->mctx);
    /* 0 means "matched, but the ovector is too small for the groups": still a match. */
    return rc >= 0;
}

/* Does rt's pattern match the decoded segments? Fills out->params on success. */
static bool route_matches(struct match_state *st, const struct route *rt, const struct pt_str *segs,
                          struct web_route_match *out)
{
    size_t np = 0;
    /* Cheap comparisons first; regexes only once everything else agrees. */
    for (size_t i = 0; i < rt->num_segments; i++) {
        const struct segment *seg = &rt->segments[i];
        if (seg->kind == SEGMENT_STATIC) {
            if (!static_matches(st, i, seg, segs[i]))
                return false;
            continue;
        }
        if (seg->kind == SEGMENT_PARAM &&
            (segs[i].len == 0 ||
             (st->decoded && memchr(segs[i].ptr, '/', segs[i].len) != NULL)))
            return false;
        out->params[np].name = segment_text(seg);
        out->params[np].value = segs[i];
        np++;
    }
    if (rt->has_regex) {
        for (size_t i = 0; i < rt->num_segments; i++) {
            const struct segment *seg = &rt->segments[i];
            if (seg->kind == SEGMENT_REGEX && !regex_matches(st, seg, segs[i]))
                return false;
        }
    }
    out->num_params = np;
    return true;
}

/* The request's method, prepared once for comparing with every route's. */
struct method_key {
    struct pt_str text;
    uint64_t word;     /* when text.len <= 8 */
    bool head;         /* HEAD: GET routes answer it too */
};

static struct method_key method_key(struct pt_str method)
{
    struct method_key k = {.text = method, .word = 0};
    if (method.len <= 8)
        k.word = short_word(method);
    k.head = pt_str_eq(method, PT_STR("HEAD"));
    return k;
}

static bool method_matches(const struct route *rt, const struct method_key *k)
{
    bool same = rt->method_len == k->text.len &&
                (k->text.len <= 8 ? rt->method_word == k->word
                                  : memcmp(rt->method, k->text.ptr, k->text.len) == 0);
    return same || (k->head && rt->method_len == 3 && memcmp(rt->method, "GET", 3) == 0);
}

static int compare_cstr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * Fill out->allow with the methods of the routes whose pattern matches, sorted
 * and without duplicates; a GET route also contributes HEAD. Returns whether any
 * route matched the path.
 */
static bool collect_allowed(struct match_state *st, const struct pt_str *segs, size_t nsegs,
                            struct web_route_match *out)
{
    const char *methods[64];
    size_t n = 0;
    const struct web_router *r = st->r;
    for (size_t i = 0; i < r->count; i++) {
        const struct route *rt = &r->routes[i];
        if (rt->num_segments != nsegs || !route_matches(st, rt, segs, out))
            continue;
        const char *add[2] = {rt->method, strcmp(rt->method, "GET") == 0 ? "HEAD" : NULL};
        for (size_t k = 0; k < 2 && add[k] != NULL; k++) {
            bool seen = false;
            for (size_t j = 0; j < n && !seen; j++)
                seen = strcmp(methods[j], add[k]) == 0;
            if (!seen && n < PT_ARRAY_SIZE(methods))
                methods[n++] = add[k];
        }
    }
    out->num_params = 0;
    if (n == 0)
        return false;
    qsort(methods, n, sizeof(methods[0]), compare_cstr);
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        size_t mlen = strlen(methods[i]);
        size_t sep = i ? 2 : 0;
        if (len + sep + mlen >= sizeof(out->allow))
            break; /* keep whole names only */
        memcpy(out->allow + len, ", ", sep);
        memcpy(out->allow + len + sep, methods[i], mlen);
        len += sep + mlen;
    }
    out->allow[len] = '\0';
    return true;
}

/*
 * The segments of a path (after its leading '/') that holds no '%' and no NUL,
 * which is what decoding would give: each is a slice of the path. Returns their
 * count (max_segments + 1 when there are more), or 0 when the path needs
 * decoding (then segs is left to the decoding split).
 */
static size_t split_plain(const struct web_router *r, struct pt_str path, struct pt_str *segs)
{
    size_t n = 0, start = 1;
    for (size_t i = 1; i < path.len; i++) {
        char c = path.ptr[i];
        if (c == '/') {
            if (n < r->max_segments)
                segs[n] = pt_str_make(path.ptr + start, i - start);
            n++;
            start = i + 1;
        } else if (c == '%' || c == '\0') {
            return 0;
        }
    }
    if (n < r->max_segments)
        segs[n] = pt_str_make(path.ptr + start, path.len - start);
    return n + 1;
}

/*
 * Split on the raw '/' (so "%2F" stays inside its segment), then decode each of
 * the first max_segments segments (the others are only checked). *count gets the
 * number of segments. Returns 0, or PT_E_BAD_REQUEST for a bad escape or a NUL.
 */
static int split_decoded(const struct web_router *r, struct pt_str path, struct pt_arena *arena,
                         struct pt_str *segs, size_t *count)
{
    size_t n = 0;
    for (size_t i = 1;;) {
        const char *slash = memchr(path.ptr + i, '/', path.len - i);
        size_t end = slash ? (size_t)(slash - path.ptr) : path.len;
        struct pt_str raw = pt_str_make(path.ptr + i, end - i);
        if (n < r->max_segments) {
            if (web_percent_decode(raw, false, arena, &segs[n]) < 0)
                return PT_E_BAD_REQUEST;
        } else if (!web_percent_is_valid(raw)) {
            return PT_E_BAD_REQUEST;
        }
        n++;
        if (slash == NULL)
            break;
        i = end + 1;
    }
    *count = n;
    return 0;
}

int web_router_match(const struct web_router *r, struct pt_str method, struct pt_str path,
                     struct pt_arena *arena, struct web_route_match *out)
{
    out->data = NULL;
    out->name = NULL;
    out->num_params = 0;
    out->allow[0] = '\0';
    if (path.len == 0 || path.ptr[0] != '/')
        return PT_E_NOT_FOUND;

    struct match_state st = {.r = r, .arena = arena, .md = NULL}; /* nothing known yet */
    struct pt_str segs[WEB_ROUTER_MAX_SEGMENTS];
    size_t nsegs = split_plain(r, path, segs);
    if (nsegs == 0) {
        st.decoded = true;
        int rc = split_decoded(r, path, arena, segs, &nsegs);
        if (rc < 0)
            return rc;
    }
    if (nsegs > r->max_segments)
        return PT_E_NOT_FOUND;

    struct method_key mk = method_key(method);
    for (size_t i = r->first_same[nsegs]; i != NO_ROUTE; i = r->routes[i].next_same) {
        const struct route *rt = &r->routes[i];
        if (!method_matches(rt, &mk))
            continue;
        if (route_matches(&st, rt, segs, out)) {
            out->data = rt->data;
            out->name = rt->name;
            return 0;
        }
    }
    /* The rare path: no route for this method; is there one for another? */
    return collect_allowed(&st, segs, nsegs, out) ? PT_E_METHOD : PT_E_NOT_FOUND;
}

/* ------------------------------------------------------------------------ */
/* URL reversal                                                               */
/* ------------------------------------------------------------------------ */

static const struct pt_str *find_param(const struct web_param *params, size_t n, struct pt_str name)
{
    for (size_t i = 0; i < n; i++)
        if (pt_str_eq(params[i].name, name))
            return &params[i].value;
    return NULL;
}

static bool value_fits(const struct web_router *r, const struct segment *seg, struct pt_str v)
{
    if (seg->kind == SEGMENT_PARAM)
        return v.len > 0 && memchr(v.ptr, '/', v.len) == NULL;
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(seg->re, NULL);
    if (md == NULL)
        return false;
    int rc = pcre2_match(seg->re, (PCRE2_SPTR)(v.ptr ? v.ptr : ""), v.len, 0, 0, md, r->mctx);
    pcre2_match_data_free(md);
    return rc >= 0;
}

int web_router_url_for(const struct web_router *r, const char *name, const struct web_param *params,
                       size_t n, struct pt_buf *out)
{
    const struct route *rt = name ? find_named(r, name) : NULL;
    if (rt == NULL)
        return PT_E_NOT_FOUND;
    size_t saved = out->len;
    int rc = 0;
    for (size_t i = 0; i < rt->num_segments && rc == 0; i++) {
        const struct segment *seg = &rt->segments[i];
        rc = pt_buf_append(out, "/", 1);
        if (rc < 0)
            break;
        if (seg->kind == SEGMENT_STATIC) {
            rc = web_percent_encode(segment_text(seg), out);
            continue;
        }
        const struct pt_str *v = find_param(params, n, segment_text(seg));
        if (v == NULL || !value_fits(r, seg, *v)) {
            rc = PT_E_INVALID;
            break;
        }
        rc = web_percent_encode(*v, out);
    }
    if (rc < 0)
        out->len = saved;
    return rc;
}
