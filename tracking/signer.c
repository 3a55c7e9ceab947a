/*
 * signer.c - HMAC-SHA256 under a keyring's keys, with one keyed context each.
 *
 * signer_new fetches the HMAC algorithm once and keys one EVP_MAC_CTX per
 * present signing key plus one for the reader secret. Each MAC afterwards
 * calls EVP_MAC_init(ctx, NULL, 0, NULL), which restarts the context with
 * the key it already holds. OpenSSL releases before 3.0.3 do not keep the
 * key across such a call, so they are rejected at build time.
 */
#include "signer.h"

#include <stdlib.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/opensslv.h>
#include <openssl/params.h>

#if OPENSSL_VERSION_NUMBER < 0x30000030L
#error "tally needs OpenSSL 3.0.3 or later: EVP_MAC_init with a NULL key must reuse the key"
#endif

struct signer {
    EVP_MAC *hmac;
    EVP_MAC_CTX *key_ctx[KEYRING_MAX_KEYS]; /* NULL where the key is absent */
    EVP_MAC_CTX *reader_ctx;
    uint8_t active_id;
    uint32_t count_until[KEYRING_MAX_KEYS]; /* 0: no end date */
};

/* Returns a new HMAC-SHA256 context keyed with secret, or NULL. */
static EVP_MAC_CTX *new_keyed_ctx(EVP_MAC *hmac, const uint8_t *secret)
{
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end(),
    };
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(hmac);

    if (ctx == NULL)
        return NULL;

    if (!EVP_MAC_init(ctx, secret, KEYRING_KEY_LEN, params)) {
        EVP_MAC_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

struct signer *signer_new(const struct keyring *ring)
{
    struct signer *s = calloc(1, sizeof *s);

    if (s == NULL)
        return NULL;

    s->active_id = ring->active_id;
    s->hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (s->hmac == NULL)
        goto fail;

    s->reader_ctx = new_keyed_ctx(s->hmac, ring->reader_secret);
    if (s->reader_ctx == NULL)
        goto fail;

    for (size_t id = 1; id < KEYRING_MAX_KEYS; id++) {
        if (!ring->keys[id].present)
            continue;
        s->key_ctx[id] = new_keyed_ctx(s->hmac, ring->keys[id].secret);
        if (s->key_ctx[id] == NULL)
            goto fail;
        s->count_until[id] = ring->keys[id].count_until;
    }
    return s;

fail:
    signer_free(s);
    return NULL;
}

void signer_free(struct signer *s)
{
    if (s == NULL)
        return;

    for (size_t id = 0; id < KEYRING_MAX_KEYS; id++)
        EVP_MAC_CTX_free(s->key_ctx[id]);
    EVP_MAC_CTX_free(s->reader_ctx);
    EVP_MAC_free(s->hmac);
    free(s);
}

uint8_t signer_active_id(const struct signer *s)
{
    return s->active_id;
}

bool signer_has_key(const struct signer *s, uint8_t key_id)
{
    return s->key_ctx[key_id] != NULL;
}

bool signer_key_counts(const struct signer *s, uint8_t key_id, uint32_t now)
{
    return s->count_until[key_id] == 0 || now < s->count_until[key_id];
}

/* Restarts ctx with its key, feeds it the n parts and writes the MAC. */
static int mac_parts(EVP_MAC_CTX *ctx, const void *const *ptrs,
                     const size_t *lens, size_t n, uint8_t out[SIGNER_MAC_LEN])
{
    size_t out_len = 0;

    if (!EVP_MAC_init(ctx, NULL, 0, NULL))
        return -1;

    for (size_t i = 0; i < n; i++) {
        if (!EVP_MAC_update(ctx, ptrs[i], lens[i]))
            return -1;
    }

    if (!EVP_MAC_final(ctx, out, &out_len, SIGNER_MAC_LEN))
        return -1;
    return out_len == SIGNER_MAC_LEN ? 0 : -1;
}

int signer_mac(struct signer *s, uint8_t key_id, const void *const *ptrs,
               const size_t *lens, size_t n, uint8_t out[SIGNER_MAC_LEN])
{
    EVP_MAC_CTX *ctx = s->key_ctx[key_id];

    if (ctx == NULL)
        return -1;
    return mac_parts(ctx, ptrs, lens, n, out);
}

int signer_reader_mac(struct signer *s, const void *const *ptrs,
                      const size_t *lens, size_t n,
                      uint8_t out[SIGNER_MAC_LEN])
{
    return mac_parts(s->reader_ctx, ptrs, lens, n, out);
}
