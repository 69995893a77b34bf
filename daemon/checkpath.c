/* checkpath.c: --check-config on one path: may this user open it, and if
 * not, what stops it; and would lcnetd.service's sandbox hide it.
 *
 * "Permission denied" alone does not say which of /srv, /srv/cams or the
 * file itself is closed, nor to whom: the walk below finds the first
 * directory on the way that is missing or that the user may not search,
 * and names its mode and owner.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/check.h"

static void owner_of(const struct stat *st, char *buf, size_t len)
{
    struct passwd pw, *u = NULL;
    struct group gr, *g = NULL;
    char t1[2048], t2[4096], un[32], gn[32];
    if (getpwuid_r(st->st_uid, &pw, t1, sizeof t1, &u) == 0 && u)
        snprintf(un, sizeof un, "%s", pw.pw_name);
    else
        snprintf(un, sizeof un, "%u", (unsigned)st->st_uid);
    if (getgrgid_r(st->st_gid, &gr, t2, sizeof t2, &g) == 0 && g)
        snprintf(gn, sizeof gn, "%s", gr.gr_name);
    else
        snprintf(gn, sizeof gn, "%u", (unsigned)st->st_gid);
    snprintf(buf, len, "mode %04o, owner %s:%s", (unsigned)(st->st_mode & 07777), un, gn);
}

/* path could not be stat'ed (e): which directory on the way is to blame?
 * CHK_PATH_MISSING or CHK_PATH_DENIED, as the answer is. */
static int explain_stat(const char *path, int e, char *why, size_t len)
{
    char prefix[PATH_MAX], who[64], own[128];
    struct stat st;
    size_t n = strlen(path);

    chk_user_name(who, sizeof who);
    for (size_t i = 1; i <= n && n < sizeof prefix; i++) {
        if (i < n && path[i] != '/')
            continue;
        memcpy(prefix, path, i);
        prefix[i] = '\0';
        if (stat(prefix, &st) == 0) {
            if (i < n && S_ISDIR(st.st_mode) && access(prefix, X_OK) < 0) {
                owner_of(&st, own, sizeof own);
                snprintf(why, len, "user %s may not search directory %s (%s)", who, prefix, own);
                return CHK_PATH_DENIED;
            }
            if (i < n && !S_ISDIR(st.st_mode)) {
                snprintf(why, len, "%s is not a directory", prefix);
                return CHK_PATH_MISSING;
            }
            continue;
        }
        if (errno == ENOENT) {
            if (i == n)
                snprintf(why, len, "no such file");
            else
                snprintf(why, len, "directory %s does not exist", prefix);
            return CHK_PATH_MISSING;
        }
        break;
    }
    snprintf(why, len, "%s", strerror(e));
    return e == EACCES || e == EPERM ? CHK_PATH_DENIED : CHK_PATH_MISSING;
}

int chk_access(const char *path, int how, struct stat *st, char *why, size_t len)
{
    char who[64], own[128];
    if (stat(path, st) < 0)
        return explain_stat(path, errno, why, len);
    /* the kernel's answer for this user, ACLs included */
    if (access(path, how) < 0) {
        int e = errno;
        chk_user_name(who, sizeof who);
        owner_of(st, own, sizeof own);
        if (e == EACCES || e == EPERM)
            snprintf(why, len, "user %s may not %s it (%s)", who,
                     how & W_OK ? "read and write" : how & X_OK ? "list" : "read", own);
        else
            snprintf(why, len, "%s (%s)", strerror(e), own);
        return CHK_PATH_DENIED;
    }
    return 0;
}

/* lcnetd.service's sandbox (systemd/lcnetd.service.in), as it hides paths */
static const struct {
    const char *prefix;
    const char *what;
} hidden[] = {
    { "/home/", "ProtectHome=yes hides /home from lcnetd.service: move it (e.g. under "
                "/var/lib/lcnetd), or add a drop-in with ProtectHome=read-only" },
    { "/root/", "ProtectHome=yes hides /root from lcnetd.service: move it (e.g. under "
                "/var/lib/lcnetd)" },
    { "/run/user/", "ProtectHome=yes hides /run/user from lcnetd.service: move it" },
    { "/tmp/", "PrivateTmp=yes gives lcnetd.service a /tmp of its own, without this file: "
               "move it (e.g. under /var/lib/lcnetd)" },
    { "/var/tmp/", "PrivateTmp=yes gives lcnetd.service a /var/tmp of its own, without this "
                   "file: move it (e.g. under /var/lib/lcnetd)" },
    { "/dev/", "PrivateDevices=yes hides devices from lcnetd.service: install the drop-in "
               "lcnetd-v4l2.conf (see lcnetd(8))" },
};

void chk_sandbox(chk_report *r, const char *what, const char *path)
{
    if (!r->for_unit)
        return;
    for (size_t i = 0; i < sizeof hidden / sizeof hidden[0]; i++)
        if (strncmp(path, hidden[i].prefix, strlen(hidden[i].prefix)) == 0) {
            chk_note(r, "%s %s: %s", what, path, hidden[i].what);
            return;
        }
}
