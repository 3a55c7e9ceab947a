/*
 * dashboard_assets.c - embeds the dashboard's files with the assembler's
 * .incbin directive, which GCC and Clang both pass through. The paths are
 * relative to the repository root, where the Makefile runs the compiler;
 * the Makefile lists the files as prerequisites of this object, because
 * the compiler's dependency output does not see .incbin.
 */
#include "dashboard_assets.h"

#include <string.h>

#define EMBED(symbol, file)                                                \
    __asm__(".pushsection .rodata\n"                                       \
            ".balign 16\n"                                                 \
            ".type " #symbol "_start, @object\n"                           \
            #symbol "_start:\n"                                            \
            ".incbin \"" file "\"\n"                                       \
            #symbol "_end:\n"                                              \
            ".byte 0\n"                                                    \
            ".popsection\n");                                              \
    extern const unsigned char symbol##_start[], symbol##_end[]

EMBED(page_html, "dashboard/index.html");
EMBED(app_js, "dashboard/app.js");
EMBED(app_css, "dashboard/app.css");
EMBED(uplot_js, "node_modules/uplot/dist/uPlot.iife.min.js");
EMBED(uplot_css, "node_modules/uplot/dist/uPlot.min.css");

#define ASSET(p, type, symbol) \
    {p, type, symbol##_start, 0}

static struct dashboard_asset assets[] = {
    ASSET("/dashboard", "text/html; charset=utf-8", page_html),
    ASSET("/dashboard/app.js", "text/javascript; charset=utf-8", app_js),
    ASSET("/dashboard/app.css", "text/css; charset=utf-8", app_css),
    ASSET("/dashboard/uplot.js", "text/javascript; charset=utf-8", uplot_js),
    ASSET("/dashboard/uplot.css", "text/css; charset=utf-8", uplot_css),
};

static const unsigned char *const ends[] = {
    page_html_end, app_js_end, app_css_end, uplot_js_end, uplot_css_end,
};

const struct dashboard_asset *dashboard_asset_find(const char *path, size_t len)
{
    for (size_t i = 0; i < sizeof(assets) / sizeof(assets[0]); i++) {
        struct dashboard_asset *a = &assets[i];

        if (strlen(a->path) != len || memcmp(a->path, path, len) != 0)
            continue;
        /* The length is taken from the symbols at run time, because a
         * difference of two addresses is no constant initializer. */
        a->len = (size_t)(ends[i] - a->data);
        return a;
    }
    return NULL;
}
