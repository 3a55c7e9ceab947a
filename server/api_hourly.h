/*
 * api_hourly.h - the hourly series of GET /v1/campaigns/<id>/stats,
 * decoded straight from the HGETALL replies of the hour hashes.
 *
 * A 31-day range is 744 hour hashes. Copying each reply to JSON and
 * grouping its fields through JSON objects cost about 11,000 allocations
 * per request, most of the response time. Here each reply is decoded into one
 * array of integers per field as it arrives, and the JSON text of the
 * series is written straight from those arrays. Building it as jansson
 * values, dumping and freeing them took about 60 % of the instructions of
 * a 744-hour request (callgrind, loadtest/stats/latency.py). The hashes
 * are still read with pipelined HGETALLs, not with a Lua script. A script reading 744 hashes ran 1.8 to
 * 2.0 ms inside Redis 7.0 (docs/benchmarks.md), and Redis runs no event
 * write meanwhile. The pipelined reads cost Redis about 0.6 ms and let
 * other clients' commands in between.
 */
#ifndef TALLY_API_HOURLY_H
#define TALLY_API_HOURLY_H

#include <stdint.h>

#include <hiredis/hiredis.h>
#include <jansson.h>

struct api_hourly;

/* Creates the series of n_hours (1 or more) hours starting at from (Unix
 * s, a whole hour), all empty. Returns NULL when memory runs out. */
struct api_hourly *api_hourly_new(uint32_t from, uint32_t n_hours);

void api_hourly_free(struct api_hourly *h);

#define API_HOURLY_FIELDS_MAX 128

/*
 * Takes the HGETALL reply of hour number hour (0 is from). Fields whose
 * value is not an integer are skipped. NOTE: at most API_HOURLY_FIELDS_MAX
 * distinct fields are kept over the range; later new fields are dropped.
 */
void api_hourly_take(struct api_hourly *h, uint32_t hour, const redisReply *reply);

/*
 * Returns the JSON text of the object {"from", "to", "hours", "counters",
 * "amounts"} in a malloc'd string, or NULL when memory runs out. "hours"
 * lists the UTC hours as ISO 8601 strings. "counters" has one integer
 * array per counter field, 0 where an hour lacks the field, and always
 * opens, clicks, conversions and cross_device_conversions. A field
 * "GROUP:CUR" with an ISO 4217 code becomes amounts[GROUP][CUR]: decimal
 * strings at the currency's exponent, null where the hour has no amount.
 * Fields whose names are not UTF-8 are left out.
 */
char *api_hourly_json(const struct api_hourly *h);

#endif
