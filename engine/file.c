/* file.c: opening model files without blocking.  See file.h.
 *
 * open() with O_NONBLOCK returns at once on a FIFO with no writer (a plain
 * open would wait for one forever); fstat() on the descriptor, not stat() on
 * the path, judges the very file that was opened, after symlinks. */
#include "engine/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/engine.h"

static const char *kind_of(mode_t m)
{
    return S_ISDIR(m) ? "a directory" : S_ISFIFO(m) ? "a FIFO" : S_ISCHR(m) ? "a character device" :
           S_ISBLK(m) ? "a block device" : S_ISSOCK(m) ? "a socket" : "not a regular file";
}

int eng_file_open(const char *path, size_t *size, char *err, size_t errlen)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return ENG_EIO;
    }
    if (fstat(fd, &st) < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        close(fd);
        return ENG_EIO;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: %s, not a regular file", path, kind_of(st.st_mode));
        close(fd);
        return ENG_EIO;
    }
    /* a regular file's reads never wait on O_NONBLOCK's account, but a
     * network file system may take the flag to mean "fail rather than wait" */
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        close(fd);
        return ENG_EIO;
    }
    *size = (size_t)st.st_size;
    return fd;
}

FILE *eng_file_fopen(const char *path, int *code, char *err, size_t errlen)
{
    size_t size;
    int fd = eng_file_open(path, &size, err, errlen);
    FILE *f;
    if (fd < 0) {
        *code = fd;
        return NULL;
    }
    if (!(f = fdopen(fd, "r"))) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        close(fd);
        *code = ENG_ENOMEM;
    }
    return f;
}

int read_file(const char *path, size_t max, uint8_t **buf, size_t *len,
              char *err, size_t errlen)
{
    uint8_t *b = NULL;
    size_t size, got = 0;
    int ret = ENG_EIO;
    int fd = eng_file_open(path, &size, err, errlen);

    *buf = NULL;
    *len = 0;
    if (fd < 0)
        return fd;
    if (size > max) {
        snprintf(err, errlen, "%s: %zu bytes, more than the %zu a model may have", path, size, max);
        ret = ENG_EMODEL;
        goto end;
    }
    if (!(b = malloc(size + 1))) {
        snprintf(err, errlen, "%s: out of memory", path);
        ret = ENG_ENOMEM;
        goto end;
    }
    /* no more than fstat() said: a file growing under us is read as it was */
    while (got < size) {
        ssize_t n = read(fd, b + got, size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            snprintf(err, errlen, "%s: %s", path, n < 0 ? strerror(errno) : "short read");
            goto end;
        }
        got += (size_t)n;
    }
    b[size] = 0;
    *buf = b;
    *len = size;
    b = NULL;
    ret = 0;
end:
    free(b);
    close(fd);
    return ret;
}
