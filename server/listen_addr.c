/*
 * listen_addr.c - parsing listen addresses, and claiming one for this
 * process before its event loops bind it (see listen_addr.h).
 */
#include "listen_addr.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* Splits "HOST:PORT" or "[V6]:PORT" into host and port. Returns 0 or -1. */
static int split(const char *addr, char *host, size_t host_len, char *port,
                 size_t port_len)
{
    const char *colon = NULL;
    const char *host_start = addr;
    size_t n;

    if (addr[0] == '[') {
        const char *close = strchr(addr, ']');
        if (close == NULL || close[1] != ':')
            return -1;
        host_start = addr + 1;
        n = (size_t)(close - host_start);
        colon = close + 1;
    } else {
        colon = strrchr(addr, ':');
        if (colon == NULL)
            return -1;
        n = (size_t)(colon - addr);
    }
    if (n == 0 || n >= host_len)
        return -1;
    memcpy(host, host_start, n);
    host[n] = '\0';

    if (colon[1] == '\0' || strlen(colon + 1) >= port_len ||
        strspn(colon + 1, "0123456789") != strlen(colon + 1) ||
        atol(colon + 1) > 65535)
        return -1;
    strcpy(port, colon + 1);
    return 0;
}

int listen_addr_resolve(const char *addr, struct addrinfo **res)
{
    char host[256];
    char port[8];
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC,
        .ai_socktype = SOCK_STREAM,
        .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE,
    };
    int rc;

    if (split(addr, host, sizeof(host), port, sizeof(port)) != 0) {
        LOG_ERROR("http.listen_failed",
                  "addr=%s error=\"invalid address, expected HOST:PORT or "
                  "[IPV6]:PORT\"", addr);
        errno = EINVAL;
        return -1;
    }
    /* "localhost" is the one name accepted; it means IPv4 loopback here, so
     * the address does not depend on /etc/hosts ordering. */
    if (strcmp(host, "localhost") == 0)
        strcpy(host, "127.0.0.1");

    rc = getaddrinfo(host, port, &hints, res);
    if (rc != 0) {
        LOG_ERROR("http.listen_failed", "addr=%s error=\"%s\"", addr,
                  gai_strerror(rc));
        errno = EINVAL;
        return -1;
    }
    return 0;
}

/* How long a claim waits for another tallyd of this user to bind the same
 * port, and how often it tries again. A tallyd binds within milliseconds. */
#define PORT_WAIT_MS 2000
#define RETRY_MS 10
/* Ports the kernel picks for port 0 before the claim gives up. */
#define PORT_ZERO_ATTEMPTS 8
/* Attempts to read the credentials of a lock's holder. A tallyd binds its
 * lock socket just before it listens on it, so one attempt may come too
 * early. */
#define HOLDER_ATTEMPTS 3

enum lock_state {
    LOCK_TAKEN,   /* this process now holds the lock */
    LOCK_HELD,    /* a process of this user holds the lock */
    LOCK_IGNORED, /* held by another user or by a program that is not a tallyd */
    LOCK_FAILED   /* errno is set */
};

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* Returns the port of res, in host order. */
static unsigned port_of(const struct addrinfo *res)
{
    if (res->ai_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)(const void *)res->ai_addr)->sin_port);
    return ntohs(((const struct sockaddr_in6 *)(const void *)res->ai_addr)->sin6_port);
}

/* Writes to name the abstract name "tally.listen.<family>.<port>.<hex of
 * the address>" and returns the length of the socket address. An
 * IPv4-mapped address ([::ffff:127.0.0.1]) names the IPv4 address it
 * maps, because both spellings bind the same socket address. */
static socklen_t addr_lock_name(const struct addrinfo *res, struct sockaddr_un *name)
{
    const unsigned char *bytes;
    int family = res->ai_family;
    size_t n, used;

    if (family == AF_INET) {
        bytes = (const unsigned char *)&((const struct sockaddr_in *)(const void *)
                                            res->ai_addr)->sin_addr;
        n = 4;
    } else {
        const struct in6_addr *a =
            &((const struct sockaddr_in6 *)(const void *)res->ai_addr)->sin6_addr;

        bytes = a->s6_addr;
        n = 16;
        if (IN6_IS_ADDR_V4MAPPED(a)) {
            family = AF_INET;
            bytes += 12;
            n = 4;
        }
    }

    memset(name, 0, sizeof(*name));
    name->sun_family = AF_UNIX;
    /* sun_path[0] stays 0: the name is abstract, not a file. */
    used = 1 + (size_t)snprintf(name->sun_path + 1, sizeof(name->sun_path) - 1,
                                "tally.listen.%d.%u.", family, port_of(res));
    for (size_t i = 0; i < n; i++)
        used += (size_t)snprintf(name->sun_path + used, sizeof(name->sun_path) - used,
                                 "%02x", bytes[i]);
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + used);
}

/* The same for the port alone: "tally.listen-port.<port>". */
static socklen_t port_lock_name(unsigned port, struct sockaddr_un *name)
{
    size_t used;

    memset(name, 0, sizeof(*name));
    name->sun_family = AF_UNIX;
    used = 1 + (size_t)snprintf(name->sun_path + 1, sizeof(name->sun_path) - 1,
                                "tally.listen-port.%u", port);
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + used);
}

/* Asks who holds a lock by connecting to it: a tallyd listens on its lock
 * sockets and never accepts, so the connection waits in the queue and
 * SO_PEERCRED gives the user and process that listen. Returns 0, or -1
 * with errno ECONNREFUSED when nothing listens there, or EAGAIN when the
 * holder's queue is full. */
static int lock_holder(const struct sockaddr_un *name, socklen_t len, struct ucred *cred)
{
    socklen_t cred_len = sizeof(*cred);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int rc = -1, err;

    if (fd < 0)
        return -1;
    if (connect(fd, (const struct sockaddr *)name, len) == 0 &&
        getsockopt(fd, SOL_SOCKET, SO_PEERCRED, cred, &cred_len) == 0)
        rc = 0;
    err = errno;
    close(fd);
    errno = err;
    return rc;
}

/* Binds a unix socket to the abstract name and listens on it, so that
 * another process can ask who holds it (lock_holder). Linux lets one
 * socket at a time hold such a name in a network namespace, and frees it
 * when the socket closes or the process ends. Returns the socket, or -1
 * with errno set (EADDRINUSE while another socket holds the name). */
static int bind_lock(const struct sockaddr_un *name, socklen_t len)
{
    int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int err;

    if (sock < 0)
        return -1;
    if (bind(sock, (const struct sockaddr *)name, len) == 0 &&
        listen(sock, SOMAXCONN) == 0)
        return sock;
    err = errno;
    close(sock);
    errno = err;
    return -1;
}

/* Takes a lock (bind_lock). Any user may bind any abstract name, so a
 * lock that another user holds, or a program that does not listen on it,
 * is ignored with a warning. That costs no safety the lock gives:
 * SO_REUSEPORT shares a port only among sockets of one user, and the bind
 * probe still finds any program that listens. Sets *fd when it returns
 * LOCK_TAKEN. */
static enum lock_state take_lock(const struct sockaddr_un *name, socklen_t len,
                                 const char *addr, int *fd)
{
    const char *reason = "held by a program that does not listen on it";
    int name_len = (int)(len - offsetof(struct sockaddr_un, sun_path)) - 1;
    struct ucred cred = {0};

    *fd = bind_lock(name, len);
    if (*fd >= 0)
        return LOCK_TAKEN;
    if (errno != EADDRINUSE)
        return LOCK_FAILED;

    for (int attempt = 0; attempt < HOLDER_ATTEMPTS; attempt++) {
        if (lock_holder(name, len, &cred) == 0) {
            if (cred.uid == geteuid())
                return LOCK_HELD;
            reason = "held by another user";
            break;
        }
        if (errno == EAGAIN) {
            /* Anyone can fill a listening socket's queue, so a full
             * queue does not identify the lock's owner. */
            reason = "its connection queue is full, so its user is not known";
            break;
        }
        sleep_ms(RETRY_MS);
    }
    if (cred.pid != 0)
        LOG_WARN("http.listen_lock_ignored", "addr=%s lock=@%.*s holder_uid=%u "
                 "holder_pid=%d reason=\"%s\"", addr, name_len, name->sun_path + 1,
                 (unsigned)cred.uid, (int)cred.pid, reason);
    else
        LOG_WARN("http.listen_lock_ignored", "addr=%s lock=@%.*s reason=\"%s\"", addr,
                 name_len, name->sun_path + 1, reason);
    return LOCK_IGNORED;
}

/* Binds res once without SO_REUSEPORT, which fails while any program
 * listens there. Returns 0, or -1 with errno set. The probe sets
 * SO_REUSEADDR as the listeners do, so that connections of an earlier
 * tallyd still in TIME_WAIT do not count as a listener. */
static int probe_free(const struct addrinfo *res)
{
    int enable = 1, rc = -1, err;
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &enable, sizeof(enable)) == 0 &&
        bind(fd, res->ai_addr, res->ai_addrlen) == 0)
        rc = 0;
    err = errno;
    close(fd);
    errno = err;
    return rc;
}

/* Lets the kernel pick a free port for res's address, and writes it into
 * res. Returns 0, or -1 with errno set. */
static int reserve_port(struct addrinfo *res)
{
    struct sockaddr_storage bound;
    socklen_t bound_len = sizeof(bound);
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int rc = -1, err;

    if (fd < 0)
        return -1;
    if (bind(fd, res->ai_addr, res->ai_addrlen) == 0 &&
        getsockname(fd, (struct sockaddr *)&bound, &bound_len) == 0) {
        if (res->ai_family == AF_INET)
            ((struct sockaddr_in *)(void *)res->ai_addr)->sin_port =
                ((struct sockaddr_in *)(void *)&bound)->sin_port;
        else
            ((struct sockaddr_in6 *)(void *)res->ai_addr)->sin6_port =
                ((struct sockaddr_in6 *)(void *)&bound)->sin6_port;
        rc = 0;
    }
    err = errno;
    close(fd);
    errno = err;
    return rc;
}

static void close_locks(int *fds, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (fds[i] >= 0)
            close(fds[i]);
}

void listen_claims_init(struct listen_claims *c, int loops)
{
    memset(c, 0, sizeof(*c));
    atomic_init(&c->loops_listening, loops);
}

/* Takes the lock of a port unless this process already holds it. A
 * tallyd of this user that holds it is between its claim and its bind.
 * With wait, the claim waits until that tallyd's listeners exist, so that
 * the probe finds them; without, it returns 1 at once. Returns 0, 1, or
 * -1 after logging why. */
static int claim_port(struct listen_claims *c, unsigned port, const char *addr,
                      bool wait)
{
    struct sockaddr_un name;
    socklen_t len = port_lock_name(port, &name);
    enum lock_state state;
    int fd = -1;

    for (size_t i = 0; i < c->n_ports; i++)
        if (c->ports[i] == port)
            return 0;

    state = take_lock(&name, len, addr, &fd);
    /* Only the bind is tried again: each look at the holder's credentials
     * leaves a connection in its queue. */
    for (int waited_ms = 0; state == LOCK_HELD && wait; waited_ms += RETRY_MS) {
        if (waited_ms >= PORT_WAIT_MS) {
            LOG_ERROR("http.listen_failed", "addr=%s error=\"another tallyd has been "
                      "starting on this port for %d ms\"", addr, waited_ms);
            errno = EADDRINUSE;
            return -1;
        }
        sleep_ms(RETRY_MS);
        fd = bind_lock(&name, len);
        if (fd >= 0)
            state = LOCK_TAKEN;
        else if (errno != EADDRINUSE)
            state = LOCK_FAILED;
    }

    if (state == LOCK_HELD)
        return 1;
    if (state == LOCK_FAILED) {
        LOG_ERROR("http.listen_failed", "addr=%s error=\"port lock: %s\"", addr,
                  strerror(errno));
        return -1;
    }
    c->ports[c->n_ports] = port;
    c->port_locks[c->n_ports++] = fd;
    return 0;
}

/* Claims the address of res: its port's lock, its own lock, then the
 * probe. With wait, a busy address is an error; without, it returns 1,
 * logging nothing, so that the caller can try another port. Returns 0, 1,
 * or -1 after logging why. */
static int claim_resolved(struct listen_claims *c, const struct addrinfo *res,
                          const char *addr, bool wait)
{
    struct sockaddr_un name;
    const char *holder = "";
    enum lock_state state;
    size_t n_ports = c->n_ports;
    int fd = -1, rc, err;

    rc = claim_port(c, port_of(res), addr, wait);
    if (rc != 0)
        return rc;

    state = take_lock(&name, addr_lock_name(res, &name), addr, &fd);
    if (state == LOCK_HELD && !wait)
        goto busy;
    if (state == LOCK_HELD) {
        errno = EADDRINUSE;
        holder = ": another tallyd listens on this address, or the listen list names "
                 "it twice";
        goto failed;
    }
    if (state == LOCK_FAILED)
        goto failed;
    if (probe_free(res) != 0) {
        if (errno == EADDRINUSE && !wait)
            goto busy;
        if (errno == EADDRINUSE)
            holder = ": another process listens on this address";
        goto failed;
    }

    c->addr_locks[c->n_addrs++] = fd;
    return 0;

busy:
    /* The caller tries another port: the locks taken here go, so that the
     * tries do not fill c. */
    if (fd >= 0)
        close(fd);
    close_locks(c->port_locks + n_ports, c->n_ports - n_ports);
    c->n_ports = n_ports;
    return 1;

failed:
    err = errno;
    LOG_ERROR("http.listen_failed", "addr=%s error=\"%s%s\"", addr, strerror(err), holder);
    if (fd >= 0)
        close(fd);
    errno = err;
    return -1;
}

int listen_claims_add(struct listen_claims *c, const char *addr, char *bind_addr,
                      size_t bind_size)
{
    struct addrinfo *res = NULL;
    int rc = -1;

    if (c->n_addrs == LISTEN_CLAIMS_MAX) {
        LOG_ERROR("http.listen_failed", "addr=%s error=\"more than %d addresses\"", addr,
                  LISTEN_CLAIMS_MAX);
        errno = EINVAL;
        return -1;
    }
    if (listen_addr_resolve(addr, &res) != 0)
        return -1;

    if (port_of(res) != 0) {
        rc = claim_resolved(c, res, addr, true);
        snprintf(bind_addr, bind_size, "%s", addr);
    } else {
        /* Port 0: the kernel picks a port, which is then claimed like any
         * other. A port that another tallyd is claiming at that moment
         * gets another try with a new one. */
        for (int attempt = 0; attempt < PORT_ZERO_ATTEMPTS; attempt++) {
            if (reserve_port(res) != 0) {
                LOG_ERROR("http.listen_failed", "addr=%s error=\"%s\"", addr,
                          strerror(errno));
                break;
            }
            rc = claim_resolved(c, res, addr, false);
            if (rc != 1)
                break;
        }
        if (rc == 1)
            LOG_ERROR("http.listen_failed", "addr=%s error=\"each of %d free ports the "
                      "kernel picked was being claimed by another tallyd\"", addr,
                      PORT_ZERO_ATTEMPTS);
        /* addr ends in ":<port>", which listen_addr_resolve checked. */
        snprintf(bind_addr, bind_size, "%.*s:%u", (int)(strrchr(addr, ':') - addr), addr,
                 port_of(res));
    }

    freeaddrinfo(res);
    return rc == 0 ? 0 : -1;
}

void listen_claims_bound(struct listen_claims *c)
{
    close_locks(c->port_locks, c->n_ports);
    c->n_ports = 0;
}

void listen_claims_loop_closed(struct listen_claims *c)
{
    if (atomic_fetch_sub(&c->loops_listening, 1) != 1)
        return;
    close_locks(c->addr_locks, c->n_addrs);
    c->n_addrs = 0;
}

void listen_claims_release(struct listen_claims *c)
{
    listen_claims_bound(c);
    close_locks(c->addr_locks, c->n_addrs);
    c->n_addrs = 0;
}
