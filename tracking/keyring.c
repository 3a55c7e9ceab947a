/*
 * keyring.c - wiping the secrets of a keyring.
 *
 * OPENSSL_cleanse rather than memset, because a compiler may drop a memset
 * of memory that is never read again.
 */
#include "keyring.h"

#include <string.h>

#include <openssl/crypto.h>

void keyring_wipe(struct keyring *ring)
{
    OPENSSL_cleanse(ring, sizeof *ring);
}

const uint8_t *keyring_shop_secret(const struct keyring_shop *shops, size_t n,
                                   const char *shop)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(shops[i].id, shop) == 0)
            return shops[i].secret;
    }
    return NULL;
}
