/*
 * auth_request.c - bearer-token checks of HTTP requests; see auth_request.h.
 */
#include "auth_request.h"

#include <stdatomic.h>
#include <string.h>

#include "log.h"

#define HDR(n, v) {n, sizeof(n) - 1, v, sizeof(v) - 1}

static const struct http_header challenge[] = {
    HDR("WWW-Authenticate", "Bearer realm=\"tally\""),
    HDR("Cache-Control", "no-store"),
};

static const char unauthorized_body[] =
    "{\"error\":\"missing or invalid bearer token: send 'Authorization: Bearer "
    "<token>' with an api_token from the keys file\"}\n";

static const char forbidden_body[] =
    "{\"error\":\"the token lacks the scope this request needs\"}\n";

bool auth_request(struct worker *w, struct http_request *req, enum auth_scope scope)
{
    const struct http_header *h = http_request_header(req, "Authorization");
    const struct auth_token *token = NULL;
    char scopes[32];
    enum auth_result result;

    result = auth_check(w->tokens, h != NULL ? h->value : NULL,
                        h != NULL ? h->value_len : 0, scope, &token);
    if (result == AUTH_OK)
        return true;

    if (result == AUTH_FORBIDDEN) {
        atomic_fetch_add_explicit(&w->metrics.api_forbidden, 1, memory_order_relaxed);
        auth_format_scopes((unsigned)scope, scopes, sizeof(scopes));
        LOG_LIMITED(LOG_LEVEL_INFO, "api.forbidden", "token=%s needs=%s",
                    token->name, scopes);
        http_respond(req, 403, "application/json", challenge + 1, 1,
                     forbidden_body, sizeof(forbidden_body) - 1);
        return false;
    }

    atomic_fetch_add_explicit(&w->metrics.api_token_invalid, 1, memory_order_relaxed);
    LOG_LIMITED(LOG_LEVEL_INFO, "api.unauthorized", "reason=%s",
                result == AUTH_MISSING ? "no_bearer_token" : "unknown_token");
    http_respond(req, 401, "application/json", challenge,
                 sizeof(challenge) / sizeof(challenge[0]), unauthorized_body,
                 sizeof(unauthorized_body) - 1);
    return false;
}
