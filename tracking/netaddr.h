/*
 * netaddr.h - IP addresses and sets of address ranges (CIDR blocks).
 *
 * Used for trusted proxies, per-client rate limits and the address ranges of
 * privacy proxies and mail scanners. IPv4 addresses are held as IPv4-mapped
 * IPv6 addresses (::ffff:a.b.c.d), so one 128-bit comparison serves both
 * families and "10.0.0.0/8" matches a client seen as ::ffff:10.1.2.3.
 */
#ifndef TALLY_NETADDR_H
#define TALLY_NETADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct netaddr {
    uint8_t bytes[16]; /* network byte order; IPv4 as ::ffff:a.b.c.d */
};

/* Parses a numeric IPv4 or IPv6 address (no brackets, no port, no zone).
 * Returns 0, or -1 when text[0..len) is not one. */
int netaddr_parse(const char *text, size_t len, struct netaddr *out);

/* Converts a socket address (AF_INET or AF_INET6). Returns 0, or -1 for
 * another family. */
int netaddr_from_sockaddr(const struct sockaddr *sa, socklen_t len,
                          struct netaddr *out);

/* Tells whether the address is IPv4 (IPv4-mapped). */
bool netaddr_is_v4(const struct netaddr *a);

/* Writes the address with its host part cleared, for logs that must not show
 * a full address: IPv4 keeps /24, IPv6 keeps /48 ("203.0.113.0/24"). out has
 * room for NETADDR_TEXT_MAX bytes. */
#define NETADDR_TEXT_MAX 64
void netaddr_format_truncated(const struct netaddr *a, char *out);

/* A set of address ranges, sorted and merged for binary search. */
struct netset {
    struct netrange {
        struct netaddr first;
        struct netaddr last;
    } *ranges;
    size_t n;
    size_t cap;
};

/* Empties *set; it needs no allocation until the first add. */
void netset_init(struct netset *set);
void netset_free(struct netset *set);

/* Adds "ADDR" or "ADDR/PREFIX" (IPv4 prefix 0..32, IPv6 0..128; host bits
 * must be zero). Returns 0, -1 for bad text, -2 when memory runs out. Call
 * netset_finish before the first netset_contains. */
int netset_add(struct netset *set, const char *cidr, size_t len);

/* Sorts and merges the ranges added so far. */
void netset_finish(struct netset *set);

/* Tells whether a lies in one of the ranges (O(log n)). */
bool netset_contains(const struct netset *set, const struct netaddr *a);

#endif
