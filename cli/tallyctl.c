/*
 * tallyctl.c - the command-line tool: global options, the keygen command
 * and the dispatch to the url, stats, recount and forget commands.
 *
 *   tallyctl keygen > keys.conf
 *   tallyctl --keys keys.conf url open|click --base URL --campaign ID ...
 *   tallyctl --redis URL stats --campaign ID [--json]
 *   tallyctl --redis URL recount --campaign ID --model MODEL [--shop ID]
 *   tallyctl --keys keys.conf --redis URL forget --email ADDRESS
 *
 * tallyctl takes the keys file and the Redis URL from tallyd's config file
 * when given --config, so one file serves both programs.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "keys_file.h"

static const char usage[] =
    "Usage: tallyctl [GLOBAL OPTIONS] COMMAND [OPTIONS]\n"
    "\n"
    "Global options:\n"
    "  --config FILE     take keys and redis from this tallyd config file\n"
    "  --keys FILE       keys file to sign with (default keys.conf)\n"
    "  --redis URL       Redis to read: redis://[user:password@]host:port[/db]\n"
    "                    or unix:///path/to/redis.sock[?db=N]\n"
    "  --help            print this help and exit\n"
    "  --version         print the version and exit\n"
    "\n"
    "Commands:\n"
    "  keygen            print a new keys file with fresh random secrets\n"
    "  url open          print the open pixel URL for one recipient\n"
    "  url click         print the click URL of one link for one recipient\n"
    "  stats             print a campaign's counters from Redis\n"
    "  rewrite           write one tracked copy of an HTML email per recipient\n"
    "  keys add          add a signing key to the keys file (key rotation)\n"
    "  keys retire       give a retired key the date its links stop counting\n"
    "  keys list         print the key ids, the active one and end dates\n"
    "  recount           recount a campaign's orders under another model\n"
    "  forget            remove every trace of one reader from Redis\n"
    "\n"
    "Run 'tallyctl COMMAND --help' for the options of a command.\n";

void cli_error(const char *fmt, ...)
{
    va_list ap;

    fputs("tallyctl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static const struct cli_option *find_cli_option(const struct cli_option *opts,
                                                size_t n_opts, const char *name,
                                                size_t name_len)
{
    for (size_t i = 0; i < n_opts; i++) {
        if (strlen(opts[i].name) == name_len &&
            strncmp(opts[i].name, name, name_len) == 0)
            return &opts[i];
    }
    return NULL;
}

int cli_parse_options(const char *command, int argc, char **argv,
                      const struct cli_option *opts, size_t n_opts)
{
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0)
            return 1;
    }

    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        const char *eq;
        size_t name_len;
        const struct cli_option *opt;

        if (strncmp(arg, "--", 2) != 0) {
            cli_error("%s: unexpected argument '%s'; options start with --",
                      command, arg);
            return -1;
        }
        arg += 2;
        eq = strchr(arg, '=');
        name_len = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
        opt = find_cli_option(opts, n_opts, arg, name_len);
        if (opt == NULL) {
            cli_error("%s: unknown option --%.*s; run tallyctl %s --help for the list",
                      command, (int)name_len, arg, command);
            return -1;
        }

        if (opt->value == NULL) {
            if (eq != NULL) {
                cli_error("%s: option --%s takes no value", command, opt->name);
                return -1;
            }
            *opt->flag = true;
            continue;
        }
        if (eq != NULL) {
            *opt->value = eq + 1;
            continue;
        }
        if (i + 1 >= argc || strncmp(argv[i + 1], "--", 2) == 0) {
            cli_error("%s: option --%s needs a value", command, opt->name);
            return -1;
        }
        *opt->value = argv[++i];
    }
    return 0;
}

/* Writes a new keys file to standard output. When that is a regular file
 * (tallyctl keygen > keys.conf), it is first made readable by its owner
 * only, because the shell created it with the umask's mode. */
static int cmd_keygen(int argc, char **argv)
{
    struct stat st;
    int rc = cli_parse_options("keygen", argc, argv, NULL, 0);

    if (rc == 1) {
        printf("Usage: tallyctl keygen > keys.conf\n"
               "\n"
               "Prints a keys file with a fresh random reader secret and\n"
               "signing key 1, active. Redirected to a file, the file is made\n"
               "readable by its owner only (mode 600).\n");
        return CLI_EXIT_OK;
    }
    if (rc != 0)
        return CLI_EXIT_USAGE;

    if (fstat(STDOUT_FILENO, &st) == 0 && S_ISREG(st.st_mode) &&
        fchmod(STDOUT_FILENO, S_IRUSR | S_IWUSR) != 0)
        cli_error("keygen: could not make the output file mode 600; run "
                  "chmod 600 on it");

    if (keys_file_generate(stdout) != 0) {
        cli_error("keygen: could not generate or write the keys file");
        return CLI_EXIT_FAILURE;
    }
    return CLI_EXIT_OK;
}

/* Fills g from --config FILE: its keys and redis values, where set. */
static int load_config(const char *path, struct config *cfg,
                       struct cli_globals *g)
{
    char err[512];

    config_defaults(cfg);
    if (config_load_file(cfg, path, err, sizeof(err)) != 0) {
        cli_error("%s", err);
        return -1;
    }
    g->keys = cfg->keys;
    g->campaign_retention_s = (uint32_t)(cfg->campaign_retention_ms / 1000);
    if (cfg->redis[0] != '\0')
        g->redis = cfg->redis;
    return 0;
}

/* Parses the global options in front of the command; *next receives the
 * index of the command. Returns 0; 1 after --help or --version; -1 on a
 * bad option and -2 on a config file that cannot be loaded, both already
 * reported. */
static int parse_globals(int argc, char **argv, struct cli_globals *g,
                         struct config *cfg, int *next)
{
    const char *config_path = NULL;
    const char *keys = NULL;
    const char *redis = NULL;
    int i = 1;

    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        const char *arg = argv[i];
        const char **dest = NULL;
        const char *eq = strchr(arg, '=');
        size_t len = eq != NULL ? (size_t)(eq - arg) : strlen(arg);

        if (strcmp(arg, "--help") == 0) {
            fputs(usage, stdout);
            return 1;
        }
        if (strcmp(arg, "--version") == 0) {
            printf("tallyctl %s\n", TALLY_VERSION);
            return 1;
        }
        if (len == 8 && strncmp(arg, "--config", len) == 0)
            dest = &config_path;
        else if (len == 6 && strncmp(arg, "--keys", len) == 0)
            dest = &keys;
        else if (len == 7 && strncmp(arg, "--redis", len) == 0)
            dest = &redis;
        if (dest == NULL) {
            cli_error("unknown option %.*s; run tallyctl --help for the list", (int)len,
                      arg);
            return -1;
        }

        if (eq != NULL) {
            *dest = eq + 1;
        } else if (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0) {
            *dest = argv[++i];
        } else {
            cli_error("option %s needs a value", arg);
            return -1;
        }
    }

    if (config_path != NULL && load_config(config_path, cfg, g) != 0)
        return -2;
    if (keys != NULL)
        g->keys = keys;
    if (redis != NULL)
        g->redis = redis;
    *next = i;
    return 0;
}

int main(int argc, char **argv)
{
    static struct config cfg;
    struct cli_globals g = {.keys = "keys.conf", .redis = NULL};
    int next = 0;
    int rc;
    const char *command;

    config_defaults(&cfg);
    g.campaign_retention_s = (uint32_t)(cfg.campaign_retention_ms / 1000);
    rc = parse_globals(argc, argv, &g, &cfg, &next);

    if (rc == 1)
        return CLI_EXIT_OK;
    if (rc == -2)
        return CLI_EXIT_FAILURE;
    if (rc != 0)
        return CLI_EXIT_USAGE;

    if (next >= argc) {
        cli_error("missing command: keygen, keys, url, rewrite, stats, recount or "
                  "forget; run tallyctl --help");
        return CLI_EXIT_USAGE;
    }
    command = argv[next];
    argc -= next + 1;
    argv += next + 1;

    if (strcmp(command, "keygen") == 0)
        return cmd_keygen(argc, argv);
    if (strcmp(command, "url") == 0)
        return cmd_url(&g, argc, argv);
    if (strcmp(command, "stats") == 0)
        return cmd_stats(&g, argc, argv);
    if (strcmp(command, "rewrite") == 0)
        return cmd_rewrite(&g, argc, argv);
    if (strcmp(command, "keys") == 0)
        return cmd_keys(&g, argc, argv);
    if (strcmp(command, "recount") == 0)
        return cmd_recount(&g, argc, argv);
    if (strcmp(command, "forget") == 0)
        return cmd_forget(&g, argc, argv);

    cli_error("unknown command '%s': use keygen, keys, url, rewrite, stats, "
              "recount or forget", command);
    return CLI_EXIT_USAGE;
}
