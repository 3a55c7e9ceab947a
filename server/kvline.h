/*
 * kvline.h - helpers for the "key = value" line files tally reads (the
 * configuration file and the keys file).
 */
#ifndef TALLY_KVLINE_H
#define TALLY_KVLINE_H

/* Strips leading spaces and tabs and trailing spaces, tabs, CR and LF from
 * s in place. Returns a pointer into s. */
char *kvline_trim(char *s);

#endif
