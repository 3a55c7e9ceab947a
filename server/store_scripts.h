/*
 * store_scripts.h - the Lua scripts the store runs with EVALSHA.
 *
 * Each script touches keys of one Redis Cluster slot and is safe to run
 * again for the same event: that is what makes a retried or replayed event
 * count once. The store loads them with SCRIPT LOAD on every new connection
 * and calls them by their SHA-1.
 */
#ifndef TALLY_STORE_SCRIPTS_H
#define TALLY_STORE_SCRIPTS_H

enum store_script {
    SCRIPT_READER_TOUCH = 0,
    SCRIPT_CAMPAIGN_TOUCH,
    SCRIPT_CAMPAIGN_SUMS,
    SCRIPT_ORDER_CLAIM,
    SCRIPT_CAMPAIGN_CONVERT,
    SCRIPT_LINK_ADD,
    SCRIPT_LINK_LOOKUP,
    SCRIPT_ORDER_REFUND,
    SCRIPT_CAMPAIGN_REFUND,
    SCRIPT_CAMPAIGN_VERIFY,
    SCRIPT_SHOP_COUNT,
    SCRIPT_READER_LINK,
    SCRIPT_FORGET_LINK,
    SCRIPT_SENT,
    SCRIPT_COUNT,
};

/* Returns the source of a script. */
const char *store_script_source(enum store_script script);

/* Returns the 40-hex-digit SHA-1 of a script, computed once. */
const char *store_script_sha(enum store_script script);

#endif
