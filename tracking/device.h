/*
 * device.h - coarse device class and email client family of a User-Agent.
 *
 * Journeys show on which kind of device each touch happened (an open on a
 * phone, an order on a desktop) and in which email client family an email
 * was opened. Both come from substrings of the User-Agent header; nothing
 * finer (model, version) is kept, so the result does not identify a person.
 * Mail clients and image proxies send few or generic User-Agents, so
 * "unknown" is a common and honest answer.
 */
#ifndef TALLY_DEVICE_H
#define TALLY_DEVICE_H

#include <stdbool.h>
#include <stddef.h>

enum device_class {
    DEVICE_UNKNOWN = 0,
    DEVICE_MOBILE,
    DEVICE_TABLET,
    DEVICE_DESKTOP,
    DEVICE_PROXY, /* an image proxy fetched the pixel, not the reader's device */
    DEVICE_CLASS_COUNT,
};

enum client_family {
    CLIENT_UNKNOWN = 0,
    CLIENT_GMAIL,       /* Google's image proxy */
    CLIENT_YAHOO,       /* Yahoo's image proxy */
    CLIENT_OUTLOOK,
    CLIENT_APPLE_MAIL,  /* WebKit without a browser's Safari token */
    CLIENT_THUNDERBIRD,
    CLIENT_BROWSER,     /* a web browser: webmail, or a click */
    CLIENT_FAMILY_COUNT,
};

/* Classifies a User-Agent value ua[0..len); NULL or empty gives unknown. */
enum device_class device_class_of(const char *ua, size_t len);
enum client_family device_client_of(const char *ua, size_t len);

/* Sets *device and *client to what device_class_of and device_client_of
 * return for ua[0..len), reading the bytes once for both. */
void device_classify(const char *ua, size_t len, enum device_class *device,
                     enum client_family *client);

/* Returns the stored name: "unknown", "mobile", "tablet", "desktop",
 * "proxy"; and "unknown", "gmail", "yahoo", "outlook", "apple_mail",
 * "thunderbird", "browser". */
const char *device_class_name(enum device_class c);
const char *device_client_name(enum client_family f);

#endif
