/*
 * pidfile.h - tallyd.pid in state_dir: the process id of the tallyd that
 * uses the directory, so that an operator can signal that one process
 * (kill -HUP "$(cat STATE_DIR/tallyd.pid)") when several run on a host.
 *
 * The tallyd named in the file keeps it under an exclusive flock. Linux
 * drops the lock when the process ends, however it ends, so a file whose
 * lock is free is stale and is taken over. A file whose lock is held
 * belongs to a live tallyd with the same state_dir, and a second one
 * stops at start instead of overwriting it.
 */
#ifndef TALLY_PIDFILE_H
#define TALLY_PIDFILE_H

#include <stddef.h>

#define PIDFILE_NAME "tallyd.pid"

/* Creates dir/tallyd.pid, or takes over a stale one, writes this
 * process's id and a newline to it, and keeps it locked. Returns the open
 * descriptor, which the caller passes to pidfile_release. Returns -1 with
 * a one-line reason in err when another live tallyd has the file locked
 * (the reason names its pid) or a system call fails. */
int pidfile_claim(const char *dir, char *err, size_t errsize);

/* Removes dir/tallyd.pid if it is still the file fd locks (a tallyd that
 * started after this one may have replaced it), then closes fd, which
 * frees the lock. Does nothing for fd -1. */
void pidfile_release(int fd, const char *dir);

#endif
