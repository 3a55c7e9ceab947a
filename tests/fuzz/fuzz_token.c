/*
 * fuzz_token.c - libFuzzer target for token_decode and token_encode.
 *
 * An input is tried two ways. As token text, it is decoded against a fixed
 * test keyring as each of the three kinds. An input that starts with 'B' is
 * also taken as the binary fields of a token (after the 'B'). The harness
 * signs them with the key their byte 2 names, so the parser is fuzzed
 * behind a valid MAC, which random text almost never reaches.
 *
 * Checked: no crash or sanitizer report; at most one kind decodes, and every
 * other kind then gets TOKEN_WRONG_KIND; a decoded token re-encodes under
 * its own key to exactly the input text; a correctly signed body is never
 * reported as TOKEN_BAD_MAC.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "b64url.h"
#include "keyring.h"
#include "signer.h"
#include "token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* signers[id] verifies with keys 1 and 2 and signs with key id. */
static struct signer *signers[3];
static uint8_t *scratch;
static char *text_buf;
static uint8_t *bin_buf;

static void init(void)
{
    struct keyring ring;

    memset(&ring, 0, sizeof ring);
    memset(ring.reader_secret, 0x33, KEYRING_KEY_LEN);
    for (uint8_t id = 1; id <= 2; id++) {
        ring.keys[id].present = true;
        memset(ring.keys[id].secret, 0x10 * id, KEYRING_KEY_LEN);
    }
    for (uint8_t id = 1; id <= 2; id++) {
        ring.active_id = id;
        signers[id] = signer_new(&ring);
        if (signers[id] == NULL)
            abort();
    }
    keyring_wipe(&ring);

    scratch = malloc(TOKEN_BINARY_MAX);
    text_buf = malloc(TOKEN_TEXT_MAX + 1);
    bin_buf = malloc(TOKEN_BINARY_MAX + SIGNER_MAC_LEN);
    if (scratch == NULL || text_buf == NULL || bin_buf == NULL)
        abort();
}

/* Re-encodes a decoded token under its own key and compares the text. */
static void check_reencodes(struct token *t, const char *text, size_t len)
{
    char *again = malloc(TOKEN_TEXT_MAX + 1);
    long n;

    if (again == NULL)
        abort();
    if (t->key_id < 1 || t->key_id > 2)
        abort();
    n = token_encode(signers[t->key_id], t, again, TOKEN_TEXT_MAX + 1);
    if (n < 0 || (size_t)n != len || memcmp(again, text, len) != 0)
        abort();
    free(again);
}

/* Decodes text as each kind and checks that the statuses agree. Returns
 * the status of the kind that decoded, or the shared failure status. */
static enum token_status decode_all_kinds(const char *text, size_t len)
{
    static const enum token_kind kinds[] = {TOKEN_OPEN, TOKEN_CLICK, TOKEN_VISIT};
    enum token_status status[3];
    struct token t[3];
    int ok = -1;

    for (int k = 0; k < 3; k++) {
        status[k] = token_decode(signers[2], text, len, kinds[k], scratch, &t[k]);
        if (status[k] == TOKEN_OK) {
            if (ok >= 0)
                abort();
            ok = k;
            /* Before the next decode refills scratch, where dest points. */
            check_reencodes(&t[k], text, len);
        }
    }

    if (ok >= 0) {
        for (int k = 0; k < 3; k++) {
            if (k != ok && status[k] != TOKEN_WRONG_KIND)
                abort();
        }
        return TOKEN_OK;
    }

    if (status[0] != status[1] || status[1] != status[2])
        abort();
    return status[0];
}

static void fuzz_signed_body(const uint8_t *body, size_t n)
{
    const void *parts[1] = {bin_buf};
    size_t lens[1] = {n};
    uint8_t mac[SIGNER_MAC_LEN];
    uint8_t key_id = 1;

    if (n > TOKEN_BINARY_MAX - TOKEN_MAC_LEN)
        return;
    memcpy(bin_buf, body, n);
    if (n > 2 && (body[2] == 1 || body[2] == 2))
        key_id = body[2];

    if (signer_mac(signers[2], key_id, parts, lens, 1, mac) != 0)
        abort();
    memcpy(bin_buf + n, mac, TOKEN_MAC_LEN);

    size_t len = b64url_encode(bin_buf, n + TOKEN_MAC_LEN, text_buf);
    enum token_status status = decode_all_kinds(text_buf, len);
    if (status == TOKEN_BAD_MAC)
        abort();
    if (status == TOKEN_UNKNOWN_KEY && n > 2 && body[2] == key_id)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (signers[1] == NULL)
        init();

    decode_all_kinds((const char *)data, size);

    if (size > 0 && data[0] == 'B')
        fuzz_signed_body(data + 1, size - 1);
    return 0;
}
