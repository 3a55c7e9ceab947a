/*
 * kvline.c - kvline_trim of kvline.h.
 */
#include "kvline.h"

#include <string.h>

char *kvline_trim(char *s)
{
    char *end;

    while (*s == ' ' || *s == '\t')
        s++;
    end = s + strlen(s);
    while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' ||
                       end[-1] == '\r'))
        end--;
    *end = '\0';
    return s;
}
