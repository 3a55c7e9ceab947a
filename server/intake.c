/*
 * intake.c - verdicts and opt-outs of intake.h.
 */
#include "intake.h"

#include <http_parser.h>
#include <stdatomic.h>

#include "log.h"
#include "refdata.h"

static bool names_prefetch(const struct http_request *req, const char *header)
{
    const struct http_header *h = http_request_header(req, header);

    return h != NULL && classify_purpose_is_prefetch(h->value, h->value_len);
}

const struct ua_traits *intake_user_agent(struct worker *w, const struct http_request *req,
                                          struct ua_traits *out)
{
    const struct http_header *ua = http_request_header(req, "User-Agent");

    if (ua == NULL)
        return NULL;
    ua_cache_lookup(w->agents, &w->refdata->classify, ua->value, ua->value_len, out);
    return out;
}

enum verdict intake_classify(struct worker *w, const struct http_request *req,
                             bool is_click, const struct token *tok, uint32_t now,
                             const struct ua_traits *ua)
{
    /* The agent lists come from ua, so classify needs no User-Agent text;
     * a request without one matches no list. */
    struct classify_input in = {
        .is_click = is_click,
        .is_head = req->method == HTTP_HEAD,
        .purpose_prefetch = names_prefetch(req, "Purpose") ||
                            names_prefetch(req, "Sec-Purpose"),
        .agents_known = true,
        .agents = ua != NULL ? ua->agents : 0,
        .now = now,
        .issued = tok->issued,
        .link = tok->link,
    };
    enum verdict v;

    in.has_addr = worker_client_addr(w, req, &in.addr) == 0;
    v = classify(&w->refdata->classify, (uint32_t)(w->cfg->too_early_ms / 1000), &in);

    if (log_min_level <= LOG_LEVEL_DEBUG) {
        char where[NETADDR_TEXT_MAX] = "unknown";

        if (in.has_addr)
            netaddr_format_truncated(&in.addr, where);
        LOG_DEBUG("intake.verdict", "kind=%s verdict=%s network=%s",
                  is_click ? "click" : "open", verdict_name(v), where);
    }
    return v;
}

bool intake_suppressed(struct worker *w, const uint8_t reader[TOKEN_READER_LEN])
{
    if (!readerset_contains(&w->refdata->suppressed, reader))
        return false;
    atomic_fetch_add_explicit(&w->counters.suppressed, 1, memory_order_relaxed);
    return true;
}
