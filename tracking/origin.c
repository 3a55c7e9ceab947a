/*
 * origin.c - parsing and matching the origin list of origin.h.
 */
#include "origin.h"

#include <string.h>

static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* Tells whether s[0..len) looks like an http(s) origin: scheme, "://", a
 * non-empty host of letters, digits, '.', '-' or a bracketed IPv6 address,
 * and an optional :port of 1 to 5 digits. */
static bool origin_valid(const char *s, size_t len)
{
    size_t pos;
    size_t host_start;

    if (len > 7 && strncmp(s, "http://", 7) == 0)
        pos = 7;
    else if (len > 8 && strncmp(s, "https://", 8) == 0)
        pos = 8;
    else
        return false;

    host_start = pos;
    if (s[pos] == '[') {
        while (pos < len && s[pos] != ']')
            pos++;
        if (pos == len)
            return false;
        pos++;
    } else {
        while (pos < len && s[pos] != ':') {
            char c = lower(s[pos]);

            if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
                  c == '-'))
                return false;
            pos++;
        }
    }
    if (pos == host_start)
        return false;
    if (pos == len)
        return true;

    /* ":port" */
    if (s[pos] != ':' || len - pos < 2 || len - pos > 6)
        return false;
    for (pos++; pos < len; pos++) {
        if (s[pos] < '0' || s[pos] > '9')
            return false;
    }
    return true;
}

int origin_list_parse(const char *text, struct origin_list *out)
{
    const char *p = text;

    memset(out, 0, sizeof(*out));
    while (*p != '\0') {
        const char *comma = strchr(p, ',');
        size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
        const char *start = p;

        while (len > 0 && *start == ' ') {
            start++;
            len--;
        }
        while (len > 0 && start[len - 1] == ' ')
            len--;

        if (len > 0) {
            if (out->n == ORIGIN_LIST_MAX || len >= ORIGIN_MAX ||
                !origin_valid(start, len))
                return -1;
            for (size_t i = 0; i < len; i++)
                out->origins[out->n][i] = lower(start[i]);
            out->origins[out->n][len] = '\0';
            out->n++;
        }
        p = comma != NULL ? comma + 1 : p + strlen(p);
    }
    return 0;
}

bool origin_list_allows(const struct origin_list *list, const char *origin,
                        size_t len)
{
    for (size_t i = 0; i < list->n; i++) {
        const char *allowed = list->origins[i];
        size_t k = 0;

        if (strlen(allowed) != len)
            continue;
        while (k < len && lower(origin[k]) == allowed[k])
            k++;
        if (k == len)
            return true;
    }
    return false;
}
