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

/* Lua for the scripts that add money: adds n to a sum of amounts. Redis
 * sums in signed 64 bits and HINCRBY fails past them, after about 92,000
 * orders of the largest amount money.h accepts. A failed redis.call would
 * end the script with its earlier writes done and the later ones not, so
 * the order would count in some totals only. add_money leaves that one
 * sum where it is and counts the lost addition in the key's
 * money_overflows field. Any other error ends the script as before. */
#define ADD_MONEY_LUA                                                      \
    "local function add_money(key, field, n)\n"                            \
    "  local r = redis.pcall('HINCRBY', key, field, n)\n"                  \
    "  if type(r) == 'table' and r.err then\n"                             \
    "    if not string.find(r.err, 'overflow', 1, true) then error(r) end\n" \
    "    redis.call('HINCRBY', key, 'money_overflows', 1)\n"               \
    "  end\n"                                                              \
    "end\n"

/*
 * Records an open or a click in the reader's slot, and decides the two
 * verdicts that need the reader's earlier clicks.
 * KEYS: touchpoints zset, first-touch marks hash.
 * ARGV: 1 member, 2 score (touch.h: time * 64 + device and client codes),
 *       3 campaign prefix "o|C|" (or "c|C|"), 4 message mark "o|C|M" (or
 *       "c|C|M"), 5 event mark (touch_event_mark).
 *       6 TTL (s, the retention plus the slack), 7 max touchpoints kept,
 *       8 verdict, 9 "1" for a click.
 *       10 burst window (s), 11 burst links, 12 honeypot window (s).
 *       13 renewal period (the event time divided by touch_ttl_slack), or
 *       empty when there is no slack. 14 (optional, else empty): for an
 *       open, the score a plain ZADD of store_open.c gave its member before
 *       this call. For a click, set when its member may be in the set
 *       already.
 * Numbers go to redis.call as the strings tallyd sent, because Redis
 * formats a Lua number argument again with snprintf (about 0.2 us).
 * A person's open or click (verdict human) becomes honeypot when it lies
 * within the honeypot window of a honeypot click of the same email (field
 * h|C|M of the marks holds that time), and a click becomes burst when
 * clicks on at least burst-links different links of the email fall within
 * the burst window. A honeypot or burst click also marks the email's
 * human clicks in its window, and a honeypot click the email's human open
 * (o|C|M, the latest open of the message, stands for the opens collapsed
 * into it): their members get the verdict as a suffix, and their times
 * are returned so the campaign counters can move them, one open or click
 * each, at most 8 in all. A human open that a honeypot click leaves human
 * is renamed "o|C|M|human", and once the message has a honeypot time its
 * human opens are written under that name. So no open's plain ZADD XX of
 * "o|C|M" (store_open.c) finds a member after a honeypot click, and each
 * takes this script. One exception: a honeypot click (on another
 * connection) that ran after such a ZADD moved the member it had just
 * moved, and so counted that open. The open then finds its member under
 * "|honeypot" with the ZADD's score (ARGV[14]) and stays human, as if it
 * had come just before the click. A person's click whose member may be in
 * the set already (ARGV[14] set: store_click.c's ZADD added it, or this is
 * a replay) is taken out first and written again with its verdict below.
 * When only the member with "|burst" or "|honeypot" is there, another
 * click's script moved it and counted it as a person's click it moved, so
 * it stays human here and the set is left as it is. That reading needs
 * the script's own burst or honeypot verdict of a person's click to be
 * replayed from x|<event mark>, so such a click always stores its reply
 * there. NOTE: an older tallyd's script stored no such reply. So a click
 * it made a burst click, replayed from its journal, is counted human. A machine's open or
 * click is stored with "|verdict" after its member, which attribution
 * skips unless attribute_machine_events is on; a message's machine opens
 * of one verdict share a member, as its human opens do.
 * Returns {mask, verdict, N, the N moved click times..., moved open
 * times...}. mask has 1 when the event
 * is the reader's first of its kind in the campaign, 2 when it is the
 * first in the message. The message mark contains the mark of the
 * message's first event, with "+" after it when that event was also the
 * campaign's first (no message mark of the campaign existed then). A
 * separate campaign mark would cost a fifth of a reader's memory, and the
 * check reads the mark names (HKEYS) only on a message's first event. A replay finds
 * its own event mark and returns the same mask; one that moved opens or
 * clicks, or a person's click this script made a burst or honeypot
 * click, finds its whole reply in the field x|<event mark>.
 * Retention: both keys get a TTL of retention plus slack, renewed by the
 * first event of each renewal period. Field e contains the period of the
 * last renewal, and an event of any other period renews, an earlier one
 * too. An event of the period lies less than the slack after the one that
 * renewed, so the keys outlive the latest event by at least the retention
 * and by at most the slack more. A reader's burst of events renews them
 * once, not on every write. Without slack (short retentions) there is no
 * field e.
 * A repeated open that store_open.c's plain commands could not finish
 * costs two calls: one HMGET for the
 * saved reply, the message mark, the honeypot time and e, and ZADD. The
 * set is only counted and trimmed when ZADD added a member.
 * A click reads the touches around it once, for both the burst check and
 * the marking.
 */
static const char reader_touch[] =
    "local marks = redis.call('HMGET', KEYS[2], 'x|' .. ARGV[5], ARGV[4],\n"
    "                         'h|' .. string.sub(ARGV[4], 3), 'e')\n"
    "if marks[1] then return cjson.decode(marks[1]) end\n"
    "local t = math.floor(tonumber(ARGV[2]) / 64)\n"
    "local member = ARGV[1]\n"
    "local verdict = ARGV[8]\n"
    "if verdict == 'human' and marks[3] and\n"
    "   math.abs(t - tonumber(marks[3])) <= tonumber(ARGV[12]) then\n"
    "  verdict = 'honeypot'\n"
    "end\n"
    "local moved_by_click = false\n"
    "if verdict == 'honeypot' and ARGV[9] ~= '1' and ARGV[14] and ARGV[14] ~= '' and\n"
    "   not redis.call('ZSCORE', KEYS[1], member) then\n"
    "  local s = redis.call('ZSCORE', KEYS[1], member .. '|honeypot')\n"
    "  if s and tonumber(s) == tonumber(ARGV[14]) then\n"
    "    verdict = 'human'\n"
    "    moved_by_click = true\n"
    "  end\n"
    "end\n"
    "if ARGV[9] == '1' and ARGV[8] == 'human' and ARGV[14] and ARGV[14] ~= '' and\n"
    "   redis.call('ZREM', KEYS[1], member) == 0 then\n"
    "  for _, v in ipairs({'burst', 'honeypot'}) do\n"
    "    if redis.call('ZSCORE', KEYS[1], member .. '|' .. v) then\n"
    "      verdict = 'human'\n"
    "      moved_by_click = true\n"
    "    end\n"
    "  end\n"
    "end\n"
    "local moved, moved_opens\n"
    "if ARGV[9] == '1' and not moved_by_click then\n"
    "  moved, moved_opens = {}, {}\n"
    "  local email = string.sub(ARGV[4], 3)\n"
    "  local hw = tonumber(ARGV[12])\n"
    "  local prefix = 'c|' .. email .. '|'\n"
    "  local function link_of(m)\n"
    "    if string.sub(m, 1, #prefix) ~= prefix then return nil end\n"
    "    local e = string.find(m, '|', #prefix + 1, true)\n"
    "    if not e then return nil end\n"
    "    return string.sub(m, #prefix + 1, e - 1), string.sub(m, e + 1)\n"
    "  end\n"
    "  local function around(window)\n"
    "    return redis.call('ZRANGEBYSCORE', KEYS[1], (t - window) * 64,\n"
    "                      (t + window) * 64 + 63, 'WITHSCORES')\n"
    "  end\n"
    "  local near = nil\n"
    "  if verdict == 'honeypot' then\n"
    "    redis.call('HSET', KEYS[2], 'h|' .. email, t)\n"
    "    near = around(hw)\n"
    "  elseif verdict == 'human' and tonumber(ARGV[10]) > 0 then\n"
    "    local found = around(tonumber(ARGV[10]))\n"
    "    local links = {[link_of(member)] = true}\n"
    "    local n = 1\n"
    "    for i = 1, #found, 2 do\n"
    "      local l = link_of(found[i])\n"
    "      if l and not links[l] then links[l] = true; n = n + 1 end\n"
    "    end\n"
    "    if n >= tonumber(ARGV[11]) then verdict = 'burst'; near = found end\n"
    "  end\n"
    "  if near then\n"
    "    local open = 'o|' .. email\n"
    "    for i = 1, #near, 2 do\n"
    "      local l, rest = link_of(near[i])\n"
    "      local is_open = verdict == 'honeypot' and\n"
    "                      (near[i] == open or near[i] == open .. '|human')\n"
    "      if (is_open or (l and not string.find(rest, '|', 1, true))) and\n"
    "         #moved + #moved_opens < 8 then\n"
    "        local time = math.floor(tonumber(near[i + 1]) / 64)\n"
    "        redis.call('ZREM', KEYS[1], near[i])\n"
    "        redis.call('ZADD', KEYS[1], 'GT', near[i + 1],\n"
    "                   (is_open and open or near[i]) .. '|' .. verdict)\n"
    "        if is_open then moved_opens[#moved_opens + 1] = time\n"
    "        else moved[#moved + 1] = time end\n"
    "      end\n"
    "    end\n"
    "  end\n"
    "  if verdict == 'honeypot' then\n"
    "    local open = 'o|' .. email\n"
    "    local kept = redis.call('ZSCORE', KEYS[1], open)\n"
    "    if kept then\n"
    "      redis.call('ZREM', KEYS[1], open)\n"
    "      redis.call('ZADD', KEYS[1], 'GT', kept, open .. '|human')\n"
    "    end\n"
    "  end\n"
    "end\n"
    "if verdict ~= 'human' then\n"
    "  member = member .. '|' .. verdict\n"
    "elseif ARGV[9] ~= '1' and marks[3] then\n"
    "  member = member .. '|human'\n"
    "end\n"
    "if not moved_by_click and\n"
    "   redis.call('ZADD', KEYS[1], 'GT', ARGV[2], member) == 1 then\n"
    "  local keep = tonumber(ARGV[7])\n"
    "  local n = redis.call('ZCARD', KEYS[1])\n"
    "  if n > keep then redis.call('ZREMRANGEBYRANK', KEYS[1], 0, n - keep - 1) end\n"
    "end\n"
    "local mask = 0\n"
    "local unset\n"
    "local mark = marks[2]\n"
    "if not mark then\n"
    "  local prefix = ARGV[3]\n"
    "  mask = 3\n"
    "  for _, f in ipairs(redis.call('HKEYS', KEYS[2])) do\n"
    "    if string.sub(f, 1, #prefix) == prefix then mask = 2; break end\n"
    "  end\n"
    "  unset = {ARGV[4], mask == 3 and ARGV[5] .. '+' or ARGV[5]}\n"
    "elseif mark == ARGV[5] then\n"
    "  mask = 2\n"
    "elseif #mark == #ARGV[5] + 1 and mark == ARGV[5] .. '+' then\n"
    "  mask = 3\n"
    "end\n"
    "local reply = {mask, verdict, 0}\n"
    "if moved then\n"
    "  reply[3] = #moved\n"
    "  for _, m in ipairs(moved) do reply[#reply + 1] = m end\n"
    "  for _, m in ipairs(moved_opens) do reply[#reply + 1] = m end\n"
    "end\n"
    "if #reply > 3 or (ARGV[9] == '1' and verdict ~= ARGV[8]) then\n"
    "  unset = unset or {}\n"
    "  unset[#unset + 1] = 'x|' .. ARGV[5]\n"
    "  unset[#unset + 1] = cjson.encode(reply)\n"
    "end\n"
    "local renew = ARGV[13] == '' or marks[4] ~= ARGV[13]\n"
    "if renew and ARGV[13] ~= '' then\n"
    "  unset = unset or {}\n"
    "  unset[#unset + 1] = 'e'\n"
    "  unset[#unset + 1] = ARGV[13]\n"
    "end\n"
    "if unset then redis.call('HSET', KEYS[2], unpack(unset)) end\n"
    "if renew then\n"
    "  redis.call('EXPIRE', KEYS[1], ARGV[6])\n"
    "  redis.call('EXPIRE', KEYS[2], ARGV[6])\n"
    "end\n"
    "return reply\n";

/*
 * Counts a batch of opens and clicks of one campaign, in its slot.
 * KEYS: campaign totals, applied marks, link clicks, message id set, then
 *       the batch's message totals, hour keys and message hour keys.
 * ARGV: retention, number of messages M, and the M message ids in the
 *       order of their keys. Then, per event in sequence order:
 *       - writer id and sequence number;
 *       - predecessor: the sequence number of the writer's previous event
 *         that must have been applied first, or 0;
 *       - "opens" or "clicks", verdict, unique mask;
 *       - indexes in KEYS of its message key, hour key and message hour
 *         key;
 *       - link field "message:link" (empty for an open);
 *       - number N of opens and clicks READER_TOUCH moved, then for each
 *         "opens" or "clicks" and the indexes of its hour key and message
 *         hour key.
 * Totals (opens, clicks) count every verdict; the field "kind:verdict"
 * next to them counts one verdict. A moved open or click leaves
 * kind:human for kind:<verdict> in the campaign, the message and their
 * hours.
 * A writer (one store connection) sends its events in sequence order, and
 * Redis runs a connection's commands in order, so the events of a writer
 * that reached Redis are always a prefix of what it sent: remembering the
 * highest sequence number applied per writer is enough to skip a replay,
 * event by event, however a replay groups the events. An error reply
 * breaks that prefix, so an event whose predecessor is above the mark
 * fails the whole batch with a GAP error before anything is written
 * (store_batch.c). Counts are summed per key and field first, so a batch
 * costs one HINCRBY per distinct field.
 * Returns the number of events counted (0 when all were counted before).
 */
static const char campaign_touch[] =
    "local retention = ARGV[1]\n"
    "local first_event = 3 + tonumber(ARGV[2])\n"
    "local counts = {}\n"
    "local function add(k, field, n)\n"
    "  local c = counts[k]\n"
    "  if c == nil then c = {}; counts[k] = c end\n"
    "  c[field] = (c[field] or 0) + n\n"
    "end\n"
    "local last = {}\n"
    "local top = {}\n"
    "local ids = {}\n"
    "local applied = 0\n"
    "local i = first_event\n"
    "while i <= #ARGV do\n"
    "  local writer, seq = ARGV[i], tonumber(ARGV[i + 1])\n"
    "  local n_moved = tonumber(ARGV[i + 10])\n"
    "  if last[writer] == nil then\n"
    "    last[writer] = tonumber(redis.call('HGET', KEYS[2], writer) or '0')\n"
    "  end\n"
    "  if seq > last[writer] then\n"
    "    if tonumber(ARGV[i + 2]) > last[writer] then\n"
    "      return redis.error_reply('GAP event ' .. ARGV[i + 2] .. ' of writer ' ..\n"
    "                               writer .. ' not applied')\n"
    "    end\n"
    "    local kind, verdict = ARGV[i + 3], ARGV[i + 4]\n"
    "    local mask, m = tonumber(ARGV[i + 5]), tonumber(ARGV[i + 6])\n"
    "    for _, k in ipairs({1, m, tonumber(ARGV[i + 7]), tonumber(ARGV[i + 8])}) do\n"
    "      add(k, kind, 1)\n"
    "      add(k, kind .. ':' .. verdict, 1)\n"
    "    end\n"
    "    if mask % 2 == 1 then add(1, 'unique_' .. kind, 1) end\n"
    "    if mask >= 2 then add(m, 'unique_' .. kind, 1) end\n"
    "    if kind == 'clicks' then add(3, ARGV[i + 9], 1) end\n"
    "    for j = 1, n_moved do\n"
    "      local at = i + 8 + 3 * j\n"
    "      local moved_kind = ARGV[at]\n"
    "      for _, k in ipairs({1, m, tonumber(ARGV[at + 1]), tonumber(ARGV[at + 2])}) do\n"
    "        add(k, moved_kind .. ':human', -1)\n"
    "        add(k, moved_kind .. ':' .. verdict, 1)\n"
    "      end\n"
    "    end\n"
    "    ids[ARGV[m - 2]] = true\n"
    "    last[writer] = seq\n"
    "    top[writer] = ARGV[i + 1]\n"
    "    applied = applied + 1\n"
    "  end\n"
    "  i = i + 11 + 3 * n_moved\n"
    "end\n"
    "if applied == 0 then return 0 end\n"
    "for writer, seq in pairs(top) do redis.call('HSET', KEYS[2], writer, seq) end\n"
    "redis.call('EXPIRE', KEYS[2], retention)\n"
    "for k, fields in pairs(counts) do\n"
    "  for field, n in pairs(fields) do redis.call('HINCRBY', KEYS[k], field, n) end\n"
    "  redis.call('EXPIRE', KEYS[k], retention)\n"
    "end\n"
    "local members = {}\n"
    "for id in pairs(ids) do members[#members + 1] = id end\n"
    "redis.call('SADD', KEYS[4], unpack(members))\n"
    "redis.call('EXPIRE', KEYS[4], retention)\n"
    "return applied\n";

/*
 * Counts a live batch of opens and clicks of one campaign, in its slot,
 * with its counts already added up by tallyd (batch_sums.h).
 * KEYS: as CAMPAIGN_TOUCH's.
 * ARGV: 1 retention, 2 writer id, 3 first and 4 last sequence number of
 *       the batch's events, 5 predecessor of the first, 6 number of
 *       events, 7 number of messages M.
 *       Then the M message ids, then triples of a key's index in KEYS, a
 *       field and its increment.
 * A live batch carries one writer's events in sequence order, none of
 * them sent before, so Redis has applied all of them (a retry whose reply
 * was lost: returns 0) or none. The predecessor check is CAMPAIGN_TOUCH's.
 * Should a batch be partly applied after all, the script rejects it with
 * SPLIT before writing, and the store replays its events one by one with
 * CAMPAIGN_TOUCH, which skips the applied ones.
 * Returns the number of events counted (0 when they were counted before).
 */
static const char campaign_sums[] =
    "local writer = ARGV[2]\n"
    "local last = tonumber(redis.call('HGET', KEYS[2], writer) or '0')\n"
    "if tonumber(ARGV[4]) <= last then return 0 end\n"
    "if tonumber(ARGV[3]) <= last then\n"
    "  return redis.error_reply('SPLIT events of writer ' .. writer ..\n"
    "                           ' partly applied')\n"
    "end\n"
    "if tonumber(ARGV[5]) > last then\n"
    "  return redis.error_reply('GAP event ' .. ARGV[5] .. ' of writer ' ..\n"
    "                           writer .. ' not applied')\n"
    "end\n"
    "local retention = ARGV[1]\n"
    "redis.call('HSET', KEYS[2], writer, ARGV[4])\n"
    "local first_sum = 8 + tonumber(ARGV[7])\n"
    "redis.call('SADD', KEYS[4], unpack(ARGV, 8, first_sum - 1))\n"
    "local touched = {[2] = true, [4] = true}\n"
    "for i = first_sum, #ARGV, 3 do\n"
    "  local k = tonumber(ARGV[i])\n"
    "  redis.call('HINCRBY', KEYS[k], ARGV[i + 1], ARGV[i + 2])\n"
    "  touched[k] = true\n"
    "end\n"
    "for k in pairs(touched) do redis.call('EXPIRE', KEYS[k], retention) end\n"
    "return tonumber(ARGV[6])\n";

/*
 * Claims an order for one checkout event, in the shop's slot, keeps its
 * decision record and counts it in the shop totals.
 * KEYS: order hash, shop totals, shop order index (zset), the order's
 *       early refunds (ORDER_REFUND keeps refunds of unknown orders there).
 * ARGV: event id, source ("browser" or "server"), retention, decision
 *       record (a JSON object of strings, decision.h), then the names of
 *       shop counters to increment by one.
 * Returns:
 *   {1, F, A, ...}           a new claim; each early refund applied to it
 *                            follows as its refund field F and amount A;
 *   {2, record, F, A, ...}   this event claimed it before (a replay: finish
 *                            with the stored record, as JSON, and the early
 *                            refunds applied then);
 *   {3, record, delta, net, cut}  a server event confirmed an order a
 *                            browser claimed (now or, for a replay, before):
 *                            the revenue changed by delta, the order's net
 *                            revenue (after refunds) is net, and refunds
 *                            above the new amount were cut by cut;
 *   {4}                      a server event whose currency differs from
 *                            the claimed order: not verified;
 *   {0}                      a repeat of a claimed order.
 * The trusted amount replaces the browser's when the server confirms, and
 * refunds already applied stay applied, capped at the new amount. The
 * record returned leaves out the refund and verification fields, because
 * CAMPAIGN_CONVERT copies it and refunds reach the campaign one by one.
 * Early refunds are applied in the order of their fields, each capped at
 * what is not yet refunded. One in another currency is dropped and
 * counted as early_refunds_rejected.
 */
static const char order_claim[] =
    ADD_MONEY_LUA
    "local function record()\n"
    "  local h = redis.call('HGETALL', KEYS[1])\n"
    "  local t = {}\n"
    "  for i = 1, #h, 2 do\n"
    "    local f = h[i]\n"
    "    local head = string.sub(f, 1, 7)\n"
    "    if f ~= 'refunded' and f ~= 'early_refunds' and head ~= 'refund:'\n"
    "       and head ~= 'verify_' then t[f] = h[i + 1] end\n"
    "  end\n"
    "  return cjson.encode(t)\n"
    "end\n"
    "local function early_applied()\n"
    "  local out = {}\n"
    "  local list = redis.call('HGET', KEYS[1], 'early_refunds')\n"
    "  if not list then return out end\n"
    "  for _, f in ipairs(cjson.decode(list)) do\n"
    "    out[#out + 1] = f\n"
    "    out[#out + 1] = redis.call('HGET', KEYS[1], f) or '0'\n"
    "  end\n"
    "  return out\n"
    "end\n"
    "local rec = cjson.decode(ARGV[4])\n"
    "local ev = redis.call('HGET', KEYS[1], 'event')\n"
    "if ev then\n"
    "  if ev == ARGV[1] then return {2, record(), unpack(early_applied())} end\n"
    "  local o = redis.call('HMGET', KEYS[1], 'verify_event', 'verify_delta',\n"
    "                       'verify_net', 'verified', 'currency', 'revenue',\n"
    "                       'refunded', 'campaign', 'verify_cut')\n"
    "  if o[1] == ARGV[1] then return {3, record(), o[2], o[3], o[9] or '0'} end\n"
    "  if ARGV[2] ~= 'server' or o[4] == '1' then return {0} end\n"
    "  if o[5] ~= rec.currency then\n"
    "    redis.call('HINCRBY', KEYS[2], 'verify_conflicts', 1)\n"
    "    return {4}\n"
    "  end\n"
    "  local old = tonumber(o[6])\n"
    "  local new = tonumber(rec.revenue)\n"
    "  local refunded = tonumber(o[7] or '0')\n"
    "  local cut = 0\n"
    "  if refunded > new then\n"
    "    cut = refunded - new\n"
    "    add_money(KEYS[2], 'refunded:' .. rec.currency, 0 - cut)\n"
    "    refunded = new\n"
    "  end\n"
    "  local delta = (new - refunded) - (old - tonumber(o[7] or '0'))\n"
    "  local net = new - refunded\n"
    "  local cur = rec.currency\n"
    "  redis.call('HSET', KEYS[1], 'verified', '1', 'revenue', rec.revenue,\n"
    "             'refunded', refunded, 'verify_event', ARGV[1],\n"
    "             'verify_delta', delta, 'verify_net', net, 'verify_cut', cut)\n"
    "  redis.call('HINCRBY', KEYS[2], 'verified_orders', 1)\n"
    "  add_money(KEYS[2], 'revenue:' .. cur, delta)\n"
    "  add_money(KEYS[2], 'verified_revenue:' .. cur, net)\n"
    "  if o[8] ~= '' then\n"
    "    add_money(KEYS[2], 'attributed_revenue:' .. cur, delta)\n"
    "  end\n"
    "  return {3, record(), tostring(delta), tostring(net), tostring(cut)}\n"
    "end\n"
    "local fields = {}\n"
    "for k, v in pairs(rec) do\n"
    "  fields[#fields + 1] = k\n"
    "  fields[#fields + 1] = v\n"
    "end\n"
    "redis.call('HSET', KEYS[1], 'refunded', '0', unpack(fields))\n"
    "redis.call('EXPIRE', KEYS[1], ARGV[3])\n"
    "local cur = rec.currency\n"
    "for i = 5, #ARGV do redis.call('HINCRBY', KEYS[2], ARGV[i], 1) end\n"
    "add_money(KEYS[2], 'revenue:' .. cur, rec.revenue)\n"
    "if rec.campaign ~= '' then\n"
    "  add_money(KEYS[2], 'attributed_revenue:' .. cur, rec.revenue)\n"
    "end\n"
    "if rec.verified == '1' then\n"
    "  add_money(KEYS[2], 'verified_revenue:' .. cur, rec.revenue)\n"
    "end\n"
    "redis.call('EXPIRE', KEYS[2], ARGV[3])\n"
    "local t = tonumber(rec.time)\n"
    "redis.call('ZADD', KEYS[3], t, rec.order)\n"
    "redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. (t - tonumber(ARGV[3])))\n"
    "redis.call('EXPIRE', KEYS[3], ARGV[3])\n"
    "local early = redis.call('HGETALL', KEYS[4])\n"
    "if #early == 0 then return {1} end\n"
    "local held = {}\n"
    "for i = 1, #early, 2 do held[#held + 1] = {early[i], early[i + 1]} end\n"
    "table.sort(held, function(a, b) return a[1] < b[1] end)\n"
    "local left = tonumber(rec.revenue)\n"
    "local applied, fields_applied = {}, {}\n"
    "for _, e in ipairs(held) do\n"
    "  local amount, ecur = string.match(e[2], '^(-?%d+) (%S+)$')\n"
    "  amount = tonumber(amount)\n"
    "  if amount == nil or ecur ~= cur then\n"
    "    redis.call('HINCRBY', KEYS[2], 'early_refunds_rejected', 1)\n"
    "  else\n"
    "    if amount < 0 or amount > left then amount = left end\n"
    "    left = left - amount\n"
    "    redis.call('HSET', KEYS[1], e[1], amount)\n"
    "    redis.call('HINCRBY', KEYS[1], 'refunded', amount)\n"
    "    redis.call('HINCRBY', KEYS[2], 'refunds', 1)\n"
    "    add_money(KEYS[2], 'refunded:' .. cur, amount)\n"
    "    add_money(KEYS[2], 'revenue:' .. cur, 0 - amount)\n"
    "    if rec.campaign ~= '' then\n"
    "      add_money(KEYS[2], 'attributed_revenue:' .. cur, 0 - amount)\n"
    "    end\n"
    "    if rec.verified == '1' then\n"
    "      add_money(KEYS[2], 'verified_revenue:' .. cur, 0 - amount)\n"
    "    end\n"
    "    fields_applied[#fields_applied + 1] = e[1]\n"
    "    applied[#applied + 1] = e[1]\n"
    "    applied[#applied + 1] = tostring(amount)\n"
    "  end\n"
    "end\n"
    "if #fields_applied > 0 then\n"
    "  redis.call('HSET', KEYS[1], 'early_refunds', cjson.encode(fields_applied))\n"
    "end\n"
    "redis.call('DEL', KEYS[4])\n"
    "return {1, unpack(applied)}\n";

/*
 * Credits a claimed order to its campaign and keeps the decision record.
 * KEYS: campaign totals, message totals, hour of the order, campaign's
 *       order record, the message's hour of the order, conversions per
 *       path, per time-to-conversion bucket, recent list, then the
 *       message's conversions per path and per time-to-conversion bucket.
 * ARGV: decision record (JSON, as for ORDER_CLAIM), retention,
 *       time-to-conversion bucket, recent-list entry (JSON), recent-list
 *       length.
 * The record doubles as the mark that makes a replay a no-op.
 * Returns 1 when credited, 0 when already credited.
 */
static const char campaign_convert[] =
    ADD_MONEY_LUA
    "if redis.call('EXISTS', KEYS[4]) == 1 then return 0 end\n"
    "local rec = cjson.decode(ARGV[1])\n"
    "local fields = {}\n"
    "for k, v in pairs(rec) do\n"
    "  fields[#fields + 1] = k\n"
    "  fields[#fields + 1] = v\n"
    "end\n"
    "redis.call('HSET', KEYS[4], 'refunded', '0', unpack(fields))\n"
    "redis.call('EXPIRE', KEYS[4], ARGV[2])\n"
    "local cur = rec.currency\n"
    "for _, i in ipairs({1, 2, 3, 5}) do\n"
    "  redis.call('HINCRBY', KEYS[i], 'conversions', 1)\n"
    "  if rec.cross_device == '1' then\n"
    "    redis.call('HINCRBY', KEYS[i], 'cross_device_conversions', 1)\n"
    "  end\n"
    "  add_money(KEYS[i], 'revenue:' .. cur, rec.revenue)\n"
    "  if rec.verified == '1' then\n"
    "    redis.call('HINCRBY', KEYS[i], 'verified_conversions', 1)\n"
    "    add_money(KEYS[i], 'verified_revenue:' .. cur, rec.revenue)\n"
    "  end\n"
    "  redis.call('EXPIRE', KEYS[i], ARGV[2])\n"
    "end\n"
    "redis.call('HINCRBY', KEYS[6], rec.path, 1)\n"
    "redis.call('HINCRBY', KEYS[9], rec.path, 1)\n"
    "redis.call('HINCRBY', KEYS[7], ARGV[3], 1)\n"
    "redis.call('HINCRBY', KEYS[10], ARGV[3], 1)\n"
    "redis.call('LPUSH', KEYS[8], ARGV[4])\n"
    "redis.call('LTRIM', KEYS[8], 0, tonumber(ARGV[5]) - 1)\n"
    "for i = 6, 10 do redis.call('EXPIRE', KEYS[i], ARGV[2]) end\n"
    "return 1\n";

/*
 * Counts minted emails as sent, in the campaign's slot. Both counters are
 * HyperLogLogs, so minting the same recipient twice for one message counts
 * once, a replay changes nothing, and no reader id is stored in campaign
 * data (a HyperLogLog keeps only register maxima of element hashes).
 * KEYS: message sent HLL, campaign sent HLL, message id set.
 * ARGV: retention, message id, then the reader ids (hex) of the batch.
 * The campaign HLL counts "message|reader" pairs: one per email. The
 * message id joins the campaign's message set, so a message with sends
 * and no open yet is listed with the others.
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
    "redis.call('SADD', KEYS[3], ARGV[2])\n"
    "redis.call('EXPIRE', KEYS[3], ARGV[1])\n"
    "return #readers\n";

/*
 * Records in the reader's slot that an identity link (k:{K} or d:{D}, a
 * key elsewhere whose members are reader ids) names the reader, so that
 * forgetting the reader finds it without a scan (forget.h).
 * KEYS: the reader's link set. ARGV: the link's key name, retention.
 */
static const char reader_link[] =
    "redis.call('SADD', KEYS[1], ARGV[1])\n"
    "redis.call('EXPIRE', KEYS[1], ARGV[2])\n"
    "return 1\n";

/*
 * Links an identifier (customer or device hash) to a reader, in the
 * identifier's slot. Later links win: the score is the link time.
 * KEYS: the identifier's links (zset of reader ids).
 * ARGV: reader id (24 hex), time, retention, max readers per identifier.
 * Links older than the retention are dropped, and only the max + 1 latest
 * readers are kept: enough to tell that the identifier is shared.
 * Returns the number of readers linked. A replay changes nothing, because
 * ZADD GT never moves a score back.
 */
static const char link_add[] =
    "local now = tonumber(ARGV[2])\n"
    "local keep = tonumber(ARGV[4]) + 1\n"
    "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - tonumber(ARGV[3])))\n"
    "redis.call('ZADD', KEYS[1], 'GT', now, ARGV[1])\n"
    "local n = redis.call('ZCARD', KEYS[1])\n"
    "if n > keep then\n"
    "  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, n - keep - 1)\n"
    "  n = keep\n"
    "end\n"
    "redis.call('EXPIRE', KEYS[1], ARGV[3])\n"
    "return n\n";

/*
 * Reads an identifier's links for a checkout; writes nothing.
 * KEYS: the identifier's links.
 * ARGV: oldest link time still valid (order time - retention).
 * Returns {number of readers linked since then, latest reader or ""}.
 */
static const char link_lookup[] =
    "local n = redis.call('ZCOUNT', KEYS[1], ARGV[1], '+inf')\n"
    "local top = redis.call('ZREVRANGEBYSCORE', KEYS[1], '+inf', ARGV[1],\n"
    "                       'LIMIT', 0, 1)\n"
    "return {n, top[1] or ''}\n";

/*
 * Applies a refund to a claimed order, in the shop's slot.
 * KEYS: order hash, shop totals, the order's early refunds.
 * ARGV: refund field ("refund:full" or "refund:id:<refund id>"), amount in
 *       minor units (-1: everything not yet refunded), currency, retention.
 * A refund never takes an order below zero: the amount is capped at the
 * revenue not yet refunded. The refund field marks it applied, so a
 * repeat or replay applies nothing and returns the amount applied first.
 * A refund of an order not claimed yet is kept in the early refunds
 * (field = refund field, value = "AMOUNT CURRENCY") for ORDER_CLAIM to
 * apply, counted once per refund field as early_refunds.
 * Returns {1 or 0 (applied now or before), amount, campaign, message,
 * order time, verified}, {-1} for an unknown order (kept as an early
 * refund), {-2} for another currency than the order's.
 */
static const char order_refund[] =
    ADD_MONEY_LUA
    "local o = redis.call('HMGET', KEYS[1], 'currency', 'revenue', 'refunded',\n"
    "                     'campaign', 'message', 'time', 'verified')\n"
    "if not o[1] then\n"
    "  local held = ARGV[2] .. ' ' .. ARGV[3]\n"
    "  if redis.call('HSETNX', KEYS[3], ARGV[1], held) == 1 then\n"
    "    redis.call('HINCRBY', KEYS[2], 'early_refunds', 1)\n"
    "    redis.call('EXPIRE', KEYS[2], ARGV[4])\n"
    "  end\n"
    "  redis.call('EXPIRE', KEYS[3], ARGV[4])\n"
    "  return {-1}\n"
    "end\n"
    "if o[1] ~= ARGV[3] then return {-2} end\n"
    "local prior = redis.call('HGET', KEYS[1], ARGV[1])\n"
    "if prior then return {0, prior, o[4], o[5], o[6], o[7]} end\n"
    "local left = tonumber(o[2]) - tonumber(o[3] or '0')\n"
    "local amount = tonumber(ARGV[2])\n"
    "if amount < 0 or amount > left then amount = left end\n"
    "-- 0 - amount, never -amount: Lua writes -0 as \"-0\", which HINCRBY rejects.\n"
    "redis.call('HSET', KEYS[1], ARGV[1], amount)\n"
    "redis.call('HINCRBY', KEYS[1], 'refunded', amount)\n"
    "local cur = ARGV[3]\n"
    "redis.call('HINCRBY', KEYS[2], 'refunds', 1)\n"
    "add_money(KEYS[2], 'refunded:' .. cur, amount)\n"
    "add_money(KEYS[2], 'revenue:' .. cur, 0 - amount)\n"
    "if o[4] ~= '' then\n"
    "  add_money(KEYS[2], 'attributed_revenue:' .. cur, 0 - amount)\n"
    "end\n"
    "if o[7] == '1' then\n"
    "  add_money(KEYS[2], 'verified_revenue:' .. cur, 0 - amount)\n"
    "end\n"
    "redis.call('EXPIRE', KEYS[2], ARGV[4])\n"
    "return {1, tostring(amount), o[4], o[5], o[6], o[7]}\n";

/*
 * Applies a refund that ORDER_REFUND accepted to the credited campaign.
 * KEYS: campaign totals, message totals, hour of the refund, campaign's
 *       order record, the message's hour of the refund.
 * ARGV: refund field, amount, currency, verified when applied (0 or 1, as
 *       ORDER_REFUND saw it), retention.
 * The refund field in the campaign's record makes a repeat a no-op.
 * Returns 1 when applied, 0 when applied before or the record is missing.
 */
static const char campaign_refund[] =
    ADD_MONEY_LUA
    "if redis.call('EXISTS', KEYS[4]) == 0 then return 0 end\n"
    "if redis.call('HSETNX', KEYS[4], ARGV[1], ARGV[2]) == 0 then return 0 end\n"
    "redis.call('HINCRBY', KEYS[4], 'refunded', ARGV[2])\n"
    "local cur = ARGV[3]\n"
    "local amount = tonumber(ARGV[2])\n"
    "for _, i in ipairs({1, 2, 3, 5}) do\n"
    "  redis.call('HINCRBY', KEYS[i], 'refunds', 1)\n"
    "  add_money(KEYS[i], 'refunded:' .. cur, amount)\n"
    "  add_money(KEYS[i], 'revenue:' .. cur, 0 - amount)\n"
    "  if ARGV[4] == '1' then\n"
    "    add_money(KEYS[i], 'verified_revenue:' .. cur, 0 - amount)\n"
    "  end\n"
    "  redis.call('EXPIRE', KEYS[i], ARGV[5])\n"
    "end\n"
    "return 1\n";

/*
 * Marks a credited order verified in its campaign, after ORDER_CLAIM
 * returned {3, ...}.
 * KEYS: campaign totals, message totals, hour of the order, campaign's
 *       order record, the message's hour of the order.
 * ARGV: currency, revenue delta, net revenue, trusted revenue, retention,
 *       refund cut (what ORDER_CLAIM took off the order's refunds because
 *       they exceeded the trusted revenue).
 * The cut lowers refunded:CUR here as it did in the shop totals, so the
 * two agree; the verified mark makes it happen once. In the hourly keys it
 * lands in the hour of the order, not in the hours of the refunds.
 * Returns 1 when applied, 0 when the record is missing or already verified.
 */
static const char campaign_verify[] =
    ADD_MONEY_LUA
    "if redis.call('EXISTS', KEYS[4]) == 0 then return 0 end\n"
    "if redis.call('HGET', KEYS[4], 'verified') == '1' then return 0 end\n"
    "redis.call('HSET', KEYS[4], 'verified', '1', 'revenue', ARGV[4])\n"
    "local cut = tonumber(ARGV[6])\n"
    "if cut > 0 then redis.call('HINCRBY', KEYS[4], 'refunded', 0 - cut) end\n"
    "local cur = ARGV[1]\n"
    "for _, i in ipairs({1, 2, 3, 5}) do\n"
    "  redis.call('HINCRBY', KEYS[i], 'verified_conversions', 1)\n"
    "  add_money(KEYS[i], 'revenue:' .. cur, ARGV[2])\n"
    "  add_money(KEYS[i], 'verified_revenue:' .. cur, ARGV[3])\n"
    "  if cut > 0 then\n"
    "    add_money(KEYS[i], 'refunded:' .. cur, 0 - cut)\n"
    "  end\n"
    "  redis.call('EXPIRE', KEYS[i], ARGV[5])\n"
    "end\n"
    "return 1\n";

/*
 * Counts events in a shop's totals that no order claim covers (identify
 * beacons and the placeholders they carried).
 * KEYS: shop totals, applied marks of the shop (hash).
 * ARGV: writer id and sequence number of the event, retention, then field
 *       and increment pairs.
 * Sent as the event's first command, so a writer's calls reach Redis in
 * sequence order and the highest applied sequence per writer is enough to
 * skip a replay (as for CAMPAIGN_TOUCH). A failed call fails the event,
 * which is journaled and replayed.
 * TODO: unlike CAMPAIGN_TOUCH, no predecessor check: a call that gets BUSY
 * while the next identify of the same shop and writer is applied is
 * skipped on replay (the identifies and ignored_placeholders counters).
 * Returns 1 when counted, 0 when already counted.
 */
static const char shop_count[] =
    "local last = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')\n"
    "if tonumber(ARGV[2]) <= last then return 0 end\n"
    "redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])\n"
    "redis.call('EXPIRE', KEYS[2], ARGV[3])\n"
    "for i = 4, #ARGV - 1, 2 do\n"
    "  redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1])\n"
    "end\n"
    "redis.call('EXPIRE', KEYS[1], ARGV[3])\n"
    "return 1\n";

static const char *const sources[SCRIPT_COUNT] = {
    [SCRIPT_READER_TOUCH] = reader_touch,
    [SCRIPT_CAMPAIGN_TOUCH] = campaign_touch,
    [SCRIPT_CAMPAIGN_SUMS] = campaign_sums,
    [SCRIPT_ORDER_CLAIM] = order_claim,
    [SCRIPT_CAMPAIGN_CONVERT] = campaign_convert,
    [SCRIPT_SENT] = sent,
    [SCRIPT_LINK_ADD] = link_add,
    [SCRIPT_LINK_LOOKUP] = link_lookup,
    [SCRIPT_ORDER_REFUND] = order_refund,
    [SCRIPT_CAMPAIGN_REFUND] = campaign_refund,
    [SCRIPT_CAMPAIGN_VERIFY] = campaign_verify,
    [SCRIPT_SHOP_COUNT] = shop_count,
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
