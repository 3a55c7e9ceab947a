/*
 * cli.h - what the parts of tallyctl share: exit codes, the global options
 * and a small option parser for the commands.
 *
 * Exit codes: 0 on success, 1 when the work failed at run time (a keys file
 * that cannot be read, a Redis that cannot be reached), 2 on bad arguments.
 * Every error is one line on standard error starting with "tallyctl: ".
 */
#ifndef TALLY_CLI_H
#define TALLY_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "ident.h"
#include "redis_url.h"

#define CLI_EXIT_OK 0
#define CLI_EXIT_FAILURE 1
#define CLI_EXIT_USAGE 2

/* Options that come before the command (and may be repeated after it). */
struct cli_globals {
    const char *keys;  /* keys file; "keys.conf" unless --keys or --config */
    const char *redis; /* Redis URL; NULL unless --redis or --config */
    uint32_t campaign_retention_s; /* campaign_retention of --config, or its default */
};

/* One option of a command. A value option stores its text in *value; a
 * switch (value == NULL) sets *flag. */
struct cli_option {
    const char *name; /* without the leading dashes: "campaign" */
    const char **value;
    bool *flag;
};

/* Parses argv[0..argc) against opts: "--name value", "--name=value" and
 * "--help". Returns 0; 1 when --help was given (nothing else is checked);
 * -1 after printing a one-line error naming command. */
int cli_parse_options(const char *command, int argc, char **argv,
                      const struct cli_option *opts, size_t n_opts);

/* Prints "tallyctl: " and the formatted message to standard error. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Connects to t with a timeout and sends AUTH and SELECT as t needs.
 * Returns the context, or NULL after printing why. */
redisContext *cli_redis_connect(const struct redis_target *t);

/* Turns exactly one of email (an address, normalised and hashed here) and
 * email_sha256 (64 hex digits) into the 32-byte email hash. Returns 0, or
 * -1 after printing an error that starts with command. */
int cli_email_hash(const char *command, const char *email,
                   const char *email_sha256, uint8_t out[IDENT_SHA256_LEN]);

/* The commands. argv[0] is the first argument after the command's name. */
int cmd_url(const struct cli_globals *g, int argc, char **argv);
int cmd_stats(const struct cli_globals *g, int argc, char **argv);
int cmd_rewrite(const struct cli_globals *g, int argc, char **argv);
int cmd_keys(const struct cli_globals *g, int argc, char **argv);
int cmd_recount(const struct cli_globals *g, int argc, char **argv);
int cmd_forget(const struct cli_globals *g, int argc, char **argv);

#endif
