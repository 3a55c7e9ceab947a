/*
 * tally.c - the minting functions of tally.h, on token.c, ident.c and url.c.
 */
#include "tally.h"

#include <string.h>

#include "ident.h"
#include "rewrite.h"
#include "url.h"

long tally_base_check(const char *base)
{
    size_t n = strlen(base);

    if (n == 0 || n > TALLY_BASE_MAX || strpbrk(base, "?#") != NULL ||
        url_check_destination(base, n, NULL) != URL_OK ||
        !rewrite_attr_safe(base, n))
        return -1;
    if (base[n - 1] == '/')
        n--;
    return (long)n;
}

int tally_reader_from_email(struct signer *s, const char *email, size_t len,
                            uint8_t reader[TOKEN_READER_LEN])
{
    uint8_t hash[IDENT_SHA256_LEN];

    if (ident_email_sha256(email, len, hash) != 0)
        return -1;
    return ident_reader_id(s, hash, reader);
}

int tally_reader_from_sha256_hex(struct signer *s, const char *hex, size_t len,
                                 uint8_t reader[TOKEN_READER_LEN])
{
    uint8_t hash[IDENT_SHA256_LEN];

    if (ident_parse_sha256_hex(hex, len, hash) != 0)
        return -1;
    return ident_reader_id(s, hash, reader);
}

/* Signs t and writes base, path, token text and suffix to out. */
static long mint(struct signer *s, const struct tally_email *e,
                 struct token *t, const char *path, const char *suffix,
                 char *out, size_t outsize)
{
    char text[TOKEN_TEXT_MAX + 1];
    size_t path_len = strlen(path);
    size_t suffix_len = strlen(suffix);
    long text_len;
    size_t total;

    if (strlen(e->campaign) >= sizeof t->campaign ||
        strlen(e->message) >= sizeof t->message)
        return -1;
    strcpy(t->campaign, e->campaign);
    strcpy(t->message, e->message);
    memcpy(t->reader, e->reader, TOKEN_READER_LEN);
    t->issued = e->issued;

    text_len = token_encode(s, t, text, sizeof text);
    if (text_len < 0)
        return -1;
    total = e->base_len + path_len + (size_t)text_len + suffix_len;
    if (total >= outsize)
        return -1;

    memcpy(out, e->base, e->base_len);
    memcpy(out + e->base_len, path, path_len);
    memcpy(out + e->base_len + path_len, text, (size_t)text_len);
    memcpy(out + e->base_len + path_len + (size_t)text_len, suffix, suffix_len);
    out[total] = '\0';
    return (long)total;
}

long tally_mint_pixel(struct signer *s, const struct tally_email *e, char *out,
                      size_t outsize)
{
    struct token t;

    memset(&t, 0, sizeof t);
    t.kind = TOKEN_OPEN;
    return mint(s, e, &t, "/o/", ".gif", out, outsize);
}

long tally_mint_click(struct signer *s, const struct tally_email *e,
                      uint32_t link, const char *dest, size_t dest_len,
                      char *out, size_t outsize)
{
    struct token t;

    if (url_check_destination(dest, dest_len, "tly") != URL_OK)
        return -1;
    memset(&t, 0, sizeof t);
    t.kind = TOKEN_CLICK;
    t.link = link;
    t.dest = dest;
    t.dest_len = dest_len;
    return mint(s, e, &t, "/c/", "", out, outsize);
}
