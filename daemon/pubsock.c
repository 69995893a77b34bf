/* pubsock.c: the event socket itself: creating it safely in a shared
 * directory, and checking one systemd passes.  See publish.h. */
#include "daemon/publish.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon/util.h"

int pub_check_fd(int fd, char *err, size_t errlen)
{
    struct stat st;
    int v;
    socklen_t len = sizeof v;

    if (fstat(fd, &st) < 0)
        return lc_syserr(PUB_EINVAL, err, errlen, "fd %d", fd);
    if (!S_ISSOCK(st.st_mode)) {
        snprintf(err, errlen, "fd %d is not a socket", fd);
        return PUB_EINVAL;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &len) < 0 || v != AF_UNIX) {
        snprintf(err, errlen, "fd %d is not a unix socket", fd);
        return PUB_EINVAL;
    }
    len = sizeof v;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &len) < 0 || v != SOCK_STREAM) {
        snprintf(err, errlen, "fd %d is not a stream socket (ListenStream= in the unit)", fd);
        return PUB_EINVAL;
    }
    len = sizeof v;
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) < 0 || !v) {
        snprintf(err, errlen, "fd %d is not listening", fd);
        return PUB_EINVAL;
    }
    return PUB_OK;
}


/* ------------------------------------------------------------ the socket file */

static void user_name(uid_t uid, char *buf, size_t len)
{
    struct passwd pw, *found = NULL;
    char tmp[1024];
    if (getpwuid_r(uid, &pw, tmp, sizeof tmp, &found) == 0 && found)
        snprintf(buf, len, "%s", pw.pw_name);
    else
        snprintf(buf, len, "%u", (unsigned)uid);
}

int pub_check_dir(const char *path, char *err, size_t errlen)
{
    char dir[sizeof ((struct sockaddr_un *)0)->sun_path + 1], user[64], owner[64];
    struct stat st;
    const char *slash = strrchr(path, '/');

    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    user_name(geteuid(), user, sizeof user);
    if (stat(dir, &st) < 0) {
        int e = errno;
        if (e == ENOENT && strcmp(dir, PUB_RUNTIME_DIR) == 0)
            snprintf(err, errlen, "%s: directory %s does not exist: systemd makes it when "
                     "lcnetd.socket or lcnetd.service starts (RuntimeDirectory=lcnetd); to run "
                     "lcnetd by hand, create it first (systemd-tmpfiles --create lcnetd.conf, "
                     "or install -d -o %s %s)", path, dir, user, dir);
        else if (e == ENOENT)
            snprintf(err, errlen, "%s: directory %s does not exist: create it (install -d -o "
                     "%s %s), or set socket in [daemon] to a path in a directory that exists",
                     path, dir, user, dir);
        else if (e == EACCES || e == ENOTDIR)
            snprintf(err, errlen, "%s: user %s cannot reach directory %s: %s (a directory on "
                     "the way is not searchable for it, or not a directory): fix that, or set "
                     "socket in [daemon] elsewhere", path, user, dir, strerror(e));
        else
            return lc_syserr(PUB_ESYS, err, errlen, "%s: directory %s", path, dir);
        errno = e;
        return PUB_ENODIR;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s: %s is not a directory: set socket in [daemon] to a path in "
                 "a directory", path, dir);
        errno = ENOTDIR;
        return PUB_ENODIR;
    }
    /* the effective ids, as bind() uses them */
    if (faccessat(AT_FDCWD, dir, W_OK | X_OK, AT_EACCESS) < 0) {
        int e = errno;
        user_name(st.st_uid, owner, sizeof owner);
        snprintf(err, errlen, "%s: user %s may not create files in %s (%s; mode %04o, owner "
                 "%s): let it write there (chown %s %s), or set socket in [daemon] to a path "
                 "in a directory it may write", path, user, dir, strerror(e),
                 (unsigned)(st.st_mode & 07777), owner, user, dir);
        errno = e;
        return PUB_ENODIR;
    }
    return PUB_OK;
}

#ifdef LCNETD_TESTING
void (*pub_test_bound)(const char *path);
#endif

/* Does someone accept on this socket?  1 yes, 0 no (stale), -1 cannot tell. */
static int socket_live(const struct sockaddr_un *sa)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), r, e;

    if (fd < 0)
        return -1;
    r = connect(fd, (const struct sockaddr *)sa, sizeof *sa);
    e = errno;
    close(fd);
    errno = e;
    if (r == 0 || e == EAGAIN || e == EINPROGRESS)
        return 1;                              /* EAGAIN: its backlog is full, so it is alive */
    return e == ECONNREFUSED ? 0 : -1;
}

int pub_check_path(const char *path, char *err, size_t errlen)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    struct stat st;
    int ret, live;

    if (!path[0] || strlen(path) >= sizeof sa.sun_path) {
        snprintf(err, errlen, "socket path \"%s\": 1 to %zu bytes", path, sizeof sa.sun_path - 1);
        return PUB_EINVAL;
    }
    strcpy(sa.sun_path, path);
    if ((ret = pub_check_dir(path, err, errlen)) < 0)
        return ret;
    if (lstat(path, &st) < 0) {
        if (errno == ENOENT)
            return PUB_OK;
        return lc_syserr(PUB_ESYS, err, errlen, "lstat %s", path);
    }
    if (S_ISLNK(st.st_mode)) {
        snprintf(err, errlen, "%s is a symbolic link; refusing to follow it", path);
        return PUB_EEXIST;
    }
    if (!S_ISSOCK(st.st_mode)) {
        snprintf(err, errlen, "%s exists and is not a socket; refusing to replace it", path);
        return PUB_EEXIST;
    }
    if ((live = socket_live(&sa)) > 0) {
        snprintf(err, errlen, "%s: another process is listening on it (lcnetd running?)", path);
        return 1;
    }
    if (live < 0) {
        snprintf(err, errlen, "%s: cannot tell whether it is in use: connect: %s", path,
                 strerror(errno));
        return PUB_EEXIST;
    }
    return PUB_OK;
}

int pub_listen(const char *path, unsigned mode, int *fd, char *err, size_t errlen)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    struct stat st;
    int s = -1, ret = PUB_OK, bound = 0, r, e;
    mode_t old;

    *fd = -1;
    if (mode & ~0777u || mode & 0002) {
        snprintf(err, errlen, "socket mode %04o: at most 0777 and never writable by others", mode);
        return PUB_EINVAL;
    }
    if (!path[0] || strlen(path) >= sizeof sa.sun_path) {
        snprintf(err, errlen, "socket path \"%s\": 1 to %zu bytes", path, sizeof sa.sun_path - 1);
        return PUB_EINVAL;
    }
    strcpy(sa.sun_path, path);
    if ((ret = pub_check_path(path, err, errlen)) != PUB_OK)
        return ret > 0 ? PUB_EEXIST : ret;
    /* Absent, or a stale socket left by a run that did not clean up.  Were
     * it swapped for something else since pub_check_path looked, unlink
     * removes only the name, and bind below creates its own file or fails. */
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode) && unlink(path) < 0 && errno != ENOENT)
        return lc_syserr(PUB_ESYS, err, errlen, "removing stale socket %s", path);

    if ((s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
        return lc_syserr(PUB_ESYS, err, errlen, "socket");
    /* bind() creates the file with 0777 & ~umask: with this umask it is born
     * with at most `mode`, never wider even for an instant. */
    old = umask(~mode & 0777);
    r = bind(s, (struct sockaddr *)&sa, sizeof sa);
    e = errno;
    umask(old);
    if (r < 0) {
        errno = e;
        if (e == EADDRINUSE)
            ret = lc_syserr(PUB_EEXIST, err, errlen, "%s appeared while starting; refusing to replace it", path);
        else
            ret = lc_syserr(PUB_ESYS, err, errlen, "bind %s", path);
        goto end;
    }
    bound = 1;
#ifdef LCNETD_TESTING
    if (pub_test_bound)
        pub_test_bound(path);
#endif
    /* A default ACL on the directory overrides the umask; set the mode
     * exactly, on the name we just created and never through a symlink. */
    if (fchmodat(AT_FDCWD, path, mode, AT_SYMLINK_NOFOLLOW) < 0) {
        ret = lc_syserr(PUB_ESYS, err, errlen, "chmod %s %04o", path, mode);
        goto end;
    }
    if (listen(s, SOMAXCONN) < 0) {
        ret = lc_syserr(PUB_ESYS, err, errlen, "listen %s", path);
        goto end;
    }
    *fd = s;
    s = -1;
end:
    if (s >= 0) {
        e = errno;
        close(s);
        if (bound && lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
            unlink(path);
        errno = e;
    }
    return ret;
}
