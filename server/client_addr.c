/*
 * client_addr.c - trusted proxies and the forwarding headers of
 * client_addr.h.
 *
 * Both headers are parsed left to right into a short array of addresses,
 * because a Forwarded value may hold quoted strings with commas in them, and
 * then walked from the right. Parsing is strict: anything that is not an
 * address, a port or RFC 7239 syntax makes the whole header malformed, and
 * the caller falls back to the TCP peer.
 */
#include "client_addr.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Maximum length of one node's text, "[IPv6]:port" with room to spare. */
#define NODE_TEXT_MAX 80

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* RFC 9110 tchar: the characters of a token. */
static bool is_tchar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static bool all_digits(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
    }
    return true;
}

/* A port: 1 to 5 digits, or an RFC 7239 obfuscated port "_xyz". */
static bool port_valid(const char *s, size_t len)
{
    if (len == 0)
        return false;
    if (s[0] == '_') {
        for (size_t i = 1; i < len; i++) {
            if (!is_tchar(s[i]))
                return false;
        }
        return len > 1;
    }
    return len <= 5 && all_digits(s, len);
}

/*
 * Parses one node: "unknown", an obfuscated identifier "_abc", an IPv4
 * address with an optional ":port", "[IPv6]" with an optional ":port", or a
 * bare IPv6 address. Nodes that name no address become "::".
 */
static int parse_node(const char *s, size_t len, struct netaddr *out)
{
    const char *colon = NULL;

    memset(out, 0, sizeof(*out));
    if (len == 7 && strncasecmp(s, "unknown", 7) == 0)
        return 0;
    if (len > 1 && s[0] == '_')
        return port_valid(s, len) ? 0 : -1; /* same character rules */

    if (len > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', len);
        size_t rest;

        if (close == NULL)
            return -1;
        rest = len - (size_t)(close + 1 - s);
        if (rest > 0 && (close[1] != ':' || !port_valid(close + 2, rest - 1)))
            return -1;
        if (netaddr_parse(s + 1, (size_t)(close - s - 1), out) != 0 ||
            netaddr_is_v4(out))
            return -1;
        return 0;
    }

    /* One colon: IPv4 with a port. More: a bare IPv6 address. */
    colon = memchr(s, ':', len);
    if (colon != NULL && memchr(colon + 1, ':', len - (size_t)(colon + 1 - s)) == NULL) {
        size_t addr_len = (size_t)(colon - s);

        if (!port_valid(colon + 1, len - addr_len - 1) ||
            netaddr_parse(s, addr_len, out) != 0 || !netaddr_is_v4(out))
            return -1;
        return 0;
    }
    return netaddr_parse(s, len, out);
}

static int append_hop(const struct netaddr *node, struct netaddr *hops,
                      size_t *n_hops, size_t max_hops)
{
    if (*n_hops >= max_hops)
        return -1;
    hops[(*n_hops)++] = *node;
    return 0;
}

/* X-Forwarded-For: "client, proxy1, proxy2". */
static int parse_xff(const char *text, size_t len, struct netaddr *hops,
                     size_t *n_hops, size_t max_hops)
{
    size_t pos = 0;

    while (pos <= len) {
        const char *comma = memchr(text + pos, ',', len - pos);
        size_t end = comma != NULL ? (size_t)(comma - text) : len;
        size_t start = pos;
        size_t stop = end;
        struct netaddr node;

        while (start < stop && is_ows(text[start]))
            start++;
        while (stop > start && is_ows(text[stop - 1]))
            stop--;
        if (stop > start) {
            if (parse_node(text + start, stop - start, &node) != 0 ||
                append_hop(&node, hops, n_hops, max_hops) != 0)
                return -1;
        }
        pos = end + 1;
    }
    return 0;
}

/* Reads a token or a quoted string at text[*pos] into out (unescaped).
 * Returns its length, or -1. */
static long read_value(const char *text, size_t len, size_t *pos, char *out,
                       size_t outsize)
{
    size_t n = 0;
    size_t p = *pos;

    if (p < len && text[p] == '"') {
        for (p++; p < len && text[p] != '"'; p++) {
            if (text[p] == '\\' && ++p == len)
                return -1;
            if ((unsigned char)text[p] < 0x20 && text[p] != '\t')
                return -1;
            if (n == outsize)
                return -1;
            out[n++] = text[p];
        }
        if (p == len)
            return -1; /* no closing quote */
        *pos = p + 1;
        return (long)n;
    }

    for (; p < len && is_tchar(text[p]); p++) {
        if (n == outsize)
            return -1;
        out[n++] = text[p];
    }
    if (n == 0)
        return -1;
    *pos = p;
    return (long)n;
}

/* Forwarded: 'for=192.0.2.60;proto=http, for="[2001:db8::17]:4711"'. */
static int parse_forwarded(const char *text, size_t len, struct netaddr *hops,
                           size_t *n_hops, size_t max_hops)
{
    size_t pos = 0;

    for (;;) {
        struct netaddr node;
        bool has_for = false;

        while (pos < len && is_ows(text[pos]))
            pos++;
        if (pos == len)
            return 0;
        if (text[pos] == ',') {
            pos++; /* an empty element */
            continue;
        }

        memset(&node, 0, sizeof(node));
        for (;;) {
            char node_text[NODE_TEXT_MAX];
            size_t name_start = pos;
            size_t name_len;
            long value_len;

            while (pos < len && is_tchar(text[pos]))
                pos++;
            name_len = pos - name_start;
            if (name_len == 0 || pos == len || text[pos] != '=')
                return -1;
            pos++;
            value_len = read_value(text, len, &pos, node_text, sizeof(node_text));
            if (value_len < 0)
                return -1;

            if (name_len == 3 && strncasecmp(text + name_start, "for", 3) == 0) {
                if (has_for ||
                    parse_node(node_text, (size_t)value_len, &node) != 0)
                    return -1;
                has_for = true;
            }

            while (pos < len && is_ows(text[pos]))
                pos++;
            if (pos < len && text[pos] == ';') {
                pos++;
                while (pos < len && is_ows(text[pos]))
                    pos++;
                continue;
            }
            if (pos == len || text[pos] == ',')
                break;
            return -1;
        }

        if (append_hop(&node, hops, n_hops, max_hops) != 0)
            return -1;
        if (pos < len)
            pos++; /* the comma */
    }
}

int client_addr_parse_field(enum client_addr_header header, const char *value,
                            size_t len, struct netaddr *hops, size_t *n_hops,
                            size_t max_hops)
{
    if (header == CLIENT_ADDR_HEADER_FORWARDED)
        return parse_forwarded(value, len, hops, n_hops, max_hops);
    return parse_xff(value, len, hops, n_hops, max_hops);
}

static bool is_unspecified(const struct netaddr *a)
{
    static const struct netaddr zero;

    return memcmp(a->bytes, zero.bytes, sizeof(zero.bytes)) == 0;
}

enum client_addr_source client_addr_resolve(const struct client_addr_config *cfg,
                                            const struct http_request *req,
                                            struct netaddr *out)
{
    static const char *const names[] = {
        [CLIENT_ADDR_HEADER_XFF] = "X-Forwarded-For",
        [CLIENT_ADDR_HEADER_FORWARDED] = "Forwarded",
    };
    const char *name = names[cfg->header];
    size_t name_len = strlen(name);
    struct netaddr hops[CLIENT_ADDR_MAX_HOPS];
    size_t n_hops = 0;

    memset(out, 0, sizeof(*out));
    if (req->peer == NULL ||
        netaddr_from_sockaddr(req->peer, req->peer_len, out) != 0)
        return CLIENT_ADDR_PEER;
    if (cfg->trusted.n == 0 || !netset_contains(&cfg->trusted, out))
        return CLIENT_ADDR_PEER;

    /* Several fields of one name form one list, in the order received. */
    for (size_t i = 0; i < req->n_headers; i++) {
        const struct http_header *h = &req->headers[i];

        if (h->name_len != name_len || strncasecmp(h->name, name, name_len) != 0)
            continue;
        if (client_addr_parse_field(cfg->header, h->value, h->value_len, hops,
                                    &n_hops, CLIENT_ADDR_MAX_HOPS) != 0)
            return CLIENT_ADDR_MALFORMED;
    }
    if (n_hops == 0)
        return CLIENT_ADDR_PEER;

    for (size_t i = n_hops; i-- > 0;) {
        if (is_unspecified(&hops[i]))
            return CLIENT_ADDR_MALFORMED;
        if (!netset_contains(&cfg->trusted, &hops[i])) {
            *out = hops[i];
            return CLIENT_ADDR_FROM_HEADER;
        }
    }

    /* Every hop is a trusted proxy: the leftmost one is the closest thing
     * to a client there is. */
    *out = hops[0];
    return CLIENT_ADDR_FROM_HEADER;
}

int client_addr_parse_proxies(const char *list, struct netset *set, char *err,
                              size_t errsize)
{
    const char *p = list;

    if (*p == '\0') {
        netset_finish(set);
        return 0;
    }
    for (;;) {
        const char *comma = strchr(p, ',');
        const char *end = comma != NULL ? comma : p + strlen(p);
        const char *start = p;
        const char *stop = end;
        int rc;

        while (start < stop && is_ows(*start))
            start++;
        while (stop > start && is_ows(stop[-1]))
            stop--;
        rc = stop > start ? netset_add(set, start, (size_t)(stop - start)) : -1;
        if (rc == -2) {
            snprintf(err, errsize, "out of memory for trusted proxies");
            return -1;
        }
        if (rc != 0) {
            snprintf(err, errsize,
                     "'%.*s' is not an IP address or CIDR block (such as "
                     "10.0.0.0/8 with the host bits zero)",
                     (int)(stop - start > 64 ? 64 : stop - start), start);
            return -1;
        }
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    netset_finish(set);
    return 0;
}

int client_addr_parse_header_name(const char *name,
                                  enum client_addr_header *out)
{
    if (strcasecmp(name, "x-forwarded-for") == 0) {
        *out = CLIENT_ADDR_HEADER_XFF;
        return 0;
    }
    if (strcasecmp(name, "forwarded") == 0) {
        *out = CLIENT_ADDR_HEADER_FORWARDED;
        return 0;
    }
    return -1;
}

int client_addr_config_init(struct client_addr_config *cfg,
                            const char *proxies, const char *header_name,
                            char *err, size_t errsize)
{
    netset_init(&cfg->trusted);
    cfg->header = CLIENT_ADDR_HEADER_XFF;
    if (client_addr_parse_header_name(header_name, &cfg->header) != 0) {
        snprintf(err, errsize,
                 "proxy_header '%.64s' is invalid: use x-forwarded-for or "
                 "forwarded", header_name);
        return -1;
    }
    return client_addr_parse_proxies(proxies, &cfg->trusted, err, errsize);
}

void client_addr_config_free(struct client_addr_config *cfg)
{
    netset_free(&cfg->trusted);
}
