/* signals.h: the signals lcnetd acts on, as bytes on a pipe its event loop
 * reads: SIGTERM, SIGINT, SIGHUP, and SIGUSR1/SIGUSR2 (test builds' fault
 * hooks).  They are blocked from before main (see signals.c), so one sent
 * while the libraries start is delivered once sig_catch has its handler
 * in, not lost.  SIGPIPE is ignored. */
#ifndef LCNETD_SIGNALS_H
#define LCNETD_SIGNALS_H

/* Install the handlers and unblock the signals.  The pipe's read end (non-
 * blocking; poll it for EPOLLIN), or -1 with errno set. */
int sig_catch(void);

/* The next signal caught, or 0 when none is waiting. */
int sig_next(void);

#endif
