/* value_text.c: the text-valued key types of the output sections: names
 * (host, client id, user), MQTT topics and listen addresses.
 *
 * Each is checked when the file is read, so a topic with a wildcard or an
 * address with a host name fails with its line number at start or reload,
 * not later in a sink where nobody sees which line was wrong.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/table.h"

void cfg_text_range(const cfg_key *k, char *buf, size_t len)
{
    const char *empty = (k->flags & CFG_F_EMPTY_OK) ? ", or empty" : "";
    switch (k->type) {
    case CFG_T_NAME:
        snprintf(buf, len, "up to %.0f printable characters without blanks%s", k->max, empty);
        return;
    case CFG_T_TOPIC:
        snprintf(buf, len, "topic levels like site/box1, up to %.0f characters, "
                 "without + # or empty levels%s", k->max, empty);
        return;
    case CFG_T_LISTEN:
        snprintf(buf, len, "ADDRESS:PORT like 127.0.0.1:9464 or [::1]:9464%s", empty);
        return;
    default:
        snprintf(buf, len, "?");
    }
}

static int bad(const cfg_key *k, const char *text, const char *what, char *why, size_t len)
{
    char exp[160], shown[80];
    cfg_text_range(k, exp, sizeof exp);
    cfg_value_show(text, shown, sizeof shown);
    snprintf(why, len, "%s %s (expected %s)", shown, what, exp);
    return CFG_EINVAL;
}

static int check_listen(const cfg_key *k, const char *text, char *why, size_t len)
{
    char addr[64], buf[16];
    const char *colon = strrchr(text, ':'), *port;
    size_t alen;
    if (!colon)
        return bad(k, text, "has no :PORT", why, len);
    port = colon + 1;
    alen = (size_t)(colon - text);
    if (alen >= 2 && text[0] == '[' && text[alen - 1] == ']') {
        if (alen - 2 >= sizeof addr)
            return bad(k, text, "has an address too long", why, len);
        memcpy(addr, text + 1, alen - 2);
        addr[alen - 2] = 0;
        if (inet_pton(AF_INET6, addr, buf) != 1)
            return bad(k, text, "is not a numeric IPv6 address", why, len);
    } else {
        if (alen >= sizeof addr)
            return bad(k, text, "has an address too long", why, len);
        memcpy(addr, text, alen);
        addr[alen] = 0;
        /* a host name would be resolved once, at start, to whatever DNS
         * said then: a listener is given the address itself */
        if (inet_pton(AF_INET, addr, buf) != 1)
            return bad(k, text, "is not a numeric IPv4 address with a port (write IPv6 "
                       "as [ADDRESS]:PORT)", why, len);
    }
    size_t pl = strlen(port);
    if (pl == 0 || pl > 5 || strspn(port, "0123456789") != pl || atoi(port) < 1 ||
        atoi(port) > 65535)
        return bad(k, text, "has no port between 1 and 65535", why, len);
    return 0;
}

int cfg_text_check(const cfg_key *k, const char *text, char *why, size_t len)
{
    size_t n = strlen(text);
    if (!n) {
        if (k->flags & CFG_F_EMPTY_OK)
            return 0;
        return bad(k, text, "is empty", why, len);
    }
    if (k->type == CFG_T_LISTEN)
        return check_listen(k, text, why, len);
    if ((double)n > k->max)
        return bad(k, text, "is too long", why, len);
    for (const char *p = text; *p; p++)
        if (isspace((unsigned char)*p) || iscntrl((unsigned char)*p))
            return bad(k, text, "contains a blank or a control character", why, len);
    if (k->type != CFG_T_TOPIC)
        return 0;
    if (strpbrk(text, "+#"))
        return bad(k, text, "contains a wildcard (+ or #), which subscribers use, not "
                   "publishers", why, len);
    if (text[0] == '/' || text[n - 1] == '/' || strstr(text, "//"))
        return bad(k, text, "has an empty level (a / at either end, or //)", why, len);
    return 0;
}
