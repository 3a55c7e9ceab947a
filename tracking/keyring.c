/*
 * keyring.c - wiping the secrets of a keyring.
 *
 * OPENSSL_cleanse rather than memset, because a compiler may drop a memset
 * of memory that is never read again.
 */
#include "keyring.h"

#include <openssl/crypto.h>

void keyring_wipe(struct keyring *ring)
{
    OPENSSL_cleanse(ring, sizeof *ring);
}
