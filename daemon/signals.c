/* signals.c: signals become bytes on a pipe the loop reads.  See signals.h.
 *
 * A handler rather than a signalfd: a signalfd needs the signal blocked in
 * every thread, and a library may start a thread of its own before main can
 * block anything (seen on a minimal Debian 12); a signal landing there
 * would take its default action and kill the daemon.  Our own threads
 * block them anyway. */
#include "daemon/signals.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

static int sig_pipe[2] = { -1, -1 };
static const int caught[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2 };

static void caught_set(sigset_t *set)
{
    sigemptyset(set);
    for (size_t i = 0; i < sizeof caught / sizeof caught[0]; i++)
        sigaddset(set, caught[i]);
}

/* Before main: the dynamic loader maps and relocates the libraries, then
 * runs their constructors (libav's, oneDNN's, libgomp's), and only then
 * main; a SIGHUP or SIGTERM meanwhile would meet the default action and end
 * the process.  .preinit_array runs before any library's constructor, as
 * the first code of ours: the signals are blocked from here (threads a
 * constructor starts inherit that), and sig_catch unblocks them once its
 * handlers are in, so a signal that came meanwhile is delivered then, not
 * lost.  What remains unguarded is exec itself and the loader's mapping
 * and relocating of the libraries before this runs, where no code of the
 * program's can run; systemd's reload waits for READY=1 anyway.  This file
 * is linked into the executable because main calls sig_catch. */
static void block_early(int argc, char **argv, char **envp)
{
    sigset_t set;
    (void)argc;
    (void)argv;
    (void)envp;
    caught_set(&set);
    sigprocmask(SIG_BLOCK, &set, NULL);
}
__attribute__((section(".preinit_array"), used))
static void (*const block_early_p)(int, char **, char **) = block_early;

static void on_signal(int sig)
{
    int e = errno;
    unsigned char c = (unsigned char)sig;
    if (write(sig_pipe[1], &c, 1) < 0) {
        /* pipe full: the loop has plenty to read already */
    }
    errno = e;
}

int sig_catch(void)
{
    struct sigaction sa;
    sigset_t set;
    if (pipe2(sig_pipe, O_NONBLOCK | O_CLOEXEC) < 0)
        return -1;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof caught / sizeof caught[0]; i++)
        if (sigaction(caught[i], &sa, NULL) < 0)
            return -1;
    signal(SIGPIPE, SIG_IGN);
    /* blocked since block_early, or by whoever started us: a pending one is
     * delivered now, to the handler */
    caught_set(&set);
    if (sigprocmask(SIG_UNBLOCK, &set, NULL) < 0)
        return -1;
    return sig_pipe[0];
}

int sig_next(void)
{
    unsigned char sig;
    return read(sig_pipe[0], &sig, 1) == 1 ? sig : 0;
}
