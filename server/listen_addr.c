/*
 * listen_addr.c - parsing listen addresses, and the check that no other
 * process listens on one (see listen_addr.h).
 */
#include "listen_addr.h"

#include <errno.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
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

/* Tells whether res names port 0. */
static bool any_port(const struct addrinfo *res)
{
    char port[8];

    return getnameinfo(res->ai_addr, res->ai_addrlen, NULL, 0, port, sizeof(port),
                       NI_NUMERICSERV) == 0 && strcmp(port, "0") == 0;
}

int listen_addr_check_free(const char *addr)
{
    struct addrinfo *res = NULL;
    int fd = -1, one = 1, err = 0;

    if (listen_addr_resolve(addr, &res) != 0)
        return -1;
    if (any_port(res))
        goto cleanup;

    /* SO_REUSEADDR, as the listeners set it, so that connections of an
     * earlier tallyd still in TIME_WAIT do not count as a listener. */
    fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, res->ai_addr, res->ai_addrlen) != 0) {
        err = errno;
        LOG_ERROR("http.listen_failed", "addr=%s error=\"%s%s\"", addr, strerror(err),
                  err == EADDRINUSE ? ": another process listens on this address" : "");
    }

cleanup:
    if (fd >= 0)
        close(fd);
    freeaddrinfo(res);
    if (err != 0) {
        errno = err;
        return -1;
    }
    return 0;
}
