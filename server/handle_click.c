/*
 * handle_click.c - the click redirect.
 *
 * A verified click token answers 302 to exactly the destination it signs,
 * with tly=<visit token> added once before any '#'. The visit token is
 * minted here: it names the email, the link, the reader, the click time and
 * a random click id, so a checkout beacon that brings it back credits this
 * very click. Anything that does not verify gets 400 and no redirect, so
 * tally never sends a reader to an address it did not sign. The redirect
 * does not wait for Redis: the click goes to the store with its verdict
 * (intake.h) just before the response; a HEAD counts as a prefetch. Readers
 * on the suppression list are redirected the same way and record nothing.
 *
 * A token whose key has passed its end date (count_until) still redirects,
 * to the destination exactly as signed and without tly: the click is not
 * counted, so no visit token may later credit a sale to it.
 */
#include <http_parser.h>
#include <openssl/rand.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "handlers.h"
#include "intake.h"
#include "log.h"
#include "signer.h"
#include "store.h"
#include "token.h"
#include "url.h"

#define ATTRIBUTION_PARAM "tly"

/* Room for the longest destination plus "&tly=" and a visit token. */
#define LOCATION_MAX (TOKEN_DEST_MAX + 8 + 256)

#define HDR(n, v) {n, sizeof(n) - 1, v, sizeof(v) - 1}

static const char invalid_page[] =
    "<!doctype html><title>Invalid link</title>"
    "<p>This link is invalid or has been altered, so it cannot be followed.</p>\n";

/* Finds the token in "/c/<token>", allowing one trailing '/'. */
static size_t click_token(const struct http_request *req, const char **token)
{
    size_t len;

    if (req->path_len <= 3)
        return 0;
    *token = req->path + 3;
    len = req->path_len - 3;
    if ((*token)[len - 1] == '/')
        len--;
    return len;
}

static void reject(struct worker *w, struct http_request *req, const char *why,
                   size_t token_len)
{
    static const struct http_header headers[] = {
        HDR("Cache-Control", "no-store"),
    };
    unsigned long long id = (unsigned long long)req->id;

    http_respond(req, 400, "text/html; charset=utf-8", headers, 1, invalid_page,
                 sizeof(invalid_page) - 1);
    atomic_fetch_add_explicit(&w->counters.click_invalid, 1, memory_order_relaxed);
    LOG_LIMITED(LOG_LEVEL_INFO, "click.rejected", "id=%llu reason=%s length=%zu",
                id, why, token_len);
}

/* Random bytes for click ids, drawn from RAND_bytes CLICK_RANDOM_BYTES at a
 * time. With OpenSSL 3.0 a RAND_bytes call cost about 6,700 instructions
 * for the 8 bytes of one click id and 9,400 for 512 bytes (callgrind), so
 * the cost is almost all per call. Click ids are not secret, since they
 * travel in the visit token, so unused bytes kept in memory give nothing
 * away. Each event loop thread handles its own clicks and has its own pool. */
#define CLICK_RANDOM_BYTES 512

struct click_random {
    uint8_t bytes[CLICK_RANDOM_BYTES];
    size_t used; /* bytes already handed out */
};

static _Thread_local struct click_random click_random = {.used = CLICK_RANDOM_BYTES};

/* Fills id with pool bytes no earlier click got. Returns 0, or -1 when
 * RAND_bytes fails. */
static int random_click_id(uint8_t id[TOKEN_CLICK_ID_LEN])
{
    struct click_random *pool = &click_random;

    if (CLICK_RANDOM_BYTES - pool->used < TOKEN_CLICK_ID_LEN) {
        if (RAND_bytes(pool->bytes, sizeof(pool->bytes)) != 1)
            return -1;
        pool->used = 0;
    }
    memcpy(id, pool->bytes + pool->used, TOKEN_CLICK_ID_LEN);
    pool->used += TOKEN_CLICK_ID_LEN;
    return 0;
}

/* Mints the visit token for a click at now into out. Returns its length, or
 * -1 when randomness or signing fails. */
static long mint_visit(struct worker *w, const struct token *click, uint32_t now,
                       struct token *visit, char *out, size_t outsize)
{
    memset(visit, 0, sizeof(*visit));
    visit->kind = TOKEN_VISIT;
    visit->issued = now;
    memcpy(visit->campaign, click->campaign, sizeof(visit->campaign));
    memcpy(visit->message, click->message, sizeof(visit->message));
    memcpy(visit->reader, click->reader, sizeof(visit->reader));
    visit->link = click->link;
    if (random_click_id(visit->click_id) != 0)
        return -1;
    return token_encode(w->signer, visit, out, outsize);
}

/* Fills in the click event, whose device fields the caller set from the
 * request, and hands it to the store. Runs before the response is sent:
 * see store_submit. */
static void record_click(struct worker *w, struct event *ev,
                         const struct token *visit, enum verdict verdict)
{
    ev->kind = EVENT_CLICK;
    ev->time = visit->issued;
    memcpy(ev->u.touch.campaign, visit->campaign, sizeof(visit->campaign));
    memcpy(ev->u.touch.message, visit->message, sizeof(visit->message));
    memcpy(ev->u.touch.reader, visit->reader, sizeof(visit->reader));
    memcpy(ev->u.touch.click_id, visit->click_id, sizeof(visit->click_id));
    ev->u.touch.link = visit->link;
    ev->u.touch.time = visit->issued;
    ev->u.touch.verdict = (uint8_t)verdict;
    store_submit(w->store, ev);
}

void handle_click(struct worker *w, struct http_request *req)
{
    uint8_t scratch[TOKEN_BINARY_MAX];
    char visit_text[256];
    char location[LOCATION_MAX];
    struct token click, visit;
    struct event ev;
    struct http_header headers[2] = {
        HDR("Cache-Control", "no-store"), /* each click must reach tally */
        {"Location", 8, NULL, 0},
    };
    const char *text = NULL;
    size_t text_len = click_token(req, &text);
    enum token_status status = TOKEN_MALFORMED;
    struct ua_traits traits;
    const struct ua_traits *ua;
    enum verdict verdict;
    uint32_t now = (uint32_t)time(NULL);
    bool record;
    long visit_len, location_len;

    if (text_len > 0)
        status = token_decode(w->signer, text, text_len, TOKEN_CLICK, scratch, &click);
    if (status != TOKEN_OK) {
        reject(w, req, token_status_name(status), text_len);
        return;
    }

    if (!signer_key_counts(w->signer, click.key_id, now)) {
        atomic_fetch_add_explicit(&w->counters.token_retired, 1, memory_order_relaxed);
        LOG_LIMITED(LOG_LEVEL_INFO, "click.key_retired", "key=%u campaign=%s",
                    (unsigned)click.key_id, click.campaign);
        headers[1].value = click.dest;
        headers[1].value_len = click.dest_len;
        http_respond(req, 302, NULL, headers, 2, NULL, 0);
        return;
    }

    ua = intake_user_agent(w, req, &traits);
    verdict = intake_classify(w, req, true, &click, now, ua);
    record = !intake_suppressed(w, click.reader);
    memset(&ev, 0, sizeof(ev));
    handle_set_device(&ev, ua);

    visit_len = mint_visit(w, &click, now, &visit, visit_text, sizeof(visit_text));
    location_len = visit_len < 0 ? -1
                   : url_add_param(click.dest, click.dest_len, ATTRIBUTION_PARAM,
                                   visit_text, (size_t)visit_len, location,
                                   sizeof(location));
    if (location_len < 0) {
        /* Not the reader's fault, but a signed link must still lead somewhere:
         * send the destination as signed, without attribution. */
        LOG_LIMITED(LOG_LEVEL_ERROR, "click.mint_failed", "id=%llu campaign=%s link=%u",
                    (unsigned long long)req->id, click.campaign, (unsigned)click.link);
        memcpy(location, click.dest, click.dest_len);
        location_len = (long)click.dest_len;
        record = false;
    }

    if (record)
        record_click(w, &ev, &visit, verdict);

    headers[1].value = location;
    headers[1].value_len = (size_t)location_len;
    http_respond(req, 302, NULL, headers, 2, NULL, 0);
}
