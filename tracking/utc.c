/*
 * utc.c - parsing and formatting of utc.h, with timegm and gmtime_r so that
 * the process's time zone never matters.
 */
#include "utc.h"

#include <stdbool.h>
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

/* Reads exactly n ASCII digits at *text into *value and moves past them.
 * Returns 0, or -1 when fewer digits are there. sscanf would also take a
 * sign, spaces or fewer digits. */
static int fixed_digits(const char **text, int n, int *value)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        char c = (*text)[i];

        if (c < '0' || c > '9')
            return -1;
        v = v * 10 + (c - '0');
    }
    *text += n;
    *value = v;
    return 0;
}

/* Reads ":NN" at *text into *value when a ':' is there. Returns 0, or -1
 * when the ':' is followed by anything but two digits. */
static int optional_field(const char **text, int *value)
{
    if (**text != ':')
        return 0;
    (*text)++;
    return fixed_digits(text, 2, value);
}

static int days_in_month(int year, int month)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

    return month == 2 && leap ? 29 : days[month - 1];
}

int utc_parse(const char *text, uint32_t *out)
{
    int year, month, day, hour = 0, minute = 0, second = 0;
    struct tm tm;
    time_t t;

    if (text[0] >= '0' && text[0] <= '9' && strchr(text, '-') == NULL)
        return parse_unix(text, out);
    if (fixed_digits(&text, 4, &year) != 0 || *text++ != '-' ||
        fixed_digits(&text, 2, &month) != 0 || *text++ != '-' ||
        fixed_digits(&text, 2, &day) != 0)
        return -1;
    if (*text == 'T') {
        text++;
        if (fixed_digits(&text, 2, &hour) != 0 || optional_field(&text, &minute) != 0 ||
            optional_field(&text, &second) != 0)
            return -1;
    }
    if (*text == 'Z')
        text++;
    /* timegm would silently move 2026-02-30 to 2 March. */
    if (*text != '\0' || year < 1970 || month < 1 || month > 12 || day < 1 ||
        day > days_in_month(year, month) || hour > 23 || minute > 59 || second > 59)
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
