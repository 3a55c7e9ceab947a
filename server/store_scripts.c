/*
 * store_scripts.c - sources of the store's Lua scripts.
 *
 * Redis runs a script atomically, so each one either applies all of its
 * updates or none. Retention arguments are seconds and are set with a plain
 * EXPIRE on every write, so a key lives a fixed time after its last write.
 */
#include "store_scripts.h"

#include "forget.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

/*
 * Records an open or a click in the reader's slot, and decides the two
 * verdicts that need the reader's earlier clicks.
 * KEYS: touchpoints zset, first-touch marks hash, touchpoint devices hash.
 * ARGV: member, time, campaign mark, message mark, event id, retention,
 *       max touchpoints kept, verdict, "1" for a click, burst window (s),
 *       burst links, honeypot window (s), "device|client" of the touch.
 * The devices hash has a field per touchpoint member, renamed with it and
 * dropped when the member is trimmed, so both stay within the same bound.
 * A person's click (verdict human) becomes honeypot when it lies within
 * the honeypot window of a honeypot click of the same email (field
 * h|C|M of the marks holds that time), and burst when clicks on at least
 * burst-links different links of the email fall within the burst window.
 * A honeypot or burst click also marks the email's human clicks in its
 * window: their members get the verdict as a suffix, and their times are
 * returned so the campaign counters can move them. A machine's click is
 * stored with "|verdict" after its member, which attribution skips.
 * Returns {mask, verdict, moved click times...}. mask has 1 when the event
 * is the reader's first of its kind in the campaign, 2 when it is the
 * first in the message. A replay finds its own event id in the marks and
 * returns the same mask; one that moved clicks finds its whole reply in
 * the field x|<event id>.
 */
static const char reader_touch[] =
    "local saved = redis.call('HGET', KEYS[2], 'x|' .. ARGV[5])\n"
    "if saved then return cjson.decode(saved) end\n"
    "local t = tonumber(ARGV[2])\n"
    "local member = ARGV[1]\n"
    "local verdict = ARGV[8]\n"
    "local moved = {}\n"
    "if ARGV[9] == '1' then\n"
    "  local email = string.sub(ARGV[4], 3)\n"
    "  local prefix = 'c|' .. email .. '|'\n"
    "  local function link_of(m)\n"
    "    if string.sub(m, 1, #prefix) ~= prefix then return nil end\n"
    "    local e = string.find(m, '|', #prefix + 1, true)\n"
    "    if not e then return nil end\n"
    "    return string.sub(m, #prefix + 1, e - 1), string.sub(m, e + 1)\n"
    "  end\n"
    "  local hw = tonumber(ARGV[12])\n"
    "  local hp = tonumber(redis.call('HGET', KEYS[2], 'h|' .. email) or '')\n"
    "  if verdict == 'human' and hp and math.abs(t - hp) <= hw then\n"
    "    verdict = 'honeypot'\n"
    "  end\n"
    "  local window = nil\n"
    "  if verdict == 'honeypot' then\n"
    "    redis.call('HSET', KEYS[2], 'h|' .. email, t)\n"
    "    window = hw\n"
    "  elseif verdict == 'human' and tonumber(ARGV[10]) > 0 then\n"
    "    local bw = tonumber(ARGV[10])\n"
    "    local links = {}\n"
    "    local n = 1\n"
    "    links[link_of(member)] = true\n"
    "    for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], t - bw, t + bw)) do\n"
    "      local l = link_of(m)\n"
    "      if l and not links[l] then links[l] = true; n = n + 1 end\n"
    "    end\n"
    "    if n >= tonumber(ARGV[11]) then verdict = 'burst'; window = bw end\n"
    "  end\n"
    "  if window then\n"
    "    local near = redis.call('ZRANGEBYSCORE', KEYS[1], t - window, t + window,\n"
    "                            'WITHSCORES')\n"
    "    for i = 1, #near, 2 do\n"
    "      local l, rest = link_of(near[i])\n"
    "      if l and #moved < 8 and not string.find(rest, '|', 1, true) then\n"
    "        local renamed = near[i] .. '|' .. verdict\n"
    "        redis.call('ZREM', KEYS[1], near[i])\n"
    "        redis.call('ZADD', KEYS[1], near[i + 1], renamed)\n"
    "        local device = redis.call('HGET', KEYS[3], near[i])\n"
    "        if device then\n"
    "          redis.call('HDEL', KEYS[3], near[i])\n"
    "          redis.call('HSET', KEYS[3], renamed, device)\n"
    "        end\n"
    "        moved[#moved + 1] = tonumber(near[i + 1])\n"
    "      end\n"
    "    end\n"
    "  end\n"
    "  if verdict ~= 'human' then member = member .. '|' .. verdict end\n"
    "end\n"
    "redis.call('ZADD', KEYS[1], 'GT', ARGV[2], member)\n"
    "local keep = tonumber(ARGV[7])\n"
    "local n = redis.call('ZCARD', KEYS[1])\n"
    "if n > keep then\n"
    "  local old = redis.call('ZRANGE', KEYS[1], 0, n - keep - 1)\n"
    "  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, n - keep - 1)\n"
    "  redis.call('HDEL', KEYS[3], unpack(old))\n"
    "end\n"
    "redis.call('HSET', KEYS[3], member, ARGV[13])\n"
    "redis.call('EXPIRE', KEYS[3], ARGV[6])\n"
    "redis.call('HSETNX', KEYS[2], ARGV[3], ARGV[5])\n"
    "redis.call('HSETNX', KEYS[2], ARGV[4], ARGV[5])\n"
    "local marks = redis.call('HMGET', KEYS[2], ARGV[3], ARGV[4])\n"
    "local mask = 0\n"
    "if marks[1] == ARGV[5] then mask = mask + 1 end\n"
    "if marks[2] == ARGV[5] then mask = mask + 2 end\n"
    "local reply = {mask, verdict}\n"
    "for _, m in ipairs(moved) do reply[#reply + 1] = m end\n"
    "if #moved > 0 then\n"
    "  redis.call('HSET', KEYS[2], 'x|' .. ARGV[5], cjson.encode(reply))\n"
    "end\n"
    "redis.call('EXPIRE', KEYS[1], ARGV[6])\n"
    "redis.call('EXPIRE', KEYS[2], ARGV[6])\n"
    "return reply\n";

/*
 * Counts an open or a click in the campaign's slot.
 * KEYS: campaign totals, message totals, hour, applied marks, link clicks,
 *       message id set, then the hour of each click that reader_touch moved.
 * ARGV: "opens" or "clicks", unique mask, writer id, sequence number,
 *       retention, link field "message:link", verdict, message id.
 * Totals (opens, clicks) count every verdict; the field "kind:verdict"
 * next to them counts one verdict. A moved click leaves clicks:human for
 * clicks:<verdict> in the campaign, message and its hour.
 * A writer (one store connection) sends its events in sequence order, and
 * Redis runs a connection's commands in order, so the events of a writer
 * that reached Redis are always a prefix of what it sent: remembering the
 * highest sequence number applied per writer is enough to skip a replay.
 * Returns 1 when counted, 0 when already counted.
 */
static const char campaign_touch[] =
    "local last = tonumber(redis.call('HGET', KEYS[4], ARGV[3]) or '0')\n"
    "if tonumber(ARGV[4]) <= last then return 0 end\n"
    "redis.call('HSET', KEYS[4], ARGV[3], ARGV[4])\n"
    "redis.call('EXPIRE', KEYS[4], ARGV[5])\n"
    "local kind = ARGV[1]\n"
    "local mask = tonumber(ARGV[2])\n"
    "for i = 1, 3 do\n"
    "  redis.call('HINCRBY', KEYS[i], kind, 1)\n"
    "  redis.call('HINCRBY', KEYS[i], kind .. ':' .. ARGV[7], 1)\n"
    "  redis.call('EXPIRE', KEYS[i], ARGV[5])\n"
    "end\n"
    "if mask % 2 == 1 then redis.call('HINCRBY', KEYS[1], 'unique_' .. kind, 1) end\n"
    "if mask >= 2 then redis.call('HINCRBY', KEYS[2], 'unique_' .. kind, 1) end\n"
    "redis.call('SADD', KEYS[6], ARGV[8])\n"
    "redis.call('EXPIRE', KEYS[6], ARGV[5])\n"
    "if kind == 'clicks' then\n"
    "  redis.call('HINCRBY', KEYS[5], ARGV[6], 1)\n"
    "  redis.call('EXPIRE', KEYS[5], ARGV[5])\n"
    "end\n"
    "for i = 7, #KEYS do\n"
    "  for _, key in ipairs({KEYS[1], KEYS[2], KEYS[i]}) do\n"
    "    redis.call('HINCRBY', key, 'clicks:human', -1)\n"
    "    redis.call('HINCRBY', key, 'clicks:' .. ARGV[7], 1)\n"
    "  end\n"
    "  redis.call('EXPIRE', KEYS[i], ARGV[5])\n"
    "end\n"
    "return 1\n";

/*
 * Claims an order for one checkout event, in the shop's slot, and counts it
 * in the shop totals.
 * KEYS: order hash, shop totals.
 * ARGV: event id, order time, campaign ("" when unattributed), message,
 *       link, path, cross-device (0 or 1), revenue (minor units), currency,
 *       retention, click time, order id.
 * Returns {1} for a new claim, {2, campaign, message, link, path, cross,
 * click time} when this event already claimed it (a replay: finish with the
 * decision made the first time), {0} when another event did (a repeat).
 */
static const char order_claim[] =
    "local ev = redis.call('HGET', KEYS[1], 'event')\n"
    "if ev then\n"
    "  if ev ~= ARGV[1] then return {0} end\n"
    "  local d = redis.call('HMGET', KEYS[1], 'campaign', 'message', 'link',\n"
    "                       'path', 'cross_device', 'click_time')\n"
    "  return {2, d[1], d[2], d[3], d[4], d[5], d[6]}\n"
    "end\n"
    "redis.call('HSET', KEYS[1], 'event', ARGV[1], 'order', ARGV[12],\n"
    "           'time', ARGV[2], 'campaign', ARGV[3], 'message', ARGV[4],\n"
    "           'link', ARGV[5], 'path', ARGV[6], 'cross_device', ARGV[7],\n"
    "           'revenue', ARGV[8], 'currency', ARGV[9], 'click_time', ARGV[11])\n"
    "redis.call('EXPIRE', KEYS[1], ARGV[10])\n"
    "redis.call('HINCRBY', KEYS[2], 'orders', 1)\n"
    "redis.call('HINCRBY', KEYS[2], 'revenue:' .. ARGV[9], ARGV[8])\n"
    "if ARGV[3] == '' then\n"
    "  redis.call('HINCRBY', KEYS[2], 'unattributed_orders', 1)\n"
    "else\n"
    "  redis.call('HINCRBY', KEYS[2], 'attributed_orders', 1)\n"
    "  redis.call('HINCRBY', KEYS[2], 'attributed_revenue:' .. ARGV[9], ARGV[8])\n"
    "end\n"
    "redis.call('EXPIRE', KEYS[2], ARGV[10])\n"
    "return {1}\n";

/*
 * Credits a claimed order to its campaign and keeps the decision record.
 * KEYS: campaign totals, message totals, hour, campaign's order record,
 *       conversions per path, per time-to-conversion bucket, recent list.
 * ARGV: cross-device (0 or 1), revenue, currency, retention, shop, order id,
 *       message, link, path, click time, order time, machine events
 *       ("ignored" or "included": whether machine clicks could be credited),
 *       time-to-conversion bucket, recent-list entry (JSON), recent-list
 *       length.
 * The record doubles as the mark that makes a replay a no-op.
 * Returns 1 when credited, 0 when already credited.
 */
static const char campaign_convert[] =
    "if redis.call('EXISTS', KEYS[4]) == 1 then return 0 end\n"
    "redis.call('HSET', KEYS[4], 'shop', ARGV[5], 'order', ARGV[6],\n"
    "           'message', ARGV[7], 'link', ARGV[8], 'path', ARGV[9],\n"
    "           'cross_device', ARGV[1], 'click_time', ARGV[10],\n"
    "           'time', ARGV[11], 'revenue', ARGV[2], 'currency', ARGV[3],\n"
    "           'machine_events', ARGV[12])\n"
    "redis.call('EXPIRE', KEYS[4], ARGV[4])\n"
    "for i = 1, 3 do\n"
    "  redis.call('HINCRBY', KEYS[i], 'conversions', 1)\n"
    "  if ARGV[1] == '1' then\n"
    "    redis.call('HINCRBY', KEYS[i], 'cross_device_conversions', 1)\n"
    "  end\n"
    "  redis.call('HINCRBY', KEYS[i], 'revenue:' .. ARGV[3], ARGV[2])\n"
    "  redis.call('EXPIRE', KEYS[i], ARGV[4])\n"
    "end\n"
    "redis.call('HINCRBY', KEYS[5], ARGV[9], 1)\n"
    "redis.call('HINCRBY', KEYS[6], ARGV[13], 1)\n"
    "redis.call('LPUSH', KEYS[7], ARGV[14])\n"
    "redis.call('LTRIM', KEYS[7], 0, tonumber(ARGV[15]) - 1)\n"
    "for i = 5, 7 do redis.call('EXPIRE', KEYS[i], ARGV[4]) end\n"
    "return 1\n";

/*
 * Counts minted emails as sent, in the campaign's slot. Both counters are
 * HyperLogLogs, so minting the same recipient twice for one message counts
 * once, a replay changes nothing, and no reader id is stored in campaign
 * data (a HyperLogLog keeps only register maxima of element hashes).
 * KEYS: message sent HLL, campaign sent HLL.
 * ARGV: retention, message id, then the reader ids (hex) of the batch.
 * The campaign HLL counts "message|reader" pairs: one per email.
 * Returns the number of reader ids added.
 */
static const char sent[] =
    "local readers = {}\n"
    "local emails = {}\n"
    "for i = 3, #ARGV do\n"
    "  readers[#readers + 1] = ARGV[i]\n"
    "  emails[#emails + 1] = ARGV[2] .. '|' .. ARGV[i]\n"
    "end\n"
    "if #readers == 0 then return 0 end\n"
    "redis.call('PFADD', KEYS[1], unpack(readers))\n"
    "redis.call('PFADD', KEYS[2], unpack(emails))\n"
    "redis.call('EXPIRE', KEYS[1], ARGV[1])\n"
    "redis.call('EXPIRE', KEYS[2], ARGV[1])\n"
    "return #readers\n";

/*
 * Records in the reader's slot that a link (a key elsewhere whose value is
 * the reader id) points at the reader, so that forgetting the reader finds
 * it without a scan.
 * KEYS: the reader's link set. ARGV: the link's key name, retention.
 */
static const char reader_link[] =
    "redis.call('SADD', KEYS[1], ARGV[1])\n"
    "redis.call('EXPIRE', KEYS[1], ARGV[2])\n"
    "return 1\n";

static const char *const sources[SCRIPT_COUNT] = {
    [SCRIPT_READER_TOUCH] = reader_touch,
    [SCRIPT_CAMPAIGN_TOUCH] = campaign_touch,
    [SCRIPT_ORDER_CLAIM] = order_claim,
    [SCRIPT_CAMPAIGN_CONVERT] = campaign_convert,
    [SCRIPT_SENT] = sent,
    [SCRIPT_READER_LINK] = reader_link,
    [SCRIPT_FORGET_LINK] = STORE_FORGET_LINK_LUA,
};

static char shas[SCRIPT_COUNT][41];
static pthread_once_t shas_once = PTHREAD_ONCE_INIT;

static void compute_shas(void)
{
    for (int i = 0; i < SCRIPT_COUNT; i++) {
        unsigned char digest[EVP_MAX_MD_SIZE];
        unsigned int len = 0;

        EVP_Digest(sources[i], strlen(sources[i]), digest, &len, EVP_sha1(), NULL);
        for (unsigned int j = 0; j < len && j < 20; j++)
            snprintf(shas[i] + 2 * j, 3, "%02x", digest[j]);
    }
}

const char *store_script_source(enum store_script script)
{
    return sources[script];
}

const char *store_script_sha(enum store_script script)
{
    pthread_once(&shas_once, compute_shas);
    return shas[script];
}
