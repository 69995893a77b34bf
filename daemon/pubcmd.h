/* pubcmd.h: the commands event subscribers may send, parsed.
 *
 * Pure functions with no I/O, kept apart from the socket server so they can
 * be tested and fuzzed on bytes alone.  A command is one line:
 *
 *     streams a,b,c     only these streams' events (daemon-wide events still come);
 *                       answered {"event":"streams","streams":["a","b","c"]}
 *     streams *         every stream (so does a bare "streams"); ... "streams":["*"]
 *     ping              answered {"event":"pong"}
 *     status            answered with the daemon's status object
 *     help              answered with the list of commands
 *     snapshot NAME     answered {"event":"snapshot","stream":NAME,"path":"..."}: the
 *                       newest snapshot of that stream (an error when it has none)
 *
 * Spaces and tabs around words and names are ignored; an empty line is no
 * command at all.  Stream names are PUB_NAME_MAX letters, digits, '_', '.'
 * or '-' at most, as in the config's [stream:NAME].
 */
#ifndef LCNETD_PUBCMD_H
#define LCNETD_PUBCMD_H

#include <stddef.h>

enum {
    PUB_NAME_MAX = 64,       /* bytes in a stream name */
    PUB_FILTER_MAX = 256,    /* names in one `streams` command */
    PUB_CMD_MAX = 4096,      /* bytes in a command line, without its '\n' */
};

/* A set of stream names, sorted and without repeats: one allocation. */
typedef struct pub_filter pub_filter;

typedef enum {
    PUB_CMD_NONE = 0,        /* empty line: nothing to do, nothing to answer */
    PUB_CMD_STREAMS,
    PUB_CMD_PING,
    PUB_CMD_STATUS,
    PUB_CMD_HELP,
    PUB_CMD_SNAPSHOT,
    PUB_CMD_ERROR,           /* `error` says what is wrong */
} pub_cmd_kind;

typedef struct pub_cmd {
    pub_cmd_kind kind;
    pub_filter *filter;      /* STREAMS: the names; NULL = every stream.  Caller frees. */
    char stream[PUB_NAME_MAX + 1];   /* SNAPSHOT: the stream named */
    char error[160];         /* ERROR: one line of plain text, may quote the client's bytes */
} pub_cmd;

/* Parse one line (no '\n'; a trailing '\r' is dropped).  Never fails
 * otherwise: running out of memory is an ERROR command saying so. */
void pub_cmd_parse(pub_cmd *out, const char *line, size_t len);

/* Does the filter take `stream`?  A NULL filter takes every stream and
 * every filter takes a NULL stream (a daemon-wide event). */
int pub_filter_has(const pub_filter *f, const char *stream);
int pub_filter_count(const pub_filter *f);                  /* NULL: 0 */
const char *pub_filter_name(const pub_filter *f, int i);   /* in sorted order */
void pub_filter_free(pub_filter *f);

/* The `help` answer, a JSON line without newline. */
extern const char pub_cmd_help[];

#endif
