/*
 * keys_file.c - the strict parser and the generator of the keys file.
 *
 * The parser accepts exactly the format of keys_file.h and rejects anything
 * else: unknown or repeated keys, bad hex, key ids outside 1..255, a missing
 * reader secret or active key. A typo here would silently change every token
 * and every reader id. Its messages name the file and line, never the
 * value. Lines are read into a fixed stack buffer with a stack stdio buffer,
 * and both are wiped before returning, so no copy of a secret is left in
 * freed heap memory.
 */
#include "keys_file.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "log.h"

#define KEYS_LINE_MAX 512
#define KEYS_HEX_LEN (2 * KEYRING_KEY_LEN)

static const char reader_name[] = "reader_secret";
static const char active_name[] = "active_signing_key";
static const char signing_prefix[] = "signing_key.";
static const char shop_prefix[] = "shop_secret.";

/* Line numbers where each key was set (0 = not yet), for the duplicate and
 * missing-key checks. */
struct keys_seen {
    int reader_line;
    int active_line;
    int key_line[KEYRING_MAX_KEYS];
};

static int fail(char *err, size_t errsize, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errsize, const char *fmt, ...)
{
    va_list ap;

    if (errsize == 0)
        return -1;
    va_start(ap, fmt);
    vsnprintf(err, errsize, fmt, ap);
    va_end(ap);
    return -1;
}

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

/* Decodes exactly KEYS_HEX_LEN hex digits into out. */
static int parse_secret(const char *hex, uint8_t out[KEYRING_KEY_LEN])
{
    if (strlen(hex) != KEYS_HEX_LEN)
        return -1;
    for (size_t i = 0; i < KEYRING_KEY_LEN; i++) {
        int hi = hex_value(hex[2 * i]);
        int lo = hex_value(hex[2 * i + 1]);

        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (uint8_t)(hi * 16 + lo);
    }
    return 0;
}

/* Parses a key id: 1 to 3 decimal digits without a leading zero, 1..255. */
static int parse_key_id(const char *s, int *id)
{
    size_t len = strlen(s);
    int value = 0;

    if (len == 0 || len > 3 || s[0] == '0')
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        value = value * 10 + (s[i] - '0');
    }
    if (value > 255)
        return -1;
    *id = value;
    return 0;
}

static char *trim(char *s)
{
    char *end;

    while (*s == ' ' || *s == '\t')
        s++;
    end = s + strlen(s);
    while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' ||
                       end[-1] == '\r'))
        end--;
    *end = '\0';
    return s;
}

static int set_reader_secret(const char *path, int line, const char *value,
                             struct keyring *ring, struct keys_seen *seen,
                             char *err, size_t errsize)
{
    if (seen->reader_line != 0)
        return fail(err, errsize,
                    "%s:%d: reader_secret is set twice (first on line %d); "
                    "keep one", path, line, seen->reader_line);
    if (parse_secret(value, ring->reader_secret) != 0)
        return fail(err, errsize,
                    "%s:%d: reader_secret must be %d hex digits (%d bytes)",
                    path, line, KEYS_HEX_LEN, KEYRING_KEY_LEN);
    seen->reader_line = line;
    return 0;
}

static int set_active(const char *path, int line, const char *value,
                      struct keyring *ring, struct keys_seen *seen, char *err,
                      size_t errsize)
{
    int id;

    if (seen->active_line != 0)
        return fail(err, errsize,
                    "%s:%d: active_signing_key is set twice (first on line "
                    "%d); keep one", path, line, seen->active_line);
    if (parse_key_id(value, &id) != 0)
        return fail(err, errsize,
                    "%s:%d: active_signing_key '%s' is invalid: use a key id "
                    "from 1 to 255", path, line, value);
    ring->active_id = (uint8_t)id;
    seen->active_line = line;
    return 0;
}

static int set_signing_key(const char *path, int line, const char *name,
                           const char *value, struct keyring *ring,
                           struct keys_seen *seen, char *err, size_t errsize)
{
    int id;

    if (parse_key_id(name + sizeof(signing_prefix) - 1, &id) != 0)
        return fail(err, errsize,
                    "%s:%d: key id of '%s' is invalid: use signing_key.N with "
                    "N from 1 to 255", path, line, name);
    if (seen->key_line[id] != 0)
        return fail(err, errsize,
                    "%s:%d: %s is set twice (first on line %d); keep one",
                    path, line, name, seen->key_line[id]);
    if (parse_secret(value, ring->keys[id].secret) != 0)
        return fail(err, errsize, "%s:%d: %s must be %d hex digits (%d bytes)",
                    path, line, name, KEYS_HEX_LEN, KEYRING_KEY_LEN);
    ring->keys[id].present = true;
    seen->key_line[id] = line;
    return 0;
}

static int set_shop_secret(const char *path, int line, const char *name,
                           const char *value, struct keyring *ring, char *err,
                           size_t errsize)
{
    const char *shop = name + sizeof(shop_prefix) - 1;
    size_t len = strlen(shop);
    struct keyring_shop *entry;

    if (len == 0 || len > KEYRING_SHOP_ID_MAX || strspn(shop,
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") != len)
        return fail(err, errsize,
                    "%s:%d: shop id of '%.64s' is invalid: use shop_secret.SHOP "
                    "with SHOP 1 to 32 of A-Z a-z 0-9 . _ -", path, line, name);
    if (keyring_shop_secret(ring->shops, ring->n_shops, shop) != NULL)
        return fail(err, errsize, "%s:%d: %s is set twice; keep one", path,
                    line, name);
    if (ring->n_shops == KEYRING_MAX_SHOPS)
        return fail(err, errsize, "%s:%d: more than %d shop secrets", path,
                    line, KEYRING_MAX_SHOPS);

    entry = &ring->shops[ring->n_shops];
    if (parse_secret(value, entry->secret) != 0)
        return fail(err, errsize, "%s:%d: %s must be %d hex digits (%d bytes)",
                    path, line, name, KEYS_HEX_LEN, KEYRING_KEY_LEN);
    memcpy(entry->id, shop, len + 1);
    ring->n_shops++;
    return 0;
}

/* Parses one line, already stripped of its line break. */
static int parse_line(const char *path, int line, char *text,
                      struct keyring *ring, struct keys_seen *seen, char *err,
                      size_t errsize)
{
    char *s = trim(text);
    char *eq;
    char *name;
    char *value;

    if (*s == '\0' || *s == '#')
        return 0;

    eq = strchr(s, '=');
    if (eq == NULL)
        return fail(err, errsize, "%s:%d: expected 'name = value'", path, line);
    *eq = '\0';
    name = trim(s);
    value = trim(eq + 1);

    if (strcmp(name, reader_name) == 0)
        return set_reader_secret(path, line, value, ring, seen, err, errsize);
    if (strcmp(name, active_name) == 0)
        return set_active(path, line, value, ring, seen, err, errsize);
    if (strncmp(name, signing_prefix, sizeof(signing_prefix) - 1) == 0)
        return set_signing_key(path, line, name, value, ring, seen, err,
                               errsize);
    if (strncmp(name, shop_prefix, sizeof(shop_prefix) - 1) == 0)
        return set_shop_secret(path, line, name, value, ring, err, errsize);
    return fail(err, errsize,
                "%s:%d: unknown key '%.64s': expected reader_secret, "
                "signing_key.N, active_signing_key or shop_secret.SHOP", path,
                line, name);
}

/* Checks what only the whole file can tell. */
static int check_complete(const char *path, const struct keyring *ring,
                          const struct keys_seen *seen, char *err,
                          size_t errsize)
{
    if (seen->reader_line == 0)
        return fail(err, errsize,
                    "%s: reader_secret is missing; a new file from 'tallyctl "
                    "keygen' has one, but an existing deployment must keep its "
                    "old secret", path);
    if (seen->active_line == 0)
        return fail(err, errsize,
                    "%s: active_signing_key is missing: name the signing_key.N "
                    "that signs new tokens", path);
    if (!ring->keys[ring->active_id].present)
        return fail(err, errsize,
                    "%s:%d: active_signing_key = %u but signing_key.%u is not "
                    "in the file", path, seen->active_line, ring->active_id,
                    ring->active_id);
    return 0;
}

static void warn_if_readable(const char *path, FILE *f)
{
    struct stat st;

    if (fstat(fileno(f), &st) != 0)
        return;
    if ((st.st_mode & (S_IRGRP | S_IROTH)) != 0)
        LOG_WARN("keys.file_readable",
                 "path=%s mode=%04o hint=\"run chmod 600 on it: group and "
                 "others can read the secrets\"",
                 path, (unsigned)(st.st_mode & 07777));
}

/* Reads every line of f; the caller owns f and the buffers. */
static int parse_stream(const char *path, FILE *f, char *line, size_t linesize,
                        struct keyring *ring, char *err, size_t errsize)
{
    struct keys_seen seen;
    int number = 0;

    memset(&seen, 0, sizeof(seen));
    while (fgets(line, (int)linesize, f) != NULL) {
        size_t len = strlen(line);

        number++;
        if (len == linesize - 1 && line[len - 1] != '\n' && !feof(f))
            return fail(err, errsize, "%s:%d: line is longer than %zu bytes",
                        path, number, linesize - 2);
        if (parse_line(path, number, line, ring, &seen, err, errsize) != 0)
            return -1;
    }
    if (ferror(f))
        return fail(err, errsize, "%s: read failed: %s", path, strerror(errno));
    return check_complete(path, ring, &seen, err, errsize);
}

int keys_file_load(const char *path, struct keyring *ring, char *err,
                   size_t errsize)
{
    char line[KEYS_LINE_MAX];
    char iobuf[BUFSIZ];
    FILE *f;
    int rc;

    keyring_wipe(ring);
    f = fopen(path, "r");
    if (f == NULL)
        return fail(err, errsize, "cannot open keys file %s: %s", path,
                    strerror(errno));
    setvbuf(f, iobuf, _IOFBF, sizeof(iobuf));
    warn_if_readable(path, f);

    rc = parse_stream(path, f, line, sizeof(line), ring, err, errsize);

    fclose(f);
    OPENSSL_cleanse(line, sizeof(line));
    OPENSSL_cleanse(iobuf, sizeof(iobuf));
    if (rc != 0)
        keyring_wipe(ring);
    return rc;
}

static void hex_encode(const uint8_t *bytes, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 0x0f];
    }
    out[2 * n] = '\0';
}

int keys_file_generate(FILE *out)
{
    uint8_t secret[KEYRING_KEY_LEN];
    char reader_hex[KEYS_HEX_LEN + 1];
    char key_hex[KEYS_HEX_LEN + 1];
    int rc = -1;

    if (RAND_bytes(secret, sizeof(secret)) != 1)
        goto done;
    hex_encode(secret, sizeof(secret), reader_hex);
    if (RAND_bytes(secret, sizeof(secret)) != 1)
        goto done;
    hex_encode(secret, sizeof(secret), key_hex);

    fprintf(out,
            "# tally keys file, made by 'tallyctl keygen'.\n"
            "#\n"
            "# Keep this file secret (chmod 600, owned by the user tallyd runs\n"
            "# as): anyone who reads it can mint valid tracking links and link\n"
            "# reader ids back to email addresses they already know.\n"
            "#\n"
            "# reader_secret turns an email hash into an anonymous reader id.\n"
            "# Never change it casually: a new secret gives every reader a new\n"
            "# id, so old clicks no longer match new orders.\n"
            "reader_secret = %s\n"
            "\n"
            "# signing_key.N (N from 1 to 255) signs and verifies tokens. To\n"
            "# rotate, add signing_key.2 and make it active; keep signing_key.1\n"
            "# for as long as emails signed with it should still work.\n"
            "signing_key.1 = %s\n"
            "\n"
            "# The key that signs new tokens; every key above verifies.\n"
            "active_signing_key = 1\n",
            reader_hex, key_hex);
    if (fflush(out) != 0 || ferror(out))
        goto done;
    rc = 0;

done:
    OPENSSL_cleanse(secret, sizeof(secret));
    OPENSSL_cleanse(reader_hex, sizeof(reader_hex));
    OPENSSL_cleanse(key_hex, sizeof(key_hex));
    return rc;
}
