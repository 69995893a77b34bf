/* crop.c: the value types of regions of interest: a crop (X,Y,W,H, each in
 * pixels or percent) and a list of region names.
 *
 * What can be checked without the frame is checked here, with the line:
 * syntax, signs, sizes of zero, percentages over 100 (alone, and a
 * percent offset plus a percent size).  Whether a pixel crop fits the
 * frame is known only once a frame is decoded (media/crop.c), and can
 * change with the camera's resolution.
 */
#include <ctype.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/table.h"

#define AT(base, k, T) ((T *)((char *)(base) + (k)->off))

enum { PIXELS_MAX = 65535 };   /* no decoder makes a wider frame */

static const char *const part_name[4] = { "x", "y", "width", "height" };

void cfg_crop_range(const cfg_key *k, char *buf, size_t len)
{
    snprintf(buf, len, "X,Y,W,H in pixels like 0,0,320,240, or in percent like 10%%,0%%,50%%,100%%%s",
             (k->flags & CFG_F_EMPTY_OK) ? ", or empty" : "");
}

int cfg_crop_format(const cfg_crop *c, char *buf, size_t len)
{
    return snprintf(buf, len, "%g%s,%g%s,%g%s,%g%s", c->v[0], (c->pct & 1) ? "%" : "", c->v[1],
                    (c->pct & 2) ? "%" : "", c->v[2], (c->pct & 4) ? "%" : "", c->v[3],
                    (c->pct & 8) ? "%" : "");
}

/* One of the four values, blanks trimmed, into *v and *pct. */
static int read_part(const cfg_key *k, int i, const char *s, size_t n, double *v, int *pct,
                     char *why, size_t len)
{
    char item[64], shown[80], exp[160];
    while (n && isspace((unsigned char)*s))
        s++, n--;
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    if (n >= sizeof item)
        n = sizeof item - 1;
    memcpy(item, s, n);
    item[n] = '\0';
    cfg_crop_range(k, exp, sizeof exp);
    cfg_value_show(item, shown, sizeof shown);
    *pct = n > 0 && item[n - 1] == '%';
    if (*pct)
        item[--n] = '\0';
    if (!n) {
        snprintf(why, len, "%s: no value (expected %s)", part_name[i], exp);
        return CFG_EINVAL;
    }
    if (item[0] == '-') {
        snprintf(why, len, "%s %s is negative (expected %s)", part_name[i], shown, exp);
        return CFG_EINVAL;
    }
    /* digits and at most one point: strtod would take "inf", hex, "1e3" */
    if (strspn(item, "0123456789.") != n || strchr(item, '.') != strrchr(item, '.') ||
        !strpbrk(item, "0123456789")) {
        snprintf(why, len, "%s %s is not a number (expected %s)", part_name[i], shown, exp);
        return CFG_EINVAL;
    }
    locale_t c = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    if (!c)
        return CFG_ENOMEM;
    *v = strtod_l(item, NULL, c);
    freelocale(c);
    if (!*pct && strchr(item, '.')) {
        snprintf(why, len, "%s %s is not a whole number of pixels (expected %s)", part_name[i],
                 shown, exp);
        return CFG_EINVAL;
    }
    if ((*pct && *v > 100) || (!*pct && *v > PIXELS_MAX)) {
        snprintf(why, len, "%s %s is over %s (expected %s)", part_name[i], shown,
                 *pct ? "100%" : "65535 pixels", exp);
        return CFG_EINVAL;
    }
    if (i >= 2 && *v <= 0) {
        snprintf(why, len, "%s %s: a crop must have a size (expected a %s above 0)", part_name[i],
                 shown, part_name[i]);
        return CFG_EINVAL;
    }
    return 0;
}

int cfg_crop_set(const cfg_key *k, void *base, const char *text, char *why, size_t len)
{
    cfg_crop c = { { 0, 0, 0, 0 }, 0, 0 };
    char exp[160], shown[80];
    const char *p = text;
    int n = 1;

    cfg_crop_range(k, exp, sizeof exp);
    cfg_value_show(text, shown, sizeof shown);
    if (!*text) {
        if (!(k->flags & CFG_F_EMPTY_OK)) {
            snprintf(why, len, "no value (expected %s)", exp);
            return CFG_EINVAL;
        }
        *AT(base, k, cfg_crop) = c;
        return 0;
    }
    for (const char *q = text; *q; q++)
        n += *q == ',';
    if (n != 4) {
        snprintf(why, len, "%s has %d value%s (expected %s)", shown, n, n == 1 ? "" : "s", exp);
        return CFG_EINVAL;
    }
    for (int i = 0; i < 4; i++) {
        size_t il = strcspn(p, ",");
        int pct, ret = read_part(k, i, p, il, &c.v[i], &pct, why, len);
        if (ret < 0)
            return ret;
        c.pct |= (unsigned)pct << i;
        p += il + (p[il] == ',');
    }
    /* a percent crop that ends past the frame does so at every size */
    for (int a = 0; a < 2; a++)
        if ((c.pct >> a & 1) && (c.pct >> (a + 2) & 1) && c.v[a] + c.v[a + 2] > 100 + 1e-9) {
            snprintf(why, len, "%s: %s %g%% + %s %g%% is over 100%% (the crop would end outside "
                     "the frame; expected at most 100%% together)", shown, part_name[a], c.v[a],
                     part_name[a + 2], c.v[a + 2]);
            return CFG_EINVAL;
        }
    c.set = 1;
    *AT(base, k, cfg_crop) = c;
    return 0;
}

int cfg_names_next(const char **list, char *buf, size_t len)
{
    const char *p = *list;
    if (!p || !*p)
        return 0;
    size_t n = strcspn(p, ",");
    snprintf(buf, len, "%.*s", (int)n, p);
    *list = p + n + (p[n] == ',');
    return 1;
}

/* Stored without blanks, "gate,door", so that two lists that differ only
 * in spacing compare equal on reload. */
int cfg_names_set(const cfg_key *k, void *base, const char *text, char *why, size_t len)
{
    char *out = calloc(strlen(text) + 1, 1), shown[80];
    const char *p = text;
    size_t o = 0;
    int count = 0;

    if (!out)
        return CFG_ENOMEM;
    for (int more = *text != '\0'; more;) {
        size_t il = strcspn(p, ",");
        const char *s = p;
        size_t n = il;
        while (n && isspace((unsigned char)*s))
            s++, n--;
        while (n && isspace((unsigned char)s[n - 1]))
            n--;
        char name[CFG_NAME_MAX + 8];
        snprintf(name, sizeof name, "%.*s", (int)(n < CFG_NAME_MAX + 4 ? n : CFG_NAME_MAX + 4), s);
        cfg_value_show(name, shown, sizeof shown);
        if (n == 0 || n > CFG_NAME_MAX || strspn(name, CFG_NAME_CHARS) != n) {
            snprintf(why, len, "name %d, %s, is not a name (expected 1 to %d of A-Z a-z 0-9 _ . -, "
                     "comma-separated)", count + 1, shown, CFG_NAME_MAX);
            goto bad;
        }
        for (const char *q = out; *q;) {
            char seen[CFG_NAME_MAX + 1];
            cfg_names_next(&q, seen, sizeof seen);
            if (strcmp(seen, name) == 0) {
                snprintf(why, len, "%s is listed twice (expected each name once)", shown);
                goto bad;
            }
        }
        if (++count > (int)k->max) {
            snprintf(why, len, "more than %.0f names (expected at most %.0f)", k->max, k->max);
            goto bad;
        }
        o += (size_t)sprintf(out + o, "%s%s", o ? "," : "", name);
        more = p[il] == ',';
        p += il + more;
    }
    free(*AT(base, k, char *));
    *AT(base, k, char *) = out;
    return 0;
bad:
    free(out);
    return CFG_EINVAL;
}
