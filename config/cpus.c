/* cpus.c: which CPUs a CPU list may name, and the default inference CPUs.
 *
 * A CPU the daemon cannot pin to is refused at load, with the reason an
 * operator can act on: the CPU does not exist on this machine, it is
 * offline, or it exists but this process may not run on it (systemd's
 * CPUAffinity=, taskset or a cpuset left it out).  The kernel's lists
 * under /sys tell the first two apart; the process's affinity mask is what
 * pinning can use.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config/table.h"

/* /sys/devices/system/cpu/<name> ("present", "online") in the CPU list
 * syntax the config uses; -1 when it cannot be read. */
static int sys_cpus(const char *name, cfg_cpus *out)
{
    char path[96], buf[1024], why[160];
    FILE *f;

    snprintf(path, sizeof path, "/sys/devices/system/cpu/%s", name);
    if (!(f = fopen(path, "re")))
        return -1;
    char *got = fgets(buf, sizeof buf, f);
    fclose(f);
    if (!got)
        return -1;
    buf[strcspn(buf, "\n")] = '\0';
    if (cfg_cpus_parse(out, buf, why, sizeof why) < 0 || out->count == 0)
        return -1;
    return 0;
}

void cfg_cpus_usable(cfg_cpus *out)
{
    CPU_ZERO(&out->set);
    if (sched_getaffinity(0, sizeof out->set, &out->set) < 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        CPU_ZERO(&out->set);
        for (long i = 0; i < (n > 0 ? n : 1) && i < CPU_SETSIZE; i++)
            CPU_SET(i, &out->set);
    }
    out->count = CPU_COUNT(&out->set);
}

/* The upper half of the usable CPUs, the highest-numbered ones, rounded
 * down but at least one: an OpenMP team that shares its cores with decoders
 * waits at every barrier for a descheduled member, so inference and
 * decoding get cores of their own by default. */
void cfg_cpus_default_inference(cfg_cpus *out)
{
    cfg_cpus all;
    int n, keep, seen = 0;
    cfg_cpus_usable(&all);
    n = all.count;
    keep = n > 1 ? n / 2 : 1;
    CPU_ZERO(&out->set);
    for (int i = CPU_SETSIZE - 1; i >= 0 && seen < keep; i--)
        if (CPU_ISSET(i, &all.set)) {
            CPU_SET(i, &out->set);
            seen++;
        }
    out->count = CPU_COUNT(&out->set);
}

/* "CPU 3 is" / "CPUs 3-4 are", then the rest, appended at *o. */
static void say(char *why, size_t len, size_t *o, const cfg_cpus *c, const char *fmt_one,
                const char *fmt_many, const char *arg)
{
    char list[256];
    if (c->count == 0 || *o >= len)
        return;
    cfg_cpus_format(c, list, sizeof list);
    int n = snprintf(why + *o, len - *o, "%s", *o ? "; " : "");
    if (n > 0)
        *o += (size_t)n;
    if (*o >= len)
        return;
    n = snprintf(why + *o, len - *o, c->count > 1 ? fmt_many : fmt_one, list, arg);
    if (n > 0)
        *o += (size_t)n;
}

static void minus(cfg_cpus *out, const cfg_cpus *a, const cpu_set_t *b)
{
    cpu_set_t other;
    CPU_XOR(&other, &a->set, b);
    CPU_AND(&out->set, &other, &a->set);
    out->count = CPU_COUNT(&out->set);
}

int cfg_cpus_check(const cfg_cpus *want, char *why, size_t len)
{
    cfg_cpus avail, missing, absent, offline, excluded, present, online;
    char a[256], p[256], on[256];
    size_t o = 0;

    why[0] = '\0';
    if (want->count == 0)
        return 0;
    cfg_cpus_usable(&avail);
    minus(&missing, want, &avail.set);
    if (!missing.count)
        return 0;
    cfg_cpus_format(&avail, a, sizeof a);
    if (sys_cpus("present", &present) < 0 || sys_cpus("online", &online) < 0) {
        /* no /sys: the affinity mask is all there is to go by */
        say(why, len, &o, &missing, "CPU %s is not available to this process (available: %s)",
            "CPUs %s are not available to this process (available: %s)", a);
        return CFG_EINVAL;
    }
    minus(&absent, &missing, &present.set);
    minus(&offline, &missing, &online.set);
    CPU_AND(&offline.set, &offline.set, &present.set);
    offline.count = CPU_COUNT(&offline.set);
    minus(&excluded, &missing, &absent.set);
    minus(&excluded, &excluded, &offline.set);
    cfg_cpus_format(&present, p, sizeof p);
    cfg_cpus_format(&online, on, sizeof on);
    say(why, len, &o, &absent, "CPU %s does not exist on this machine (it has CPUs %s)",
        "CPUs %s do not exist on this machine (it has CPUs %s)", p);
    say(why, len, &o, &offline, "CPU %s is offline (online: %s)",
        "CPUs %s are offline (online: %s)", on);
    say(why, len, &o, &excluded,
        "CPU %s is not available to this process (available: %s; systemd's CPUAffinity=, "
        "taskset or a cpuset leaves it out)",
        "CPUs %s are not available to this process (available: %s; systemd's CPUAffinity=, "
        "taskset or a cpuset leaves them out)", a);
    return CFG_EINVAL;
}
