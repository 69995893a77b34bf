/* check.c: lcnetd --check-config, item by item; see check.h.
 *
 * The order follows the daemon's start: whose the process is, the file,
 * the CPUs, the socket, the model, then each stream.  A failed item does
 * not stop the others, so one run names every problem.
 */
#include "daemon/check.h"

#include <libavutil/log.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "daemon/evq.h"
#include "daemon/log.h"
#include "daemon/publish.h"
#include "daemon/sched.h"
#include "daemon/sink.h"

/* ------------------------------------------------------------ report */

static void item(chk_report *r, const char *tag, const char *fmt, va_list ap)
{
    fprintf(r->out, "%s: ", tag);
    vfprintf(r->out, fmt, ap);
    fputc('\n', r->out);
}

void chk_ok(chk_report *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    item(r, "ok", fmt, ap);
    va_end(ap);
}

void chk_note(chk_report *r, const char *fmt, ...)
{
    va_list ap;
    r->notes++;
    va_start(ap, fmt);
    item(r, "note", fmt, ap);
    va_end(ap);
}

void chk_unchecked(chk_report *r, const char *fmt, ...)
{
    va_list ap;
    r->unchecked++;
    va_start(ap, fmt);
    item(r, "not checked", fmt, ap);
    va_end(ap);
}

/* Problems go to the log like every error of the daemon's, in order with
 * the report around them when both reach one terminal. */
void chk_error(chk_report *r, const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    r->errors++;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fflush(r->out);
    if (!r->config)
        lc_log(LOG_ERR, "%s", line);
    else if (r->line > 0)
        lc_log(LOG_ERR, "%s:%d: %s", r->config, r->line, line);
    else
        lc_log(LOG_ERR, "%s: %s", r->config, line);
}

/* -------------------------------------------------------------- items */

static void check_cpus(chk_report *r, const cfg_daemon *d)
{
    char inf[256], dec[256], both[256];
    cfg_cpus overlap;
    int n = d->inference_cpus.count;

    cfg_cpus_format(&d->inference_cpus, inf, sizeof inf);
    chk_ok(r, "[daemon] inference_cpus: CPU%s %s (%d inference thread%s), available to this "
           "process", n > 1 ? "s" : "", inf, n, n > 1 ? "s" : "");
    if (!d->decode_cpus.count) {
        chk_ok(r, "[daemon] decode_cpus: empty, decoders not pinned");
        return;
    }
    cfg_cpus_format(&d->decode_cpus, dec, sizeof dec);
    chk_ok(r, "[daemon] decode_cpus: CPU%s %s, available to this process",
           d->decode_cpus.count > 1 ? "s" : "", dec);
    CPU_AND(&overlap.set, &d->decode_cpus.set, &d->inference_cpus.set);
    overlap.count = CPU_COUNT(&overlap.set);
    if (overlap.count) {
        cfg_cpus_format(&overlap, both, sizeof both);
        chk_note(r, "[daemon] decode_cpus and inference_cpus share CPU%s %s: decoding there "
                 "takes time from inference", overlap.count > 1 ? "s" : "", both);
    }
}

static void check_socket(chk_report *r, const cfg_daemon *d)
{
    char err[1024];
    const char *slash = strrchr(d->socket, '/');
    size_t dl = slash ? (size_t)(slash - d->socket) : 0;
    /* the unit's own directory: systemd makes it, and gives it to the
     * service's user, when lcnetd starts */
    int runtime = dl == strlen(PUB_RUNTIME_DIR) && strncmp(d->socket, PUB_RUNTIME_DIR, dl) == 0;
    int ret = pub_check_path(d->socket, err, sizeof err);

    if (ret == PUB_OK)
        chk_ok(r, "[daemon] socket %s: user %s may create it (used when systemd hands over "
               "no socket)", d->socket, r->user);
    else if (ret > 0)
        chk_note(r, "[daemon] socket %s; a second lcnetd would not start on it", err);
    else if (ret == PUB_ENODIR && runtime)
        chk_note(r, "[daemon] socket %s%s", err, access(PUB_RUNTIME_DIR, F_OK) == 0 ?
                 "; under systemd, RuntimeDirectory=lcnetd gives it to the service's user" : "");
    else
        chk_error(r, "[daemon] socket %s", err);
}

/* Streams with snapshot = yes write into snapshot_dir, which the daemon
 * makes if missing: it, or else the folder to hold it, must take new files
 * for the daemon's user.  Only the service's sandbox cannot be seen from
 * here: ProtectSystem=strict leaves writable the state directory alone. */
static void check_snapshots(chk_report *r, const cfg *c)
{
    const char *dir = c->daemon.snapshot_dir;
    char why[1024], parent[4096];
    struct stat st;
    int n = 0, made = 0;

    for (int i = 0; i < c->nstreams; i++)
        n += c->streams[i].enabled && c->streams[i].snapshot;
    if (!n)
        return;
    int ret = chk_access(dir, W_OK | X_OK, &st, why, sizeof why);
    if (ret == CHK_PATH_MISSING && strcmp(why, "no such file") == 0) {
        snprintf(parent, sizeof parent, "%s", dir);
        char *slash = strrchr(parent, '/');
        slash[slash == parent] = 0;
        ret = chk_access(parent, W_OK | X_OK, &st, why, sizeof why);
        made = 1;
    }
    if (ret == 0 && !S_ISDIR(st.st_mode)) {
        snprintf(why, sizeof why, "%s is not a directory", made ? parent : dir);
        ret = CHK_PATH_MISSING;
    }
    if (ret < 0) {
        chk_error(r, "[daemon] snapshot_dir %s: %s%s (%d stream%s with snapshot = yes would "
                  "fail to save them: let user %s write there, or set snapshot_dir to a folder it "
                  "may write)", dir, made ? "cannot be made: " : "", why, n, n > 1 ? "s" : "",
                  r->user);
        return;
    }
    chk_ok(r, "[daemon] snapshot_dir %s: user %s may write %s", dir, r->user,
           made ? "the folder that will hold it" : "there");
    if (r->for_unit && strncmp(dir, "/var/lib/lcnetd/", 16) != 0)
        chk_note(r, "[daemon] snapshot_dir %s: lcnetd.service's ProtectSystem=strict keeps it "
                 "read-only for the daemon: add ReadWritePaths=%s in a drop-in (systemctl edit "
                 "lcnetd)", dir, dir);
    chk_sandbox(r, "[daemon] snapshot_dir", dir);
}

/* A file a model section names: there and readable by this user. */
static int model_file(chk_report *r, const char *sec, const char *key, const char *path)
{
    struct stat st;
    char why[1024], what[128];
    int ret = chk_access(path, R_OK, &st, why, sizeof why);
    if (ret == CHK_PATH_MISSING) {
        chk_error(r, "[%s] %s %s: %s (set %s to the file; lcnetd.ini(5) says what it holds)",
                  sec, key, path, why, key);
        return -1;
    }
    if (ret < 0) {
        chk_error(r, "[%s] %s %s: %s (let user %s read it)", sec, key, path, why, r->user);
        return -1;
    }
    if (S_ISDIR(st.st_mode) && chk_access(path, R_OK | X_OK, &st, why, sizeof why) < 0) {
        chk_error(r, "[%s] %s %s: %s (let user %s list it)", sec, key, path, why, r->user);
        return -1;
    }
    snprintf(what, sizeof what, "[%s] %s", sec, key);
    chk_sandbox(r, what, path);
    return 0;
}

static int model_files(chk_report *r, const cfg_model *m)
{
    char sec[96];
    snprintf(sec, sizeof sec, "model%s%s", m->name ? ":" : "", m->name ? m->name : "");
    int bad = model_file(r, sec, "path", m->path);
    if (m->labels && m->labels[0])
        bad |= model_file(r, sec, "labels", m->labels);
    if (m->calibration && m->calibration[0])
        bad |= model_file(r, sec, "calibration", m->calibration);
    return bad;
}

/* Loaded as the daemon loads them: on an inference thread pinned to
 * inference_cpus, with the configured precision, labels and calibration,
 * compiled for every batch size up to max_batch, the labels that
 * thresholds and ignore name checked. */
static void check_model(chk_report *r, const cfg *c)
{
    char err[2048];
    evq *q = NULL;
    sch *s = NULL;
    sch_model_info mi;
    int bad = model_files(r, &c->model);

    for (int i = 0; i < c->nmodels; i++)
        bad |= model_files(r, &c->models[i]);
    if (bad)
        return;
    if (evq_new(&q, 16, err, sizeof err) < 0) {
        chk_error(r, "[model] path %s: not loaded: %s", c->model.path, err);
        return;
    }
    if (sch_start(&s, c, q, NULL, err, sizeof err) < 0) {
        chk_error(r, "[model] path %s: does not load: %s", c->model.path, err);
        evq_free(q);
        return;
    }
    for (int i = 0; i < sch_model_count(s); i++) {
        sch_mdl_info(sch_model_at(s, i), &mi);
        chk_ok(r, "[model%s%s] path %s: loads and compiles: %s on %s (%s), backend %s (%s), "
               "input %dx%d, %d classes, batches of 1 to %d", i ? ":" : "", i ? mi.name : "",
               mi.model, mi.precision, mi.isa, mi.precision_reason, mi.backend,
               mi.backend_reason, mi.width, mi.height, mi.classes, mi.max_batch);
    }
    sch_stop(s);
    evq_free(q);
}

/* --------------------------------------------------------------- run */

/* Become the daemon's user and read the file again as that user.  *c is
 * the caller's reading; it is replaced. */
static int become(chk_report *r, const char *path, const char *want, int asked, cfg **c,
                  char *err, size_t errlen)
{
    char desc[512], why[4096];
    /* the passwords it holds were read with the caller's rights: gone
     * (cfg_free wipes them) before the process is someone else's */
    cfg_free(*c);
    *c = NULL;
    int ret = chk_become(want, desc, sizeof desc, err, errlen);
    if (ret == CHK_ENOUSER && !asked) {
        chk_describe_self(desc, sizeof desc);
        chk_user_name(r->user, sizeof r->user);
        fprintf(r->out, "checking as user %s\n", desc);
        chk_note(r, "user %s does not exist yet (systemd-sysusers makes it from lcnetd.conf); "
                 "files were checked as user %s instead", want, r->user);
    } else if (ret < 0) {
        return ret;
    } else {
        chk_user_name(r->user, sizeof r->user);
        fprintf(r->out, "checking as user %s%s\n", desc,
                r->for_unit ? ", as lcnetd.service runs lcnetd" : "");
    }
    if (cfg_load_file(c, path, why, sizeof why) < 0) {
        chk_error(r, "%s", why);
        if (access(path, R_OK) < 0)
            chk_error(r, "%s: user %s must be able to read it (as installed: mode 0640, owner "
                      "root, group lcnetd)", path, r->user);
        return CHK_FAILED;
    }
    return CHK_OK;
}

int chk_run(const char *config_path, const char *user, FILE *out, char *err, size_t errlen)
{
    chk_report r = { .out = out };
    cfg *c = NULL;
    char why[4096], desc[512];
    int ret, enabled = 0;

    /* the daemon's own info lines (the scheduler's) are not items */
    lc_log_set_level(LOG_WARNING);
    /* a file that is not video makes libav talk; the item says what failed */
    av_log_set_level(AV_LOG_QUIET);
    if (cfg_load_file(&c, config_path, why, sizeof why) < 0) {
        lc_log(LOG_ERR, "%s", why);
        return CHK_FAILED;
    }
    const char *want = user ? user : geteuid() == 0 && !c->daemon.allow_root ? CHK_UNIT_USER : NULL;
    r.for_unit = want && strcmp(want, CHK_UNIT_USER) == 0;
    if (want) {
        if ((ret = become(&r, config_path, want, user != NULL, &c, err, errlen)) != CHK_OK)
            goto end;
    } else {
        chk_describe_self(desc, sizeof desc);
        chk_user_name(r.user, sizeof r.user);
        fprintf(out, "checking as user %s\n", desc);
        if (geteuid() == 0)
            chk_note(&r, "allow_root = yes: checked as root; lcnetd.service runs lcnetd as user "
                     "%s (--user %s checks for it)", CHK_UNIT_USER, CHK_UNIT_USER);
    }
    for (int i = 0; i < c->nstreams; i++)
        enabled += c->streams[i].enabled;
    fprintf(out, "%s: syntax and values ok; %d stream%s, %d enabled\n", config_path, c->nstreams,
            c->nstreams == 1 ? "" : "s", enabled);

    r.config = config_path;
    check_cpus(&r, &c->daemon);
    check_socket(&r, &c->daemon);
    check_model(&r, c);
    check_snapshots(&r, c);
    for (int i = 0; i < c->nstreams; i++) {
        const cfg_stream *s = &c->streams[i];
        r.line = s->line;
        chk_stream(&r, s);
        if (s->enabled && s->password_file && s->password_file[0]) {
            snprintf(why, sizeof why, "[stream:%s] password_file", s->name);
            chk_sandbox(&r, why, s->password_file);
        }
    }
    r.line = 0;
    /* the outputs' own files (the MQTT password, CA, certificate, key);
     * their messages start with the file and line already */
    r.config = NULL;
    if (snk_set_check(c, config_path, why, sizeof why) < 0)
        chk_error(&r, "%s", why);
    r.config = config_path;
    if (c->mqtt.host && c->mqtt.host[0])
        chk_unchecked(&r, "[mqtt] the broker %s:%d (a network service)", c->mqtt.host, c->mqtt.port);
    if (!enabled)
        chk_note(&r, "no stream is enabled: lcnetd starts and idles; add a [stream:NAME] section "
                 "(or set enabled = yes in one) and reload");
    r.config = NULL;
    r.line = 0;
    ret = r.errors ? CHK_FAILED : CHK_OK;
    if (r.errors)
        chk_error(&r, "%s: %d problem%s found", config_path, r.errors, r.errors > 1 ? "s" : "");
    else
        fprintf(out, "%s: ok%s\n", config_path,
                r.unchecked ? "; the items marked \"not checked\" were not" : "");
end:
    fflush(out);
    cfg_free(c);
    return ret;
}
