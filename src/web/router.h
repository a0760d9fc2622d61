/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * router.h -- the web layer's request router: method + path patterns with
 * "{param}" and "{param:regex}" segments, named routes and URL reversal.
 *
 * A router is built once at start-up (web_router_add is not thread-safe) and is
 * then read-only: web_router_match and web_router_url_for may run on any number
 * of threads at once. Regexes are PCRE2, compiled (and JIT-compiled where the
 * platform allows) when the route is added.
 */
#ifndef PT_WEB_ROUTER_H
#define PT_WEB_ROUTER_H

#include "base/base.h"

#define WEB_MAX_PARAMS 8           /* parameters per route */
#define WEB_ROUTER_MAX_SEGMENTS 32 /* '/'-separated segments per pattern */

struct web_router;

/* One path parameter of a match, or one argument of web_router_url_for. */
struct web_param {
    struct pt_str name;  /* in a match: borrowed from the router */
    struct pt_str value; /* in a match: percent-decoded, borrowed from the path or the arena */
};

struct web_route_match {
    void *data;       /* the route's opaque data given to web_router_add */
    const char *name; /* the route's name, or NULL; borrowed from the router */
    size_t num_params;
    struct web_param params[WEB_MAX_PARAMS]; /* in pattern order */
    char allow[64]; /* on PT_E_METHOD: "GET, HEAD, POST", sorted, NUL-terminated */
};

/* Create an empty router. Never fails (aborts on heap exhaustion). */
struct web_router *web_router_new(void);

/* Free a router and everything it owns; NULL does nothing. No match may be in progress. */
void web_router_free(struct web_router *r);

/*
 * Add a route. Routes are tried in registration order; the first whose pattern
 * and method both match wins (a static segment wins over a parameter only by
 * coming first).
 *
 * method: "GET", "POST", ... (an HTTP token, at most 15 characters, compared
 * case-sensitively); a "GET" route also answers HEAD. Copied.
 * pattern: starts with '/'; segments separated by '/' are each one of
 *   - static text (compared with the percent-decoded request segment; may not
 *     contain '{' or '}'; an empty segment matches only an empty one, so
 *     "/planets/" and "/planets" are different routes);
 *   - "{name}": any non-empty segment whose decoded value holds no '/';
 *   - "{name:regex}": a segment whose whole decoded value matches the PCRE2
 *     regex (anchored at both ends, byte mode, no UTF), e.g. "{id:\\d+}".
 *   Parameter names are [A-Za-z_][A-Za-z0-9_]*, unique within the pattern, at
 *   most WEB_MAX_PARAMS; at most WEB_ROUTER_MAX_SEGMENTS segments. Copied.
 * name: route name for web_router_url_for, unique within the router, or NULL. Copied.
 * data: opaque, returned in matches; borrowed (the router never touches it).
 *
 * Returns 0, or PT_E_INVALID for a bad method, pattern or regex, or a duplicate
 * name (the reason is logged with pt_log_error; the router is unchanged).
 * Not thread-safe: call before any match.
 */
int web_router_add(struct web_router *r, const char *method, const char *pattern, const char *name,
                   void *data);

/*
 * Match a request against the routes.
 *
 * method: the request method. path: the raw request path (percent-encoded, no
 * query), normally starting with '/'. arena: the request's arena, used for
 * decoded segments that changed and for PCRE2 match data; both borrowed.
 * OUT: *out (param names borrowed from the router, values from path or arena).
 *
 * Returns 0 on a match; PT_E_BAD_REQUEST when a segment has a bad %-escape or
 * decodes to a NUL byte (checked before any route); PT_E_NOT_FOUND when no
 * pattern matches the path (also for a path not starting with '/' or with more
 * segments than any pattern); PT_E_METHOD when some pattern matches the path but
 * none with this method (out->allow lists the methods that would match).
 * Thread-safe once the router is built.
 */
int web_router_match(const struct web_router *r, struct pt_str method, struct pt_str path,
                     struct pt_arena *arena, struct web_route_match *out);

/*
 * URL reversal: append to out the path of route `name`, each "{param}" replaced by
 * the value given for it in params[0..n) (first one wins; extra ones are ignored),
 * percent-encoded (everything but A-Z a-z 0-9 - . _ ~). Static segments are
 * encoded the same way.
 *
 * Returns 0; PT_E_NOT_FOUND for an unknown name; PT_E_INVALID when a parameter is
 * missing or its value would not match the route (empty or containing '/' for
 * "{name}", not matching the regex for "{name:regex}"); PT_E_NOMEM when out
 * would cross its limit. On error out is unchanged. Thread-safe once built.
 */
int web_router_url_for(const struct web_router *r, const char *name, const struct web_param *params,
                       size_t n, struct pt_buf *out);

/* Number of routes added so far. */
size_t web_router_count(const struct web_router *r);

#endif /* PT_WEB_ROUTER_H */
