/*
 * intake.h - what the pixel and click handlers decide about a request
 * before they record it: its verdict (classify.h) and whether its reader
 * opted out.
 *
 * The client address and user agent are read here, used in memory for the
 * verdict, and dropped: only the verdict goes on to the store. A truncated
 * address (netaddr_format_truncated) is logged at debug level at most.
 */
#ifndef TALLY_INTAKE_H
#define TALLY_INTAKE_H

#include <stdbool.h>
#include <stdint.h>

#include "classify.h"
#include "http.h"
#include "token.h"
#include "ua_cache.h"
#include "worker.h"

/* Fills *out with the traits of req's User-Agent, from the worker's
 * cache (ua_cache.h), and returns out, or NULL when req has none. A
 * handler reads them once and passes them to intake_classify and
 * handle_set_device. */
const struct ua_traits *intake_user_agent(struct worker *w, const struct http_request *req,
                                          struct ua_traits *out);

/* Judges an open (is_click false) or a click of token tok received at now,
 * with the worker's current tables and settings; ua is what
 * intake_user_agent returned. Never fails. */
enum verdict intake_classify(struct worker *w, const struct http_request *req,
                             bool is_click, const struct token *tok, uint32_t now,
                             const struct ua_traits *ua);

/* Tells whether reader is on the suppression list, counting it when so. */
bool intake_suppressed(struct worker *w, const uint8_t reader[TOKEN_READER_LEN]);

#endif
