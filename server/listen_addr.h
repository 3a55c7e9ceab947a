/*
 * listen_addr.h - the addresses tallyd listens on: "HOST:PORT" or
 * "[IPV6]:PORT" turned into a socket address, and a check that no other
 * process listens on one already.
 *
 * Every event loop binds its own listener with SO_REUSEPORT, so Linux
 * lets a second tallyd (or any program of the same user that sets the
 * option) bind the same port and share its connections without an error.
 * listen_addr_claim prevents that before the loops bind. It takes a lock
 * that one process at a time can hold: a unix socket bound to an abstract
 * name made of the address. Then it binds the address once without
 * SO_REUSEPORT, which fails while any program listens there.
 */
#ifndef TALLY_LISTEN_ADDR_H
#define TALLY_LISTEN_ADDR_H

struct addrinfo;

/* Resolves addr (numeric hosts only, plus "localhost" for 127.0.0.1)
 * into *res, which the caller frees with freeaddrinfo. Returns 0, or -1
 * with errno set and an http.listen_failed log line. */
int listen_addr_resolve(const char *addr, struct addrinfo **res);

/* Claims addr for this process before its loops bind it (see above).
 * Returns the lock's descriptor, which the caller closes when it stops
 * listening; the lock also ends with the process. Returns -2 for port 0,
 * where each bind gets a port of its own and needs no lock. Returns -1
 * with errno set and an http.listen_failed log line on failure; errno is
 * EADDRINUSE when the address is taken or the list names it twice. */
int listen_addr_claim(const char *addr);

#endif
