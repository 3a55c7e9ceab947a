/*
 * fuzz_client_addr.c - libFuzzer target for the forwarding headers of
 * server/client_addr.c.
 *
 * The first input byte picks the header (bit 0: X-Forwarded-For or
 * Forwarded) and whether the TCP peer is a trusted proxy (bit 1). The rest,
 * split at '\n', gives up to four fields of that header. The request is
 * resolved with trusted proxies 10.0.0.0/8 and 2001:db8::/32.
 *
 * Checked: no crash or sanitizer report; an untrusted peer is always its
 * own client; a client read from the header is a real address (never "::")
 * and is untrusted unless every hop was trusted; a malformed header leaves
 * the peer as the client; and client_addr_parse_field never stores more
 * than max_hops addresses.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client_addr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_FIELDS 4

static struct client_addr_config configs[2];

static void init(void)
{
    char err[128];

    if (client_addr_config_init(&configs[0], "10.0.0.0/8, 2001:db8::/32",
                                "x-forwarded-for", err, sizeof(err)) != 0 ||
        client_addr_config_init(&configs[1], "10.0.0.0/8, 2001:db8::/32",
                                "forwarded", err, sizeof(err)) != 0)
        abort();
}

/* Parses the fields on their own and checks the hop count bound. */
static void check_parse(enum client_addr_header header,
                        const struct http_header *fields, size_t n_fields)
{
    struct netaddr hops[CLIENT_ADDR_MAX_HOPS + 1];
    size_t n_hops = 0;
    const uint8_t guard = 0xa5;

    memset(&hops[CLIENT_ADDR_MAX_HOPS], guard, sizeof(hops[0]));
    for (size_t i = 0; i < n_fields; i++) {
        if (client_addr_parse_field(header, fields[i].value, fields[i].value_len,
                                    hops, &n_hops, CLIENT_ADDR_MAX_HOPS) != 0)
            break;
    }
    if (n_hops > CLIENT_ADDR_MAX_HOPS ||
        hops[CLIENT_ADDR_MAX_HOPS].bytes[0] != guard)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    static const struct netaddr zero;
    static const char *const names[] = {"X-Forwarded-For", "Forwarded"};
    struct http_header fields[MAX_FIELDS];
    struct sockaddr_in peer = {.sin_family = AF_INET};
    struct http_request req;
    struct netaddr client, peer_addr;
    const struct client_addr_config *cfg;
    enum client_addr_source source;
    size_t n_fields = 0, start = 1;
    bool trusted_peer;
    char *copy;

    if (!ready) {
        init();
        ready = true;
    }
    if (size == 0)
        return 0;
    cfg = &configs[data[0] & 1];
    trusted_peer = (data[0] & 2) != 0;

    /* An exact-size copy, so ASan reports reads past the end of a field. */
    copy = malloc(size);
    if (copy == NULL)
        abort();
    memcpy(copy, data, size);
    for (size_t i = 1; i <= size && n_fields < MAX_FIELDS; i++) {
        if (i < size && copy[i] != '\n')
            continue;
        fields[n_fields++] = (struct http_header){
            .name = names[data[0] & 1],
            .name_len = strlen(names[data[0] & 1]),
            .value = copy + start,
            .value_len = i - start,
        };
        start = i + 1;
    }
    check_parse(cfg->header, fields, n_fields);

    inet_pton(AF_INET, trusted_peer ? "10.0.0.1" : "192.0.2.1", &peer.sin_addr);
    memset(&req, 0, sizeof(req));
    req.peer = (const struct sockaddr *)&peer;
    req.peer_len = sizeof(peer);
    req.headers = fields;
    req.n_headers = n_fields;
    if (netaddr_from_sockaddr(req.peer, req.peer_len, &peer_addr) != 0)
        abort();

    source = client_addr_resolve(cfg, &req, &client);
    switch (source) {
    case CLIENT_ADDR_PEER:
    case CLIENT_ADDR_MALFORMED:
        if (memcmp(&client, &peer_addr, sizeof(client)) != 0)
            abort();
        if (!trusted_peer && source != CLIENT_ADDR_PEER)
            abort();
        break;
    case CLIENT_ADDR_FROM_HEADER:
        if (!trusted_peer || memcmp(&client, &zero, sizeof(zero)) == 0)
            abort();
        break;
    }
    free(copy);
    return 0;
}
