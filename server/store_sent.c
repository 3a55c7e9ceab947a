/*
 * store_sent.c - counting minted emails as sent: one EVALSHA of the SENT
 * script per batch, in the campaign's slot. The script is idempotent, so
 * this path needs no sequence number: a batch sent twice counts once.
 */
#include "store_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ident.h"
#include "log.h"
#include "store_scripts.h"

/* Fixed arguments before the reader ids: EVALSHA sha 3 key key key
 * retention message. */
#define SENT_FIXED_ARGS 8

static void on_sent(redisAsyncContext *ac, void *r, void *privdata)
{
    struct store_op *op = privdata;

    (void)ac;
    store_op_finish(op, !store_reply_failed(op, r, "sent"));
}

void store_count_sent(struct store *st, const char *campaign,
                      const char *message,
                      const uint8_t (*readers)[TOKEN_READER_LEN], size_t n)
{
    char keys[3][SCHEMA_KEY_MAX];
    char retention[24];
    char (*hex)[2 * TOKEN_READER_LEN + 1] = NULL;
    const char **argv = NULL;
    size_t *lens = NULL;
    struct store_op *op;
    size_t argc = SENT_FIXED_ARGS + n;

    if (n == 0 || n > STORE_SENT_BATCH_MAX)
        return;
    op = calloc(1, sizeof(*op));
    hex = calloc(n, sizeof(*hex));
    argv = calloc(argc, sizeof(*argv));
    lens = calloc(argc, sizeof(*lens));
    if (op == NULL || hex == NULL || argv == NULL || lens == NULL) {
        LOG_LIMITED(LOG_LEVEL_ERROR, "store.event_failed",
                    "step=sent error=\"out of memory\"");
        STAT_ADD(st->stats.failed, 1);
        free(op);
        goto done;
    }

    op->st = st;
    snprintf(op->event_id, sizeof(op->event_id), "%s-sent", st->writer);
    st->in_flight++;
    STAT_ADD(st->stats.submitted, 1);

    schema_message_sent(keys[0], campaign, message);
    schema_campaign_sent(keys[1], campaign);
    schema_message_set(keys[2], campaign);
    snprintf(retention, sizeof(retention), "%u",
             (unsigned)st->opts.campaign_retention_s);
    argv[0] = "EVALSHA";
    argv[1] = store_script_sha(SCRIPT_SENT);
    argv[2] = "3";
    argv[3] = keys[0];
    argv[4] = keys[1];
    argv[5] = keys[2];
    argv[6] = retention;
    argv[7] = message;
    for (size_t i = 0; i < n; i++) {
        ident_hex(readers[i], TOKEN_READER_LEN, hex[i]);
        argv[SENT_FIXED_ARGS + i] = hex[i];
    }
    for (size_t i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);

    /* Like register_campaign in store.c: a campaign with only sends is
     * listed too. SADD repeats are harmless. */
    if (st->ac != NULL)
        redisAsyncCommand(st->ac, NULL, NULL, "SADD %s %s", SCHEMA_CAMPAIGNS,
                          campaign);
    if (st->ac == NULL ||
        redisAsyncCommandArgv(st->ac, on_sent, op, (int)argc, argv, lens) != REDIS_OK) {
        LOG_LIMITED(LOG_LEVEL_WARN, "store.event_failed",
                    "step=sent error=\"not connected to redis\"");
        store_op_finish(op, false);
    }

done:
    /* hiredis has formatted the command into its own buffer by now. */
    free(hex);
    free(argv);
    free(lens);
}
