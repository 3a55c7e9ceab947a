/*
 * utc.h - the UTC times that the stats API and tallyctl accept and print.
 *
 * Accepted: Unix seconds ("1796417173"), or a UTC calendar time written
 * YYYY-MM-DD, YYYY-MM-DDTHH, YYYY-MM-DDTHH:MM or YYYY-MM-DDTHH:MM:SS, each
 * with an optional trailing Z. Hour keys of the schema and the API's hourly
 * series use whole UTC hours.
 */
#ifndef TALLY_UTC_H
#define TALLY_UTC_H

#include <stdint.h>

/* Parses text into Unix seconds. Returns 0, or -1 when text has none of
 * the forms above, names a date before 1970 or after 2106, or a field out
 * of range. */
int utc_parse(const char *text, uint32_t *out);

/* Writes "YYYY-MM-DDTHH:00:00Z" of the hour that contains t (21 bytes with
 * the NUL) to out. */
void utc_format_hour(uint32_t t, char out[21]);

#endif
