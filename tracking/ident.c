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
static const char device_label[] = "tally/device/v1";

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

int ident_hex_value(char c)
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
        int hi = ident_hex_value(hex[2 * i]);
        int lo = ident_hex_value(hex[2 * i + 1]);

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

/* HMAC under the reader secret of label, 0x00, shop, 0x00 and id. The
 * separators are unambiguous because neither id can contain 0x00. */
static int shop_scoped_id(struct signer *s, const char *label, size_t label_len,
                          const char *shop, const char *id, size_t len,
                          uint8_t out[TOKEN_READER_LEN])
{
    static const uint8_t zero = 0;
    const void *parts[5];
    size_t lens[5];
    uint8_t mac[SIGNER_MAC_LEN];

    parts[0] = label;
    lens[0] = label_len;
    parts[1] = &zero;
    lens[1] = 1;
    parts[2] = shop;
    lens[2] = strlen(shop);
    parts[3] = &zero;
    lens[3] = 1;
    parts[4] = id;
    lens[4] = len;

    if (signer_reader_mac(s, parts, lens, 5, mac) != 0)
        return -1;
    memcpy(out, mac, TOKEN_READER_LEN);
    return 0;
}

int ident_customer_id(struct signer *s, const char *shop, const char *cust,
                      size_t len, uint8_t out[TOKEN_READER_LEN])
{
    if (shop == NULL || !token_id_valid(shop, strlen(shop)) ||
        !customer_valid(cust, len))
        return -1;
    return shop_scoped_id(s, customer_label, sizeof customer_label - 1, shop,
                          cust, len, out);
}

bool ident_device_valid(const char *device, size_t len)
{
    if (device == NULL || len < IDENT_DEVICE_MIN || len > IDENT_DEVICE_MAX)
        return false;

    for (size_t i = 0; i < len; i++) {
        char c = device[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                  (c >= '0' && c <= '9') || c == '-' || c == '_';

        if (!ok)
            return false;
    }
    return true;
}

int ident_device_id(struct signer *s, const char *shop, const char *device,
                    size_t len, uint8_t out[TOKEN_READER_LEN])
{
    if (shop == NULL || !token_id_valid(shop, strlen(shop)) ||
        !ident_device_valid(device, len))
        return -1;
    return shop_scoped_id(s, device_label, sizeof device_label - 1, shop,
                          device, len, out);
}

bool ident_is_placeholder(const char *id, size_t len)
{
    static const char *const words[] = {"0",         "-1",        "null",
                                        "undefined", "anonymous", "guest"};
    size_t start = 0;
    size_t end = len;

    while (start < end && is_space(id[start]))
        start++;
    while (end > start && is_space(id[end - 1]))
        end--;
    if (start == end)
        return true;

    for (size_t w = 0; w < sizeof words / sizeof words[0]; w++) {
        size_t n = strlen(words[w]);
        size_t i = 0;

        if (end - start != n)
            continue;
        for (; i < n; i++) {
            char c = id[start + i];

            if (c >= 'A' && c <= 'Z')
                c = (char)(c - 'A' + 'a');
            if (c != words[w][i])
                break;
        }
        if (i == n)
            return true;
    }
    return false;
}

bool ident_email_is_placeholder(const uint8_t email_sha256[IDENT_SHA256_LEN])
{
    /* SHA-256 of zero bytes: printf '' | sha256sum */
    static const uint8_t empty[IDENT_SHA256_LEN] = {
        0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4,
        0xc8, 0x99, 0x6f, 0xb9, 0x24, 0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b,
        0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
    };

    return memcmp(email_sha256, empty, IDENT_SHA256_LEN) == 0;
}
