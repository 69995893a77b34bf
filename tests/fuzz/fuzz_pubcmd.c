/* libFuzzer: the subscriber command parser, on bytes a client could send.
 * Each input is split at newlines like the socket server does. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/pubcmd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *end = p + size;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        pub_cmd cmd;
        pub_cmd_parse(&cmd, p, len);
        if (cmd.kind == PUB_CMD_STREAMS) {
            int n = pub_filter_count(cmd.filter);
            for (int i = 0; i < n; i++)
                if (!pub_filter_has(cmd.filter, pub_filter_name(cmd.filter, i)))
                    abort();          /* every name it lists, it must take */
        }
        if (cmd.kind == PUB_CMD_ERROR && !memchr(cmd.error, 0, sizeof cmd.error))
            abort();
        pub_filter_free(cmd.filter);
        p += len + 1;
    }
    return 0;
}
