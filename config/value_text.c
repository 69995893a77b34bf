/* value_text.c: the text-valued key types: names (host, client id, user),
 * MQTT topics, listen addresses, and the lists of names and of label:score
 * items of the model and stream sections.
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
    case CFG_T_LIST:
        snprintf(buf, len, "up to %.0f names separated by commas, like a, b%s", k->max, empty);
        return;
    case CFG_T_SCORES:
        snprintf(buf, len, "up to %.0f LABEL:SCORE items separated by commas, like covered:0.8, "
                 "noise:0.6, each score 0..1%s", k->max, empty);
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

/* Splits on commas; an item's name is trimmed, and may hold blanks inside
 * (labels like "tabby cat"), but no comma or colon. */
int cfg_list_next(const char **pos, char *name, size_t len, double *score)
{
    const char *s = *pos;
    while (*s == ',' || isspace((unsigned char)*s))
        s++;
    if (!*s)
        return 0;
    size_t n = strcspn(s, ",");
    const char *end = s + n, *colon = memchr(s, ':', n);
    const char *ne = colon ? colon : end;
    while (ne > s && isspace((unsigned char)ne[-1]))
        ne--;
    snprintf(name, len, "%.*s", (int)(ne - s), s);
    *score = -1;
    if (colon) {
        char num[64], *e = NULL;
        const char *a = colon + 1;
        while (a < end && isspace((unsigned char)*a))
            a++;
        snprintf(num, sizeof num, "%.*s", (int)(end - a), a);
        for (size_t i = strlen(num); i > 0 && isspace((unsigned char)num[i - 1]); i--)
            num[i - 1] = 0;
        *score = num[0] && (isdigit((unsigned char)num[0]) || num[0] == '.') ? strtod(num, &e) : -2;
        if (!e || *e)
            *score = -2;
    }
    *pos = end;
    return colon ? 2 : 1;
}

static int check_list(const cfg_key *k, const char *text, char *why, size_t len)
{
    const char *pos = text;
    char name[256], shown[80];
    double score;
    int n = 0, r;
    /* "a,,b" and "a," are typos the item reader would step over */
    for (const char *q = text;; q++) {
        const char *e = q + strcspn(q, ",");
        int blank = 1;
        for (const char *x = q; x < e; x++)
            blank &= isspace((unsigned char)*x) != 0;
        if (blank)
            return bad(k, text, "has an empty item", why, len);
        if (!*e)
            break;
        q = e;
    }
    while ((r = cfg_list_next(&pos, name, sizeof name, &score)) > 0) {
        cfg_value_show(name, shown, sizeof shown);
        if (!name[0])
            return bad(k, text, "has an empty item", why, len);
        if (++n > (int)k->max)
            return bad(k, text, "has too many items", why, len);
        if (k->type == CFG_T_LIST && r == 2)
            return bad(k, text, "has an item with a colon", why, len);
        if (k->type == CFG_T_SCORES && r != 2) {
            snprintf(why, len, "%s has no score (expected LABEL:SCORE items like covered:0.8, "
                     "each score 0..1)", shown);
            return CFG_EINVAL;
        }
        if (k->type == CFG_T_SCORES && (score < 0 || score > 1)) {
            snprintf(why, len, "the score of %s is not a number from 0 to 1 (expected "
                     "LABEL:SCORE items like covered:0.8)", shown);
            return CFG_EINVAL;
        }
        for (const char *c = name; *c; c++)
            if (iscntrl((unsigned char)*c))
                return bad(k, text, "contains a control character", why, len);
        /* the same name twice is a typo, or two settings that fight */
        const char *again = text;
        char other[256];
        double s2;
        for (int i = 0; i < n - 1 && cfg_list_next(&again, other, sizeof other, &s2) > 0; i++)
            if (strcmp(other, name) == 0) {
                snprintf(why, len, "%s is listed twice (expected each once)", shown);
                return CFG_EINVAL;
            }
    }
    if (!n && !(k->flags & CFG_F_EMPTY_OK))
        return bad(k, text, "is empty", why, len);
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
    if (k->type == CFG_T_LIST || k->type == CFG_T_SCORES)
        return check_list(k, text, why, len);
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
