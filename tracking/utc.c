/*
 * utc.c - parsing and formatting of utc.h, with timegm and gmtime_r so that
 * the process's time zone never matters.
 */
#include "utc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int parse_unix(const char *text, uint32_t *out)
{
    char *end;
    unsigned long long seconds = strtoull(text, &end, 10);

    if (*end != '\0' || seconds > UINT32_MAX)
        return -1;
    *out = (uint32_t)seconds;
    return 0;
}

/* Reads ":NN" at *text into *value when present. */
static void optional_field(const char **text, int *value)
{
    int used = 0;

    if (**text == ':' && sscanf(*text, ":%2d%n", value, &used) == 1)
        *text += used;
}

int utc_parse(const char *text, uint32_t *out)
{
    int year, month, day, hour = 0, minute = 0, second = 0, used = 0;
    struct tm tm;
    time_t t;

    if (text[0] >= '0' && text[0] <= '9' && strchr(text, '-') == NULL)
        return parse_unix(text, out);
    if (sscanf(text, "%4d-%2d-%2d%n", &year, &month, &day, &used) != 3)
        return -1;
    text += used;
    if (*text == 'T') {
        if (sscanf(text, "T%2d%n", &hour, &used) != 1)
            return -1;
        text += used;
        optional_field(&text, &minute);
        optional_field(&text, &second);
    }
    if (*text == 'Z')
        text++;
    if (*text != '\0' || year < 1970 || month < 1 || month > 12 || day < 1 ||
        day > 31 || hour < 0 || hour > 23 || minute < 0 || minute > 59 ||
        second < 0 || second > 59)
        return -1;

    memset(&tm, 0, sizeof(tm));
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = minute;
    tm.tm_sec = second;
    t = timegm(&tm);
    if (t < 0 || (unsigned long long)t > UINT32_MAX)
        return -1;
    *out = (uint32_t)t;
    return 0;
}

void utc_format_hour(uint32_t t, char out[21])
{
    time_t tt = (time_t)t;
    struct tm utc;

    gmtime_r(&tt, &utc);
    strftime(out, 21, "%Y-%m-%dT%H:00:00Z", &utc);
}
