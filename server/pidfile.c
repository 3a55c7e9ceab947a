/*
 * pidfile.c - tallyd.pid in state_dir, see pidfile.h.
 */
#include "pidfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* How many times a claim opens the file, in case the tallyd that locked it
 * removes it between this open and the lock. Each retry needs another
 * tallyd to stop just then, so a few are plenty. */
#define CLAIM_ATTEMPTS 3

static void pidfile_path(const char *dir, char *path, size_t size)
{
    snprintf(path, size, "%s/%s", dir, PIDFILE_NAME);
}

/* Tells whether fd is still the file at path, not one removed since. */
static bool is_linked(int fd, const char *path)
{
    struct stat opened, named;

    return fstat(fd, &opened) == 0 && stat(path, &named) == 0 &&
           opened.st_dev == named.st_dev && opened.st_ino == named.st_ino;
}

/* Writes the reason for a file another tallyd has locked, with the pid
 * it contains. That tallyd may not have written its pid yet. */
static void describe_holder(int fd, const char *path, char *err, size_t errsize)
{
    char text[32], who[48] = "a running tallyd";
    ssize_t n = pread(fd, text, sizeof(text) - 1, 0);
    long pid = 0;

    if (n > 0) {
        text[n] = '\0';
        pid = strtol(text, NULL, 10);
    }
    if (pid > 0)
        snprintf(who, sizeof(who), "the running tallyd pid %ld", pid);
    snprintf(err, errsize, "%s is locked by %s, which uses the same "
             "state_dir: stop it first, or give each tallyd its own state_dir",
             path, who);
}

/* Writes this process's id over the content of fd. Returns 0 or -1. */
static int write_pid(int fd)
{
    char text[32];
    int n = snprintf(text, sizeof(text), "%ld\n", (long)getpid());

    if (ftruncate(fd, 0) != 0)
        return -1;
    return pwrite(fd, text, (size_t)n, 0) == n ? 0 : -1;
}

int pidfile_claim(const char *dir, char *err, size_t errsize)
{
    char path[4096];
    int fd = -1;

    pidfile_path(dir, path, sizeof(path));
    for (int attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) {
            snprintf(err, errsize, "cannot open %s: %s", path, strerror(errno));
            return -1;
        }
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            if (errno == EWOULDBLOCK)
                describe_holder(fd, path, err, errsize);
            else
                snprintf(err, errsize, "cannot lock %s: %s", path, strerror(errno));
            close(fd);
            return -1;
        }
        if (is_linked(fd, path))
            break;
        close(fd);
        fd = -1;
    }
    if (fd < 0) {
        snprintf(err, errsize, "cannot lock %s: it was removed %d times while "
                 "tallyd opened it", path, CLAIM_ATTEMPTS);
        return -1;
    }

    if (write_pid(fd) != 0) {
        snprintf(err, errsize, "cannot write %s: %s", path, strerror(errno));
        unlink(path);
        close(fd);
        return -1;
    }
    return fd;
}

void pidfile_release(int fd, const char *dir)
{
    char path[4096];

    if (fd < 0)
        return;
    pidfile_path(dir, path, sizeof(path));
    if (is_linked(fd, path))
        unlink(path);
    close(fd);
}
