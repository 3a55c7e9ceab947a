/*
 * device.c - User-Agent substrings behind device.h.
 *
 * A hand-written list rather than a User-Agent parsing library: Debian 12
 * packages none for C, and tally needs only five device classes and a few
 * mail client families, which a dozen substrings decide.
 */
#include "device.h"

#include <string.h>

static bool contains(const char *ua, size_t len, const char *needle)
{
    size_t n = strlen(needle);

    if (ua == NULL || n > len)
        return false;
    return memmem(ua, len, needle, n) != NULL;
}

static bool is_proxy(const char *ua, size_t len)
{
    return contains(ua, len, "GoogleImageProxy") || contains(ua, len, "YahooMailProxy") ||
           contains(ua, len, "via ggpht.com");
}

enum device_class device_class_of(const char *ua, size_t len)
{
    if (ua == NULL || len == 0)
        return DEVICE_UNKNOWN;
    if (is_proxy(ua, len))
        return DEVICE_PROXY;
    if (contains(ua, len, "iPad") || contains(ua, len, "Tablet") ||
        (contains(ua, len, "Android") && !contains(ua, len, "Mobile")))
        return DEVICE_TABLET;
    if (contains(ua, len, "iPhone") || contains(ua, len, "iPod") ||
        contains(ua, len, "Android") || contains(ua, len, "Mobile") ||
        contains(ua, len, "Windows Phone"))
        return DEVICE_MOBILE;
    if (contains(ua, len, "Windows NT") || contains(ua, len, "Macintosh") ||
        contains(ua, len, "X11") || contains(ua, len, "CrOS") ||
        contains(ua, len, "Linux"))
        return DEVICE_DESKTOP;
    return DEVICE_UNKNOWN;
}

enum client_family device_client_of(const char *ua, size_t len)
{
    if (ua == NULL || len == 0)
        return CLIENT_UNKNOWN;
    if (contains(ua, len, "GoogleImageProxy") || contains(ua, len, "via ggpht.com"))
        return CLIENT_GMAIL;
    if (contains(ua, len, "YahooMailProxy"))
        return CLIENT_YAHOO;
    if (contains(ua, len, "Outlook") || contains(ua, len, "ms-office") ||
        contains(ua, len, "Microsoft Office"))
        return CLIENT_OUTLOOK;
    if (contains(ua, len, "Thunderbird"))
        return CLIENT_THUNDERBIRD;
    /* Apple Mail renders with WebKit but, unlike Safari, sends no
     * "Safari/" or "Version/" token. */
    if (contains(ua, len, "AppleWebKit") && !contains(ua, len, "Safari/") &&
        !contains(ua, len, "Version/") &&
        (contains(ua, len, "iPhone") || contains(ua, len, "iPad") ||
         contains(ua, len, "Macintosh")))
        return CLIENT_APPLE_MAIL;
    if (contains(ua, len, "Firefox/") || contains(ua, len, "Chrome/") ||
        contains(ua, len, "Safari/"))
        return CLIENT_BROWSER;
    return CLIENT_UNKNOWN;
}

const char *device_class_name(enum device_class c)
{
    switch (c) {
    case DEVICE_MOBILE: return "mobile";
    case DEVICE_TABLET: return "tablet";
    case DEVICE_DESKTOP: return "desktop";
    case DEVICE_PROXY: return "proxy";
    case DEVICE_UNKNOWN: break;
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
    case CLIENT_UNKNOWN: break;
    }
    return "unknown";
}
