/* checkuser.c: --check-config becoming the daemon's user.
 *
 * The whole process takes on the user, for good, rather than a child or an
 * access computation from modes: every later open() is then answered by
 * the kernel as it will answer the daemon, ACLs and read-only mounts
 * included.  The groups are the group database's, as systemd's User= sets
 * them (lcnetd.sysusers puts lcnetd in group video, which is also the
 * unit's SupplementaryGroups=).
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "daemon/check.h"

enum { GROUPS_MAX = 256 };

/* gcc says __SANITIZE_ADDRESS__, clang __has_feature */
#if defined(__SANITIZE_ADDRESS__)
#define CHK_LEAK_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CHK_LEAK_SANITIZER 1
#endif
#endif
#ifndef CHK_LEAK_SANITIZER
#define CHK_LEAK_SANITIZER 0
#endif

static void describe(char *desc, size_t len, const char *name, uid_t uid, gid_t gid,
                     const gid_t *groups, int n)
{
    size_t o = 0;
    int w = snprintf(desc, len, "%s (uid %u, gid %u, groups%s", name, (unsigned)uid,
                     (unsigned)gid, n ? "" : ": none");
    o = w > 0 ? (size_t)w : 0;
    for (int i = 0; i < n && o < len; i++) {
        struct group g, *found = NULL;
        char tmp[4096];
        if (getgrgid_r(groups[i], &g, tmp, sizeof tmp, &found) == 0 && found)
            w = snprintf(desc + o, len - o, " %s", g.gr_name);
        else
            w = snprintf(desc + o, len - o, " %u", (unsigned)groups[i]);
        o += w > 0 ? (size_t)w : 0;
    }
    if (o < len)
        snprintf(desc + o, len - o, ")");
}

void chk_user_name(char *buf, size_t len)
{
    struct passwd pw, *found = NULL;
    char tmp[4096];
    if (getpwuid_r(geteuid(), &pw, tmp, sizeof tmp, &found) == 0 && found)
        snprintf(buf, len, "%s", pw.pw_name);
    else
        snprintf(buf, len, "%u", (unsigned)geteuid());
}

void chk_describe_self(char *desc, size_t desclen)
{
    gid_t groups[GROUPS_MAX];
    char name[64];
    int n = getgroups(GROUPS_MAX, groups);
    chk_user_name(name, sizeof name);
    describe(desc, desclen, name, geteuid(), getegid(), groups, n > 0 ? n : 0);
}

int chk_become(const char *user, char *desc, size_t desclen, char *err, size_t errlen)
{
    struct passwd pw, *found = NULL;
    char tmp[4096];
    gid_t groups[GROUPS_MAX];
    int n = GROUPS_MAX, e;

    if ((e = getpwnam_r(user, &pw, tmp, sizeof tmp, &found)) != 0 || !found) {
        snprintf(err, errlen, "user %s: %s", user, e ? strerror(e) : "no such user");
        return CHK_ENOUSER;
    }
    if (pw.pw_uid == geteuid() && pw.pw_gid == getegid()) {
        chk_describe_self(desc, desclen);
        return CHK_OK;
    }
    if (geteuid() != 0) {
        char self[64];
        chk_user_name(self, sizeof self);
        snprintf(err, errlen, "checking as user %s needs root, and this is user %s (run the "
                 "check as root, or as %s)", user, self, user);
        return CHK_EPERM;
    }
    if (getgrouplist(pw.pw_name, pw.pw_gid, groups, &n) < 0) {
        snprintf(err, errlen, "user %s is in more than %d groups", user, GROUPS_MAX);
        return CHK_ESYS;
    }
    /* groups first, then the gid, the uid last: after it nothing more may change */
    if (setgroups((size_t)n, groups) < 0 || setresgid(pw.pw_gid, pw.pw_gid, pw.pw_gid) < 0 ||
        setresuid(pw.pw_uid, pw.pw_uid, pw.pw_uid) < 0) {
        snprintf(err, errlen, "becoming user %s: %s", user, strerror(errno));
        return CHK_ESYS;
    }
    if (setresuid(0, 0, 0) == 0) {
        snprintf(err, errlen, "becoming user %s: root could be taken back", user);
        return CHK_ESYS;
    }
#if CHK_LEAK_SANITIZER
    /* LeakSanitizer stops the threads at exit by ptrace from a helper
     * process, which a changed uid forbids; the sanitizer builds only */
    prctl(PR_SET_DUMPABLE, 1);
#endif
    describe(desc, desclen, pw.pw_name, pw.pw_uid, pw.pw_gid, groups, n);
    return CHK_OK;
}
