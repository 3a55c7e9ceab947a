/*
 * handle_sign.c - POST /v1/sign: bulk minting of pixel and click URLs for a
 * sending system, behind a bearer token with the sign scope.
 *
 *   {"campaign": "spring", "message": "a",
 *    "destinations": ["https://shop.example/p/1", ...],
 *    "recipients": [{"email": "jane@example.com"},
 *                   {"email_sha256": "<64 hex>"}, ...]}
 *
 * gets 200 with
 *
 *   {"campaign": "spring", "message": "a",
 *    "links": [{"link": 1, "destination": "https://shop.example/p/1"}, ...],
 *    "recipients": [{"pixel": "<url>", "clicks": ["<url>", ...]}, ...]}
 *
 * where recipients[i] belongs to the i-th recipient of the request and
 * clicks[j] leads to destinations[j], under link id j + 1. Addresses are
 * hashed into reader ids as the body is read: they appear in no log line,
 * no error message and no Redis key. After the answer, the batch counts as
 * sent for the campaign and message.
 */
#include <http_parser.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api_query.h"
#include "auth_request.h"
#include "handlers.h"
#include "log.h"
#include "rewrite.h"
#include "store.h"
#include "tally.h"
#include "url.h"

#define SIGN_RECIPIENTS_MAX STORE_SENT_BATCH_MAX
#define SIGN_DESTINATIONS_MAX 100

/* The largest response body, in bytes. A click URL carries its
 * destination, so 1000 recipients of 100 long destinations would make a
 * response of tens of megabytes from a 64 KiB request. That response is
 * built in memory on the event loop and kept until the client reads it. */
#define SIGN_RESPONSE_MAX (8u << 20)

/* Bytes of JSON around one URL (quotes, comma), around one recipient's
 * URLs ("pixel", "clicks" and their brackets), around the response's ids
 * and lists, and around one entry of its "links". */
#define SIGN_URL_OVERHEAD 3
#define SIGN_ENTRY_OVERHEAD 24
#define SIGN_RESPONSE_OVERHEAD 160
#define SIGN_LINK_OVERHEAD 40

/* A parsed request. */
struct sign_request {
    const char *campaign;
    const char *message;
    json_t *destinations;
    size_t n_destinations;
    uint8_t (*readers)[TOKEN_READER_LEN];
    size_t n_recipients;
};

static void reject(struct worker *w, struct http_request *req, int status,
                   const char *reason)
{
    char body[256];
    int n = snprintf(body, sizeof(body), "{\"error\":\"%s\"}\n", reason);

    http_respond(req, status, "application/json", NULL, 0, body, (size_t)n);
    atomic_fetch_add_explicit(&w->counters.sign_rejected, 1, memory_order_relaxed);
    LOG_LIMITED(LOG_LEVEL_INFO, "sign.rejected", "status=%d reason=\"%s\"",
                status, reason);
}

static bool id_field(json_t *root, const char *key, const char **out)
{
    const char *s = json_string_value(json_object_get(root, key));

    *out = s;
    return s != NULL && token_id_valid(s, strlen(s));
}

/* Derives the reader id of recipients[i]. Returns NULL or the reason. */
static const char *read_recipient(struct worker *w, json_t *r, uint8_t *reader)
{
    json_t *email = json_object_get(r, "email");
    json_t *hash = json_object_get(r, "email_sha256");

    if (!json_is_object(r) || (email == NULL) == (hash == NULL))
        return "each recipient needs exactly one of email and email_sha256";
    if (email != NULL) {
        if (!json_is_string(email) ||
            tally_reader_from_email(w->signer, json_string_value(email),
                                    json_string_length(email), reader) != 0)
            return "a recipient's email is not a non-empty string";
        return NULL;
    }
    if (!json_is_string(hash) ||
        tally_reader_from_sha256_hex(w->signer, json_string_value(hash),
                                     json_string_length(hash), reader) != 0)
        return "a recipient's email_sha256 is not 64 hex digits";
    return NULL;
}

/* Checks each destination. Returns NULL, or the reason for a 400, which
 * names the destination by its index and the rule it breaks, written to
 * reason (size bytes). */
static const char *check_destinations(json_t *destinations, char *reason,
                                      size_t size)
{
    json_t *dest;
    size_t i;

    json_array_foreach(destinations, i, dest) {
        const struct rewrite_merge_tag *tag;
        enum url_status status;

        if (!json_is_string(dest)) {
            snprintf(reason, size, "destinations[%zu] is not a string", i);
            return reason;
        }
        /* The sending system fills the tag in per recipient, after the
         * URL is signed, so the redirect would keep the unfilled tag. */
        tag = rewrite_find_merge_tag(json_string_value(dest),
                                     json_string_length(dest), NULL, 0);
        if (tag != NULL) {
            snprintf(reason, size, "destinations[%zu] contains the merge tag "
                     "%s %s: a signed URL would keep it unfilled, so leave this "
                     "link untracked", i, tag->open, tag->close);
            return reason;
        }
        status = url_check_destination(json_string_value(dest),
                                       json_string_length(dest), "tly");
        if (status != URL_OK) {
            snprintf(reason, size, "destinations[%zu] is invalid: %s%s", i,
                     url_status_message(status),
                     status == URL_HAS_PARAM ? " (tly)" : "");
            return reason;
        }
    }
    return NULL;
}

/* Parses and checks root into sr. Returns NULL or the reason for a 400,
 * which may be written to reason (size bytes). */
static const char *parse_request(struct worker *w, json_t *root,
                                 struct sign_request *sr, char *reason,
                                 size_t size)
{
    json_t *recipients = json_object_get(root, "recipients");
    const char *why;
    size_t i;

    if (!json_is_object(root))
        return "the body must be a JSON object";
    if (!id_field(root, "campaign", &sr->campaign) ||
        !id_field(root, "message", &sr->message))
        return "campaign and message must be 1 to 32 of A-Z a-z 0-9 . _ -";

    sr->destinations = json_object_get(root, "destinations");
    if (!json_is_array(sr->destinations) ||
        json_array_size(sr->destinations) > SIGN_DESTINATIONS_MAX)
        return "destinations must be an array of at most 100 URLs";
    sr->n_destinations = json_array_size(sr->destinations);
    why = check_destinations(sr->destinations, reason, size);
    if (why != NULL)
        return why;

    if (!json_is_array(recipients) || json_array_size(recipients) == 0 ||
        json_array_size(recipients) > SIGN_RECIPIENTS_MAX)
        return "recipients must be an array of 1 to 1000 objects";
    sr->n_recipients = json_array_size(recipients);
    sr->readers = calloc(sr->n_recipients, sizeof(*sr->readers));
    if (sr->readers == NULL)
        return "out of memory";
    for (i = 0; i < sr->n_recipients; i++) {
        why = read_recipient(w, json_array_get(recipients, i), sr->readers[i]);
        if (why != NULL)
            return why;
    }
    return NULL;
}

/* Builds the response's entry for the recipient in e. */
static json_t *mint_recipient(struct worker *w, const struct sign_request *sr,
                              struct tally_email *e, char *url)
{
    json_t *entry = json_object();
    json_t *clicks = json_array();
    long n = tally_mint_pixel(w->signer, e, url, TALLY_URL_MAX);

    if (entry == NULL || clicks == NULL || n < 0 ||
        json_object_set_new(entry, "pixel", json_stringn(url, (size_t)n)) != 0)
        goto fail;
    for (size_t j = 0; j < sr->n_destinations; j++) {
        json_t *d = json_array_get(sr->destinations, j);

        n = tally_mint_click(w->signer, e, (uint32_t)(j + 1), json_string_value(d),
                             json_string_length(d), url, TALLY_URL_MAX);
        if (n < 0 || json_array_append_new(clicks, json_stringn(url, (size_t)n)) != 0)
            goto fail;
    }
    if (json_object_set_new(entry, "clicks", clicks) != 0) {
        clicks = NULL;
        goto fail;
    }
    return entry;

fail:
    json_decref(clicks);
    json_decref(entry);
    return NULL;
}

/* Returns the bytes entry takes in the compact response, close enough for
 * the SIGN_RESPONSE_MAX check. */
static size_t entry_bytes(const json_t *entry)
{
    const json_t *clicks = json_object_get(entry, "clicks");
    size_t bytes = SIGN_ENTRY_OVERHEAD + SIGN_URL_OVERHEAD +
                   json_string_length(json_object_get(entry, "pixel"));

    for (size_t j = 0; j < json_array_size(clicks); j++)
        bytes += SIGN_URL_OVERHEAD + json_string_length(json_array_get(clicks, j));
    return bytes;
}

/* Returns the bytes of the response besides its recipients. A destination
 * counts twice, for the escapes JSON may add. */
static size_t response_bytes(const struct sign_request *sr)
{
    size_t bytes = SIGN_RESPONSE_OVERHEAD;

    for (size_t j = 0; j < sr->n_destinations; j++)
        bytes += SIGN_LINK_OVERHEAD +
                 2 * json_string_length(json_array_get(sr->destinations, j));
    return bytes;
}

/* Mints every URL into a new response object, or returns NULL. Every
 * recipient's entry has the same length, because a token's length depends
 * on the campaign, message and destination only. So the first entry shows
 * how many recipients fit in SIGN_RESPONSE_MAX. When fewer than all of
 * them fit, *fit is set to that number and NULL is returned. Otherwise
 * *fit is sr->n_recipients. */
static json_t *mint_all(struct worker *w, const struct sign_request *sr, size_t *fit)
{
    char url[TALLY_URL_MAX]; /* per call: workers run this concurrently */
    char base[CONFIG_STR_MAX + 8];
    struct tally_email e = {.campaign = sr->campaign, .message = sr->message,
                            .issued = (uint32_t)time(NULL)};
    json_t *answer = json_pack("{s:s, s:s, s:[], s:[]}", "campaign", sr->campaign,
                               "message", sr->message, "links", "recipients");
    long base_len;

    *fit = sr->n_recipients;
    if (w->cfg->public_url[0] != '\0')
        snprintf(base, sizeof(base), "%s", w->cfg->public_url);
    else
        snprintf(base, sizeof(base), "http://%.*s", /* the first bound address */
                 (int)strcspn(w->listen_bound, ","), w->listen_bound);
    base_len = tally_base_check(base);
    if (answer == NULL || base_len < 0)
        goto fail;
    e.base = base;
    e.base_len = (size_t)base_len;

    for (size_t j = 0; j < sr->n_destinations; j++) {
        json_t *link = json_pack("{s:I, s:O}", "link", (json_int_t)(j + 1),
                                 "destination", json_array_get(sr->destinations, j));
        if (json_array_append_new(json_object_get(answer, "links"), link) != 0)
            goto fail;
    }
    for (size_t i = 0; i < sr->n_recipients; i++) {
        json_t *entry;

        memcpy(e.reader, sr->readers[i], TOKEN_READER_LEN);
        entry = mint_recipient(w, sr, &e, url);
        if (entry != NULL && i == 0) {
            size_t fixed = response_bytes(sr), each = entry_bytes(entry);

            if (fixed + each * sr->n_recipients > SIGN_RESPONSE_MAX) {
                *fit = (SIGN_RESPONSE_MAX - fixed) / each;
                json_decref(entry);
                goto fail;
            }
        }
        if (json_array_append_new(json_object_get(answer, "recipients"), entry) != 0)
            goto fail;
    }
    return answer;

fail:
    json_decref(answer);
    return NULL;
}

void handle_sign(struct worker *w, struct http_request *req)
{
    struct sign_request sr;
    json_error_t jerr;
    json_t *root = NULL;
    json_t *answer = NULL;
    char *body = NULL;
    const char *why;
    char reason[200]; /* fits reject()'s body with its JSON around it */
    size_t fit = 0;

    memset(&sr, 0, sizeof(sr));
    if (req->method != HTTP_POST) {
        api_respond_not_allowed(req, "POST");
        return;
    }
    if (!auth_request(w, req, AUTH_SCOPE_SIGN))
        return;

    root = json_loadb(req->body != NULL ? req->body : "", req->body_len,
                      JSON_REJECT_DUPLICATES, &jerr);
    why = root == NULL ? "the body is not valid JSON"
                       : parse_request(w, root, &sr, reason, sizeof(reason));
    if (why != NULL) {
        reject(w, req, 400, why);
        goto done;
    }

    answer = mint_all(w, &sr, &fit);
    if (answer == NULL && fit < sr.n_recipients) {
        snprintf(reason, sizeof(reason), "the response would be over %u MiB: with "
                 "these destinations send at most %zu recipients per request",
                 SIGN_RESPONSE_MAX >> 20, fit);
        reject(w, req, 400, reason);
        goto done;
    }
    body = answer != NULL ? json_dumps(answer, JSON_COMPACT) : NULL;
    if (body == NULL) {
        /* public_url was checked at start, so memory ran out. */
        LOG_LIMITED(LOG_LEVEL_ERROR, "sign.mint_failed", "campaign=%s recipients=%zu",
                    sr.campaign, sr.n_recipients);
        handle_text(req, 500, "minting failed; see the server log\n");
        goto done;
    }
    http_respond(req, 200, "application/json", NULL, 0, body, strlen(body));
    store_count_sent(w->store, sr.campaign, sr.message,
                     (const uint8_t (*)[TOKEN_READER_LEN])sr.readers,
                     sr.n_recipients);

done:
    free(body);
    free(sr.readers);
    json_decref(answer);
    json_decref(root);
}
