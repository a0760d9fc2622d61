/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * cli_sites.c -- `planettracker sites list|add|rm`: the saved-sites API
 * (/api/sites, see sites.c) from the terminal, with an API token.
 *
 * One blocking libcurl easy transfer per command: a CLI does one thing at a
 * time, so the event-loop client of src/client would only add machinery.
 * Bodies are built and answers read with jansson, so a name with quotes or
 * non-ASCII letters is escaped as JSON wants. The server validates every
 * member (and names each bad one), so the options are passed on as given.
 * The token goes into one request header and is never printed.
 *
 * Exit status: 0 done; 1 the server refused (its error printed, every field
 * named); 2 the server could not be reached; 64 (EX_USAGE) a usage error.
 */
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <sysexits.h>

#include "app/app.h"

#define EXIT_REFUSED 1
#define EXIT_UNREACHABLE 2
#define DEFAULT_URL "http://127.0.0.1:8000"
#define CONNECT_TIMEOUT_MS 5000L
#define TOTAL_TIMEOUT_MS 30000L
/* Far above the largest list (a few hundred sites of ~1.5 KiB): a bigger answer is not ours. */
#define ANSWER_MAX_BYTES (8u << 20)

static const char sites_usage[] =
    "usage: planettracker sites list [options]\n"
    "       planettracker sites add NAME --lat DEG --lon DEG [site options] [options]\n"
    "       planettracker sites rm ID [--if-match VERSION] [options]\n"
    "\n"
    "List, add or remove your saved observing sites on a PlanetTracker server.\n"
    "\n"
    "  --url URL            the server [PLANETTRACKER_URL] (default " DEFAULT_URL ")\n"
    "  --token TOKEN        API token from POST /api/tokens [PLANETTRACKER_TOKEN] (required)\n"
    "  --json               print the server's JSON as it is instead of a table\n"
    "\n"
    "site options (add):\n"
    "  --lat DEG            latitude, decimal or D:M:S, north positive (required)\n"
    "  --lon DEG            longitude, decimal or D:M:S, east positive (required)\n"
    "  --elevation M        metres above sea level (default 0)\n"
    "  --timezone ZONE      IANA time zone, e.g. Europe/Paris (default none)\n"
    "  --horizon DEG        obstructed horizon, 0 to 30 (default 0)\n"
    "  --pressure HPA       air pressure for refraction (default 1010)\n"
    "  --temperature C      air temperature for refraction (default 15)\n"
    "  --notes TEXT         free text, up to 1000 characters\n"
    "rm option:\n"
    "  --if-match VERSION   remove only if the site is still at that version (3 or v3)\n";

enum sites_cmd { CMD_NONE, CMD_LIST, CMD_ADD, CMD_RM };

/* How a site option goes into the body: text as a string, a number as a number. */
enum member_kind { MEMBER_TEXT, MEMBER_NUMBER };

static const struct site_option {
    const char *flag;
    const char *member;
    enum member_kind kind;
} site_options[] = {
    /* Angles as given: the server parses decimal or D:M:S, as /planets does. */
    {"--lat", "lat", MEMBER_TEXT},
    {"--lon", "lon", MEMBER_TEXT},
    {"--elevation", "elevation", MEMBER_NUMBER},
    {"--timezone", "timezone", MEMBER_TEXT},
    {"--horizon", "horizon_deg", MEMBER_NUMBER},
    {"--pressure", "pressure", MEMBER_NUMBER},
    {"--temperature", "temperature", MEMBER_NUMBER},
    {"--notes", "notes", MEMBER_TEXT},
};
#define N_SITE_OPTIONS PT_ARRAY_SIZE(site_options)

struct sites_args {
    enum sites_cmd cmd;
    const char *url;
    const char *token;
    const char *operand;               /* NAME (add) or ID (rm) */
    const char *if_match;
    const char *site[N_SITE_OPTIONS];  /* by site_options index; NULL: not given */
    bool json;
    int64_t id;                        /* rm: the operand, checked */
    int64_t version;                   /* rm: --if-match, checked; 0: none */
};

/* One answer of the server. */
struct answer {
    long status;
    struct pt_buf body;
};

/* ---------------------------------------------------------------- arguments */

/* Print a usage error (what may be NULL) and the usage; returns -1 for parse_args. */
static int usage_error(const char *msg, const char *what)
{
    fprintf(stderr, "planettracker sites: %s%s\n\n%s", msg, what != NULL ? what : "",
            sites_usage);
    return -1;
}

static const char **option_slot(struct sites_args *a, const char *flag)
{
    if (strcmp(flag, "--url") == 0)
        return &a->url;
    if (strcmp(flag, "--token") == 0)
        return &a->token;
    if (strcmp(flag, "--if-match") == 0)
        return &a->if_match;
    for (size_t i = 0; i < N_SITE_OPTIONS; i++)
        if (strcmp(flag, site_options[i].flag) == 0)
            return &a->site[i];
    return NULL;
}

/* A word that is not an option: the command first, then its one operand. */
static int take_word(struct sites_args *a, const char *word)
{
    static const char *const names[] = {"list", "add", "rm"};
    if (a->cmd == CMD_NONE) {
        for (size_t i = 0; i < PT_ARRAY_SIZE(names); i++)
            if (strcmp(word, names[i]) == 0)
                a->cmd = (enum sites_cmd)(i + 1);
        return a->cmd != CMD_NONE ? 0 : usage_error("unknown command ", word);
    }
    if (a->operand != NULL || a->cmd == CMD_LIST)
        return usage_error("unexpected argument ", word);
    a->operand = word;
    return 0;
}

/* Text that goes into a header: no control character may split it. */
static bool header_safe(const char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return false;
    return true;
}

/* An id or version: decimal digits naming a positive integer (VERSION may be v3 or "v3"). */
static int64_t positive_int(const char *text, bool version)
{
    struct pt_str s = pt_str_c(text);
    if (version && s.len >= 2 && s.ptr[0] == '"' && s.ptr[s.len - 1] == '"')
        s = pt_str_make(s.ptr + 1, s.len - 2);
    if (version && s.len > 0 && s.ptr[0] == 'v')
        s = pt_str_make(s.ptr + 1, s.len - 1);
    int64_t v;
    bool digits = s.len > 0 && s.ptr[0] >= '0' && s.ptr[0] <= '9';
    return digits && pt_str_to_u63(s, &v) == 0 && v > 0 ? v : -1;
}

/* What parse_args cannot see word by word: each command's operand and options. */
static int check_args(struct sites_args *a)
{
    if (a->cmd == CMD_NONE)
        return usage_error("which command? list, add or rm", NULL);
    for (size_t i = 0; i < N_SITE_OPTIONS; i++)
        if (a->site[i] != NULL && a->cmd != CMD_ADD)
            return usage_error("only `sites add` takes ", site_options[i].flag);
    if (a->if_match != NULL && a->cmd != CMD_RM)
        return usage_error("only `sites rm` takes --if-match", NULL);
    if (a->cmd == CMD_ADD && (a->operand == NULL || a->site[0] == NULL || a->site[1] == NULL))
        return usage_error("`sites add` needs a NAME, --lat and --lon", NULL);
    if (a->cmd == CMD_RM && (a->operand == NULL || (a->id = positive_int(a->operand, false)) < 0))
        return usage_error("`sites rm` needs the ID of a site (digits, as `sites list` shows)",
                           NULL);
    if (a->if_match != NULL && (a->version = positive_int(a->if_match, true)) < 0)
        return usage_error("--if-match takes a version: 3, v3 or \"v3\"", NULL);
    if (strncmp(a->url, "http://", 7) != 0 && strncmp(a->url, "https://", 8) != 0)
        return usage_error("--url takes an http:// or https:// URL, not ", a->url);
    if (a->token == NULL || a->token[0] == '\0')
        return usage_error("no API token: pass --token TOKEN or set PLANETTRACKER_TOKEN "
                           "(POST /api/tokens from a browser session issues one)", NULL);
    if (!header_safe(a->token) || !header_safe(a->url))
        return usage_error("the token and the URL may not hold control characters", NULL);
    return 0;
}

/* Returns 0, 1 when --help was printed (exit 0), or -1 after a usage error (exit 64). */
static int parse_args(int argc, char **argv, struct sites_args *a)
{
    memset(a, 0, sizeof(*a));
    a->url = getenv("PLANETTRACKER_URL");
    if (a->url == NULL || a->url[0] == '\0')
        a->url = DEFAULT_URL;
    a->token = getenv("PLANETTRACKER_TOKEN");
    bool options = true;  /* until "--": then a NAME may start with '-' */
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!options || arg[0] != '-' || arg[1] == '\0') {
            if (take_word(a, arg) < 0)
                return -1;
        } else if (strcmp(arg, "--") == 0) {
            options = false;
        } else if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            fputs(sites_usage, stdout);
            return 1;
        } else if (strcmp(arg, "--json") == 0) {
            a->json = true;
        } else {
            const char **slot = option_slot(a, arg);
            if (slot == NULL || i + 1 >= argc)
                return usage_error(slot == NULL ? "unknown option " : "a value is missing after ",
                                   arg);
            *slot = argv[++i];
        }
    }
    return check_args(a);
}

/* ---------------------------------------------------------------- HTTP */

static size_t on_body(char *data, size_t size, size_t n, void *userdata)
{
    /* Taking less than offered stops the transfer (CURLE_WRITE_ERROR). */
    return pt_buf_append(userdata, data, size * n) == 0 ? size * n : 0;
}

static bool add_header(struct curl_slist **list, const char *line)
{
    struct curl_slist *grown = line != NULL ? curl_slist_append(*list, line) : NULL;
    if (grown != NULL)
        *list = grown;
    return grown != NULL;
}

/* The request's headers into *list (freed by the caller, whatever this returns). */
static bool build_headers(const struct sites_args *a, bool has_body, struct curl_slist **list)
{
    char if_match[48];
    char *authz = NULL;
    bool ok = add_header(list, "Accept: application/json") &&
              (!has_body || add_header(list, "Content-Type: application/json"));
    if (ok && a->version > 0) {
        snprintf(if_match, sizeof(if_match), "If-Match: \"v%lld\"", (long long)a->version);
        ok = add_header(list, if_match);
    }
    /* asprintf leaves its pointer undefined on failure; add_header refuses NULL. */
    if (ok && asprintf(&authz, "Authorization: Bearer %s", a->token) < 0)
        authz = NULL;
    ok = ok && add_header(list, authz);
    free(authz);  /* curl copied it */
    return ok;
}

static void configure(CURL *curl, const char *url, const char *method, const char *body,
                      struct curl_slist *headers, char *errbuf, struct pt_buf *out)
{
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    if (body != NULL) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    /* No redirects: the token is for this server only. */
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, TOTAL_TIMEOUT_MS);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, out);
}

/*
 * One request to the server's path; the answer (any status) in *ans, whose
 * body the caller releases. Returns 0, or after saying why EXIT_UNREACHABLE
 * (no answer) or EXIT_REFUSED (an answer too large to be the server's).
 */
static int http_call(const struct sites_args *a, const char *method, const char *path,
                     const char *body, struct answer *ans)
{
    size_t base = strlen(a->url);
    while (base > 0 && a->url[base - 1] == '/')
        base--;  /* "http://host/" + "/api/sites" */
    char *url = NULL;
    struct curl_slist *headers = NULL;
    char errbuf[CURL_ERROR_SIZE] = "";
    CURL *curl = curl_easy_init();
    CURLcode cc = CURLE_OUT_OF_MEMORY;
    if (asprintf(&url, "%.*s%s", (int)base, a->url, path) < 0)
        url = NULL;
    if (curl != NULL && url != NULL && build_headers(a, body != NULL, &headers)) {
        configure(curl, url, method, body, headers, errbuf, &ans->body);
        cc = curl_easy_perform(curl);
    }
    if (cc == CURLE_OK)
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &ans->status);
    else if (cc == CURLE_WRITE_ERROR)
        fprintf(stderr, "planettracker sites: the answer of %s is over %u bytes: not ours\n",
                a->url, ANSWER_MAX_BYTES);
    else
        fprintf(stderr, "planettracker sites: cannot reach the server at %s: %s\n", a->url,
                errbuf[0] != '\0' ? errbuf : curl_easy_strerror(cc));
    curl_slist_free_all(headers);
    free(url);
    curl_easy_cleanup(curl);
    return cc == CURLE_OK ? 0 : cc == CURLE_WRITE_ERROR ? EXIT_REFUSED : EXIT_UNREACHABLE;
}

/* ---------------------------------------------------------------- answers */

/* The server's refusal: its sentence and code, then every field or parameter it names. */
static void print_refusal(const struct sites_args *a, const struct answer *ans)
{
    json_t *root = json_loadb(ans->body.data, ans->body.len, 0, NULL);
    const char *code = json_string_value(json_object_get(root, "error"));
    const char *message = json_string_value(json_object_get(root, "message"));
    const char *param = json_string_value(json_object_get(root, "parameter"));
    if (code == NULL) {
        fprintf(stderr, "planettracker sites: %s answered HTTP %ld without an API error body\n",
                a->url, ans->status);
    } else {
        fprintf(stderr, "planettracker sites: %s: %s (HTTP %ld)\n", code,
                message != NULL ? message : "", ans->status);
        if (param != NULL)
            fprintf(stderr, "  parameter: %s\n", param);
    }
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(root, "fields"), i, f) {
        const char *name = json_string_value(json_object_get(f, "field"));
        const char *why = json_string_value(json_object_get(f, "message"));
        fprintf(stderr, "  %s: %s\n", name != NULL ? name : "?", why != NULL ? why : "invalid");
    }
    json_decref(root);
}

/* Characters, not bytes, of UTF-8 text: what the terminal shows (wide letters aside). */
static int text_width(const char *s)
{
    int n = 0;
    for (; *s != '\0'; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static void print_site_row(const json_t *s, int name_width)
{
    const char *name = json_string_value(json_object_get(s, "name"));
    const char *tz = json_string_value(json_object_get(s, "timezone"));
    name = name != NULL ? name : "";
    printf("%-16lld  %s%*s  %9.4f  %10.4f  %7g m  %s\n",
           (long long)json_integer_value(json_object_get(s, "id")), name,
           name_width - text_width(name), "", json_number_value(json_object_get(s, "lat")),
           json_number_value(json_object_get(s, "lon")),
           json_number_value(json_object_get(s, "elevation")), tz != NULL ? tz : "-");
}

static bool print_table(const json_t *root)
{
    json_t *sites = json_object_get(root, "sites");
    if (!json_is_array(sites))
        return false;
    size_t i;
    json_t *s;
    int width = 4;  /* "name" */
    json_array_foreach(sites, i, s) {
        const char *name = json_string_value(json_object_get(s, "name"));
        if (name != NULL && text_width(name) > width)
            width = text_width(name);
    }
    printf("%-16s  %-*s  %9s  %10s  %9s  %s\n", "id", width, "name", "lat", "lon", "elevation",
           "timezone");
    json_array_foreach(sites, i, s) print_site_row(s, width);
    if (json_array_size(sites) == 0)
        printf("(no saved sites)\n");
    return true;
}

/* The new site: its id alone first (for scripts), then the site as a line. */
static bool print_added(const json_t *site)
{
    json_t *id = json_object_get(site, "id");
    const char *name = json_string_value(json_object_get(site, "name"));
    if (!json_is_integer(id) || name == NULL)
        return false;
    printf("%lld\n", (long long)json_integer_value(id));
    print_site_row(site, text_width(name));
    return true;
}

/* Success is 2xx; anything else is the server's refusal, told on stderr. */
static int exchange(const struct sites_args *a, const char *method, const char *path,
                    const char *body, struct answer *ans)
{
    int rc = http_call(a, method, path, body, ans);
    if (rc == 0 && (ans->status < 200 || ans->status > 299)) {
        print_refusal(a, ans);
        rc = EXIT_REFUSED;
    }
    return rc;
}

/* A 2xx answer: as is with --json, else through print (false: not the JSON expected). */
static int show(const struct sites_args *a, const struct answer *ans, bool (*print)(const json_t *))
{
    if (a->json) {
        fwrite(ans->body.data, 1, ans->body.len, stdout);
        if (ans->body.len > 0 && ans->body.data[ans->body.len - 1] != '\n')
            putchar('\n');
        return 0;
    }
    json_t *root = json_loadb(ans->body.data, ans->body.len, 0, NULL);
    bool ok = root != NULL && print(root);
    json_decref(root);
    if (!ok)  /* a wrong URL, another service */
        fprintf(stderr, "planettracker sites: the answer of %s is not PlanetTracker's sites\n",
                a->url);
    return ok ? 0 : EXIT_REFUSED;
}

/* ---------------------------------------------------------------- commands */

/* A number option as a JSON number; anything else as a string, for the server to name. */
static json_t *member_value(const struct site_option *o, const char *text)
{
    double v;
    if (o->kind == MEMBER_NUMBER && pt_str_to_double(pt_str_c(text), &v) == 0)
        return json_real(v);
    return json_string(text);
}

/* The POST body (free() it), or NULL when an argument is not UTF-8 text. */
static char *site_body(const struct sites_args *a)
{
    json_t *o = json_object();
    bool ok = o != NULL && json_object_set_new(o, "name", json_string(a->operand)) == 0;
    for (size_t i = 0; ok && i < N_SITE_OPTIONS; i++)
        if (a->site[i] != NULL)
            ok = json_object_set_new(o, site_options[i].member,
                                     member_value(&site_options[i], a->site[i])) == 0;
    char *text = ok ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return text;
}

static int run(const struct sites_args *a)
{
    struct answer ans = {0};
    pt_buf_init(&ans.body, ANSWER_MAX_BYTES);
    char path[64];
    char *body = NULL;
    int rc;
    switch (a->cmd) {
    case CMD_LIST:
        rc = exchange(a, "GET", "/api/sites", NULL, &ans);
        rc = rc == 0 ? show(a, &ans, print_table) : rc;
        break;
    case CMD_ADD:
        body = site_body(a);
        if (body == NULL) {
            fprintf(stderr, "planettracker sites: NAME and the options must be UTF-8 text\n");
            rc = EX_USAGE;
            break;
        }
        rc = exchange(a, "POST", "/api/sites", body, &ans);
        rc = rc == 0 ? show(a, &ans, print_added) : rc;
        break;
    default:
        snprintf(path, sizeof(path), "/api/sites/%lld", (long long)a->id);
        rc = exchange(a, "DELETE", path, NULL, &ans);
        if (rc == 0 && !a->json)
            printf("removed site %lld\n", (long long)a->id);
        break;
    }
    free(body);
    pt_buf_deinit(&ans.body);
    return rc;
}

int app_cmd_sites(int argc, char **argv)
{
    struct sites_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc != 0)
        return rc > 0 ? 0 : EX_USAGE;
    return run(&a);
}
