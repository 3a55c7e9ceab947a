/*
 * cmd_url.c - "tallyctl url open" and "tallyctl url click": mint the pixel
 * and click URLs of one recipient, signed with the active key of the keys
 * file.
 *
 * The recipient is given as an address (--email), which is normalised and
 * hashed here, or as the hash a shop already has (--email-sha256). Either
 * way only the keyed reader id derived from the hash goes into the token.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "classify.h"
#include "cli.h"
#include "ident.h"
#include "keyring.h"
#include "keys_file.h"
#include "rewrite.h"
#include "signer.h"
#include "tally.h"
#include "token.h"
#include "url.h"

static const char url_usage[] =
    "Usage: tallyctl [--keys FILE] url open  --base URL --campaign ID\n"
    "                --message ID (--email ADDRESS | --email-sha256 HEX)\n"
    "                [--link N]\n"
    "       tallyctl [--keys FILE] url click --base URL --campaign ID\n"
    "                --message ID (--email ADDRESS | --email-sha256 HEX)\n"
    "                --to DEST [--link N | --honeypot]\n"
    "\n"
    "Prints BASE/o/TOKEN.gif (open) or BASE/c/TOKEN (click).\n"
    "\n"
    "  --base URL          http:// or https:// address of tallyd, as readers\n"
    "                      reach it; one trailing '/' is dropped\n"
    "  --campaign ID       campaign id: 1 to 32 of A-Z a-z 0-9 . _ -\n"
    "  --message ID        message (email) id, same characters\n"
    "  --email ADDRESS     recipient address; only its keyed hash is used\n"
    "  --email-sha256 HEX  SHA-256 of the normalised address, 64 hex digits\n"
    "  --to DEST           click only: the http(s) destination URL, without\n"
    "                      a merge tag such as {{name}} or *|FNAME|*\n"
    "  --link N            link number within the message (default 1)\n"
    "  --honeypot          click only: mint the honeypot link, the link id\n"
    "                      4294967295 reserved for a link hidden from people;\n"
    "                      a click on it marks the reader's clicks around it\n"
    "                      as a machine's\n"
    "  --keys FILE         keys file to sign with (default keys.conf)\n";

struct url_args {
    const char *base;
    const char *campaign;
    const char *message;
    const char *email;
    const char *email_sha256;
    const char *to;
    const char *link;
    const char *keys;
    bool honeypot;
};

/* Checks --base and returns its length without one trailing '/'. */
static int check_base(const char *base, size_t *len)
{
    enum url_status status;
    size_t n = strlen(base);

    if (strncasecmp(base, "http://", 7) != 0 &&
        strncasecmp(base, "https://", 8) != 0) {
        cli_error("url: --base '%s' must start with http:// or https://", base);
        return -1;
    }
    if (strpbrk(base, "?#") != NULL) {
        cli_error("url: --base '%s' must not have a query or fragment", base);
        return -1;
    }
    status = url_check_destination(base, n, "tly");
    if (status != URL_OK) {
        cli_error("url: --base is invalid: %s", url_status_message(status));
        return -1;
    }
    /* The rule tallyd applies to public_url, so that both mint the same
     * URLs from the same base. */
    if (tally_base_check(base) < 0) {
        cli_error("url: --base '%s' is invalid: use at most %d bytes, without "
                  "spaces, control bytes or any of & \" ' < > ` =", base,
                  TALLY_BASE_MAX);
        return -1;
    }
    if (n > 0 && base[n - 1] == '/')
        n--;
    *len = n;
    return 0;
}

static int check_id(const char *option, const char *id)
{
    if (id == NULL) {
        cli_error("url: --%s is missing", option);
        return -1;
    }
    if (!token_id_valid(id, strlen(id))) {
        cli_error("url: --%s '%s' is invalid: use 1 to %d of A-Z a-z 0-9 . _ -",
                  option, id, TOKEN_ID_MAX);
        return -1;
    }
    return 0;
}

static int parse_link(const char *text, uint32_t *link)
{
    char *end;
    unsigned long long value;

    if (text == NULL) {
        *link = 1;
        return 0;
    }
    if (text[0] < '0' || text[0] > '9')
        goto bad;
    value = strtoull(text, &end, 10);
    if (*end != '\0' || value > UINT32_MAX)
        goto bad;
    *link = (uint32_t)value;
    return 0;

bad:
    cli_error("url: --link '%s' is invalid: use a number from 0 to %u", text,
              UINT32_MAX);
    return -1;
}

int cli_email_hash(const char *command, const char *email,
                   const char *email_sha256, uint8_t out[IDENT_SHA256_LEN])
{
    if ((email == NULL) == (email_sha256 == NULL)) {
        cli_error("%s: give exactly one of --email and --email-sha256", command);
        return -1;
    }
    if (email != NULL) {
        if (ident_email_sha256(email, strlen(email), out) != 0) {
            cli_error("%s: --email is empty after trimming whitespace", command);
            return -1;
        }
        return 0;
    }
    if (ident_parse_sha256_hex(email_sha256, strlen(email_sha256), out) != 0) {
        cli_error("%s: --email-sha256 must be 64 hex digits", command);
        return -1;
    }
    return 0;
}

/* Checks every argument and fills t (all but the reader id). */
static int check_args(const struct url_args *a, enum token_kind kind,
                      struct token *t, size_t *base_len)
{
    if (a->base == NULL) {
        cli_error("url: --base is missing");
        return -1;
    }
    if (check_base(a->base, base_len) != 0 ||
        check_id("campaign", a->campaign) != 0 ||
        check_id("message", a->message) != 0 || parse_link(a->link, &t->link) != 0)
        return -1;
    if (a->honeypot && (kind != TOKEN_CLICK || a->link != NULL)) {
        cli_error("url: --honeypot is only for url click, without --link");
        return -1;
    }
    if (a->honeypot)
        t->link = CLASSIFY_HONEYPOT_LINK;

    memset(t->campaign, 0, sizeof(t->campaign));
    memset(t->message, 0, sizeof(t->message));
    strcpy(t->campaign, a->campaign);
    strcpy(t->message, a->message);
    t->kind = kind;
    t->issued = (uint32_t)time(NULL);

    if (kind == TOKEN_OPEN) {
        if (a->to != NULL) {
            cli_error("url open: --to is only for url click");
            return -1;
        }
        return 0;
    }

    if (a->to == NULL) {
        cli_error("url click: --to is missing: give the destination URL");
        return -1;
    }
    enum url_status status = url_check_destination(a->to, strlen(a->to), "tly");
    const struct rewrite_merge_tag *tag =
        rewrite_find_merge_tag(a->to, strlen(a->to), NULL, 0);

    if (tag != NULL) {
        cli_error("url click: --to '%s' contains the merge tag %s %s: a signed "
                  "URL would keep it unfilled, so leave this link untracked "
                  "(tallyctl rewrite does)", a->to, tag->open, tag->close);
        return -1;
    }
    if (status != URL_OK) {
        cli_error("url click: --to is invalid: %s", url_status_message(status));
        return -1;
    }
    t->dest = a->to;
    t->dest_len = strlen(a->to);
    return 0;
}

/* Loads the keys, derives the reader id, signs and prints the URL. */
static int mint(const char *keys_path, const struct url_args *a,
                struct token *t, size_t base_len,
                const uint8_t hash[IDENT_SHA256_LEN])
{
    static struct keyring ring;
    static char text[TOKEN_TEXT_MAX + 1];
    struct signer *signer = NULL;
    char err[512];
    long len;
    int rc = CLI_EXIT_FAILURE;

    if (keys_file_load(keys_path, &ring, err, sizeof(err)) != 0) {
        cli_error("url: %s", err);
        return CLI_EXIT_FAILURE;
    }
    signer = signer_new(&ring);
    keyring_wipe(&ring);
    if (signer == NULL) {
        cli_error("url: could not set up HMAC signing (OpenSSL failed)");
        return CLI_EXIT_FAILURE;
    }

    if (ident_reader_id(signer, hash, t->reader) != 0) {
        cli_error("url: could not derive the reader id (OpenSSL failed)");
        goto done;
    }
    len = token_encode(signer, t, text, sizeof(text) - 1);
    if (len < 0) {
        cli_error("url: could not encode the token: a field is too long");
        goto done;
    }

    printf("%.*s/%s/%.*s%s\n", (int)base_len, a->base,
           t->kind == TOKEN_OPEN ? "o" : "c", (int)len, text,
           t->kind == TOKEN_OPEN ? ".gif" : "");
    rc = fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAILURE;

done:
    signer_free(signer);
    return rc;
}

int cmd_url(const struct cli_globals *g, int argc, char **argv)
{
    struct url_args a = {.keys = g->keys};
    struct token t;
    uint8_t hash[IDENT_SHA256_LEN];
    size_t base_len = 0;
    enum token_kind kind;
    const struct cli_option opts[] = {
        {"base", &a.base, NULL},       {"campaign", &a.campaign, NULL},
        {"message", &a.message, NULL}, {"email", &a.email, NULL},
        {"email-sha256", &a.email_sha256, NULL},
        {"to", &a.to, NULL},           {"link", &a.link, NULL},
        {"keys", &a.keys, NULL},       {"honeypot", NULL, &a.honeypot},
    };
    int rc;

    if (argc >= 1 && strcmp(argv[0], "--help") == 0) {
        fputs(url_usage, stdout);
        return CLI_EXIT_OK;
    }
    if (argc < 1 || (strcmp(argv[0], "open") != 0 &&
                     strcmp(argv[0], "click") != 0)) {
        cli_error("url: expected 'url open' or 'url click'; run tallyctl url "
                  "--help");
        return CLI_EXIT_USAGE;
    }
    kind = strcmp(argv[0], "open") == 0 ? TOKEN_OPEN : TOKEN_CLICK;

    rc = cli_parse_options(kind == TOKEN_OPEN ? "url open" : "url click",
                           argc - 1, argv + 1, opts,
                           sizeof(opts) / sizeof(opts[0]));
    if (rc == 1) {
        fputs(url_usage, stdout);
        return CLI_EXIT_OK;
    }
    if (rc != 0)
        return CLI_EXIT_USAGE;

    memset(&t, 0, sizeof(t));
    if (check_args(&a, kind, &t, &base_len) != 0 ||
        cli_email_hash("url", a.email, a.email_sha256, hash) != 0)
        return CLI_EXIT_USAGE;
    return mint(a.keys, &a, &t, base_len, hash);
}
