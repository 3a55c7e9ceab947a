/*
 * html_scan.h - a tolerant scanner of HTML tags that reports where each
 * attribute value lies in the input.
 *
 * Why not an HTML parser: rewriting must leave every byte outside the
 * replaced attribute values as it was, so it needs byte offsets, not a
 * tree that is serialised again. Debian 12 offers gumbo (libgumbo-dev
 * 0.10.1), which does record offsets, but an HTML5 parser reports the
 * content of Outlook's conditional comments (<!--[if mso]> ... <![endif]-->)
 * as opaque comment text, and that is exactly where the VML buttons of
 * real emails live, so their links would need a second scanner anyway.
 * Gumbo is also no longer maintained upstream. This scanner follows the
 * HTML5 tokenizer's rules for tags, attributes, comments and raw-text
 * elements closely enough for email markup, never fails, and allocates
 * nothing.
 *
 * What it does differently from a browser, on purpose: the content of a
 * downlevel-hidden conditional comment (<!--[if ...]> up to <![endif]-->)
 * is scanned as markup, because Outlook renders it.
 */
#ifndef TALLY_HTML_SCAN_H
#define TALLY_HTML_SCAN_H

#include <stdbool.h>
#include <stddef.h>

#define HTML_ATTRS_MAX 64 /* attributes reported per tag; more are skipped */

/* Offsets into the scanned input. */
struct html_attr {
    size_t name_start;
    size_t name_end;
    size_t value_start; /* equal to value_end when there is no value */
    size_t value_end;
    char quote;         /* '"', '\'' or 0 when unquoted or absent */
    bool has_value;
};

struct html_tag {
    size_t start;       /* offset of the '<' */
    size_t name_start;
    size_t name_end;
    bool end_tag;       /* </name> */
    struct html_attr attrs[HTML_ATTRS_MAX];
    size_t n_attrs;
};

/* Called for each start and end tag, in input order. Returns 0 to go on,
 * anything else to stop the scan with that value. */
typedef int (*html_tag_fn)(void *arg, const char *html,
                           const struct html_tag *tag);

/* Scans html[0..len) and calls fn for every tag outside comments and
 * raw-text elements (style, script, title, textarea, xmp). A tag cut off
 * by the end of the input is not reported. Returns 0, or the first
 * non-zero value fn returned. */
int html_scan(const char *html, size_t len, html_tag_fn fn, void *arg);

/* Tells whether html[start..end) equals name (lower-case, NUL-terminated)
 * ignoring ASCII case. */
bool html_name_is(const char *html, size_t start, size_t end,
                  const char *name);

/* Decodes the character references of an attribute value in[0..len) into
 * out, which has room for len bytes (decoding never lengthens), and
 * returns the decoded length. Numeric references (&#38; &#x26;) and the
 * named ones &amp; &lt; &gt; &quot; &apos; &nbsp; are decoded when they
 * end in ';'. Anything else is copied as it is. A numeric reference to 0,
 * a surrogate or a value above U+10FFFF becomes U+FFFD. */
size_t html_decode_attr(const char *in, size_t len, char *out);

#endif
