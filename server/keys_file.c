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
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "errmsg.h"
#include "kvline.h"
#include "auth.h"
#include "log.h"
#include "ident.h"

#define KEYS_LINE_MAX 512
#define KEYS_HEX_LEN (2 * KEYRING_KEY_LEN)

static const char reader_name[] = "reader_secret";
static const char active_name[] = "active_signing_key";
static const char signing_prefix[] = "signing_key.";
static const char shop_prefix[] = "shop_secret.";
static const char token_prefix[] = "api_token.";
static const char count_until_suffix[] = ".count_until";

/* Line numbers where each key was set (0 = not yet), for the duplicate and
 * missing-key checks. */
struct keys_seen {
    int reader_line;
    int active_line;
    int key_line[KEYRING_MAX_KEYS];
    int until_line[KEYRING_MAX_KEYS];
    struct auth_tokens *tokens; /* NULL: api_token lines are checked, not kept */
    struct auth_tokens scratch; /* where unkept tokens are parsed */
    int token_line[AUTH_TOKENS_MAX];
};

/* Decodes exactly KEYS_HEX_LEN hex digits into out. */
static int parse_secret(const char *hex, uint8_t out[KEYRING_KEY_LEN])
{
    if (strlen(hex) != KEYS_HEX_LEN)
        return -1;
    for (size_t i = 0; i < KEYRING_KEY_LEN; i++) {
        int hi = ident_hex_value(hex[2 * i]);
        int lo = ident_hex_value(hex[2 * i + 1]);

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

static int set_reader_secret(const char *path, int line, const char *value,
                             struct keyring *ring, struct keys_seen *seen,
                             char *err, size_t errsize)
{
    if (seen->reader_line != 0)
        return errmsg_set(err, errsize,
                    "%s:%d: reader_secret is set twice (first on line %d); "
                    "keep one", path, line, seen->reader_line);
    if (parse_secret(value, ring->reader_secret) != 0)
        return errmsg_set(err, errsize,
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
        return errmsg_set(err, errsize,
                    "%s:%d: active_signing_key is set twice (first on line "
                    "%d); keep one", path, line, seen->active_line);
    if (parse_key_id(value, &id) != 0)
        return errmsg_set(err, errsize,
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
        return errmsg_set(err, errsize,
                    "%s:%d: key id of '%s' is invalid: use signing_key.N with "
                    "N from 1 to 255", path, line, name);
    if (seen->key_line[id] != 0)
        return errmsg_set(err, errsize,
                    "%s:%d: %s is set twice (first on line %d); keep one",
                    path, line, name, seen->key_line[id]);
    if (parse_secret(value, ring->keys[id].secret) != 0)
        return errmsg_set(err, errsize, "%s:%d: %s must be %d hex digits (%d bytes)",
                    path, line, name, KEYS_HEX_LEN, KEYRING_KEY_LEN);
    ring->keys[id].present = true;
    seen->key_line[id] = line;
    return 0;
}

/* Parses an end date: YYYY-MM-DD (midnight UTC) or YYYY-MM-DDTHH:MM:SSZ,
 * from 1970 to 2105 (the range of the token's 32-bit times). */
int keys_file_parse_count_until(const char *s, uint32_t *out)
{
    struct tm tm;
    const char *end;
    time_t t;
    int day;
    int month;

    memset(&tm, 0, sizeof(tm));
    end = strptime(s, "%Y-%m-%d", &tm);
    if (end != NULL && *end == 'T')
        end = strptime(end, "T%H:%M:%SZ", &tm);
    if (end == NULL || *end != '\0' || strlen(s) < 10 || s[4] != '-')
        return -1;

    /* timegm moves 2027-02-31 to March 3; the date must stay as written. */
    day = tm.tm_mday;
    month = tm.tm_mon;
    t = timegm(&tm);
    if (t <= 0 || (uint64_t)t > UINT32_MAX || tm.tm_mday != day ||
        tm.tm_mon != month)
        return -1;
    *out = (uint32_t)t;
    return 0;
}

/* signing_key.N.count_until = DATE: the time from which opens and clicks
 * on tokens of key N stop counting. Checked against the key in
 * check_complete, because the key's line may come later. */
static int set_count_until(const char *path, int line, const char *name,
                           const char *value, struct keyring *ring,
                           struct keys_seen *seen, char *err, size_t errsize)
{
    char id_text[8];
    size_t id_len = strlen(name) - (sizeof(signing_prefix) - 1) -
                    (sizeof(count_until_suffix) - 1);
    int id;

    if (id_len >= sizeof(id_text))
        id_len = sizeof(id_text) - 1;
    memcpy(id_text, name + sizeof(signing_prefix) - 1, id_len);
    id_text[id_len] = '\0';
    if (parse_key_id(id_text, &id) != 0)
        return errmsg_set(err, errsize,
                    "%s:%d: key id of '%.64s' is invalid: use "
                    "signing_key.N.count_until with N from 1 to 255",
                    path, line, name);
    if (seen->until_line[id] != 0)
        return errmsg_set(err, errsize,
                    "%s:%d: %s is set twice (first on line %d); keep one",
                    path, line, name, seen->until_line[id]);
    if (keys_file_parse_count_until(value, &ring->keys[id].count_until) != 0)
        return errmsg_set(err, errsize,
                    "%s:%d: %s '%.40s' is invalid: use a UTC date YYYY-MM-DD "
                    "or YYYY-MM-DDTHH:MM:SSZ", path, line, name, value);
    seen->until_line[id] = line;
    return 0;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s);
    size_t m = strlen(suffix);

    return n >= m && strcmp(s + n - m, suffix) == 0;
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
        return errmsg_set(err, errsize,
                    "%s:%d: shop id of '%.64s' is invalid: use shop_secret.SHOP "
                    "with SHOP 1 to 32 of A-Z a-z 0-9 . _ -", path, line, name);
    if (keyring_shop_secret(ring->shops, ring->n_shops, shop) != NULL)
        return errmsg_set(err, errsize, "%s:%d: %s is set twice; keep one", path,
                    line, name);
    if (ring->n_shops == KEYRING_MAX_SHOPS)
        return errmsg_set(err, errsize, "%s:%d: more than %d shop secrets", path,
                    line, KEYRING_MAX_SHOPS);

    entry = &ring->shops[ring->n_shops];
    if (parse_secret(value, entry->secret) != 0)
        return errmsg_set(err, errsize, "%s:%d: %s must be %d hex digits (%d bytes)",
                    path, line, name, KEYS_HEX_LEN, KEYRING_KEY_LEN);
    memcpy(entry->id, shop, len + 1);
    ring->n_shops++;
    return 0;
}

/* A token name: 1 to AUTH_NAME_MAX of A-Z a-z 0-9 . _ - */
static bool token_name_valid(const char *name)
{
    size_t len = strlen(name);

    if (len == 0 || len > AUTH_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

static int set_api_token(const char *path, int line, const char *name,
                         const char *value, struct keys_seen *seen, char *err,
                         size_t errsize)
{
    struct auth_tokens *tokens = seen->tokens != NULL ? seen->tokens : &seen->scratch;
    const char *token_name = name + sizeof(token_prefix) - 1;
    struct auth_token *token;
    char reason[160];

    if (!token_name_valid(token_name))
        return errmsg_set(err, errsize,
                    "%s:%d: name of '%.64s' is invalid: use api_token.NAME with "
                    "1 to %d of A-Z a-z 0-9 . _ -", path, line, name, AUTH_NAME_MAX);
    for (size_t i = 0; i < tokens->count; i++) {
        if (strcmp(tokens->tokens[i].name, token_name) == 0)
            return errmsg_set(err, errsize,
                        "%s:%d: %s is set twice (first on line %d); keep one",
                        path, line, name, seen->token_line[i]);
    }
    if (tokens->count == AUTH_TOKENS_MAX)
        return errmsg_set(err, errsize, "%s:%d: more than %d api_token lines", path,
                    line, AUTH_TOKENS_MAX);

    token = &tokens->tokens[tokens->count];
    if (auth_parse_token_line(value, token, reason, sizeof(reason)) != 0)
        return errmsg_set(err, errsize, "%s:%d: %s: %s", path, line, name, reason);
    strcpy(token->name, token_name);
    seen->token_line[tokens->count] = line;
    tokens->count++;
    return 0;
}

/* Parses one line, already stripped of its line break. */
static int parse_line(const char *path, int line, char *text,
                      struct keyring *ring, struct keys_seen *seen, char *err,
                      size_t errsize)
{
    char *s = kvline_trim(text);
    char *eq;
    char *name;
    char *value;

    if (*s == '\0' || *s == '#')
        return 0;

    eq = strchr(s, '=');
    if (eq == NULL)
        return errmsg_set(err, errsize, "%s:%d: expected 'name = value'", path, line);
    *eq = '\0';
    name = kvline_trim(s);
    value = kvline_trim(eq + 1);

    if (strcmp(name, reader_name) == 0)
        return set_reader_secret(path, line, value, ring, seen, err, errsize);
    if (strcmp(name, active_name) == 0)
        return set_active(path, line, value, ring, seen, err, errsize);
    if (strncmp(name, signing_prefix, sizeof(signing_prefix) - 1) == 0 &&
        ends_with(name, count_until_suffix))
        return set_count_until(path, line, name, value, ring, seen, err,
                               errsize);
    if (strncmp(name, signing_prefix, sizeof(signing_prefix) - 1) == 0)
        return set_signing_key(path, line, name, value, ring, seen, err,
                               errsize);
    if (strncmp(name, shop_prefix, sizeof(shop_prefix) - 1) == 0)
        return set_shop_secret(path, line, name, value, ring, err, errsize);
    if (strncmp(name, token_prefix, sizeof(token_prefix) - 1) == 0)
        return set_api_token(path, line, name, value, seen, err, errsize);
    return errmsg_set(err, errsize,
                "%s:%d: unknown key '%.64s': expected reader_secret, "
                "signing_key.N, signing_key.N.count_until, active_signing_key, "
                "shop_secret.SHOP or api_token.NAME", path, line, name);
}

/* Checks what only the whole file can tell. */
static int check_complete(const char *path, const struct keyring *ring,
                          const struct keys_seen *seen, char *err,
                          size_t errsize)
{
    if (seen->reader_line == 0)
        return errmsg_set(err, errsize,
                    "%s: reader_secret is missing; a new file from 'tallyctl "
                    "keygen' has one, but an existing deployment must keep its "
                    "old secret", path);
    if (seen->active_line == 0)
        return errmsg_set(err, errsize,
                    "%s: active_signing_key is missing: name the signing_key.N "
                    "that signs new tokens", path);
    if (!ring->keys[ring->active_id].present)
        return errmsg_set(err, errsize,
                    "%s:%d: active_signing_key = %u but signing_key.%u is not "
                    "in the file", path, seen->active_line, ring->active_id,
                    ring->active_id);
    if (ring->keys[ring->active_id].count_until != 0)
        return errmsg_set(err, errsize,
                    "%s:%d: signing_key.%u.count_until is set, but key %u is "
                    "active: new links would stop counting; give the end date "
                    "to a retired key only", path,
                    seen->until_line[ring->active_id], ring->active_id,
                    ring->active_id);
    for (int id = 1; id < KEYRING_MAX_KEYS; id++) {
        if (seen->until_line[id] != 0 && !ring->keys[id].present)
            return errmsg_set(err, errsize,
                        "%s:%d: signing_key.%d.count_until is set, but "
                        "signing_key.%d is not in the file", path,
                        seen->until_line[id], id, id);
    }
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

/* Reads every line of f into ring and seen; the caller owns f and the
 * buffers. */
static int parse_stream(const char *path, FILE *f, char *line, size_t linesize,
                        struct keyring *ring, struct keys_seen *seen,
                        char *err, size_t errsize)
{
    int number = 0;

    while (fgets(line, (int)linesize, f) != NULL) {
        size_t len = strlen(line);

        number++;
        if (len == linesize - 1 && line[len - 1] != '\n' && !feof(f))
            return errmsg_set(err, errsize, "%s:%d: line is longer than %zu bytes",
                        path, number, linesize - 2);
        if (parse_line(path, number, line, ring, seen, err, errsize) != 0)
            return -1;
    }
    if (ferror(f))
        return errmsg_set(err, errsize, "%s: read failed: %s", path, strerror(errno));
    return check_complete(path, ring, seen, err, errsize);
}

int keys_file_load(const char *path, struct keyring *ring, char *err,
                   size_t errsize)
{
    return keys_file_load_all(path, ring, NULL, err, errsize);
}

/* Parses the open stream f into ring and tokens (when not NULL), naming
 * name in messages, and wipes its own copies of the lines. The caller owns
 * f, which reads from a buffer the caller wipes. */
static int load_stream(const char *name, FILE *f, struct keyring *ring,
                       struct auth_tokens *tokens, char *err, size_t errsize)
{
    char line[KEYS_LINE_MAX];
    struct keys_seen seen;
    int rc;

    memset(&seen, 0, sizeof(seen));
    seen.tokens = tokens;

    rc = parse_stream(name, f, line, sizeof(line), ring, &seen, err, errsize);

    OPENSSL_cleanse(line, sizeof(line));
    OPENSSL_cleanse(&seen, sizeof(seen));
    if (rc != 0) {
        keyring_wipe(ring);
        if (tokens != NULL)
            auth_tokens_wipe(tokens);
    }
    return rc;
}

int keys_file_load_all(const char *path, struct keyring *ring,
                       struct auth_tokens *tokens, char *err, size_t errsize)
{
    char iobuf[BUFSIZ];
    FILE *f;
    int rc;

    keyring_wipe(ring);
    if (tokens != NULL)
        auth_tokens_wipe(tokens);
    f = fopen(path, "r");
    if (f == NULL)
        return errmsg_set(err, errsize, "cannot open keys file %s: %s", path,
                    strerror(errno));
    setvbuf(f, iobuf, _IOFBF, sizeof(iobuf));
    warn_if_readable(path, f);

    rc = load_stream(path, f, ring, tokens, err, errsize);

    fclose(f);
    OPENSSL_cleanse(iobuf, sizeof(iobuf));
    return rc;
}

int keys_file_load_text(const char *name, const char *text, size_t len,
                        struct keyring *ring, char *err, size_t errsize)
{
    char iobuf[BUFSIZ];
    FILE *f;
    int rc;

    keyring_wipe(ring);
    /* Mode "r" only reads the buffer, so casting away const is safe. */
    f = fmemopen((void *)text, len, "r");
    if (f == NULL)
        return errmsg_set(err, errsize, "cannot check the new text of %s: "
                    "fmemopen failed: %s", name, strerror(errno));
    setvbuf(f, iobuf, _IOFBF, sizeof(iobuf));

    rc = load_stream(name, f, ring, NULL, err, errsize);

    fclose(f);
    OPENSSL_cleanse(iobuf, sizeof(iobuf));
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
    char token_hex[2 * AUTH_TOKEN_LEN + 1];
    int rc = -1;

    if (RAND_bytes(secret, sizeof(secret)) != 1)
        goto done;
    hex_encode(secret, sizeof(secret), reader_hex);
    if (RAND_bytes(secret, sizeof(secret)) != 1)
        goto done;
    hex_encode(secret, sizeof(secret), key_hex);
    if (RAND_bytes(secret, AUTH_TOKEN_LEN) != 1)
        goto done;
    hex_encode(secret, AUTH_TOKEN_LEN, token_hex);

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
            "# rotate, run 'tallyctl keys add --activate' (or add signing_key.2\n"
            "# and make it active), then send tallyd SIGHUP; keep signing_key.1\n"
            "# for as long as emails signed with it should still work. A line\n"
            "# signing_key.1.count_until = 2027-01-01 keeps its links working\n"
            "# but stops counting their opens and clicks from that UTC date.\n"
            "signing_key.1 = %s\n"
            "\n"
            "# The key that signs new tokens. Every signing_key.N verifies.\n"
            "active_signing_key = 1\n"
            "\n"
            "# shop_secret.SHOP = <64 hex digits> lets shop SHOP's backend sign\n"
            "# POST /v1/conversions; make one with: openssl rand -hex 32\n"
            "\n"
            "# api_token.NAME = SCOPES HEX: a bearer token for tallyd's API.\n"
            "# Scopes: read (stats API, dashboard), sign (minting URLs), admin\n"
            "# (everything). Send it as 'Authorization: Bearer HEX'.\n"
            "api_token.dashboard = read %s\n",
            reader_hex, key_hex, token_hex);
    if (fflush(out) != 0 || ferror(out))
        goto done;
    rc = 0;

done:
    OPENSSL_cleanse(secret, sizeof(secret));
    OPENSSL_cleanse(reader_hex, sizeof(reader_hex));
    OPENSSL_cleanse(key_hex, sizeof(key_hex));
    OPENSSL_cleanse(token_hex, sizeof(token_hex));
    return rc;
}
