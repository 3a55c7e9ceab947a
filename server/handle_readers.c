/*
 * handle_readers.c - DELETE /v1/readers/<email_sha256>: forget a reader.
 *
 * Needs a bearer token with the admin scope (auth.h). The path names the
 * reader by the SHA-256 of the normalised address, as shops hold it; the
 * reader id is derived here and every per-reader key and identity link of
 * it is removed (forget.h). The answer waits for Redis, because the caller
 * needs to know the data is gone. Every response is JSON with the stats
 * API's headers (api_query.h), errors as {"error": "..."}:
 *
 *   200 {"deleted":N}   N keys removed (0: nothing was stored)
 *   400                 the path does not end in 64 hex digits
 *   401, 403            no valid token, or one without the admin scope
 *   405                 another method than DELETE, with "Allow: DELETE"
 *   503                 Redis is not reachable; nothing or part was removed,
 *                       and the same request can be sent again
 */
#include <http_parser.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "api_query.h"
#include "auth_request.h"
#include "handlers.h"
#include "ident.h"
#include "log.h"
#include "store.h"

#define READERS_PREFIX "/v1/readers/"

static void on_forgotten(void *arg, long deleted)
{
    struct http_request *req = arg;
    unsigned long long id = (unsigned long long)req->id;
    char body[64];
    int n;

    if (deleted < 0) {
        api_respond_json(req, 503, json_pack("{s:s}", "error", "redis is not reachable; "
                                             "send the request again"));
        LOG_LIMITED(LOG_LEVEL_WARN, "reader.forget_failed",
                    "id=%llu error=\"redis is not reachable\"", id);
        return;
    }
    LOG_NOTICE("reader.forgotten", "id=%llu keys_deleted=%ld", id, deleted);
    n = snprintf(body, sizeof(body), "{\"deleted\":%ld}\n", deleted);
    api_respond_json_text(req, 200, body, (size_t)n);
}

void handle_reader_delete(struct worker *w, struct http_request *req)
{
    const char *hex = req->path + sizeof(READERS_PREFIX) - 1;
    size_t hex_len = req->path_len - (sizeof(READERS_PREFIX) - 1);
    uint8_t hash[IDENT_SHA256_LEN];
    uint8_t reader[TOKEN_READER_LEN];

    if (req->method != HTTP_DELETE) {
        api_respond_not_allowed(req, "DELETE");
        return;
    }
    if (!auth_request(w, req, AUTH_SCOPE_ADMIN))
        return;
    if (ident_parse_sha256_hex(hex, hex_len, hash) != 0) {
        LOG_LIMITED(LOG_LEVEL_INFO, "api.rejected", "id=%llu path=/v1/readers reason=bad_hash",
                    (unsigned long long)req->id);
        api_respond_json(req, 400, json_pack("{s:s}", "error", "reader is invalid: use "
                                             "/v1/readers/<email_sha256>, 64 hex digits"));
        return;
    }
    if (ident_reader_id(w->signer, hash, reader) != 0) {
        LOG_ERROR("reader.forget_failed", "id=%llu error=\"reader id derivation failed\"",
                  (unsigned long long)req->id);
        api_respond_json(req, 500, json_pack("{s:s}", "error", "internal error; see the "
                                             "server log"));
        return;
    }
    store_forget(w->store, reader, on_forgotten, req);
}
