/*
 * url.h - destination URLs of click tokens.
 *
 * The redirect must hand the reader exactly the URL that was signed, plus one
 * attribution parameter. Nothing here decodes or re-encodes a URL: bytes that
 * are kept are copied as they are, so percent-encoding, non-ASCII bytes, the
 * query and the fragment survive.
 */
#ifndef TALLY_URL_H
#define TALLY_URL_H

#include <stddef.h>

enum url_status {
    URL_OK = 0,
    URL_EMPTY,
    URL_TOO_LONG,    /* over TOKEN_DEST_MAX bytes */
    URL_BAD_SCHEME,  /* not http:// or https:// (any case) */
    URL_NO_HOST,     /* nothing between "//" and the next '/', '?' or '#' */
    URL_BAD_BYTE,    /* a control byte, space or DEL anywhere */
    URL_HAS_PARAM,   /* the query already holds the attribution parameter */
};

/* Returns a one-line English description of a status, for error messages. */
const char *url_status_message(enum url_status status);

/* Checks that u[0..len) may be signed as a click destination: an absolute
 * http or https URL with a host, no control bytes, no space, and no query
 * parameter named param (so the redirect adds it exactly once). Bytes >= 0x80
 * are allowed. The query is what lies between the first '?' and the first
 * '#', if the '?' comes first; its parameters are split on '&', and a name
 * (the part before any '=') must equal param byte for byte, undecoded. param
 * is NUL-terminated, or NULL to skip that check. The checks run in the order
 * of the enum, so the first failing one decides the status. */
enum url_status url_check_destination(const char *u, size_t len,
                                      const char *param);

/* Writes to out (outsize bytes) the URL u[0..len) with "name=value" added as
 * the last query parameter, before the first '#'. The separator is '?' when
 * the URL has no query, nothing when the query is empty (a '?' right before
 * the '#' or the end) or ends in '&', and '&' otherwise ("?a=b?" gets "&").
 * name is NUL-terminated, and value must already be URL-safe. The rest of u
 * is copied byte for byte. Returns the length written (no NUL is added), or
 * -1 when out is too small, in which case out is left untouched. */
long url_add_param(const char *u, size_t len, const char *name,
                   const char *value, size_t value_len, char *out,
                   size_t outsize);

#endif
