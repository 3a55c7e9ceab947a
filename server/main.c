/*
 * main.c - tallyd: reads the configuration and keys, starts one event loop
 * thread per core (or --threads), hands journals left by an earlier run to
 * them, and stops them in order on SIGTERM or SIGINT. On SIGHUP it rereads
 * the classification data, the suppression list and the keys file (signing
 * keys and API tokens) and hands them to the workers. Each worker swaps
 * its signer and token table in its own thread, and listeners and
 * connections stay open. A file that fails to load keeps the old data,
 * keys and tokens in place. The main thread only waits for signals.
 */
#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "config.h"
#include "keys_file.h"
#include "listen_addr.h"
#include "log.h"
#include "pidfile.h"
#include "redis_url.h"
#include "refdata.h"
#include "renewal_cache.h"
#include "signer.h"
#include "store.h"
#include "worker.h"

_Static_assert(LISTEN_CLAIMS_MAX >= HTTP_MAX_LISTENERS, "every listen address can be claimed");

#define TALLYD_VERSION "0.1.0"
#define THREADS_MAX 64

/* Journal files held by another process at start that tallyd watches, and
 * how often it looks whether they are free. */
#define WAITING_JOURNALS_MAX 64
#define ADOPT_RETRY_S 1

struct supervisor {
    struct worker *workers;
    int n_workers;
    struct event_base *base;
    const struct config *cfg;
    struct signer *signer; /* derives suppressed reader ids on reload */
    int pidfile; /* locked state_dir/tallyd.pid, or -1 (pidfile.h) */
    /* SHA-256 of the reader secret in use: a reload must not change it. */
    uint8_t reader_fingerprint[32];
    /* Journal files another process held at start, owned here until a
     * worker takes them (adopt_waiting). */
    char *waiting[WAITING_JOURNALS_MAX];
    size_t n_waiting;
    unsigned next_adopter;
    struct event *adopt_timer;
};

static void fingerprint(const struct keyring *ring, uint8_t out[32])
{
    unsigned len = 0;

    EVP_Digest(ring->reader_secret, sizeof(ring->reader_secret), out, &len,
               EVP_sha256(), NULL);
}

/* Loads the signing keys and API tokens from the keys file into *ring and
 * *tokens. Returns 0, or -1 after logging why. */
static int load_keys(const struct supervisor *sv, struct keyring *ring,
                     struct auth_tokens *tokens)
{
    char err[512];
    uint8_t fp[32];

    if (keys_file_load_all(sv->cfg->keys, ring, tokens, err, sizeof(err)) != 0) {
        LOG_ERROR("keys.reload_failed", "error=\"%s\" hint=\"the old keys "
                  "and API tokens stay in use; fix the file and send SIGHUP "
                  "again\"", err);
        return -1;
    }
    fingerprint(ring, fp);
    if (CRYPTO_memcmp(fp, sv->reader_fingerprint, sizeof(fp)) != 0) {
        LOG_ERROR("keys.reload_failed", "path=%s error=\"reader_secret "
                  "changed\" hint=\"a new reader secret gives every reader a "
                  "new id; restore the old one, or restart tallyd if the "
                  "change is deliberate\"", sv->cfg->keys);
        return -1;
    }
    return 0;
}

/* Loads the reference data named by cfg. Returns NULL after logging why. */
static struct refdata *load_refdata(const struct config *cfg, struct signer *s)
{
    char err[1400];
    struct refdata *d = refdata_load(cfg->classify_data, cfg->suppression_file, s,
                                     err, sizeof(err));

    if (d == NULL)
        LOG_ERROR("refdata.load_failed", "error=\"%s\"", err);
    return d;
}

/* Hands the signing keys and API tokens of the keys file to every worker.
 * Both come from one read of the file, so a file that fails to load
 * changes neither. */
static void reload_keys(struct supervisor *sv)
{
    struct keyring *ring = calloc(1, sizeof(*ring));
    struct auth_tokens *tokens = calloc(1, sizeof(*tokens));
    int n_keys = 0;

    if (ring == NULL || tokens == NULL) {
        LOG_ERROR("keys.reload_failed", "error=\"out of memory\"");
        goto done;
    }
    if (load_keys(sv, ring, tokens) == 0) {
        for (int i = 0; i < sv->n_workers; i++) {
            worker_reload_keys(&sv->workers[i], ring);
            worker_set_tokens(&sv->workers[i], tokens);
        }
        for (int id = 1; id < KEYRING_MAX_KEYS; id++)
            n_keys += ring->keys[id].present;
        LOG_NOTICE("keys.reloaded", "path=%s active_key=%u signing_keys=%d "
                   "api_tokens=%zu", sv->cfg->keys, (unsigned)ring->active_id,
                   n_keys, tokens->count);
    }

done:
    if (ring != NULL)
        keyring_wipe(ring);
    if (tokens != NULL)
        auth_tokens_wipe(tokens);
    free(ring);
    free(tokens);
}

static void on_reload(evutil_socket_t sig, short what, void *arg)
{
    struct supervisor *sv = arg;
    struct refdata *d;

    (void)sig;
    (void)what;
    LOG_NOTICE("tallyd.signal", "signal=SIGHUP action=reload");
    reload_keys(sv);

    d = load_refdata(sv->cfg, sv->signer);
    if (d == NULL) {
        LOG_WARN("tallyd.reload_failed", "hint=\"the data loaded before stays in use\"");
        return;
    }
    for (int i = 0; i < sv->n_workers; i++)
        worker_set_refdata(&sv->workers[i], d);
    refdata_release(d);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct supervisor *sv = arg;

    (void)what;
    LOG_NOTICE("tallyd.signal", "signal=%s", strsignal((int)sig));
    LOG_NOTICE("tallyd.draining", "workers=%d", sv->n_workers);
    /* Like the listeners, the pid file goes when the drain starts, so a
     * new tallyd with the same state_dir may start meanwhile. */
    pidfile_release(sv->pidfile, sv->cfg->state_dir);
    sv->pidfile = -1;
    for (int i = 0; i < sv->n_workers; i++)
        worker_request_stop(&sv->workers[i]);
    event_base_loopbreak(sv->base);
}

static int thread_count(const struct config *cfg)
{
    long cores;

    if (cfg->threads > 0)
        return cfg->threads > THREADS_MAX ? THREADS_MAX : cfg->threads;
    cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1)
        return 1;
    return cores > THREADS_MAX ? THREADS_MAX : (int)cores;
}

/* Loads keys and the Redis target named by cfg. Returns 0, or -1 after
 * printing why. */
static int load_settings(const struct config *cfg, struct keyring *ring,
                         struct auth_tokens *tokens, struct redis_target *redis)
{
    char err[512];

    if (cfg->redis[0] == '\0') {
        fprintf(stderr, "tallyd: no Redis configured: pass --redis URL "
                        "(redis://host:port or unix:///path)\n");
        return -1;
    }
    if (redis_url_parse(cfg->redis, redis, err, sizeof(err)) != 0) {
        fprintf(stderr, "tallyd: invalid --redis: %s\n", err);
        return -1;
    }
    if (keys_file_load_all(cfg->keys, ring, tokens, err, sizeof(err)) != 0) {
        fprintf(stderr, "tallyd: %s\n(create a keys file with: tallyctl keygen > %s)\n",
                err, cfg->keys);
        return -1;
    }
    return 0;
}

/* Creates state_dir when missing and checks that the journal can be
 * written there. Returns 0, or -1 after printing why. */
static int prepare_state_dir(const char *dir)
{
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "tallyd: cannot create state_dir %s: %s\n", dir, strerror(errno));
        return -1;
    }
    if (access(dir, R_OK | W_OK | X_OK) != 0) {
        fprintf(stderr, "tallyd: state_dir %s is not writable: %s\n", dir,
                strerror(errno));
        return -1;
    }
    return 0;
}

static int is_journal(const struct dirent *d)
{
    size_t len = strlen(d->d_name);
    size_t suffix = strlen(JOURNAL_SUFFIX);

    return len > suffix && strcmp(d->d_name + len - suffix, JOURNAL_SUFFIX) == 0;
}

/* Hands each journal file in state_dir to a worker, round robin. Their
 * events keep their writer ids and sequence numbers, so the replay checks
 * still recognise the ones that reached Redis before the earlier run
 * ended. A file locked by a draining tallyd (a restart during its drain)
 * waits in sv->waiting until that tallyd exits, see adopt_waiting. */
static void adopt_journals(struct supervisor *sv, const char *dir)
{
    struct dirent **names = NULL;
    int n = scandir(dir, &names, is_journal, alphasort);
    char path[2048];

    if (n < 0) {
        LOG_ERROR("journal.scan_failed", "state_dir=%s error=\"%s\"", dir, strerror(errno));
        return;
    }
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
        free(names[i]);
        if (journal_lock_state(path) == 1 && sv->n_waiting < WAITING_JOURNALS_MAX) {
            sv->waiting[sv->n_waiting] = strdup(path);
            if (sv->waiting[sv->n_waiting] != NULL) {
                LOG_NOTICE("journal.adopt_waiting", "path=%s reason=\"another process "
                           "holds it, likely a draining tallyd; adopted once it lets "
                           "go\"", path);
                sv->n_waiting++;
                continue;
            }
        }
        store_adopt_journal(sv->workers[i % sv->n_workers].store, path);
    }
    free(names);
}

/* Runs every ADOPT_RETRY_S while journals wait: hands each one whose lock
 * is free to a worker, and drops one that is gone (its tallyd replayed and
 * removed it). */
static void adopt_waiting(evutil_socket_t fd, short what, void *arg)
{
    struct supervisor *sv = arg;
    const struct timeval retry = {ADOPT_RETRY_S, 0};
    size_t n_kept = 0;

    (void)fd;
    (void)what;
    for (size_t i = 0; i < sv->n_waiting; i++) {
        char *path = sv->waiting[i];
        int state = journal_lock_state(path);

        if (state == 0 &&
            worker_adopt_journal(&sv->workers[sv->next_adopter++ % sv->n_workers],
                                 path) != 0)
            state = 1; /* that worker is busy: the next run tries again */
        if (state == 1) {
            sv->waiting[n_kept++] = path;
            continue;
        }
        if (state < 0)
            LOG_INFO("journal.adopt_gone", "path=%s", path);
        free(path);
    }
    sv->n_waiting = n_kept;
    if (sv->n_waiting > 0)
        evtimer_add(sv->adopt_timer, &retry);
}

/* Claims every address of the listen list before any loop binds one (see
 * listen_addr.h). Writes to bind_list the addresses the loops bind: the
 * list, with the port the claim took in place of each port 0, so that
 * every loop shares that port. Returns 0, or -1 after logging why. */
static int claim_all(struct listen_claims *claims, const char *list, char *bind_list,
                     size_t bind_size)
{
    char addr[CONFIG_STR_MAX], bound[CONFIG_STR_MAX];
    const char *cursor = list;
    size_t used = 0;

    bind_list[0] = '\0';
    while (config_list_next(&cursor, addr, sizeof(addr)) == 1) {
        int n;

        if (listen_claims_add(claims, addr, bound, sizeof(bound)) != 0)
            return -1;
        n = snprintf(bind_list + used, bind_size - used, "%s%s", used > 0 ? "," : "",
                     bound);
        if (n < 0 || (size_t)n >= bind_size - used) {
            LOG_ERROR("http.listen_failed", "addr=%s error=\"the listen list with "
                      "its picked ports is over %zu bytes\"", list, bind_size - 1);
            return -1;
        }
        used += (size_t)n;
    }
    return 0;
}

static int listen_all(struct supervisor *sv, const char *bind_list)
{
    for (int i = 0; i < sv->n_workers; i++)
        if (worker_listen(&sv->workers[i], bind_list) != 0)
            return -1;
    return 0;
}

static int serve(const struct config *cfg, struct keyring *ring,
                 const struct auth_tokens *tokens, const struct redis_target *redis)
{
    struct supervisor sv = {0};
    struct event *sigterm = NULL, *sigint = NULL, *sighup = NULL;
    struct refdata *refdata = NULL;
    struct renewal_cache *renewals = NULL;
    struct listen_claims claims;
    /* Up to 4 addresses, each of which may grow by a port of 5 digits. */
    char where[512], bind_list[CONFIG_STR_MAX + 32], err[512];
    int started = 0;
    int rc = 1;

    sv.pidfile = -1;
    sv.n_workers = thread_count(cfg);
    listen_claims_init(&claims, sv.n_workers);
    sv.workers = calloc((size_t)sv.n_workers, sizeof(*sv.workers));
    sv.base = event_base_new();
    if (sv.workers == NULL || sv.base == NULL)
        goto cleanup;

    redis_url_describe(redis, where, sizeof(where));
    LOG_NOTICE("tallyd.start", "version=%s pid=%d listen=%s threads=%d redis=%s",
               TALLYD_VERSION, (int)getpid(), cfg->listen, sv.n_workers, where);

    sv.cfg = cfg;
    sv.signer = signer_new(ring);
    if (sv.signer == NULL)
        goto cleanup;
    refdata = load_refdata(cfg, sv.signer);
    if (refdata == NULL)
        goto cleanup;
    renewals = renewal_cache_new(cfg->renewal_cache);
    if (renewals == NULL && cfg->renewal_cache > 0) {
        LOG_ERROR("tallyd.start_failed", "error=\"out of memory for renewal_cache=%zu\"",
                  cfg->renewal_cache);
        goto cleanup;
    }

    if (claim_all(&claims, cfg->listen, bind_list, sizeof(bind_list)) != 0)
        goto cleanup;
    sv.pidfile = pidfile_claim(cfg->state_dir, err, sizeof(err));
    if (sv.pidfile < 0) {
        LOG_ERROR("tallyd.start_failed", "error=\"%s\"", err);
        goto cleanup;
    }
    for (int i = 0; i < sv.n_workers; i++) {
        if (worker_init(&sv.workers[i], i, cfg, ring, redis, refdata, renewals) != 0)
            goto cleanup;
        sv.workers[i].claims = &claims;
        sv.workers[i].tokens = tokens;
        sv.workers[i].peers = sv.workers;
        sv.workers[i].n_peers = sv.n_workers;
    }
    if (listen_all(&sv, bind_list) != 0)
        goto cleanup;
    listen_claims_bound(&claims);
    if (tokens->count == 0)
        LOG_NOTICE("tallyd.no_api_tokens", "hint=\"the stats API and dashboard "
                   "answer 401 until the keys file has an api_token line\"");
    adopt_journals(&sv, cfg->state_dir);
    if (sv.n_waiting > 0) {
        const struct timeval retry = {ADOPT_RETRY_S, 0};

        sv.adopt_timer = evtimer_new(sv.base, adopt_waiting, &sv);
        if (sv.adopt_timer == NULL || evtimer_add(sv.adopt_timer, &retry) != 0)
            goto cleanup;
    }
    /* The workers and the supervisor hold their own signers now; the
     * secrets can go. */
    fingerprint(ring, sv.reader_fingerprint);
    keyring_wipe(ring);

    sigterm = evsignal_new(sv.base, SIGTERM, on_signal, &sv);
    sigint = evsignal_new(sv.base, SIGINT, on_signal, &sv);
    sighup = evsignal_new(sv.base, SIGHUP, on_reload, &sv);
    if (sigterm == NULL || sigint == NULL || sighup == NULL ||
        evsignal_add(sigterm, NULL) != 0 || evsignal_add(sigint, NULL) != 0 ||
        evsignal_add(sighup, NULL) != 0)
        goto cleanup;

    for (; started < sv.n_workers; started++)
        if (worker_start(&sv.workers[started]) != 0)
            goto cleanup;
    LOG_NOTICE("tallyd.ready", "listen=%s pid_file=%s/%s", sv.workers[0].listen_bound,
               cfg->state_dir, PIDFILE_NAME);

    event_base_dispatch(sv.base);
    rc = 0;

cleanup:
    if (rc != 0)
        for (int i = 0; i < started; i++)
            worker_request_stop(&sv.workers[i]);
    for (int i = 0; i < started; i++)
        worker_join(&sv.workers[i]);
    for (int i = 0; sv.workers != NULL && i < sv.n_workers; i++)
        worker_free(&sv.workers[i]);
    listen_claims_release(&claims);
    pidfile_release(sv.pidfile, cfg->state_dir);
    if (sigterm != NULL)
        event_free(sigterm);
    if (sigint != NULL)
        event_free(sigint);
    if (sighup != NULL)
        event_free(sighup);
    if (sv.adopt_timer != NULL)
        event_free(sv.adopt_timer);
    for (size_t i = 0; i < sv.n_waiting; i++)
        free(sv.waiting[i]);
    refdata_release(refdata);
    renewal_cache_free(renewals);
    if (sv.signer != NULL)
        signer_free(sv.signer);
    if (sv.base != NULL)
        event_base_free(sv.base);
    free(sv.workers);
    LOG_NOTICE("tallyd.exit", "status=%d", rc);
    return rc;
}

int main(int argc, char **argv)
{
    static struct config cfg;
    static struct auth_tokens tokens;
    struct keyring ring;
    struct redis_target redis;
    char err[512];
    int rc;

    signal(SIGPIPE, SIG_IGN);
    rc = config_from_args(&cfg, argc, argv, err, sizeof(err));
    if (rc == 1)
        return 0;
    if (rc != 0) {
        fprintf(stderr, "tallyd: %s (see tallyd --help)\n", err);
        return 2;
    }
    log_min_level = cfg.log_level;

    if (load_settings(&cfg, &ring, &tokens, &redis) != 0 ||
        prepare_state_dir(cfg.state_dir) != 0)
        return 1;
    if (evthread_use_pthreads() != 0) {
        fprintf(stderr, "tallyd: libevent has no pthreads support\n");
        return 1;
    }
    rc = serve(&cfg, &ring, &tokens, &redis);
    auth_tokens_wipe(&tokens);
    return rc;
}
