/*
 * client_addr.h - the address of the client behind a request.
 *
 * tally uses it for per-client rate limits. It is the TCP peer, unless the
 * peer is one of the configured trusted proxies. Then the forwarding header
 * (X-Forwarded-For, or the RFC 7239 Forwarded header's for= parameter) is
 * read from the right, trusted addresses are skipped, and the first
 * untrusted address is the client. Only the proxies' own additions to the
 * header can be believed: everything left of the first untrusted address
 * came from the client and may be invented.
 *
 * Exactly one header is read, the one the operator's proxies write. A client
 * can send either header, and a proxy passes the other one on unchanged, so
 * reading both would let a client choose its own address.
 */
#ifndef TALLY_CLIENT_ADDR_H
#define TALLY_CLIENT_ADDR_H

#include <stddef.h>

#include "http.h"
#include "netaddr.h"

/* Addresses a forwarding header may list; a longer chain is malformed.
 * Real proxy chains have a handful. */
#define CLIENT_ADDR_MAX_HOPS 32

enum client_addr_header {
    CLIENT_ADDR_HEADER_XFF = 0,
    CLIENT_ADDR_HEADER_FORWARDED, /* RFC 7239 */
};

enum client_addr_source {
    CLIENT_ADDR_PEER = 0,  /* the TCP peer, not a trusted proxy or no header */
    CLIENT_ADDR_FROM_HEADER, /* read from the forwarding header */
    CLIENT_ADDR_MALFORMED, /* the header could not be read; the TCP peer */
};

/* Read-only after client_addr_config_init, so event loops may share it. */
struct client_addr_config {
    struct netset trusted;
    enum client_addr_header header;
};

/*
 * Parses a comma-separated list of addresses and CIDR blocks such as
 * "10.0.0.0/8, 2001:db8::/32, 192.0.2.7" into set, which the caller has
 * initialised, and finishes the set. Spaces around entries are allowed, and
 * an empty list is valid. Returns 0, or -1 with a reason naming the bad
 * entry in err; set then contains the entries before it.
 */
int client_addr_parse_proxies(const char *list, struct netset *set, char *err,
                              size_t errsize);

/* Parses "x-forwarded-for" or "forwarded" (any case). Returns 0, or -1. */
int client_addr_parse_header_name(const char *name,
                                  enum client_addr_header *out);

/*
 * Sets up cfg from the proxy list and the header name, both in the forms
 * above. Returns 0, or -1 with a reason in err. The caller frees cfg with
 * client_addr_config_free in either case.
 */
int client_addr_config_init(struct client_addr_config *cfg,
                            const char *proxies, const char *header_name,
                            char *err, size_t errsize);

void client_addr_config_free(struct client_addr_config *cfg);

/*
 * Appends the addresses that one field of the header lists, left to right,
 * to hops[*n_hops..], up to max_hops in all. An entry that names no address
 * ("unknown", an obfuscated RFC 7239 identifier, or a Forwarded element
 * without for=) is stored as the unspecified address "::", which
 * client_addr_resolve never accepts as a client. Empty list entries are
 * skipped, as RFC 9110 allows. A port after an address is accepted and
 * ignored.
 * Returns 0, or -1 when the value does not follow the header's syntax or
 * lists more than max_hops addresses.
 */
int client_addr_parse_field(enum client_addr_header header, const char *value,
                            size_t len, struct netaddr *hops, size_t *n_hops,
                            size_t max_hops);

/*
 * Finds the client address of req under cfg and stores it in *out. Returns
 * where it came from. A TCP peer that is not an IP address (a unix socket)
 * is stored as "::". Never fails: a malformed header falls back to the
 * peer, and the caller counts and logs that.
 */
enum client_addr_source client_addr_resolve(const struct client_addr_config *cfg,
                                            const struct http_request *req,
                                            struct netaddr *out);

#endif
