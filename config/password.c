/* password.c: a password_file's first line, for the streams' (read at
 * load) and [mqtt]'s (read by the MQTT sink, and by --check-config).  Each
 * caller words its own messages; this only says what went wrong. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"

int cfg_read_password(const char *path, char **out, int *err_no)
{
    char buf[CFG_PASSWORD_MAX + 2];
    int ret = CFG_OK;
    FILE *f = fopen(path, "re");

    *out = NULL;
    *err_no = 0;
    if (!f) {
        *err_no = errno;
        return CFG_EIO;
    }
    errno = 0;
    if (!fgets(buf, sizeof buf, f)) {
        if (ferror(f))
            *err_no = errno ? errno : EIO;
        buf[0] = '\0';
    }
    fclose(f);
    size_t n = strcspn(buf, "\r\n");
    buf[n] = '\0';
    if (*err_no)
        ret = CFG_EIO;
    else if (n == 0)
        ret = CFG_PW_EMPTY;
    else if (n > CFG_PASSWORD_MAX)
        ret = CFG_PW_LONG;
    else if (!(*out = strdup(buf)))
        ret = CFG_ENOMEM;
    explicit_bzero(buf, sizeof buf);
    return ret;
}
