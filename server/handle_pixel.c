/*
 * handle_pixel.c - the open pixel.
 *
 * Every request for a pixel gets the same 43-byte transparent GIF and the
 * same headers, also for a broken or forged token: an email must never show
 * a broken image. A request with a valid open token records an open with
 * its verdict (intake.h): a HEAD from a link checker or prefetcher counts
 * as a prefetch, apart from people. Readers on the suppression list get the
 * same GIF and record nothing, and so does a token whose key has passed
 * its end date (count_until). The response is static, so this path
 * allocates nothing.
 */
#include <http_parser.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "handlers.h"
#include "intake.h"
#include "log.h"
#include "signer.h"
#include "store.h"
#include "token.h"

/* A 1x1 GIF89a whose only pixel is transparent. */
static const unsigned char transparent_gif[43] = {
    'G', 'I', 'F', '8', '9', 'a',
    0x01, 0x00, 0x01, 0x00,             /* 1 x 1 */
    0x80, 0x00, 0x00,                   /* global colour table of 2 */
    0x00, 0x00, 0x00, 0xff, 0xff, 0xff, /* black, white */
    0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, /* colour 0 transparent */
    0x2c, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, /* image */
    0x02, 0x02, 0x44, 0x01, 0x00,       /* LZW data */
    0x3b,                               /* trailer */
};

#define HDR(n, v) {n, sizeof(n) - 1, v, sizeof(v) - 1}

/* Forbid caching everywhere, so every open reaches tally. */
static const struct http_header pixel_headers[] = {
    HDR("Cache-Control", "no-store, no-cache, must-revalidate, max-age=0"),
    HDR("Pragma", "no-cache"),
    HDR("Expires", "Thu, 01 Jan 1970 00:00:00 GMT"),
    HDR("X-Content-Type-Options", "nosniff"),
};

/* Finds the token in "/o/<token>.gif". Returns its length, or 0. */
static size_t pixel_token(const struct http_request *req, const char **token)
{
    static const char prefix[] = "/o/";
    static const char suffix[] = ".gif";
    size_t fixed = sizeof(prefix) - 1 + sizeof(suffix) - 1;

    if (req->path_len <= fixed ||
        memcmp(req->path + req->path_len - (sizeof(suffix) - 1), suffix,
               sizeof(suffix) - 1) != 0)
        return 0;
    *token = req->path + sizeof(prefix) - 1;
    return req->path_len - fixed;
}

static struct http_prepared pixel_response;
static pthread_once_t pixel_response_once = PTHREAD_ONCE_INIT;

static void prepare_pixel_response(void)
{
    /* The parts are constants that fit in HTTP_PREPARED_MAX, so a failure
     * is a programming error. */
    if (http_prepare(&pixel_response, 200, "image/gif", pixel_headers,
                     sizeof(pixel_headers) / sizeof(pixel_headers[0]), transparent_gif,
                     sizeof(transparent_gif)) != 0)
        abort();
}

void pixel_respond(struct http_request *req)
{
    pthread_once(&pixel_response_once, prepare_pixel_response);
    http_respond_prepared(req, &pixel_response);
}

/* Records the open of a verified token, unless its reader is suppressed or
 * its key no longer counts. Runs before the response is sent: see
 * store_submit. */
static void record_open(struct worker *w, struct http_request *req,
                        const struct token *tok, uint32_t now)
{
    struct ua_traits traits;
    const struct ua_traits *ua = intake_user_agent(w, req, &traits);
    enum verdict verdict = intake_classify(w, req, false, tok, now, ua);
    struct event ev;

    if (intake_suppressed(w, tok->reader))
        return;
    if (!signer_key_counts(w->signer, tok->key_id, now)) {
        atomic_fetch_add_explicit(&w->counters.token_retired, 1, memory_order_relaxed);
        LOG_LIMITED(LOG_LEVEL_INFO, "pixel.key_retired", "key=%u campaign=%s",
                    (unsigned)tok->key_id, tok->campaign);
        return;
    }

    memset(&ev, 0, sizeof(ev));
    handle_set_device(&ev, ua);
    ev.kind = EVENT_OPEN;
    ev.time = now;
    memcpy(ev.u.touch.campaign, tok->campaign, sizeof(tok->campaign));
    memcpy(ev.u.touch.message, tok->message, sizeof(tok->message));
    memcpy(ev.u.touch.reader, tok->reader, sizeof(tok->reader));
    ev.u.touch.link = tok->link;
    ev.u.touch.time = ev.time;
    ev.u.touch.verdict = (uint8_t)verdict;
    store_submit(w->store, &ev);
}

void handle_pixel(struct worker *w, struct http_request *req)
{
    uint8_t scratch[TOKEN_BINARY_MAX];
    struct token tok;
    const char *text = NULL;
    size_t text_len;
    enum token_status status = TOKEN_MALFORMED;
    unsigned long long id = (unsigned long long)req->id;

    text_len = pixel_token(req, &text);
    if (text_len > 0)
        status = token_decode(w->signer, text, text_len, TOKEN_OPEN, scratch, &tok);
    if (status == TOKEN_OK)
        record_open(w, req, &tok, (uint32_t)time(NULL));

    pixel_respond(req);

    if (status != TOKEN_OK) {
        atomic_fetch_add_explicit(&w->counters.pixel_invalid, 1, memory_order_relaxed);
        LOG_LIMITED(LOG_LEVEL_INFO, "pixel.invalid_token", "id=%llu status=%s length=%zu",
                    id, token_status_name(status), text_len);
    }
}
