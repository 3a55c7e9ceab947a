/*
 * cli_redis.h - a blocking Redis connection for tallyctl commands, with
 * AUTH and SELECT from the URL and a 5-second timeout on every command.
 */
#ifndef TALLY_CLI_REDIS_H
#define TALLY_CLI_REDIS_H

#include <hiredis/hiredis.h>

/* Connects to the Redis URL url for command (named in errors). Returns the
 * context, or NULL after printing why. Free with redisFree. */
redisContext *cli_redis_connect(const char *command, const char *url);

#endif
