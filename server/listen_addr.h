/*
 * listen_addr.h - the addresses tallyd listens on: "HOST:PORT" or
 * "[IPV6]:PORT" turned into a socket address, and a check that no other
 * process listens on one already.
 *
 * Every event loop binds its own listener with SO_REUSEPORT, so Linux
 * lets a second tallyd (or any program of the same user that sets the
 * option) bind the same port and share its connections without an error.
 * A listen_claims prevents that before the loops bind. For each address
 * it takes two locks that one process at a time can hold: unix sockets
 * bound to abstract names, one made of the port and one of the address.
 * Then it binds the address once without SO_REUSEPORT, which fails while
 * any program listens there.
 *
 * The address lock is held while any loop listens, so a second tallyd
 * stops at once with a clear message. The port lock is held only from
 * the claim until every loop has bound. Without it, a tallyd starting on
 * the same port under another spelling (0.0.0.0:P beside 127.0.0.1:P)
 * could find the port free between another tallyd's probe and its bind.
 * The second claim waits for the first tallyd's bind instead.
 */
#ifndef TALLY_LISTEN_ADDR_H
#define TALLY_LISTEN_ADDR_H

#include <stdatomic.h>
#include <stddef.h>

struct addrinfo;

/* Resolves addr (numeric hosts only, plus "localhost" for 127.0.0.1)
 * into *res, which the caller frees with freeaddrinfo. Returns 0, or -1
 * with errno set and an http.listen_failed log line. */
int listen_addr_resolve(const char *addr, struct addrinfo **res);

#define LISTEN_CLAIMS_MAX 4 /* addresses in one listen list */

/* One tallyd's claims on its listen addresses. The main thread takes and
 * releases them; each loop reports once that it closed its listeners. */
struct listen_claims {
    int addr_locks[LISTEN_CLAIMS_MAX]; /* -1 where a lock was ignored */
    size_t n_addrs;
    int port_locks[LISTEN_CLAIMS_MAX];
    unsigned ports[LISTEN_CLAIMS_MAX];
    size_t n_ports;
    _Atomic int loops_listening;
};

/* Prepares c for a tallyd of the given number of event loops. */
void listen_claims_init(struct listen_claims *c, int loops);

/* Claims addr (see above) before any loop binds it, and writes to
 * bind_addr the address the loops bind: addr, or for port 0 addr with the
 * free port the kernel picked and the claim took. A claim on a port that
 * another tallyd of this user is binding waits for that bind, up to 2 s.
 * Returns 0, or -1 with errno set and an http.listen_failed log line.
 * errno is EADDRINUSE when the address is taken or the list names it
 * twice. */
int listen_claims_add(struct listen_claims *c, const char *addr, char *bind_addr,
                      size_t bind_size);

/* Releases the port locks once every loop has bound its listeners. */
void listen_claims_bound(struct listen_claims *c);

/* Called by each loop once it has closed its listeners, from its own
 * thread. The last one releases the address locks, so that a new tallyd
 * can claim the addresses while this one drains. */
void listen_claims_loop_closed(struct listen_claims *c);

/* Releases every lock still held. The caller makes sure no loop runs. */
void listen_claims_release(struct listen_claims *c);

#endif
