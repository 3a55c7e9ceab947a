/*
 * auth_request.h - the HTTP side of auth.h: checks a request's bearer token
 * and answers 401 or 403 when it does not grant a scope.
 */
#ifndef TALLY_AUTH_REQUEST_H
#define TALLY_AUTH_REQUEST_H

#include <stdbool.h>

#include "auth.h"
#include "http.h"
#include "worker.h"

/*
 * Checks the Authorization header of req against w's API tokens for scope.
 * Returns true when the handler may go on. Otherwise it has answered req
 * (401 with "WWW-Authenticate: Bearer" for a missing or unknown token, 403
 * for a token without the scope), counted it in w's metrics and logged it
 * rate-limited with the token's name (never its value), and req is invalid.
 */
bool auth_request(struct worker *w, struct http_request *req, enum auth_scope scope);

#endif
