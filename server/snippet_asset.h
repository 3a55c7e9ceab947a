/*
 * snippet_asset.h - the minified webshop snippet (web/tally.js) embedded
 * into tallyd. The definitions are generated at build time by
 * scripts/embed-js.js into build/gen/snippet_js.c.
 */
#ifndef TALLY_SNIPPET_ASSET_H
#define TALLY_SNIPPET_ASSET_H

#include <stddef.h>

extern const unsigned char snippet_js[];
extern const size_t snippet_js_len;
/* A strong ETag of the bytes, quotes included: "0123456789abcdef". */
extern const char snippet_js_etag[];

#endif
