/*
 * listen_addr.c - parsing listen addresses, and claiming one for this
 * process before its event loops bind it (see listen_addr.h).
 */
#include "listen_addr.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
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

/* Returns the port of res, in host order. */
static unsigned port_of(const struct addrinfo *res)
{
    if (res->ai_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)(const void *)res->ai_addr)->sin_port);
    return ntohs(((const struct sockaddr_in6 *)(const void *)res->ai_addr)->sin6_port);
}

/* Binds a unix socket to the abstract name
 * "tally.listen.<family>.<port>.<hex of the address>". Linux lets one
 * socket at a time hold such a name in a network namespace, and frees it
 * when the socket closes or the process ends. A bind probe alone leaves a
 * gap: two tallyds starting at once could both find the port free before
 * either binds it. Returns the socket, or -1 with errno set. */
static int take_lock(const struct addrinfo *res)
{
    struct sockaddr_un name = {.sun_family = AF_UNIX};
    const unsigned char *bytes;
    size_t n, used;
    int fd, err;

    if (res->ai_family == AF_INET) {
        bytes = (const unsigned char *)&((const struct sockaddr_in *)(const void *)
                                            res->ai_addr)->sin_addr;
        n = 4;
    } else {
        bytes = (const unsigned char *)&((const struct sockaddr_in6 *)(const void *)
                                            res->ai_addr)->sin6_addr;
        n = 16;
    }
    /* sun_path[0] stays 0: the name is abstract, not a file. */
    used = 1 + (size_t)snprintf(name.sun_path + 1, sizeof(name.sun_path) - 1,
                                "tally.listen.%d.%u.", res->ai_family, port_of(res));
    for (size_t i = 0; i < n; i++)
        used += (size_t)snprintf(name.sun_path + used, sizeof(name.sun_path) - used,
                                 "%02x", bytes[i]);

    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (bind(fd, (const struct sockaddr *)&name,
             (socklen_t)(offsetof(struct sockaddr_un, sun_path) + used)) != 0) {
        err = errno;
        close(fd);
        errno = err;
        return -1;
    }
    return fd;
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

int listen_addr_claim(const char *addr)
{
    struct addrinfo *res = NULL;
    int lock = -1, err;

    if (listen_addr_resolve(addr, &res) != 0)
        return -1;
    if (port_of(res) == 0) {
        freeaddrinfo(res);
        return -2;
    }

    lock = take_lock(res);
    if (lock < 0 || probe_free(res) != 0) {
        const char *holder = "";

        err = errno;
        if (err == EADDRINUSE && lock < 0)
            holder = ": another tallyd listens on this address, or the listen list "
                     "names it twice";
        else if (err == EADDRINUSE)
            holder = ": another process listens on this address";
        LOG_ERROR("http.listen_failed", "addr=%s error=\"%s%s\"", addr, strerror(err),
                  holder);
        if (lock >= 0)
            close(lock);
        freeaddrinfo(res);
        errno = err;
        return -1;
    }

    freeaddrinfo(res);
    return lock;
}
