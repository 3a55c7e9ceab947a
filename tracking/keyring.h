/*
 * keyring.h - the secrets tally signs and derives with, held in memory.
 *
 * A keyring holds up to 255 signing keys, addressed by a one-byte key id
 * (1..255; 0 is never a valid id), one of which is active for signing while
 * the others only verify, and the reader secret that turns an email hash into
 * an anonymous reader id. Loading the keys file is the server's job; this
 * header only describes the result. Every key is 32 bytes.
 *
 * A retired key may carry an end date (count_until): its tokens still
 * verify, so old links keep redirecting, but opens and clicks on them stop
 * counting from that time on.
 */
#ifndef TALLY_KEYRING_H
#define TALLY_KEYRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KEYRING_KEY_LEN 32
#define KEYRING_MAX_KEYS 256
#define KEYRING_MAX_SHOPS 64
#define KEYRING_SHOP_ID_MAX 32 /* a shop id, like TOKEN_ID_MAX */

struct keyring_key {
    bool present;
    uint8_t secret[KEYRING_KEY_LEN];
    uint32_t count_until; /* Unix seconds; 0 when the key never stops counting */
};

/* The secret a shop's backend signs POST /v1/conversions with. */
struct keyring_shop {
    char id[KEYRING_SHOP_ID_MAX + 1];
    uint8_t secret[KEYRING_KEY_LEN];
};

struct keyring {
    struct keyring_key keys[KEYRING_MAX_KEYS]; /* indexed by key id; [0] unused */
    uint8_t active_id;                         /* signs new tokens; present */
    uint8_t reader_secret[KEYRING_KEY_LEN];    /* never rotated: see docs/tokens.md */
    struct keyring_shop shops[KEYRING_MAX_SHOPS];
    size_t n_shops;
};

/* Returns the secret of shop among shops[0..n), or NULL when it has none. */
const uint8_t *keyring_shop_secret(const struct keyring_shop *shops, size_t n,
                                   const char *shop);

/* Wipes every secret in the keyring (OPENSSL_cleanse). */
void keyring_wipe(struct keyring *ring);

#endif
