/*
 * html_scan.c - the tag scanner and attribute decoder of html_scan.h.
 *
 * The scanner moves from one '<' to the next. What follows the '<' decides
 * what it is: a comment, a conditional comment opener or closer, a
 * declaration (<!DOCTYPE>, <![CDATA[ ]]>, <?xml ?>), an end tag, a start
 * tag, or a lone '<' in text. Attribute values in quotes are skipped as a
 * whole, so a '>' or '<' inside one ends nothing.
 */
#include "html_scan.h"

#include <stdint.h>
#include <string.h>

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* Tells whether html[pos..len) starts with lit (lower-case), ignoring case. */
static bool starts_nocase(const char *html, size_t len, size_t pos,
                          const char *lit)
{
    size_t n = strlen(lit);

    if (len - pos < n)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (lower(html[pos + i]) != lit[i])
            return false;
    }
    return true;
}

bool html_name_is(const char *html, size_t start, size_t end, const char *name)
{
    size_t n = strlen(name);

    if (end - start != n)
        return false;
    return starts_nocase(html, end, start, name);
}

/* Returns the offset of the first occurrence of lit (lower-case) at or
 * after pos, ignoring case, or len. */
static size_t find_nocase(const char *html, size_t len, size_t pos,
                          const char *lit)
{
    for (; pos < len; pos++) {
        if (lower(html[pos]) == lit[0] && starts_nocase(html, len, pos, lit))
            return pos;
    }
    return len;
}

/* Returns the offset just past the first '>' at or after pos, or len. */
static size_t past_gt(const char *html, size_t len, size_t pos)
{
    const char *gt = memchr(html + pos, '>', len - pos);

    return gt == NULL ? len : (size_t)(gt - html) + 1;
}

/* Handles "<!--" at pos and returns where scanning goes on. A conditional
 * comment opener "<!--[if ...]>" is skipped on its own, so its content is
 * scanned as markup; any other comment is skipped to its "-->". "<!-->"
 * and "<!--->" end at once, as in HTML5. */
static size_t skip_comment(const char *html, size_t len, size_t pos)
{
    size_t body = pos + 4;
    size_t end;

    if (starts_nocase(html, len, body, "[if")) {
        end = find_nocase(html, len, body, "]>");
        return end == len ? len : end + 2;
    }
    if (starts_nocase(html, len, body, ">"))
        return body + 1;
    if (starts_nocase(html, len, body, "->"))
        return body + 2;

    end = find_nocase(html, len, body, "-->");
    return end == len ? len : end + 3;
}

/* Skips "<!...>" and "<?...>" at pos: declarations, CDATA sections and
 * the "<![endif]-->" that closes a conditional comment. */
static size_t skip_declaration(const char *html, size_t len, size_t pos)
{
    size_t end;

    if (starts_nocase(html, len, pos, "<![cdata[")) {
        end = find_nocase(html, len, pos + 9, "]]>");
        return end == len ? len : end + 3;
    }
    return past_gt(html, len, pos);
}

/* Reads one attribute starting at *pos (not a space, '/' or '>') into a.
 * Leaves *pos after it. Returns false when the input ends inside a quoted
 * value. */
static bool read_attr(const char *html, size_t len, size_t *pos,
                      struct html_attr *a)
{
    size_t p = *pos;

    memset(a, 0, sizeof *a);
    a->name_start = p;
    /* A first '=' belongs to the name, as in HTML5. */
    p++;
    while (p < len && !is_space(html[p]) && html[p] != '/' && html[p] != '>' &&
           html[p] != '=')
        p++;
    a->name_end = p;

    while (p < len && is_space(html[p]))
        p++;
    if (p >= len || html[p] != '=') {
        a->value_start = a->value_end = a->name_end;
        *pos = p;
        return true;
    }

    p++;
    while (p < len && is_space(html[p]))
        p++;
    a->has_value = true;
    if (p < len && (html[p] == '"' || html[p] == '\'')) {
        const char *close = memchr(html + p + 1, html[p], len - p - 1);

        if (close == NULL)
            return false;
        a->quote = html[p];
        a->value_start = p + 1;
        a->value_end = (size_t)(close - html);
        *pos = a->value_end + 1;
        return true;
    }

    a->value_start = p;
    while (p < len && !is_space(html[p]) && html[p] != '>')
        p++;
    a->value_end = p;
    *pos = p;
    return true;
}

/* Reads the tag at pos ('<' then a letter, or "</" then a letter) into
 * tag. Returns the offset past its '>', or 0 when the input ends first. */
static size_t read_tag(const char *html, size_t len, size_t pos,
                       struct html_tag *tag)
{
    size_t p = pos + 1;

    tag->start = pos;
    tag->n_attrs = 0;
    tag->end_tag = html[p] == '/';
    if (tag->end_tag)
        p++;
    tag->name_start = p;
    while (p < len && !is_space(html[p]) && html[p] != '/' && html[p] != '>')
        p++;
    tag->name_end = p;

    for (;;) {
        struct html_attr attr;

        while (p < len && (is_space(html[p]) || html[p] == '/'))
            p++;
        if (p >= len)
            return 0;
        if (html[p] == '>')
            return p + 1;
        if (!read_attr(html, len, &p, &attr))
            return 0;
        if (tag->n_attrs < HTML_ATTRS_MAX)
            tag->attrs[tag->n_attrs++] = attr;
    }
}

/* Returns where the raw text of the element that tag opens ends: the
 * offset of its end tag, or pos when tag opens no raw-text element. */
static size_t raw_text_end(const char *html, size_t len, size_t pos,
                           const struct html_tag *tag)
{
    static const char *const raw[][2] = {
        {"style", "</style"},       {"script", "</script"},
        {"title", "</title"},       {"textarea", "</textarea"},
        {"xmp", "</xmp"},
    };

    if (tag->end_tag)
        return pos;
    for (size_t i = 0; i < sizeof raw / sizeof raw[0]; i++) {
        if (html_name_is(html, tag->name_start, tag->name_end, raw[i][0]))
            return find_nocase(html, len, pos, raw[i][1]);
    }
    return pos;
}

int html_scan(const char *html, size_t len, html_tag_fn fn, void *arg)
{
    struct html_tag tag;
    size_t pos = 0;

    while (pos < len) {
        const char *lt = memchr(html + pos, '<', len - pos);
        size_t next;
        int rc;

        if (lt == NULL)
            break;
        pos = (size_t)(lt - html);

        if (starts_nocase(html, len, pos, "<!--")) {
            pos = skip_comment(html, len, pos);
            continue;
        }
        if (starts_nocase(html, len, pos, "<!") ||
            starts_nocase(html, len, pos, "<?")) {
            pos = skip_declaration(html, len, pos);
            continue;
        }

        next = pos + 1 < len && html[pos + 1] == '/' ? pos + 2 : pos + 1;
        if (next >= len || !is_alpha(html[next])) {
            pos++; /* a '<' in text */
            continue;
        }

        next = read_tag(html, len, pos, &tag);
        if (next == 0)
            break;
        rc = fn(arg, html, &tag);
        if (rc != 0)
            return rc;
        pos = raw_text_end(html, len, next, &tag);
    }
    return 0;
}

/* ---- character references ----------------------------------------- */

/* Writes code point cp as UTF-8 to out and returns the length. */
static size_t put_utf8(uint32_t cp, char *out)
{
    if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
        cp = 0xFFFD;
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

static int digit_value(char c, unsigned base)
{
    int v = -1;

    if (c >= '0' && c <= '9')
        v = c - '0';
    else if (c >= 'a' && c <= 'f')
        v = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
        v = c - 'A' + 10;
    return v >= 0 && (unsigned)v < base ? v : -1;
}

/* Decodes a numeric reference "&#...;" at in[0..len). Returns the length
 * consumed (0 when it is not one) and writes the bytes to out, *n_out. */
static size_t decode_numeric(const char *in, size_t len, char *out,
                             size_t *n_out)
{
    unsigned base = 10;
    size_t p = 2;
    size_t digits_start;
    uint32_t cp = 0;

    if (p < len && (in[p] == 'x' || in[p] == 'X')) {
        base = 16;
        p++;
    }
    digits_start = p;
    for (; p < len && digit_value(in[p], base) >= 0; p++) {
        if (cp <= 0x10FFFF)
            cp = cp * base + (uint32_t)digit_value(in[p], base);
    }
    if (p == digits_start || p >= len || in[p] != ';')
        return 0;

    *n_out = put_utf8(cp, out);
    return p + 1;
}

/* Decodes a named reference at in[0..len); same contract as above. */
static size_t decode_named(const char *in, size_t len, char *out, size_t *n_out)
{
    static const struct {
        const char *name; /* with '&' and ';' */
        const char *bytes;
    } names[] = {
        {"&amp;", "&"},   {"&lt;", "<"},     {"&gt;", ">"},
        {"&quot;", "\""}, {"&apos;", "'"},   {"&nbsp;", "\xC2\xA0"},
    };

    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        size_t n = strlen(names[i].name);

        if (len >= n && memcmp(in, names[i].name, n) == 0) {
            *n_out = strlen(names[i].bytes);
            memcpy(out, names[i].bytes, *n_out);
            return n;
        }
    }
    return 0;
}

size_t html_decode_attr(const char *in, size_t len, char *out)
{
    size_t o = 0;

    for (size_t i = 0; i < len;) {
        size_t used = 0;
        size_t n = 0;

        if (in[i] == '&') {
            if (i + 1 < len && in[i + 1] == '#')
                used = decode_numeric(in + i, len - i, out + o, &n);
            else
                used = decode_named(in + i, len - i, out + o, &n);
        }
        if (used == 0) {
            out[o++] = in[i++];
            continue;
        }
        o += n;
        i += used;
    }
    return o;
}
