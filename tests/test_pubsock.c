/* test_pubsock.c: the event socket file (pubsock.c): pub_listen's mode,
 * exactly as asked under any umask or default ACL, never wider for a
 * moment; what it refuses to replace (links, files, folders, a live
 * socket) and the stale socket it does replace; pub_check_fd on what
 * systemd might pass.
 *
 * Everything happens in a fresh temporary directory holding one listening
 * socket made by pub_listen, as the daemon's would be.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "daemon/publish.h"
#include "tests/testutil.h"

typedef sock_dir fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);

    if (!f)
        return -1;
    sock_dir_open(f, "pubsock");
    *state = f;
    return 0;
}

/* Tests leave links, files, folders and sockets of their own in dir:
 * sock_dir_close removes them all. */
static int teardown(void **state)
{
    sock_dir_close(*state);
    free(*state);
    return 0;
}

static mode_t mode_of(const char *path)
{
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    return st.st_mode & 07777;
}

static void sub_path(const fx *f, char *out, const char *name)
{
    snprintf(out, PATH_MAX, "%s/%s", f->dir, name);
}

#ifdef LCNETD_TESTING
static mode_t born_mode;

static void note_born_mode(const char *path)
{
    struct stat st;
    born_mode = lstat(path, &st) == 0 ? st.st_mode & 07777 : (mode_t)-1;
}
#endif

static void test_listen_mode(void **state)
{
    fx *f = *state;
    char path[PATH_MAX], err[256];
    const unsigned modes[] = { 0660, 0600, 0640 };
    int fd, c;

    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        sub_path(f, path, "m.sock");
        /* A permissive umask must not widen it, a strict one not narrow it. */
        mode_t old = umask(i % 2 ? 0 : 0077);
#ifdef LCNETD_TESTING
        born_mode = (mode_t)-1;
        pub_test_bound = note_born_mode;
#endif
        assert_int_equal(pub_listen(path, modes[i], &fd, err, sizeof err), PUB_OK);
        assert_int_equal(umask(old), i % 2 ? 0 : 0077);   /* and the umask is restored */
#ifdef LCNETD_TESTING
        pub_test_bound = NULL;
        /* No moment with more permissions than asked for, even under umask 0. */
        assert_int_equal(born_mode, modes[i]);
#endif
        assert_int_equal(mode_of(path), modes[i]);
        assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
        assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
        assert_true((c = unix_connect(path)) >= 0);
        close(c);
        close(fd);
        unlink(path);
    }
    assert_int_equal(mode_of(f->path), 0660);

    sub_path(f, path, "w.sock");
    assert_int_equal(pub_listen(path, 0666, &fd, err, sizeof err), PUB_EINVAL);
    assert_non_null(strstr(err, "0666"));
    assert_int_equal(pub_listen(path, 01660, &fd, err, sizeof err), PUB_EINVAL);
    assert_int_equal(fd, -1);
    assert_int_equal(access(path, F_OK), -1);
}

/* A default ACL on the folder replaces the umask: the mode must still come
 * out exactly as asked.  The ACL (owner rw-, group ---, others ---) makes
 * the socket born 0600, narrower than the 0660 requested. */
static void test_listen_mode_under_default_acl(void **state)
{
    fx *f = *state;
    struct {
        uint32_t version;
        struct { uint16_t tag, perm; uint32_t id; } e[3];
    } acl = { 2, { { 0x01, 6, UINT32_MAX }, { 0x04, 0, UINT32_MAX }, { 0x20, 0, UINT32_MAX } } };
    char dir[PATH_MAX], path[PATH_MAX + 8], err[256];
    int fd;

    sub_path(f, dir, "acl");
    assert_int_equal(mkdir(dir, 0700), 0);
    if (setxattr(dir, "system.posix_acl_default", &acl, sizeof acl, 0) < 0)
        skip();                                /* no ACLs on this filesystem */
    snprintf(path, sizeof path, "%s/a.sock", dir);
    assert_int_equal(pub_listen(path, 0660, &fd, err, sizeof err), PUB_OK);
    assert_int_equal(mode_of(path), 0660);
    close(fd);
}

static void test_listen_refuses_symlink(void **state)
{
    fx *f = *state;
    char path[PATH_MAX], target[PATH_MAX], err[256];
    int fd;

    sub_path(f, path, "link.sock");
    sub_path(f, target, "elsewhere");
    assert_int_equal(symlink(target, path), 0);              /* dangling */
    assert_int_equal(pub_listen(path, 0660, &fd, err, sizeof err), PUB_EEXIST);
    assert_non_null(strstr(err, "symbolic link"));
    assert_int_equal(fd, -1);
    assert_int_equal(access(target, F_OK), -1);             /* nothing made through it */
    /* A link to the live socket: still refused, still a link. */
    unlink(path);
    assert_int_equal(symlink(f->path, path), 0);
    assert_int_equal(pub_listen(path, 0660, &fd, err, sizeof err), PUB_EEXIST);
    assert_non_null(strstr(err, "symbolic link"));
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
}

static void test_listen_refuses_file(void **state)
{
    fx *f = *state;
    char path[PATH_MAX], err[256], back[16] = "";
    int fd, w;

    sub_path(f, path, "file.sock");
    assert_true((w = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600)) >= 0);
    assert_int_equal(write(w, "precious", 8), 8);
    close(w);
    assert_int_equal(pub_listen(path, 0660, &fd, err, sizeof err), PUB_EEXIST);
    assert_non_null(strstr(err, "not a socket"));
    assert_true((w = open(path, O_RDONLY)) >= 0);
    assert_int_equal(read(w, back, sizeof back - 1), 8);
    close(w);
    assert_string_equal(back, "precious");

    sub_path(f, path, "dir.sock");
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(pub_listen(path, 0660, &fd, err, sizeof err), PUB_EEXIST);

    memset(path, 'a', sizeof(((struct sockaddr_un *)0)->sun_path));
    path[sizeof(((struct sockaddr_un *)0)->sun_path)] = 0;
    assert_int_equal(pub_listen(path, 0660, &fd, err, sizeof err), PUB_EINVAL);
}

static void test_listen_replaces_stale_refuses_live(void **state)
{
    fx *f = *state;
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    char path[PATH_MAX], err[256];
    int s, fd, c;

    /* Stale: bound by a process that is gone (closed without unlink). */
    sub_path(f, path, "stale.sock");
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    assert_true((s = socket(AF_UNIX, SOCK_STREAM, 0)) >= 0);
    assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(s, 1), 0);
    close(s);
    assert_int_equal(unix_connect(path), -1);
    assert_int_equal(errno, ECONNREFUSED);
    assert_int_equal(pub_listen(path, 0600, &fd, err, sizeof err), PUB_OK);
    assert_int_equal(mode_of(path), 0600);
    assert_true((c = unix_connect(path)) >= 0);
    close(c);

    /* Live: fd above still listens on it. */
    assert_int_equal(pub_listen(path, 0600, &s, err, sizeof err), PUB_EEXIST);
    assert_non_null(strstr(err, "listening"));
    assert_int_equal(s, -1);
    assert_true((c = unix_connect(path)) >= 0);            /* untouched */
    close(c);
    /* The fixture's own listening socket is as live. */
    assert_int_equal(pub_listen(f->path, 0660, &s, err, sizeof err), PUB_EEXIST);
    close(fd);
}

/* A socket whose directory is missing, or not the caller's to write: the
 * message names the directory and says what to do, not bind's ENOENT. */
static void test_listen_names_missing_directory(void **state)
{
    fx *f = *state;
    char dir[PATH_MAX], path[PATH_MAX + 16], err[512];
    int fd;

    sub_path(f, dir, "not-yet");
    snprintf(path, sizeof path, "%s/events.sock", dir);
    assert_int_equal(pub_listen(path, 0660, &fd, err, sizeof err), PUB_ENODIR);
    assert_int_equal(fd, -1);
    assert_non_null(strstr(err, "directory "));
    assert_non_null(strstr(err, dir));
    assert_non_null(strstr(err, "does not exist: create it (install -d -o "));
    assert_non_null(strstr(err, "or set socket in [daemon]"));
    assert_null(strstr(err, "bind"));
    assert_int_equal(pub_check_path(path, err, sizeof err), PUB_ENODIR);
    /* made as the message says: taken */
    assert_int_equal(mkdir(dir, 0755), 0);
    assert_int_equal(pub_check_path(path, err, sizeof err), PUB_OK);
    assert_int_equal(pub_listen(path, 0660, &fd, err, sizeof err), PUB_OK);
    /* and then in use */
    assert_int_equal(pub_check_path(path, err, sizeof err), 1);
    assert_non_null(strstr(err, "listening"));
    close(fd);
    /* a file where the directory should be */
    snprintf(path, sizeof path, "%s/events.sock/x.sock", dir);
    assert_int_equal(pub_check_dir(path, err, sizeof err), PUB_ENODIR);
    assert_non_null(strstr(err, "is not a directory"));
}

static void test_check_fd(void **state)
{
    fx *f = *state;
    char err[256];
    int s, pfd[2];

    assert_int_equal(pub_check_fd(f->lfd, err, sizeof err), PUB_OK);

    assert_true((s = socket(AF_UNIX, SOCK_STREAM, 0)) >= 0);
    assert_int_equal(pub_check_fd(s, err, sizeof err), PUB_EINVAL);
    assert_non_null(strstr(err, "not listening"));
    close(s);

    assert_true((s = socket(AF_UNIX, SOCK_DGRAM, 0)) >= 0);
    assert_int_equal(pub_check_fd(s, err, sizeof err), PUB_EINVAL);
    assert_non_null(strstr(err, "not a stream socket"));
    close(s);

    if ((s = socket(AF_INET, SOCK_DGRAM, 0)) >= 0) {
        assert_int_equal(pub_check_fd(s, err, sizeof err), PUB_EINVAL);
        assert_non_null(strstr(err, "not a unix socket"));
        close(s);
    }
    if ((s = socket(AF_INET, SOCK_STREAM, 0)) >= 0) {
        struct sockaddr_in in = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        if (bind(s, (struct sockaddr *)&in, sizeof in) == 0 && listen(s, 1) == 0) {
            assert_int_equal(pub_check_fd(s, err, sizeof err), PUB_EINVAL);
            assert_non_null(strstr(err, "not a unix socket"));
        }
        close(s);
    }

    assert_int_equal(pipe(pfd), 0);
    assert_int_equal(pub_check_fd(pfd[0], err, sizeof err), PUB_EINVAL);
    assert_non_null(strstr(err, "not a socket"));
    close(pfd[0]);
    close(pfd[1]);
    assert_int_equal(pub_check_fd(pfd[0], err, sizeof err), PUB_EINVAL);   /* closed */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_listen_mode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_listen_mode_under_default_acl, setup, teardown),
        cmocka_unit_test_setup_teardown(test_listen_refuses_symlink, setup, teardown),
        cmocka_unit_test_setup_teardown(test_listen_refuses_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_listen_replaces_stale_refuses_live, setup, teardown),
        cmocka_unit_test_setup_teardown(test_listen_names_missing_directory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_fd, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
