/*
 * cmd_rewrite.c - "tallyctl rewrite": one tracked email per recipient from
 * a campaign's HTML template.
 *
 * The template is scanned once (tracking/rewrite.c); per recipient only the
 * pixel and click URLs are minted and the template's bytes are copied
 * around them. Two forms:
 *
 *   --recipients list.csv --out DIR   one DIR/<id or row>.html per CSV row
 *   --stream                          one recipient per line on standard
 *                                     input, length-prefixed records on
 *                                     standard output (docs/rewrite.md)
 *
 * With --redis, every recipient is counted as sent for the campaign and
 * message (HyperLogLogs, see docs/redis-schema.md), in batches of
 * STORE_SENT_BATCH_MAX. Addresses are hashed as they are read and never
 * written anywhere.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <csv.h>
#include <hiredis/hiredis.h>
#include <openssl/crypto.h>

#include "b64url.h"
#include "cli.h"
#include "ident.h"
#include "keys_file.h"
#include "rewrite.h"
#include "schema.h"
#include "store.h"
#include "store_scripts.h"
#include "tally.h"

#define TEMPLATE_MAX (16 * 1024 * 1024)
#define MERGE_TAGS_MAX 16
#define SKIP_PATTERNS_MAX 32
#define FIELD_MAX 512 /* bytes of a CSV field tally reads */

static const char rewrite_usage[] =
    "Usage: tallyctl [--keys FILE] [--redis URL] rewrite --base URL\n"
    "                --campaign ID --message ID --template FILE\n"
    "                (--recipients FILE.csv --out DIR | --stream) [OPTIONS]\n"
    "\n"
    "Writes one tracked copy of the HTML template per recipient: every\n"
    "trackable link becomes a click URL and an open pixel goes before </body>.\n"
    "\n"
    "  --base URL            tallyd's address as readers reach it\n"
    "  --campaign ID         campaign id: 1 to 32 of A-Z a-z 0-9 . _ -\n"
    "  --message ID          message id, same characters\n"
    "  --template FILE       the email's HTML\n"
    "  --recipients FILE     CSV with a header row and a column 'email' or\n"
    "                        'email_sha256'; an 'id' column names the files\n"
    "  --out DIR             where DIR/<id or row>.html and DIR/links.tsv go\n"
    "  --stream              read one address (or, with --input sha256, one\n"
    "                        email hash) per line from standard input and\n"
    "                        write one record per line to standard output:\n"
    "                        'ok N LENGTH' newline, LENGTH bytes, newline; or\n"
    "                        'error N REASON' newline\n"
    "  --input email|sha256  what a --stream line holds (default email)\n"
    "  --links FILE          write 'link id <TAB> destination' lines here\n"
    "  --utm                 add utm_source, utm_medium, utm_campaign where\n"
    "                        a link lacks them\n"
    "  --utm-source NAME     utm_source value (default newsletter)\n"
    "  --utm-medium NAME     utm_medium value (default email)\n"
    "  --merge-tags LIST     merge tag delimiters, space-separated pairs\n"
    "                        (default '{{ }} *| |* %% %% {$ } [[ ]]')\n"
    "  --skip-patterns LIST  comma-separated words that mark unsubscribe and\n"
    "                        preference links (default unsubscribe,optout,\n"
    "                        opt-out,opt_out,preferences,manage-subscription)\n"
    "  --redis URL           count every recipient as sent in this Redis\n";

struct rewrite_args {
    const char *base;
    const char *campaign;
    const char *message;
    const char *template_path;
    const char *recipients;
    const char *out;
    const char *input;
    const char *links;
    const char *utm_source;
    const char *utm_medium;
    const char *merge_tags;
    const char *skip_patterns;
    const char *keys;
    bool stream;
    bool utm;
};

/* Everything the per-recipient step needs. */
struct rewriter {
    const struct rewrite_args *args;
    struct signer *signer;
    struct tally_email email;
    char *html;
    size_t html_len;
    struct rewrite_plan plan;
    char **click_urls;   /* one buffer per destination */
    size_t *click_lens;
    size_t *click_caps;
    char pixel[TALLY_URL_MAX];
    size_t pixel_len;
    /* Sent counting: reader ids not yet sent to Redis. */
    redisContext *redis;
    uint32_t retention_s;
    uint8_t (*batch)[TOKEN_READER_LEN];
    size_t batch_len;
    unsigned long long written;
    unsigned long long failed;
};

static int read_template(const char *path, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n = 0;
    size_t cap = 0;

    if (f == NULL) {
        cli_error("rewrite: cannot open --template %s: %s", path, strerror(errno));
        return -1;
    }
    for (;;) {
        size_t got;

        if (n == cap) {
            char *bigger;

            cap = cap == 0 ? 65536 : 2 * cap;
            bigger = cap > TEMPLATE_MAX ? NULL : realloc(buf, cap);
            if (bigger == NULL) {
                cli_error("rewrite: --template %s is larger than %d bytes",
                          path, TEMPLATE_MAX);
                goto fail;
            }
            buf = bigger;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        cli_error("rewrite: cannot read --template %s: %s", path, strerror(errno));
        goto fail;
    }
    fclose(f);
    *out = buf;
    *len = n;
    return 0;

fail:
    fclose(f);
    free(buf);
    return -1;
}

/* Splits text at sep into at most max NUL-terminated parts of copy (owned
 * by the caller). Returns the number of parts. */
static size_t split(char *copy, const char *sep, const char **parts, size_t max)
{
    size_t n = 0;
    char *save = NULL;

    for (char *p = strtok_r(copy, sep, &save); p != NULL && n < max;
         p = strtok_r(NULL, sep, &save))
        parts[n++] = p;
    return n;
}

/* Builds the plan of the template from the options. */
static int build_plan(struct rewriter *rw)
{
    const struct rewrite_args *a = rw->args;
    static struct rewrite_merge_tag tags[MERGE_TAGS_MAX];
    static const char *tag_parts[2 * MERGE_TAGS_MAX];
    static const char *patterns[SKIP_PATTERNS_MAX];
    static char tags_copy[1024], patterns_copy[2048];
    struct rewrite_options opts = {
        .tracked_base = a->base,
        .utm = a->utm,
        .utm_source = a->utm_source != NULL ? a->utm_source : "newsletter",
        .utm_medium = a->utm_medium != NULL ? a->utm_medium : "email",
        .utm_campaign = a->campaign,
    };
    struct rewrite_error err;

    if (a->merge_tags != NULL) {
        size_t n;

        snprintf(tags_copy, sizeof tags_copy, "%s", a->merge_tags);
        n = split(tags_copy, " \t", tag_parts, 2 * MERGE_TAGS_MAX);
        if (n == 0 || n % 2 != 0) {
            cli_error("rewrite: --merge-tags must list pairs: OPEN CLOSE "
                      "[OPEN CLOSE ...], such as '{{ }} *| |*'");
            return -1;
        }
        for (size_t i = 0; i < n / 2; i++) {
            tags[i].open = tag_parts[2 * i];
            tags[i].close = tag_parts[2 * i + 1];
        }
        opts.merge_tags = tags;
        opts.n_merge_tags = n / 2;
    }
    if (a->skip_patterns != NULL) {
        snprintf(patterns_copy, sizeof patterns_copy, "%s", a->skip_patterns);
        opts.skip_patterns = patterns;
        opts.n_skip_patterns = split(patterns_copy, ",", patterns, SKIP_PATTERNS_MAX);
    }

    if (rewrite_plan_build(rw->html, rw->html_len, &opts, &rw->plan, &err) != 0) {
        cli_error("rewrite: %s: %s", a->template_path, err.message);
        return -1;
    }
    return 0;
}

static int write_links(const struct rewriter *rw, const char *path)
{
    FILE *f = fopen(path, "w");

    if (f == NULL) {
        cli_error("rewrite: cannot create %s: %s", path, strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < rw->plan.n_dests; i++)
        fprintf(f, "%zu\t%s\n", i + 1, rw->plan.dests[i].url);
    if (fclose(f) != 0) {
        cli_error("rewrite: cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* Prints what happened to the template's links, once, to standard error. */
static void print_summary(const struct rewriter *rw)
{
    size_t counts[REWRITE_SKIP_PATTERN + 1] = {0};

    for (size_t i = 0; i < rw->plan.n_links; i++)
        counts[rw->plan.links[i].action]++;
    fprintf(stderr, "tallyctl: rewrite: %zu links, %zu tracked to %zu "
            "destinations", rw->plan.n_links, counts[REWRITE_TRACKED],
            rw->plan.n_dests);
    for (int a = REWRITE_SKIP_OFF; a <= REWRITE_SKIP_PATTERN; a++) {
        if (counts[a] > 0)
            fprintf(stderr, ", %zu %s", counts[a],
                    rewrite_action_name((enum rewrite_action)a));
    }
    fputc('\n', stderr);
}

/* Sends the batch of reader ids to Redis as sent. */
static int flush_sent(struct rewriter *rw)
{
    const char *argv[8 + STORE_SENT_BATCH_MAX];
    size_t lens[8 + STORE_SENT_BATCH_MAX];
    char hex[STORE_SENT_BATCH_MAX][2 * TOKEN_READER_LEN + 1];
    char keys[3][SCHEMA_KEY_MAX];
    char retention[24];
    redisReply *reply;
    size_t argc = 8 + rw->batch_len;
    int rc = 0;

    if (rw->redis == NULL || rw->batch_len == 0)
        return 0;
    schema_message_sent(keys[0], rw->args->campaign, rw->args->message);
    schema_campaign_sent(keys[1], rw->args->campaign);
    schema_message_set(keys[2], rw->args->campaign);
    snprintf(retention, sizeof retention, "%u", (unsigned)rw->retention_s);
    argv[0] = "EVAL";
    argv[1] = store_script_source(SCRIPT_SENT);
    argv[2] = "3";
    argv[3] = keys[0];
    argv[4] = keys[1];
    argv[5] = keys[2];
    argv[6] = retention;
    argv[7] = rw->args->message;
    for (size_t i = 0; i < rw->batch_len; i++) {
        ident_hex(rw->batch[i], TOKEN_READER_LEN, hex[i]);
        argv[8 + i] = hex[i];
    }
    for (size_t i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);

    /* List the campaign, as tallyd's store_sent.c does, so that the stats
     * API and tallyctl stats find a campaign with only sends. */
    reply = redisCommand(rw->redis, "SADD %s %s", SCHEMA_CAMPAIGNS, rw->args->campaign);
    if (reply != NULL && reply->type != REDIS_REPLY_ERROR) {
        freeReplyObject(reply);
        reply = redisCommandArgv(rw->redis, (int)argc, argv, lens);
    }
    if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
        cli_error("rewrite: counting sent emails in Redis failed: %s",
                  reply != NULL ? reply->str : rw->redis->errstr);
        rc = -1;
    }
    freeReplyObject(reply);
    rw->batch_len = 0;
    return rc;
}

/* Mints the recipient's URLs into rw. Returns 0, or -1 with a reason. */
static int mint_urls(struct rewriter *rw, const char **why)
{
    long n = tally_mint_pixel(rw->signer, &rw->email, rw->pixel, sizeof rw->pixel);

    if (n < 0) {
        *why = "signing the pixel URL failed";
        return -1;
    }
    rw->pixel_len = (size_t)n;
    for (size_t i = 0; i < rw->plan.n_dests; i++) {
        n = tally_mint_click(rw->signer, &rw->email, (uint32_t)(i + 1),
                             rw->plan.dests[i].url, rw->plan.dests[i].len,
                             rw->click_urls[i], rw->click_caps[i]);
        if (n < 0) {
            *why = "signing a click URL failed";
            return -1;
        }
        rw->click_lens[i] = (size_t)n;
    }
    return 0;
}

static int write_file(void *arg, const char *bytes, size_t n)
{
    return fwrite(bytes, 1, n, arg) == n ? 0 : -1;
}

/* Derives the reader id of one recipient (an address, or a hash when
 * is_hash), mints its URLs and counts it for Redis. */
static int prepare_recipient(struct rewriter *rw, const char *text, size_t len,
                             bool is_hash, const char **why)
{
    int rc = is_hash ? tally_reader_from_sha256_hex(rw->signer, text, len,
                                                    rw->email.reader)
                     : tally_reader_from_email(rw->signer, text, len,
                                               rw->email.reader);

    if (rc != 0) {
        *why = is_hash ? "email_sha256 must be 64 hex digits"
                       : "the address is empty";
        return -1;
    }
    if (mint_urls(rw, why) != 0)
        return -1;

    if (rw->redis != NULL) {
        memcpy(rw->batch[rw->batch_len++], rw->email.reader, TOKEN_READER_LEN);
        if (rw->batch_len == STORE_SENT_BATCH_MAX && flush_sent(rw) != 0) {
            *why = "counting sent emails in Redis failed";
            return -1;
        }
    }
    return 0;
}

static int render_to(struct rewriter *rw, FILE *f)
{
    return rewrite_render(&rw->plan, rw->html, rw->html_len,
                          (const char *const *)rw->click_urls, rw->click_lens,
                          rw->pixel, rw->pixel_len, write_file, f);
}

/* ---- streaming form ------------------------------------------------ */

static int run_stream(struct rewriter *rw, bool hashes)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    unsigned long long number = 0;

    while ((got = getline(&line, &cap, stdin)) >= 0) {
        size_t len = (size_t)got;
        const char *why = NULL;

        number++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        if (prepare_recipient(rw, line, len, hashes, &why) != 0) {
            printf("error %llu %s\n", number, why);
            rw->failed++;
            continue;
        }
        printf("ok %llu %zu\n", number,
               rewrite_render_len(&rw->plan, rw->html_len, rw->click_lens,
                                  rw->pixel_len));
        if (render_to(rw, stdout) != 0 || putchar('\n') == EOF) {
            cli_error("rewrite: writing to standard output failed: %s",
                      strerror(errno));
            free(line);
            return -1;
        }
        rw->written++;
    }
    if (line != NULL)
        OPENSSL_cleanse(line, cap);
    free(line);
    return 0;
}

/* ---- CSV form -------------------------------------------------------- */

/* State of the CSV reader: the header row names the columns. */
struct csv_state {
    struct rewriter *rw;
    const char *dir;
    long email_col;    /* -1 until the header names it */
    long id_col;
    bool hashes;       /* the column is email_sha256 */
    long col;          /* of the next field */
    unsigned long long row; /* data rows seen */
    bool header_done;
    char email[FIELD_MAX];
    size_t email_len;
    bool email_too_long;
    char id[TOKEN_ID_MAX + 1];
    bool id_valid;
    int status;
};

static void on_header_field(struct csv_state *cs, const char *f, size_t n)
{
    if ((n == 5 && strncasecmp(f, "email", 5) == 0) ||
        (n == 12 && strncasecmp(f, "email_sha256", 12) == 0)) {
        cs->email_col = cs->col;
        cs->hashes = n == 12;
    } else if (n == 2 && strncasecmp(f, "id", 2) == 0) {
        cs->id_col = cs->col;
    }
}

static void on_field(void *field, size_t n, void *arg)
{
    struct csv_state *cs = arg;
    const char *f = field != NULL ? field : "";

    if (!cs->header_done) {
        on_header_field(cs, f, n);
    } else if (cs->col == cs->email_col) {
        cs->email_too_long = n >= sizeof cs->email;
        cs->email_len = cs->email_too_long ? 0 : n;
        memcpy(cs->email, f, cs->email_len);
    } else if (cs->col == cs->id_col) {
        cs->id_valid = token_id_valid(f, n);
        if (cs->id_valid) {
            memcpy(cs->id, f, n);
            cs->id[n] = '\0';
        }
    }
    cs->col++;
}

/* Writes one recipient's file. The name comes from the id column when the
 * CSV has one, else from the row number. */
static void process_row(struct csv_state *cs)
{
    struct rewriter *rw = cs->rw;
    char path[4096];
    const char *why = NULL;
    FILE *f;

    cs->row++;
    if (cs->id_col >= 0 && !cs->id_valid) {
        cli_error("rewrite: row %llu: the id column must hold 1 to 32 of A-Z "
                  "a-z 0-9 . _ -; row skipped", cs->row);
        rw->failed++;
        return;
    }
    if (cs->id_col >= 0)
        snprintf(path, sizeof path, "%s/%s.html", cs->dir, cs->id);
    else
        snprintf(path, sizeof path, "%s/%06llu.html", cs->dir, cs->row);

    if (cs->email_too_long ||
        prepare_recipient(rw, cs->email, cs->email_len, cs->hashes, &why) != 0) {
        cli_error("rewrite: row %llu: %s; row skipped", cs->row,
                  why != NULL ? why : "the address is too long");
        rw->failed++;
        return;
    }

    f = fopen(path, "wb");
    if (f == NULL || render_to(rw, f) != 0 || fclose(f) != 0) {
        cli_error("rewrite: cannot write %s: %s", path, strerror(errno));
        cs->status = -1;
        return;
    }
    rw->written++;
}

static void on_row(int terminator, void *arg)
{
    struct csv_state *cs = arg;

    (void)terminator;
    if (!cs->header_done) {
        cs->header_done = true;
        if (cs->email_col < 0) {
            cli_error("rewrite: the first row of --recipients must name a "
                      "column 'email' or 'email_sha256'");
            cs->status = -1;
        }
    } else if (cs->status == 0) {
        process_row(cs);
    }
    cs->col = 0;
    cs->email_len = 0;
    cs->email_too_long = false;
    cs->id_valid = false;
    OPENSSL_cleanse(cs->email, sizeof cs->email);
}

static int run_csv(struct rewriter *rw, const char *csv_path, const char *dir)
{
    struct csv_parser parser;
    struct csv_state cs = {.rw = rw, .dir = dir, .email_col = -1, .id_col = -1};
    char buf[65536];
    FILE *f = fopen(csv_path, "rb");
    size_t n;

    if (f == NULL) {
        cli_error("rewrite: cannot open --recipients %s: %s", csv_path,
                  strerror(errno));
        return -1;
    }
    if (csv_init(&parser, CSV_APPEND_NULL) != 0) {
        fclose(f);
        cli_error("rewrite: out of memory");
        return -1;
    }

    while (cs.status == 0 && (n = fread(buf, 1, sizeof buf, f)) > 0) {
        if (csv_parse(&parser, buf, n, on_field, on_row, &cs) != n) {
            cli_error("rewrite: %s is not valid CSV near row %llu: %s",
                      csv_path, cs.row + 1, csv_strerror(csv_error(&parser)));
            cs.status = -1;
        }
    }
    if (cs.status == 0)
        csv_fini(&parser, on_field, on_row, &cs);
    csv_free(&parser);
    fclose(f);
    OPENSSL_cleanse(buf, sizeof buf);
    return cs.status;
}

/* ---- set-up ---------------------------------------------------------- */

static int check_args(const struct rewrite_args *a)
{
    const char *missing = a->base == NULL       ? "--base"
                          : a->campaign == NULL ? "--campaign"
                          : a->message == NULL  ? "--message"
                          : a->template_path == NULL ? "--template"
                                                     : NULL;

    if (missing != NULL) {
        cli_error("rewrite: %s is missing; run tallyctl rewrite --help", missing);
        return -1;
    }
    if (!token_id_valid(a->campaign, strlen(a->campaign)) ||
        !token_id_valid(a->message, strlen(a->message))) {
        cli_error("rewrite: --campaign and --message must be 1 to %d of A-Z "
                  "a-z 0-9 . _ -", TOKEN_ID_MAX);
        return -1;
    }
    if (a->stream == (a->recipients != NULL) ||
        (a->recipients != NULL) != (a->out != NULL)) {
        cli_error("rewrite: give either --stream, or --recipients FILE with "
                  "--out DIR");
        return -1;
    }
    if (a->input != NULL && strcmp(a->input, "email") != 0 &&
        strcmp(a->input, "sha256") != 0) {
        cli_error("rewrite: --input must be 'email' or 'sha256'");
        return -1;
    }
    if (tally_base_check(a->base) < 0) {
        cli_error("rewrite: --base '%s' is invalid: use an http:// or https:// "
                  "URL with a host and no query, at most %d bytes of letters, "
                  "digits and - . _ ~ : / %% [ ] @", a->base, TALLY_BASE_MAX);
        return -1;
    }
    return 0;
}

/* Allocates one click URL buffer per destination, sized for its token. */
static int alloc_urls(struct rewriter *rw)
{
    size_t n = rw->plan.n_dests == 0 ? 1 : rw->plan.n_dests;

    rw->click_urls = calloc(n, sizeof *rw->click_urls);
    rw->click_lens = calloc(n, sizeof *rw->click_lens);
    rw->click_caps = calloc(n, sizeof *rw->click_caps);
    if (rw->click_urls == NULL || rw->click_lens == NULL || rw->click_caps == NULL)
        return -1;
    for (size_t i = 0; i < rw->plan.n_dests; i++) {
        size_t token_bytes = TOKEN_BINARY_MAX - TOKEN_DEST_MAX + rw->plan.dests[i].len;

        rw->click_caps[i] = rw->email.base_len + 3 +
                            B64URL_ENCODED_LEN(token_bytes) + 1;
        rw->click_urls[i] = malloc(rw->click_caps[i]);
        if (rw->click_urls[i] == NULL)
            return -1;
    }
    return 0;
}

static int load_signer(struct rewriter *rw)
{
    static struct keyring ring;
    char err[512];

    if (keys_file_load(rw->args->keys, &ring, err, sizeof err) != 0) {
        cli_error("rewrite: %s", err);
        return -1;
    }
    rw->signer = signer_new(&ring);
    keyring_wipe(&ring);
    if (rw->signer == NULL) {
        cli_error("rewrite: could not set up HMAC signing (OpenSSL failed)");
        return -1;
    }
    return 0;
}

static void free_rewriter(struct rewriter *rw)
{
    for (size_t i = 0; rw->click_urls != NULL && i < rw->plan.n_dests; i++)
        free(rw->click_urls[i]);
    free(rw->click_urls);
    free(rw->click_lens);
    free(rw->click_caps);
    free(rw->batch);
    rewrite_plan_free(&rw->plan);
    free(rw->html);
    signer_free(rw->signer);
    if (rw->redis != NULL)
        redisFree(rw->redis);
}

/* Connects to the Redis that counts sent emails. */
static int connect_redis(struct rewriter *rw, const struct cli_globals *g)
{
    struct redis_target target;
    char err[512];

    if (redis_url_parse(g->redis, &target, err, sizeof err) != 0) {
        cli_error("rewrite: --redis is invalid: %s", err);
        return -1;
    }
    rw->retention_s = g->campaign_retention_s;
    rw->batch = calloc(STORE_SENT_BATCH_MAX, sizeof *rw->batch);
    if (rw->batch == NULL) {
        cli_error("rewrite: out of memory");
        return -1;
    }
    rw->redis = cli_redis_connect(&target);
    return rw->redis == NULL ? -1 : 0;
}

/* Prepares everything but the recipients: template, plan, keys, Redis. */
static int prepare(struct rewriter *rw, const struct cli_globals *g)
{
    const struct rewrite_args *a = rw->args;
    char links_path[4096];

    if (read_template(a->template_path, &rw->html, &rw->html_len) != 0 ||
        build_plan(rw) != 0 || load_signer(rw) != 0)
        return -1;

    rw->email.base = a->base;
    rw->email.base_len = (size_t)tally_base_check(a->base);
    rw->email.campaign = a->campaign;
    rw->email.message = a->message;
    rw->email.issued = (uint32_t)time(NULL);
    if (alloc_urls(rw) != 0) {
        cli_error("rewrite: out of memory");
        return -1;
    }

    if (a->out != NULL && mkdir(a->out, 0755) != 0 && errno != EEXIST) {
        cli_error("rewrite: cannot create --out %s: %s", a->out, strerror(errno));
        return -1;
    }
    if (a->links != NULL && write_links(rw, a->links) != 0)
        return -1;
    if (a->out != NULL) {
        snprintf(links_path, sizeof links_path, "%s/links.tsv", a->out);
        if (write_links(rw, links_path) != 0)
            return -1;
    }

    if (g->redis != NULL)
        return connect_redis(rw, g);
    return 0;
}

int cmd_rewrite(const struct cli_globals *g, int argc, char **argv)
{
    struct rewrite_args a = {.keys = g->keys};
    struct rewriter rw;
    const struct cli_option opts[] = {
        {"base", &a.base, NULL},
        {"campaign", &a.campaign, NULL},
        {"message", &a.message, NULL},
        {"template", &a.template_path, NULL},
        {"recipients", &a.recipients, NULL},
        {"out", &a.out, NULL},
        {"stream", NULL, &a.stream},
        {"input", &a.input, NULL},
        {"links", &a.links, NULL},
        {"utm", NULL, &a.utm},
        {"utm-source", &a.utm_source, NULL},
        {"utm-medium", &a.utm_medium, NULL},
        {"merge-tags", &a.merge_tags, NULL},
        {"skip-patterns", &a.skip_patterns, NULL},
        {"keys", &a.keys, NULL},
    };
    int rc = cli_parse_options("rewrite", argc, argv, opts,
                               sizeof opts / sizeof opts[0]);

    if (rc == 1) {
        fputs(rewrite_usage, stdout);
        return CLI_EXIT_OK;
    }
    if (rc != 0 || check_args(&a) != 0)
        return CLI_EXIT_USAGE;

    memset(&rw, 0, sizeof rw);
    rw.args = &a;
    rc = prepare(&rw, g);
    if (rc == 0) {
        print_summary(&rw);
        rc = a.stream ? run_stream(&rw, a.input != NULL && strcmp(a.input, "sha256") == 0)
                      : run_csv(&rw, a.recipients, a.out);
    }
    if (rc == 0)
        rc = flush_sent(&rw);
    if (rc == 0 && fflush(stdout) != 0) {
        cli_error("rewrite: writing to standard output failed: %s", strerror(errno));
        rc = -1;
    }
    if (rc == 0)
        fprintf(stderr, "tallyctl: rewrite: %llu emails written, %llu "
                "recipients failed%s\n", rw.written, rw.failed,
                rw.redis != NULL ? ", all written ones counted as sent" : "");

    free_rewriter(&rw);
    if (rc != 0 || rw.failed > 0)
        return CLI_EXIT_FAILURE;
    return CLI_EXIT_OK;
}
