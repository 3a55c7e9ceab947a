/*
 * money.h - exact money amounts: ISO 4217 currencies and decimal strings.
 *
 * Amounts are integer minor units at the currency's exponent (EUR 2: "89.95"
 * is 8995; JPY 0; KWD 3), so sums are exact and never touch floating point.
 */
#ifndef TALLY_MONEY_H
#define TALLY_MONEY_H

#include <stddef.h>
#include <stdint.h>

/* Largest amount accepted, in minor units: keeps any sum of a year of
 * orders far from overflowing a signed 64-bit Redis counter. */
#define MONEY_MINOR_MAX 100000000000000LL /* 10^14 */

/* Returns the exponent (0 to 4) of the active ISO 4217 currency code
 * code[0..len), which must be three upper-case letters, or -1 when the code
 * is not one. */
int money_currency_exponent(const char *code, size_t len);

/* Parses the non-negative decimal dec[0..len) ("89.95", "90", "0.5") at the
 * given exponent (0 to 4) into *minor. Rejects a sign, exponent notation,
 * whitespace, a leading '.', a trailing '.', more fraction digits than the
 * exponent (so any '.' for exponent 0), and amounts above MONEY_MINOR_MAX.
 * Leading zeros are accepted ("007.50" is 750 at exponent 2). Returns 0, or
 * -1 when rejected, leaving *minor unchanged. */
int money_parse(const char *dec, size_t len, int exponent, int64_t *minor);

/* Writes minor (which may be negative) at the exponent (0 to 4) as a decimal
 * with exactly exponent fraction digits ("89.95", "-0.50", "1200") and a NUL
 * to out. Returns the length, or -1 when the exponent is out of range or
 * outsize is too small (24 bytes always suffice). */
int money_format(int64_t minor, int exponent, char *out, size_t outsize);

#endif
