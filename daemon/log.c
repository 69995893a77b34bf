/* log.c: see log.h. */
#include "daemon/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static atomic_int level = LOG_INFO;
static int journal;

void lc_log_init(void)
{
    const char *js = getenv("JOURNAL_STREAM");
    struct stat st;
    unsigned long long dev, ino;
    /* only when stderr is still the stream systemd connected to the journal */
    if (js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 && fstat(2, &st) == 0 &&
        (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino)
        journal = 1;
}

void lc_log_set_level(int prio)
{
    atomic_store(&level, prio);
}

int lc_log_enabled(int prio)
{
    return prio <= atomic_load(&level);
}

static const char *names[] = { "emerg", "alert", "crit", "error", "warning", "notice", "info", "debug" };

void lc_log(int prio, const char *fmt, ...)
{
    char buf[2048];
    va_list ap;
    if (!lc_log_enabled(prio))
        return;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    /* A message of several lines (a config with several errors) gets the
     * prefix on each: a reader, grep or the journal's priority filter sees
     * every line for what it is.  Still one stdio call per line, so lines
     * from threads never interleave within a line. */
    for (char *line = buf, *nl; line; line = nl) {
        if ((nl = strchr(line, '\n')))
            *nl++ = '\0';
        if (journal)
            fprintf(stderr, "<%d>%s\n", prio & 7, line);
        else
            fprintf(stderr, "lcnetd: %s: %s\n", names[prio & 7], line);
        if (nl && !*nl)
            break;      /* a trailing newline ends the message, not a line */
    }
}
