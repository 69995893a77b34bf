/* log.h: one line per event to stderr.  Under journald (JOURNAL_STREAM
 * names our stderr) each line carries an sd-daemon "<N>" priority prefix and
 * the journal adds time and pid; otherwise lines are plain text with a level.
 * A message holding several lines gets the prefix on every one of them. */
#ifndef LCNETD_LOG_H
#define LCNETD_LOG_H

#include <syslog.h>

void lc_log_init(void);
void lc_log_set_level(int prio);     /* LOG_ERR .. LOG_DEBUG; lines above are dropped */
int lc_log_enabled(int prio);
void lc_log(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
