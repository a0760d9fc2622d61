/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * openapi.c -- /openapi.json: the hand-written description of the sky routes
 * (web/openapi.json) completed, once at start-up, with the saved-sites and
 * token routes made from the same schema table that validates their bodies
 * (app_site_fields), so the document cannot drift from the checks.
 */
#include <jansson.h>
#include <stdlib.h>

#include "app/app.h"
#include "web/assets.h"

static json_t *ref(const char *what)
{
    return json_pack("{s:s}", "$ref", what);
}

static json_t *error_response(const char *description)
{
    return json_pack("{s:s,s:{s:{s:o}}}", "description", description, "content",
                     "application/json", "schema", ref("#/components/schemas/Error"));
}

/* The schema of one body member, from the table. */
static json_t *field_schema(const struct app_site_field *f)
{
    json_t *s = json_object();
    switch (f->kind) {
    case APP_FIELD_TEXT:
    case APP_FIELD_TIMEZONE:
        json_object_set_new(s, "type", json_string("string"));
        json_object_set_new(s, "minLength", json_integer((json_int_t)f->min));
        json_object_set_new(s, "maxLength", json_integer((json_int_t)f->max));
        break;
    case APP_FIELD_LAT:
    case APP_FIELD_LON:
        json_object_set_new(s, "oneOf",
                            json_pack("[{s:s,s:f,s:f},{s:s,s:s}]", "type", "number", "minimum",
                                      f->min, "maximum", f->max, "type", "string", "description",
                                      "decimal degrees or D:M:S"));
        break;
    case APP_FIELD_NUMBER:
        json_object_set_new(s, "type", json_string("number"));
        json_object_set_new(s, "minimum", json_real(f->min));
        json_object_set_new(s, "maximum", json_real(f->max));
        break;
    }
    if (f->nullable)
        json_object_set_new(s, "nullable", json_true());
    json_object_set_new(s, "description", json_string(f->description));
    json_object_set_new(s, "x-unit", json_string(f->unit));
    return s;
}

static json_t *site_input_schema(void)
{
    json_t *props = json_object(), *required = json_array();
    for (size_t i = 0; i < app_site_num_fields; i++) {
        json_object_set_new(props, app_site_fields[i].name, field_schema(&app_site_fields[i]));
        if (app_site_fields[i].required)
            json_array_append_new(required, json_string(app_site_fields[i].name));
    }
    return json_pack("{s:s,s:o,s:o,s:b,s:s}", "type", "object", "properties", props, "required",
                     required, "additionalProperties", 0, "description",
                     "A site as sent (POST, PUT: every required member; PATCH: any). Unknown "
                     "members are refused (422).");
}

static json_t *site_schema(void)
{
    json_t *props = json_object();
    for (size_t i = 0; i < app_site_num_fields; i++)
        json_object_set_new(props, app_site_fields[i].name, field_schema(&app_site_fields[i]));
    json_object_set_new(props, "id", json_pack("{s:s,s:s}", "type", "integer", "description",
                                               "random, not a counter; exact in JavaScript"));
    json_object_set_new(props, "created", json_pack("{s:s,s:s}", "type", "string", "format",
                                                    "date-time"));
    json_object_set_new(props, "updated", json_pack("{s:s,s:s}", "type", "string", "format",
                                                    "date-time"));
    json_object_set_new(props, "version", json_pack("{s:s,s:s}", "type", "integer",
                                                    "description", "the ETag is \"v<version>\""));
    json_object_set_new(props, "url", json_pack("{s:s}", "type", "string"));
    return json_pack("{s:s,s:o}", "type", "object", "properties", props);
}

static json_t *json_body(json_t *schema)
{
    return json_pack("{s:{s:{s:o}}}", "content", "application/json", "schema", schema);
}

static json_t *answer(const char *description, json_t *schema)
{
    json_t *a = json_body(schema);
    json_object_set_new(a, "description", json_string(description));
    return a;
}

static void add_site_paths(json_t *paths)
{
    json_t *errors = json_pack(
        "{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "401", error_response("Unknown or revoked token"),
        "404", error_response("No such site of yours (another owner's is not found either)"),
        "409", error_response("name_taken, or limit_reached"), "412",
        error_response("If-Match names another version"), "413",
        error_response("Body over 16 KiB"), "415", error_response("Body not application/json"),
        "422", error_response("Invalid body: fields[] names every bad member"), "503",
        error_response("The store is unavailable; retry after Retry-After"));
    json_t *list = json_pack("{s:s,s:o}", "summary", "The requester's saved sites, by name",
                             "responses", json_object());
    json_object_set_new(json_object_get(list, "responses"), "200",
                        answer("The sites", json_pack("{s:s,s:{s:{s:s,s:o},s:{s:s}}}", "type",
                                                      "object", "properties", "sites", "type",
                                                      "array", "items",
                                                      ref("#/components/schemas/Site"), "limit",
                                                      "type", "integer")));
    json_t *create = json_pack("{s:s,s:o,s:o}", "summary",
                               "Save a site (the session gets an owner id on its first write)",
                               "requestBody", json_body(ref("#/components/schemas/SiteInput")),
                               "responses", json_deep_copy(errors));
    json_object_set_new(json_object_get(create, "responses"), "201",
                        answer("Saved; Location and ETag given", ref("#/components/schemas/Site")));
    json_object_set_new(paths, "/api/sites", json_pack("{s:o,s:o}", "get", list, "post", create));

    json_t *one = json_object();
    const char *methods[] = {"get", "put", "patch", "delete"};
    const char *summaries[] = {"One site (If-None-Match: 304)",
                               "Replace a site (If-Match honoured)",
                               "Change some members (If-Match honoured)",
                               "Delete a site (If-Match honoured)"};
    for (size_t i = 0; i < PT_ARRAY_SIZE(methods); i++) {
        json_t *op = json_pack("{s:s,s:o,s:o}", "summary", summaries[i], "parameters",
                               json_pack("[{s:s,s:s,s:b,s:{s:s}}]", "name", "id", "in", "path",
                                         "required", 1, "schema", "type", "integer"),
                               "responses", json_deep_copy(errors));
        json_t *responses = json_object_get(op, "responses");
        if (i == 3)
            json_object_set_new(responses, "204", json_pack("{s:s}", "description", "Deleted"));
        else
            json_object_set_new(responses, "200",
                                answer("The site", ref("#/components/schemas/Site")));
        if (i == 1 || i == 2)
            json_object_set_new(op, "requestBody",
                                json_body(ref("#/components/schemas/SiteInput")));
        json_object_set_new(one, methods[i], op);
    }
    json_object_set_new(paths, "/api/sites/{id}", one);

    json_t *token = json_pack("{s:s,s:{s:{s:s},s:{s:s},s:{s:s,s:s},s:{s:s}}}", "type", "object",
                              "properties", "id", "type", "integer", "name", "type", "string",
                              "created", "type", "string", "format", "date-time", "token", "type",
                              "string");
    json_object_set_new(paths, "/api/tokens",
                        json_pack("{s:{s:s,s:{s:o}},s:{s:s,s:{s:o,s:o,s:o}}}", "get", "summary",
                                  "The owner's tokens (never the secrets)", "responses", "200",
                                  answer("The tokens", json_pack("{s:s}", "type", "object")),
                                  "post", "summary",
                                  "Issue a token for the session's owner (Authorization: "
                                  "Bearer <token>); the secret is shown once",
                                  "responses", "201", answer("The token", token), "403",
                                  error_response("Tokens are issued to sessions, not tokens"),
                                  "409", error_response("limit_reached")));
    json_object_set_new(paths, "/api/tokens/{id}",
                        json_pack("{s:{s:s,s:{s:{s:s}}}}", "delete", "summary",
                                  "Revoke a token", "responses", "204", "description",
                                  "Revoked"));
    json_decref(errors);
}

char *app_openapi_build(void)
{
    const struct web_asset *doc = NULL;
    for (size_t i = 0; i < web_assets_count; i++)
        if (strcmp(web_assets[i].path, "openapi.json") == 0)
            doc = &web_assets[i];
    if (doc == NULL)
        return NULL;
    json_t *root = json_loadb((const char *)doc->data, doc->len, 0, NULL);
    json_t *paths = json_object_get(root, "paths");
    json_t *schemas = json_object_get(json_object_get(root, "components"), "schemas");
    json_t *params = json_object_get(json_object_get(root, "components"), "parameters");
    if (!json_is_object(paths) || !json_is_object(schemas) || !json_is_object(params)) {
        json_decref(root);
        return NULL;
    }
    add_site_paths(paths);
    json_object_set_new(schemas, "SiteInput", site_input_schema());
    json_object_set_new(schemas, "Site", site_schema());
    json_object_set_new(json_object_get(schemas, "Error"), "x-fields",
                        json_pack("{s:s}", "description",
                                  "422 invalid_body: fields[] = {field, message, allowed}"));
    json_object_set_new(params, "site",
                        json_pack("{s:s,s:s,s:s,s:{s:s}}", "name", "site", "in", "query",
                                  "description",
                                  "The id of one of the requester's saved sites: its place "
                                  "and weather are the observer (instead of lat/lon)",
                                  "schema", "type", "integer"));
    char *text = json_dumps(root, JSON_INDENT(1));
    json_decref(root);
    return text;
}
