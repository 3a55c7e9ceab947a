/*
 * money.c - ISO 4217 minor units, and decimal strings to and from them.
 *
 * The table lists the alphabetic codes of ISO 4217 list one that have a
 * minor unit, with its exponent. Codes without one (precious metals, XDR,
 * the bond-market units XBA..XBD, XSU, XUA, XTS and XXX) are left out,
 * because no shop prices an order in them. Codes that ISO 4217 keeps during
 * a changeover (ANG beside XCG, SLL beside SLE, ZWL beside ZWG, CUC) stay in
 * so that late orders in the old code still count. HRK, withdrawn when
 * Croatia adopted the euro in 2023, is out.
 */
#include "money.h"

#include <stdbool.h>
#include <string.h>

struct currency {
    char code[4];
    int exponent;
};

/* Sorted by code for the binary search in money_currency_exponent. */
static const struct currency currencies[] = {
    {"AED", 2}, {"AFN", 2}, {"ALL", 2}, {"AMD", 2}, {"ANG", 2}, {"AOA", 2},
    {"ARS", 2}, {"AUD", 2}, {"AWG", 2}, {"AZN", 2}, {"BAM", 2}, {"BBD", 2},
    {"BDT", 2}, {"BGN", 2}, {"BHD", 3}, {"BIF", 0}, {"BMD", 2}, {"BND", 2},
    {"BOB", 2}, {"BOV", 2}, {"BRL", 2}, {"BSD", 2}, {"BTN", 2}, {"BWP", 2},
    {"BYN", 2}, {"BZD", 2}, {"CAD", 2}, {"CDF", 2}, {"CHE", 2}, {"CHF", 2},
    {"CHW", 2}, {"CLF", 4}, {"CLP", 0}, {"CNY", 2}, {"COP", 2}, {"COU", 2},
    {"CRC", 2}, {"CUC", 2}, {"CUP", 2}, {"CVE", 2}, {"CZK", 2}, {"DJF", 0},
    {"DKK", 2}, {"DOP", 2}, {"DZD", 2}, {"EGP", 2}, {"ERN", 2}, {"ETB", 2},
    {"EUR", 2}, {"FJD", 2}, {"FKP", 2}, {"GBP", 2}, {"GEL", 2}, {"GHS", 2},
    {"GIP", 2}, {"GMD", 2}, {"GNF", 0}, {"GTQ", 2}, {"GYD", 2}, {"HKD", 2},
    {"HNL", 2}, {"HTG", 2}, {"HUF", 2}, {"IDR", 2}, {"ILS", 2}, {"INR", 2},
    {"IQD", 3}, {"IRR", 2}, {"ISK", 0}, {"JMD", 2}, {"JOD", 3}, {"JPY", 0},
    {"KES", 2}, {"KGS", 2}, {"KHR", 2}, {"KMF", 0}, {"KPW", 2}, {"KRW", 0},
    {"KWD", 3}, {"KYD", 2}, {"KZT", 2}, {"LAK", 2}, {"LBP", 2}, {"LKR", 2},
    {"LRD", 2}, {"LSL", 2}, {"LYD", 3}, {"MAD", 2}, {"MDL", 2}, {"MGA", 2},
    {"MKD", 2}, {"MMK", 2}, {"MNT", 2}, {"MOP", 2}, {"MRU", 2}, {"MUR", 2},
    {"MVR", 2}, {"MWK", 2}, {"MXN", 2}, {"MXV", 2}, {"MYR", 2}, {"MZN", 2},
    {"NAD", 2}, {"NGN", 2}, {"NIO", 2}, {"NOK", 2}, {"NPR", 2}, {"NZD", 2},
    {"OMR", 3}, {"PAB", 2}, {"PEN", 2}, {"PGK", 2}, {"PHP", 2}, {"PKR", 2},
    {"PLN", 2}, {"PYG", 0}, {"QAR", 2}, {"RON", 2}, {"RSD", 2}, {"RUB", 2},
    {"RWF", 0}, {"SAR", 2}, {"SBD", 2}, {"SCR", 2}, {"SDG", 2}, {"SEK", 2},
    {"SGD", 2}, {"SHP", 2}, {"SLE", 2}, {"SLL", 2}, {"SOS", 2}, {"SRD", 2},
    {"SSP", 2}, {"STN", 2}, {"SVC", 2}, {"SYP", 2}, {"SZL", 2}, {"THB", 2},
    {"TJS", 2}, {"TMT", 2}, {"TND", 3}, {"TOP", 2}, {"TRY", 2}, {"TTD", 2},
    {"TWD", 2}, {"TZS", 2}, {"UAH", 2}, {"UGX", 0}, {"USD", 2}, {"USN", 2},
    {"UYI", 0}, {"UYU", 2}, {"UYW", 4}, {"UZS", 2}, {"VED", 2}, {"VES", 2},
    {"VND", 0}, {"VUV", 0}, {"WST", 2}, {"XAF", 0}, {"XCD", 2}, {"XCG", 2},
    {"XOF", 0}, {"XPF", 0}, {"YER", 2}, {"ZAR", 2}, {"ZMW", 2}, {"ZWG", 2},
    {"ZWL", 2},
};

#define CURRENCY_COUNT (sizeof currencies / sizeof currencies[0])

int money_currency_exponent(const char *code, size_t len)
{
    size_t lo = 0;
    size_t hi = CURRENCY_COUNT;

    if (len != 3)
        return -1;
    for (size_t i = 0; i < 3; i++) {
        if (code[i] < 'A' || code[i] > 'Z')
            return -1;
    }

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int cmp = memcmp(code, currencies[mid].code, 3);

        if (cmp == 0)
            return currencies[mid].exponent;
        if (cmp < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return -1;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Appends digit d to *v unless the result would exceed MONEY_MINOR_MAX. */
static int push_digit(int64_t *v, int d)
{
    if (*v > (MONEY_MINOR_MAX - d) / 10)
        return -1;
    *v = *v * 10 + d;
    return 0;
}

/* Leading zeros ("007.50") are accepted: they change no value, and shops
 * that pad amounts to a fixed width would otherwise lose orders. */
int money_parse(const char *dec, size_t len, int exponent, int64_t *minor)
{
    size_t i = 0;
    size_t fraction = 0;
    int64_t v = 0;

    if (exponent < 0 || exponent > 4 || len == 0 || !is_digit(dec[0]))
        return -1;

    for (; i < len && is_digit(dec[i]); i++) {
        if (push_digit(&v, dec[i] - '0') != 0)
            return -1;
    }

    if (i < len && dec[i] == '.') {
        i++;
        if (i == len)
            return -1;
        for (; i < len && is_digit(dec[i]); i++, fraction++) {
            if (fraction == (size_t)exponent ||
                push_digit(&v, dec[i] - '0') != 0)
                return -1;
        }
    }

    if (i != len)
        return -1;

    for (; fraction < (size_t)exponent; fraction++) {
        if (push_digit(&v, 0) != 0)
            return -1;
    }
    *minor = v;
    return 0;
}

int money_format(int64_t minor, int exponent, char *out, size_t outsize)
{
    /* The magnitude as unsigned, so that INT64_MIN has one too. */
    uint64_t mag = minor < 0 ? 0 - (uint64_t)minor : (uint64_t)minor;
    char rev[24];
    size_t n = 0;
    size_t o = 0;

    if (exponent < 0 || exponent > 4)
        return -1;

    /* Digits least significant first, at least one before the point. */
    do {
        rev[n++] = (char)('0' + mag % 10);
        mag /= 10;
    } while (mag > 0 || n <= (size_t)exponent);

    if (outsize < n + (minor < 0) + (exponent > 0) + 1)
        return -1;

    if (minor < 0)
        out[o++] = '-';
    while (n > 0) {
        if (n == (size_t)exponent)
            out[o++] = '.';
        out[o++] = rev[--n];
    }
    out[o] = '\0';
    return (int)o;
}
