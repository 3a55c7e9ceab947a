/*
 * cli_redis.c - connecting tallyctl to Redis.
 *
 * NOTE: cmd_stats.c has its own copy of these steps; it can switch to
 * cli_redis_connect once both are on one branch.
 */
#include "cli_redis.h"

#include <sys/time.h>

#include "cli.h"
#include "redis_url.h"

#define CLI_REDIS_TIMEOUT_S 5

/* Runs one setup command; returns 0, or -1 after printing Redis's error. */
static int setup_command(redisContext *c, const char *command, const char *what,
                         redisReply *reply)
{
    if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
        cli_error("%s: Redis rejected %s: %s", command, what,
                  reply != NULL ? reply->str : c->errstr);
        freeReplyObject(reply);
        return -1;
    }
    freeReplyObject(reply);
    return 0;
}

redisContext *cli_redis_connect(const char *command, const char *url)
{
    struct timeval timeout = {CLI_REDIS_TIMEOUT_S, 0};
    struct redis_target t;
    char err[512];
    char where[512];
    redisContext *c;

    if (redis_url_parse(url, &t, err, sizeof(err)) != 0) {
        cli_error("%s: --redis is invalid: %s", command, err);
        return NULL;
    }
    if (t.is_unix)
        c = redisConnectUnixWithTimeout(t.path, timeout);
    else
        c = redisConnectWithTimeout(t.host, t.port, timeout);
    redis_url_describe(&t, where, sizeof(where));
    if (c == NULL || c->err != 0) {
        cli_error("%s: cannot connect to Redis at %s: %s; check that it runs "
                  "and the URL is right", command, where,
                  c != NULL ? c->errstr : "out of memory");
        redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, timeout);

    if (t.password[0] != '\0' &&
        setup_command(c, command, "AUTH",
                      t.user[0] != '\0'
                          ? redisCommand(c, "AUTH %s %s", t.user, t.password)
                          : redisCommand(c, "AUTH %s", t.password)) != 0)
        goto fail;
    if (t.db != 0 &&
        setup_command(c, command, "SELECT", redisCommand(c, "SELECT %d", t.db)) != 0)
        goto fail;
    return c;

fail:
    redisFree(c);
    return NULL;
}
