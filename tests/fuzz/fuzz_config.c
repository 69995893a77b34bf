/* libFuzzer: the ini parser and validator on arbitrary bytes.  Whatever the
 * text, cfg_load_string returns a config or an error line, never crashes,
 * and frees what it allocated (LeakSanitizer checks each input). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[2048];
    cfg *c = NULL;
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = 0;
    if (cfg_load_string(&c, text, "fuzz.ini", err, sizeof err) == 0) {
        /* exercise the helpers a reload uses */
        for (int i = 0; i < c->nstreams; i++)
            (void)cfg_stream_equal(&c->streams[i], cfg_find_stream(c, c->streams[i].name));
        char keys[256];
        (void)cfg_daemon_diff(&c->daemon, &c->daemon, keys, sizeof keys);
        cfg_free(c);
    } else if (!memchr(err, 0, sizeof err)) {
        abort();                      /* the message must be a terminated string */
    }
    free(text);
    return 0;
}
