/*
 * fuzz_url.c - libFuzzer target for url_check_destination and url_add_param.
 *
 * The input is the URL. The output buffer is allocated at exactly the size
 * url_add_param needs, or a few bytes less (chosen by the input's length),
 * so AddressSanitizer reports any write past it.
 *
 * Checked: the result has the expected length, and removing the added
 * separator and parameter gives back the input byte for byte. A URL that
 * passed the check has the parameter afterwards (URL_HAS_PARAM), unless it
 * grew too long.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PARAM "tly"
#define VALUE "AbC-_9"

/* Returns the length of the separator url_add_param puts before the
 * parameter: 0 or 1. Computed independently of url.c. */
static size_t separator_len(const char *u, size_t len, size_t *cut)
{
    const char *hash = memchr(u, '#', len);
    size_t end = hash == NULL ? len : (size_t)(hash - u);
    const char *question = memchr(u, '?', end);

    *cut = end;
    if (question == NULL)
        return 1;
    return (question == u + end - 1 || u[end - 1] == '&') ? 0 : 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *u = (const char *)data;
    const size_t value_len = sizeof VALUE - 1;
    const size_t added = sizeof PARAM - 1 + 1 + value_len;
    size_t cut = 0;
    size_t sep = separator_len(u, size, &cut);
    size_t need = size + sep + added;
    size_t shrink = size % 4;
    size_t outsize = need - (shrink > need ? need : shrink);
    enum url_status before = url_check_destination(u, size, PARAM);
    char *out = malloc(outsize == 0 ? 1 : outsize);
    long n;

    if (out == NULL)
        abort();
    if (url_check_destination(u, size, NULL) == URL_HAS_PARAM)
        abort();

    n = url_add_param(u, size, PARAM, VALUE, value_len, out, outsize);
    if (outsize < need) {
        if (n != -1)
            abort();
        free(out);
        return 0;
    }
    if (n < 0 || (size_t)n != need)
        abort();

    /* The input is the output minus the separator and "tly=VALUE". */
    if (memcmp(out, u, cut) != 0 ||
        memcmp(out + cut + sep + added, u + cut, size - cut) != 0)
        abort();
    if (sep == 1 && out[cut] != '?' && out[cut] != '&')
        abort();
    if (memcmp(out + cut + sep, PARAM "=" VALUE, added) != 0)
        abort();

    if (before == URL_OK) {
        enum url_status after = url_check_destination(out, (size_t)n, PARAM);
        if (after != URL_HAS_PARAM && after != URL_TOO_LONG)
            abort();
    }
    free(out);
    return 0;
}
