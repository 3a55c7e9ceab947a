/*
 * ident.c - email hashes, reader ids and customer ids.
 *
 * Each derivation feeds HMAC a fixed label and a 0x00 separator before its
 * input, so a reader id can never equal a customer id, nor an id of a future
 * derivation, for any inputs. The labels are part of the permanent format in
 * docs/tokens.md: changing one gives every reader a new id.
 */
#include "ident.h"

#include <string.h>

#include <openssl/evp.h>

static const char reader_label[] = "tally/reader/v1";
static const char customer_label[] = "tally/customer/v1";

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' ||
           c == '\f';
}

int ident_email_sha256(const char *addr, size_t len,
                       uint8_t out[IDENT_SHA256_LEN])
{
    size_t start = 0;
    size_t end = len;
    EVP_MD_CTX *ctx = NULL;
    unsigned out_len = 0;
    int rc = -1;

    while (start < end && is_space(addr[start]))
        start++;
    while (end > start && is_space(addr[end - 1]))
        end--;
    if (start == end)
        return -1;

    ctx = EVP_MD_CTX_new();
    if (ctx == NULL || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL))
        goto done;

    /* A-Z are lower-cased by hand because tolower depends on the locale and
     * could change bytes >= 0x80. Chunks avoid copying the whole address. */
    for (size_t i = start; i < end;) {
        char chunk[64];
        size_t n = 0;

        for (; i < end && n < sizeof chunk; i++, n++) {
            char c = addr[i];
            chunk[n] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
        }
        if (!EVP_DigestUpdate(ctx, chunk, n))
            goto done;
    }

    if (EVP_DigestFinal_ex(ctx, out, &out_len) && out_len == IDENT_SHA256_LEN)
        rc = 0;

done:
    EVP_MD_CTX_free(ctx);
    return rc;
}

/* Returns the value of a hex digit of either case, or -1. */
static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int ident_parse_sha256_hex(const char *hex, size_t len,
                           uint8_t out[IDENT_SHA256_LEN])
{
    uint8_t bytes[IDENT_SHA256_LEN];

    if (len != 2 * IDENT_SHA256_LEN)
        return -1;

    for (size_t i = 0; i < IDENT_SHA256_LEN; i++) {
        int hi = hex_value(hex[2 * i]);
        int lo = hex_value(hex[2 * i + 1]);

        if (hi < 0 || lo < 0)
            return -1;
        bytes[i] = (uint8_t)(hi << 4 | lo);
    }

    memcpy(out, bytes, sizeof bytes);
    return 0;
}

void ident_hex(const uint8_t *bytes, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 15];
    }
    out[2 * n] = '\0';
}

int ident_reader_id(struct signer *s, const uint8_t email_sha256[IDENT_SHA256_LEN],
                    uint8_t out[TOKEN_READER_LEN])
{
    static const uint8_t zero = 0;
    const void *parts[] = {reader_label, &zero, email_sha256};
    size_t lens[] = {sizeof reader_label - 1, 1, IDENT_SHA256_LEN};
    uint8_t mac[SIGNER_MAC_LEN];

    if (signer_reader_mac(s, parts, lens, 3, mac) != 0)
        return -1;
    memcpy(out, mac, TOKEN_READER_LEN);
    return 0;
}

/* Tells whether cust[0..len) is a customer id ident_customer_id accepts. */
static bool customer_valid(const char *cust, size_t len)
{
    if (cust == NULL || len == 0 || len > IDENT_CUSTOMER_MAX)
        return false;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)cust[i];
        if (c < 0x20 || c == 0x7F)
            return false;
    }
    return true;
}

int ident_customer_id(struct signer *s, const char *shop, const char *cust,
                      size_t len, uint8_t out[TOKEN_READER_LEN])
{
    static const uint8_t zero = 0;
    const void *parts[5];
    size_t lens[5];
    uint8_t mac[SIGNER_MAC_LEN];

    if (shop == NULL || !token_id_valid(shop, strlen(shop)) ||
        !customer_valid(cust, len))
        return -1;

    /* The separators are unambiguous because neither id can contain 0x00. */
    parts[0] = customer_label;
    lens[0] = sizeof customer_label - 1;
    parts[1] = &zero;
    lens[1] = 1;
    parts[2] = shop;
    lens[2] = strlen(shop);
    parts[3] = &zero;
    lens[3] = 1;
    parts[4] = cust;
    lens[4] = len;

    if (signer_reader_mac(s, parts, lens, 5, mac) != 0)
        return -1;
    memcpy(out, mac, TOKEN_READER_LEN);
    return 0;
}
