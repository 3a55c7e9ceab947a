/*
 * dashboard_assets.h - the dashboard's files, built into tallyd.
 *
 * The page (dashboard/), and uPlot from the npm package pinned in
 * package-lock.json, are embedded at build time by dashboard_assets.c, so
 * a deployed tallyd serves the same bytes it was tested with, needs no
 * asset directory and makes the browser fetch nothing from elsewhere.
 */
#ifndef TALLY_DASHBOARD_ASSETS_H
#define TALLY_DASHBOARD_ASSETS_H

#include <stddef.h>

struct dashboard_asset {
    const char *path;         /* request path, such as "/dashboard/app.js" */
    const char *content_type;
    const unsigned char *data;
    size_t len;
};

/* Returns the asset served at path[0..len), or NULL. */
const struct dashboard_asset *dashboard_asset_find(const char *path, size_t len);

#endif
