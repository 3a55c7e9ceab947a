/*
 * listen_addr.h - the addresses tallyd listens on: "HOST:PORT" or
 * "[IPV6]:PORT" turned into a socket address, and a check that no other
 * process listens on one already.
 *
 * Every event loop binds its own listener with SO_REUSEPORT, so Linux
 * lets a second tallyd (or any program of the same user that sets the
 * option) bind the same port and share its connections without an error.
 * listen_addr_check_free binds once without the option before the loops
 * bind, which fails while anything listens there.
 */
#ifndef TALLY_LISTEN_ADDR_H
#define TALLY_LISTEN_ADDR_H

struct addrinfo;

/* Resolves addr (numeric hosts only, plus "localhost" for 127.0.0.1)
 * into *res, which the caller frees with freeaddrinfo. Returns 0, or -1
 * with errno set and an http.listen_failed log line. */
int listen_addr_resolve(const char *addr, struct addrinfo **res);

/* Returns 0 when nothing listens on addr now, or -1 with errno set
 * (EADDRINUSE when something does) and an http.listen_failed log line.
 * Port 0 always passes, since each bind then gets a port of its own. */
int listen_addr_check_free(const char *addr);

#endif
