/*
 * cmd_keys.c - "tallyctl keys": key rotation on the keys file.
 *
 *   tallyctl --keys FILE keys add [--activate]
 *   tallyctl --keys FILE keys activate --id N
 *   tallyctl --keys FILE keys retire --id N --count-until YYYY-MM-DD
 *   tallyctl --keys FILE keys list
 *
 * Each change is checked and written atomically by keys_edit.c; tallyd
 * picks it up on SIGHUP. No secret is ever printed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "keyring.h"
#include "keys_edit.h"
#include "keys_file.h"

static const char keys_usage[] =
    "Usage: tallyctl [--keys FILE] keys add [--activate]\n"
    "       tallyctl [--keys FILE] keys activate --id N\n"
    "       tallyctl [--keys FILE] keys retire --id N --count-until DATE\n"
    "       tallyctl [--keys FILE] keys list\n"
    "\n"
    "  add                  append a new random signing key under the next\n"
    "                       free id and print the id\n"
    "  --activate           also make it the key that signs new links; the\n"
    "                       old keys keep verifying\n"
    "  activate             make key N the one that signs new links; do this\n"
    "                       once every tallyd has loaded key N, or links\n"
    "                       minted in between get 400 until it has\n"
    "  retire               give key N the UTC date (YYYY-MM-DD or\n"
    "                       YYYY-MM-DDTHH:MM:SSZ) from which opens and clicks\n"
    "                       on its links stop counting; they keep redirecting\n"
    "  list                 print each key id, whether it is active, and its\n"
    "                       end date\n"
    "\n"
    "Then send tallyd SIGHUP (kill -HUP PID) to load the file.\n";

static int keys_add(const char *path, int argc, char **argv)
{
    bool activate = false;
    const struct cli_option opts[] = {{"activate", NULL, &activate}};
    char err[512];
    int id = 0;
    int rc = cli_parse_options("keys add", argc, argv, opts, 1);

    if (rc != 0)
        return rc == 1 ? (fputs(keys_usage, stdout), CLI_EXIT_OK) : CLI_EXIT_USAGE;
    if (keys_edit_add(path, activate, &id, err, sizeof err) != 0) {
        cli_error("keys add: %s", err);
        return CLI_EXIT_FAILURE;
    }
    printf("%d\n", id);
    fprintf(stderr, "tallyctl: keys add: signing_key.%d added to %s%s; send "
            "tallyd SIGHUP to load it\n", id, path,
            activate ? " and made active" : "");
    return CLI_EXIT_OK;
}

/* Parses --id N of a keys subcommand. Returns the id, or 0 after printing
 * why it is invalid. */
static int parse_key_id(const char *command, const char *id_text)
{
    char *end = NULL;
    long id;

    if (id_text == NULL) {
        cli_error("%s: give --id N", command);
        return 0;
    }
    id = strtol(id_text, &end, 10);
    if (*id_text == '\0' || *end != '\0' || id < 1 || id > 255) {
        cli_error("%s: --id '%s' is invalid: use a key id from 1 to 255", command,
                  id_text);
        return 0;
    }
    return (int)id;
}

static int keys_activate(const char *path, int argc, char **argv)
{
    const char *id_text = NULL;
    const struct cli_option opts[] = {{"id", &id_text, NULL}};
    char err[512];
    int id;
    int rc = cli_parse_options("keys activate", argc, argv, opts, 1);

    if (rc != 0)
        return rc == 1 ? (fputs(keys_usage, stdout), CLI_EXIT_OK) : CLI_EXIT_USAGE;
    id = parse_key_id("keys activate", id_text);
    if (id == 0)
        return CLI_EXIT_USAGE;
    if (keys_edit_activate(path, id, err, sizeof err) != 0) {
        cli_error("keys activate: %s", err);
        return CLI_EXIT_FAILURE;
    }
    fprintf(stderr, "tallyctl: keys activate: signing_key.%d signs new links in %s; "
            "send tallyd SIGHUP to load it\n", id, path);
    return CLI_EXIT_OK;
}

static int keys_retire(const char *path, int argc, char **argv)
{
    const char *id_text = NULL;
    const char *until = NULL;
    const struct cli_option opts[] = {
        {"id", &id_text, NULL},
        {"count-until", &until, NULL},
    };
    char err[512];
    int id;
    int rc = cli_parse_options("keys retire", argc, argv, opts, 2);

    if (rc != 0)
        return rc == 1 ? (fputs(keys_usage, stdout), CLI_EXIT_OK) : CLI_EXIT_USAGE;
    if (id_text == NULL || until == NULL) {
        cli_error("keys retire: give --id N and --count-until DATE");
        return CLI_EXIT_USAGE;
    }
    id = parse_key_id("keys retire", id_text);
    if (id == 0)
        return CLI_EXIT_USAGE;
    if (keys_edit_count_until(path, id, until, err, sizeof err) != 0) {
        cli_error("keys retire: %s", err);
        return CLI_EXIT_FAILURE;
    }
    fprintf(stderr, "tallyctl: keys retire: signing_key.%d counts until %s; "
            "send tallyd SIGHUP to load it\n", id, until);
    return CLI_EXIT_OK;
}

static int keys_list(const char *path, int argc, char **argv)
{
    static struct keyring ring;
    char err[512];
    int rc = cli_parse_options("keys list", argc, argv, NULL, 0);

    if (rc != 0)
        return rc == 1 ? (fputs(keys_usage, stdout), CLI_EXIT_OK) : CLI_EXIT_USAGE;
    if (keys_file_load(path, &ring, err, sizeof err) != 0) {
        cli_error("keys list: %s", err);
        return CLI_EXIT_FAILURE;
    }
    for (int id = 1; id < KEYRING_MAX_KEYS; id++) {
        char until[32] = "-";

        if (!ring.keys[id].present)
            continue;
        if (ring.keys[id].count_until != 0) {
            time_t t = (time_t)ring.keys[id].count_until;
            struct tm tm;

            strftime(until, sizeof until, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
        }
        printf("%d\t%s\tcount_until=%s\n", id,
               id == ring.active_id ? "active" : "verify-only", until);
    }
    keyring_wipe(&ring);
    return CLI_EXIT_OK;
}

int cmd_keys(const struct cli_globals *g, int argc, char **argv)
{
    if (argc >= 1 && strcmp(argv[0], "--help") == 0) {
        fputs(keys_usage, stdout);
        return CLI_EXIT_OK;
    }
    if (argc >= 1 && strcmp(argv[0], "add") == 0)
        return keys_add(g->keys, argc - 1, argv + 1);
    if (argc >= 1 && strcmp(argv[0], "activate") == 0)
        return keys_activate(g->keys, argc - 1, argv + 1);
    if (argc >= 1 && strcmp(argv[0], "retire") == 0)
        return keys_retire(g->keys, argc - 1, argv + 1);
    if (argc >= 1 && strcmp(argv[0], "list") == 0)
        return keys_list(g->keys, argc - 1, argv + 1);
    cli_error("keys: expected 'keys add', 'keys activate', 'keys retire' or 'keys "
              "list'; run tallyctl keys --help");
    return CLI_EXIT_USAGE;
}
