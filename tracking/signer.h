/*
 * signer.h - HMAC-SHA256 under the keys of a keyring, with reusable contexts.
 *
 * Fetching the HMAC algorithm and creating an EVP_MAC_CTX costs microseconds,
 * so a signer fetches once and keeps one keyed context per signing key plus
 * one for the reader secret; each MAC afterwards only re-initialises a context
 * with its key already set. A signer is not thread-safe: each event loop
 * thread owns its own, built from the same (read-only) keyring.
 */
#ifndef TALLY_SIGNER_H
#define TALLY_SIGNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keyring.h"

#define SIGNER_MAC_LEN 32 /* full HMAC-SHA256 output */

struct signer;

/* Creates a signer for every present key of ring. The signer copies what it
 * needs, so ring may be wiped afterwards. Returns NULL when OpenSSL fails or
 * memory runs out. Free with signer_free. */
struct signer *signer_new(const struct keyring *ring);
void signer_free(struct signer *s);

/* Returns the id of the key new tokens are signed with. */
uint8_t signer_active_id(const struct signer *s);

/* Tells whether signing key key_id is in the keyring the signer was built
 * from (false for 0). */
bool signer_has_key(const struct signer *s, uint8_t key_id);

/* Tells whether opens and clicks on tokens of key key_id still count at
 * time now (Unix seconds): true unless the key has an end date
 * (count_until) and now is at or past it. */
bool signer_key_counts(const struct signer *s, uint8_t key_id, uint32_t now);

/* Computes HMAC-SHA256 of the concatenation of the n parts (ptrs[i], lens[i])
 * under signing key key_id into out. Returns 0, or -1 when key_id is not in
 * the keyring or OpenSSL fails. */
int signer_mac(struct signer *s, uint8_t key_id, const void *const *ptrs,
               const size_t *lens, size_t n, uint8_t out[SIGNER_MAC_LEN]);

/* Same as signer_mac, under the reader secret. */
int signer_reader_mac(struct signer *s, const void *const *ptrs,
                      const size_t *lens, size_t n,
                      uint8_t out[SIGNER_MAC_LEN]);

#endif
