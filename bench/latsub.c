/* latsub.c: the event latency probe of bench/e2e.py.
 *
 *     latsub SOCKET OUT
 *
 * Subscribes to lcnetd's event socket and, for every label line of a test
 * build (which carries the frame's stage times on CLOCK_MONOTONIC), writes
 * one line to OUT: the time read() returned, then the decoded, scaled,
 * inference start, inference end and sent (handed to the subscribers'
 * sockets: readable from then on) times, all in microseconds, then the
 * frame's seq and stream (so that gaps, skipped frames, can be placed in
 * time).  It ends at EOF or SIGTERM.
 *
 * A C process of its own, blocked in read(), so that what it measures is the
 * daemon's publish path and the kernel's wake-up, not an interpreter's
 * (the bench's Python subscriber shares a lock with its other threads). */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
    (void)sig;
    stop = 1;
}

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The integer after "key": in line, or -1. */
static int64_t field(const char *line, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(line, pat);
    return p ? strtoll(p + strlen(pat), NULL, 10) : -1;
}

static void take_line(FILE *out, const char *line, int64_t t)
{
    if (strncmp(line, "{\"event\":\"label\"", 16) != 0)
        return;
    int64_t dec = field(line, "decoded_mono_us");
    if (dec < 0)
        return;
    /* stream names are ours in the bench: s0, s1 ... no quoting needed */
    const char *name = strstr(line, "\"stream\":\"");
    int namelen = 0;
    if (name) {
        name += 10;
        namelen = (int)strcspn(name, "\"");
    }
    fprintf(out, "%" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64
            " %.*s\n", t, dec, field(line, "scaled_mono_us"), field(line, "infer_start_mono_us"),
            field(line, "infer_end_mono_us"), field(line, "sent_mono_us"), field(line, "seq"), namelen,
            name ? name : "");
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: latsub SOCKET OUT\n");
        return 2;
    }
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (strlen(argv[1]) >= sizeof sa.sun_path) {
        fprintf(stderr, "latsub: socket path too long\n");
        return 2;
    }
    strcpy(sa.sun_path, argv[1]);
    FILE *out = fopen(argv[2], "w");
    if (!out) {
        fprintf(stderr, "latsub: %s: %s\n", argv[2], strerror(errno));
        return 1;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        fprintf(stderr, "latsub: %s: %s\n", argv[1], strerror(errno));
        fclose(out);
        return 1;
    }
    struct sigaction act = { .sa_handler = on_term };
    sigaction(SIGTERM, &act, NULL);
    sigaction(SIGINT, &act, NULL);
    /* ready: the bench waits for this before it counts on us */
    printf("READY\n");
    fflush(stdout);

    static char buf[1 << 16];
    size_t have = 0;
    while (!stop) {
        ssize_t n = read(fd, buf + have, sizeof buf - 1 - have);
        int64_t t = mono_us();
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        have += (size_t)n;
        buf[have] = 0;
        char *start = buf, *nl;
        while ((nl = memchr(start, '\n', have - (size_t)(start - buf)))) {
            *nl = 0;
            take_line(out, start, t);
            start = nl + 1;
        }
        have -= (size_t)(start - buf);
        memmove(buf, start, have);
        if (have == sizeof buf - 1)
            have = 0;           /* a line longer than the buffer: not ours */
    }
    close(fd);
    return fclose(out) == 0 ? 0 : 1;
}
