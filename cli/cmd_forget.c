/*
 * cmd_forget.c - "tallyctl forget": remove every per-reader key and every
 * identity link of one reader from Redis, by the steps of forget.h.
 *
 * The reader is named the way a shop knows a person: by address (--email,
 * normalised and hashed here) or by email_sha256. Its reader id needs the
 * reader secret, so the keys file must be readable.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "forget.h"
#include "keyring.h"
#include "keys_file.h"
#include "schema.h"
#include "signer.h"

static const char forget_usage[] =
    "Usage: tallyctl [--keys FILE] --redis URL forget\n"
    "                (--email ADDRESS | --email-sha256 HEX)\n"
    "\n"
    "Removes the reader's touchpoints, marks, devices and link set, and the\n"
    "reader from every customer and device link; a link left with no reader\n"
    "is deleted. Prints how many keys were deleted; running it again for the\n"
    "same reader deletes 0.\n"
    "\n"
    "  --email ADDRESS     the reader's address; only its hash is used\n"
    "  --email-sha256 HEX  SHA-256 of the normalised address, 64 hex digits\n"
    "  --keys FILE         keys file with the reader secret (default keys.conf)\n"
    "  --redis URL         Redis to clean: redis://[user:password@]host:port[/db]\n"
    "                      or unix:///path/to/redis.sock[?db=N]\n";

/* Derives the reader id of hash with the reader secret of keys_path. */
static int reader_of(const char *keys_path, const uint8_t hash[IDENT_SHA256_LEN],
                     uint8_t reader[TOKEN_READER_LEN])
{
    static struct keyring ring;
    struct signer *signer;
    char err[512];
    int rc;

    if (keys_file_load(keys_path, &ring, err, sizeof(err)) != 0) {
        cli_error("forget: %s", err);
        return -1;
    }
    signer = signer_new(&ring);
    keyring_wipe(&ring);
    if (signer == NULL) {
        cli_error("forget: could not set up HMAC (OpenSSL failed)");
        return -1;
    }
    rc = ident_reader_id(signer, hash, reader);
    signer_free(signer);
    if (rc != 0)
        cli_error("forget: could not derive the reader id (OpenSSL failed)");
    return rc;
}

/* Sends one command and adds its integer reply to *deleted. */
static int run_counted(redisContext *c, int argc, const char **argv, long *deleted)
{
    redisReply *reply = redisCommandArgv(c, argc, argv, NULL);
    int rc = 0;

    if (reply == NULL || reply->type != REDIS_REPLY_INTEGER) {
        cli_error("forget: %s failed: %s", argv[0],
                  reply == NULL ? c->errstr
                  : reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
        rc = -1;
    } else {
        *deleted += reply->integer;
    }
    freeReplyObject(reply);
    return rc;
}

static int forget_reader(redisContext *c, const uint8_t reader[TOKEN_READER_LEN],
                         long *deleted)
{
    char keys[SCHEMA_READER_KEYS][SCHEMA_KEY_MAX];
    char reader_hex[2 * TOKEN_READER_LEN + 1];
    redisReply *links;
    int rc = 0;

    schema_reader_all(keys, reader);
    ident_hex(reader, TOKEN_READER_LEN, reader_hex);

    links = redisCommand(c, "SMEMBERS %s", keys[SCHEMA_READER_KEYS - 1]);
    if (links == NULL || links->type != REDIS_REPLY_ARRAY) {
        cli_error("forget: SMEMBERS %s failed: %s", keys[SCHEMA_READER_KEYS - 1],
                  links == NULL ? c->errstr
                  : links->type == REDIS_REPLY_ERROR ? links->str : "not a set");
        freeReplyObject(links);
        return -1;
    }
    for (size_t i = 0; i < links->elements && rc == 0; i++) {
        const char *argv[] = {"EVAL", STORE_FORGET_LINK_LUA, "1",
                              links->element[i]->str, reader_hex};

        if (links->element[i]->type == REDIS_REPLY_STRING)
            rc = run_counted(c, 5, argv, deleted);
    }
    freeReplyObject(links);
    if (rc != 0)
        return -1;

    _Static_assert(SCHEMA_READER_KEYS == 3, "list every reader key below");
    const char *del[] = {"DEL", keys[0], keys[1], keys[2]};
    return run_counted(c, 1 + SCHEMA_READER_KEYS, del, deleted);
}

int cmd_forget(const struct cli_globals *g, int argc, char **argv)
{
    const char *email = NULL, *email_sha256 = NULL;
    const char *keys = g->keys, *url = g->redis;
    const struct cli_option opts[] = {
        {"email", &email, NULL},
        {"email-sha256", &email_sha256, NULL},
        {"keys", &keys, NULL},
        {"redis", &url, NULL},
    };
    uint8_t hash[IDENT_SHA256_LEN];
    uint8_t reader[TOKEN_READER_LEN];
    struct redis_target target;
    redisContext *c;
    char err[512];
    long deleted = 0;
    int rc = cli_parse_options("forget", argc, argv, opts, sizeof(opts) / sizeof(opts[0]));

    if (rc == 1) {
        fputs(forget_usage, stdout);
        return CLI_EXIT_OK;
    }
    if (rc != 0 || cli_email_hash("forget", email, email_sha256, hash) != 0)
        return CLI_EXIT_USAGE;
    if (url == NULL) {
        cli_error("forget: no Redis given: pass --redis URL or --config FILE");
        return CLI_EXIT_USAGE;
    }
    if (redis_url_parse(url, &target, err, sizeof(err)) != 0) {
        cli_error("forget: --redis: %s", err);
        return CLI_EXIT_USAGE;
    }
    if (reader_of(keys, hash, reader) != 0)
        return CLI_EXIT_FAILURE;

    c = cli_redis_connect(&target);
    memset(&target, 0, sizeof(target)); /* drops the password */
    if (c == NULL)
        return CLI_EXIT_FAILURE;
    rc = forget_reader(c, reader, &deleted);
    redisFree(c);
    if (rc != 0)
        return CLI_EXIT_FAILURE;
    printf("deleted %ld keys\n", deleted);
    return CLI_EXIT_OK;
}
