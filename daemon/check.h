/* check.h: lcnetd --check-config: will this configuration start?
 *
 * Beyond the file's syntax and values, everything that can be known
 * without the network is tried as the daemon would meet it: the model
 * loads and compiles with the configured precision and batch size, the
 * CPU lists name CPUs this process may use, the socket's directory exists
 * and takes a new file, stream files open and hold a decodable video
 * stream, devices exist.  What cannot be known (network sources) is said
 * to be not checked, with the URL's credentials removed.
 *
 * Files are checked as the user the daemon runs as.  Run as root, the
 * check becomes that user for good (uid, gid and the groups the group
 * database gives it, as systemd's User= does) before it opens anything, so
 * every answer is the kernel's own for that user: modes, ACLs, read-only
 * mounts.  That user is lcnetd (lcnetd.service's User=) unless the file
 * says allow_root = yes, or --user names another.
 *
 * Each item is one line on `out`: "ok: ...", "note: ...", "not checked:
 * ..."; each problem is an error line on the log (stderr).
 */
#ifndef LCNETD_CHECK_H
#define LCNETD_CHECK_H

#include <stddef.h>
#include <stdio.h>

struct stat;
struct cfg_stream;

enum {
    CHK_OK = 0,
    CHK_FAILED = -1,    /* problems found; each was reported */
    CHK_ENOUSER = -2,   /* --user names no user */
    CHK_EPERM = -3,     /* --user needs root */
    CHK_ESYS = -4,      /* the check itself could not run (becoming the user failed) */
};

/* The service's user: lcnetd.service's User= and lcnetd.sysusers. */
#define CHK_UNIT_USER "lcnetd"

/* user: NULL = the daemon's (see above).  Returns CHK_OK when lcnetd can
 * start with the file as far as can be told without the network, else one
 * of the codes above; for the last three err says why. */
int chk_run(const char *config_path, const char *user, FILE *out, char *err, size_t errlen);

/* ------------------------------------------- for the files of the check */

typedef struct chk_report {
    FILE *out;
    const char *config;     /* set: chk_error lines start "config:line: " */
    int line;               /* of the section an item is about; 0 = none */
    int errors, notes, unchecked;
    int for_unit;           /* checking for lcnetd.service: its sandbox applies */
    char user[64];          /* who the check runs as, for messages */
} chk_report;

void chk_ok(chk_report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void chk_note(chk_report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void chk_unchecked(chk_report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void chk_error(chk_report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* checkuser.c: become `user` for the rest of the process.  desc gets
 * "lcnetd (uid 998, gid 998, groups lcnetd video)".  CHK_OK, CHK_ENOUSER,
 * CHK_EPERM (not root) or CHK_ESYS, with err. */
int chk_become(const char *user, char *desc, size_t desclen, char *err, size_t errlen);
/* The same description of the user this process is; its bare name. */
void chk_describe_self(char *desc, size_t desclen);
void chk_user_name(char *buf, size_t len);

/* checkpath.c: can this user open path: how is R_OK, R_OK | W_OK, or
 * R_OK | X_OK for a directory?  0 with *st filled, or CHK_PATH_MISSING or
 * CHK_PATH_DENIED with why naming what stops it (a missing directory on
 * the way, one the user may not search, the file's mode and owner). */
enum { CHK_PATH_MISSING = -1, CHK_PATH_DENIED = -2 };
int chk_access(const char *path, int how, struct stat *st, char *why, size_t len);
/* For the service: a note when lcnetd.service's sandbox hides path from
 * the daemon (ProtectHome=, PrivateTmp=, PrivateDevices=).  what: "[model]
 * path" and the like. */
void chk_sandbox(chk_report *r, const char *what, const char *path);

/* checksrc.c: one stream's source. */
void chk_stream(chk_report *r, const struct cfg_stream *s);

#endif
