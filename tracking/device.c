/*
 * device.c - User-Agent substrings behind device.h.
 *
 * A hand-written list rather than a User-Agent parsing library: Debian 12
 * packages none for C, and tally needs only five device classes and a few
 * mail client families, which two dozen substrings decide.
 *
 * The matcher is hand-written too. Every pixel and click classifies its
 * User-Agent, and one memmem call per substring cost about 6,000
 * instructions for a 107-byte iPhone User-Agent (callgrind). Instead, one
 * pass over the bytes looks up which substrings can start at each byte and
 * sets a bit for each one it finds. The rules then only test bits, at about
 * a third of that cost. The result is the same as one substring search per
 * entry, and the unit tests compare the two.
 */
#include "device.h"

#include <stdint.h>
#include <string.h>

/* The substrings the rules test, one bit each in a match mask. */
enum ua_token {
    UA_GOOGLE_PROXY,
    UA_YAHOO_PROXY,
    UA_GGPHT,
    UA_IPAD,
    UA_TABLET,
    UA_ANDROID,
    UA_MOBILE,
    UA_IPHONE,
    UA_IPOD,
    UA_WINDOWS_PHONE,
    UA_WINDOWS_NT,
    UA_MACINTOSH,
    UA_X11,
    UA_CROS,
    UA_LINUX,
    UA_OUTLOOK,
    UA_MS_OFFICE,
    UA_MICROSOFT_OFFICE,
    UA_THUNDERBIRD,
    UA_APPLE_WEBKIT,
    UA_SAFARI,
    UA_VERSION,
    UA_FIREFOX,
    UA_CHROME,
    UA_TOKEN_COUNT,
};

#define BIT(t) (UINT32_C(1) << (t))
_Static_assert(UA_TOKEN_COUNT <= 32, "a match mask is a uint32_t");

struct ua_substring {
    const char *text;
    size_t len;
};

#define SUBSTRING(s) {s, sizeof(s) - 1}

static const struct ua_substring substrings[UA_TOKEN_COUNT] = {
    [UA_GOOGLE_PROXY] = SUBSTRING("GoogleImageProxy"),
    [UA_YAHOO_PROXY] = SUBSTRING("YahooMailProxy"),
    [UA_GGPHT] = SUBSTRING("via ggpht.com"),
    [UA_IPAD] = SUBSTRING("iPad"),
    [UA_TABLET] = SUBSTRING("Tablet"),
    [UA_ANDROID] = SUBSTRING("Android"),
    [UA_MOBILE] = SUBSTRING("Mobile"),
    [UA_IPHONE] = SUBSTRING("iPhone"),
    [UA_IPOD] = SUBSTRING("iPod"),
    [UA_WINDOWS_PHONE] = SUBSTRING("Windows Phone"),
    [UA_WINDOWS_NT] = SUBSTRING("Windows NT"),
    [UA_MACINTOSH] = SUBSTRING("Macintosh"),
    [UA_X11] = SUBSTRING("X11"),
    [UA_CROS] = SUBSTRING("CrOS"),
    [UA_LINUX] = SUBSTRING("Linux"),
    [UA_OUTLOOK] = SUBSTRING("Outlook"),
    [UA_MS_OFFICE] = SUBSTRING("ms-office"),
    [UA_MICROSOFT_OFFICE] = SUBSTRING("Microsoft Office"),
    [UA_THUNDERBIRD] = SUBSTRING("Thunderbird"),
    [UA_APPLE_WEBKIT] = SUBSTRING("AppleWebKit"),
    [UA_SAFARI] = SUBSTRING("Safari/"),
    [UA_VERSION] = SUBSTRING("Version/"),
    [UA_FIREFOX] = SUBSTRING("Firefox/"),
    [UA_CHROME] = SUBSTRING("Chrome/"),
};

/* For each byte, the substrings that start with it. It must agree with
 * the first bytes in substrings[], or the comparison with plain substring
 * search in test_device.c fails. */
static const uint32_t starting_with[256] = {
    ['A'] = BIT(UA_ANDROID) | BIT(UA_APPLE_WEBKIT),
    ['C'] = BIT(UA_CROS) | BIT(UA_CHROME),
    ['F'] = BIT(UA_FIREFOX),
    ['G'] = BIT(UA_GOOGLE_PROXY),
    ['L'] = BIT(UA_LINUX),
    ['M'] = BIT(UA_MOBILE) | BIT(UA_MACINTOSH) | BIT(UA_MICROSOFT_OFFICE),
    ['O'] = BIT(UA_OUTLOOK),
    ['S'] = BIT(UA_SAFARI),
    ['T'] = BIT(UA_TABLET) | BIT(UA_THUNDERBIRD),
    ['V'] = BIT(UA_VERSION),
    ['W'] = BIT(UA_WINDOWS_PHONE) | BIT(UA_WINDOWS_NT),
    ['X'] = BIT(UA_X11),
    ['Y'] = BIT(UA_YAHOO_PROXY),
    ['i'] = BIT(UA_IPAD) | BIT(UA_IPHONE) | BIT(UA_IPOD),
    ['m'] = BIT(UA_MS_OFFICE),
    ['v'] = BIT(UA_GGPHT),
};

/* Returns the mask of the substrings that occur in ua[0..len). */
static uint32_t scan(const char *ua, size_t len)
{
    uint32_t found = 0;

    for (size_t i = 0; i < len; i++) {
        uint32_t candidates = starting_with[(unsigned char)ua[i]] & ~found;

        while (candidates != 0) {
            unsigned t = (unsigned)__builtin_ctz(candidates);
            const struct ua_substring *s = &substrings[t];

            /* Every substring has at least three bytes. Comparing the
             * second byte inline rejects most candidates without a call. */
            candidates &= candidates - 1;
            if (s->len <= len - i && ua[i + 1] == s->text[1] &&
                memcmp(ua + i + 2, s->text + 2, s->len - 2) == 0)
                found |= BIT(t);
        }
    }
    return found;
}

static bool has(uint32_t found, enum ua_token t)
{
    return (found & BIT(t)) != 0;
}

static bool has_any(uint32_t found, uint32_t tokens)
{
    return (found & tokens) != 0;
}

static enum device_class class_of_mask(uint32_t found)
{
    if (has_any(found, BIT(UA_GOOGLE_PROXY) | BIT(UA_YAHOO_PROXY) | BIT(UA_GGPHT)))
        return DEVICE_PROXY;
    if (has_any(found, BIT(UA_IPAD) | BIT(UA_TABLET)) ||
        (has(found, UA_ANDROID) && !has(found, UA_MOBILE)))
        return DEVICE_TABLET;
    if (has_any(found, BIT(UA_IPHONE) | BIT(UA_IPOD) | BIT(UA_ANDROID) |
                       BIT(UA_MOBILE) | BIT(UA_WINDOWS_PHONE)))
        return DEVICE_MOBILE;
    if (has_any(found, BIT(UA_WINDOWS_NT) | BIT(UA_MACINTOSH) | BIT(UA_X11) |
                       BIT(UA_CROS) | BIT(UA_LINUX)))
        return DEVICE_DESKTOP;
    return DEVICE_UNKNOWN;
}

static enum client_family client_of_mask(uint32_t found)
{
    if (has_any(found, BIT(UA_GOOGLE_PROXY) | BIT(UA_GGPHT)))
        return CLIENT_GMAIL;
    if (has(found, UA_YAHOO_PROXY))
        return CLIENT_YAHOO;
    if (has_any(found, BIT(UA_OUTLOOK) | BIT(UA_MS_OFFICE) | BIT(UA_MICROSOFT_OFFICE)))
        return CLIENT_OUTLOOK;
    if (has(found, UA_THUNDERBIRD))
        return CLIENT_THUNDERBIRD;
    /* Apple Mail renders with WebKit but, unlike Safari, sends no
     * "Safari/" or "Version/" token. */
    if (has(found, UA_APPLE_WEBKIT) && !has_any(found, BIT(UA_SAFARI) | BIT(UA_VERSION)) &&
        has_any(found, BIT(UA_IPHONE) | BIT(UA_IPAD) | BIT(UA_MACINTOSH)))
        return CLIENT_APPLE_MAIL;
    if (has_any(found, BIT(UA_FIREFOX) | BIT(UA_CHROME) | BIT(UA_SAFARI)))
        return CLIENT_BROWSER;
    return CLIENT_UNKNOWN;
}

void device_classify(const char *ua, size_t len, enum device_class *device,
                     enum client_family *client)
{
    uint32_t found = ua != NULL ? scan(ua, len) : 0;

    *device = class_of_mask(found);
    *client = client_of_mask(found);
}

enum device_class device_class_of(const char *ua, size_t len)
{
    return class_of_mask(ua != NULL ? scan(ua, len) : 0);
}

enum client_family device_client_of(const char *ua, size_t len)
{
    return client_of_mask(ua != NULL ? scan(ua, len) : 0);
}

const char *device_class_name(enum device_class c)
{
    switch (c) {
    case DEVICE_MOBILE: return "mobile";
    case DEVICE_TABLET: return "tablet";
    case DEVICE_DESKTOP: return "desktop";
    case DEVICE_PROXY: return "proxy";
    case DEVICE_UNKNOWN:
    case DEVICE_CLASS_COUNT: break;
    }
    return "unknown";
}

const char *device_client_name(enum client_family f)
{
    switch (f) {
    case CLIENT_GMAIL: return "gmail";
    case CLIENT_YAHOO: return "yahoo";
    case CLIENT_OUTLOOK: return "outlook";
    case CLIENT_APPLE_MAIL: return "apple_mail";
    case CLIENT_THUNDERBIRD: return "thunderbird";
    case CLIENT_BROWSER: return "browser";
    case CLIENT_UNKNOWN:
    case CLIENT_FAMILY_COUNT: break;
    }
    return "unknown";
}
