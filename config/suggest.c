/* suggest.c: "did you mean ...?" for misspelt keys, sections and words.
 *
 * Unknown keys are errors so that a typo cannot quietly leave a default in
 * force; naming the key that was probably meant makes that strictness cheap
 * for the operator.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "config/table.h"

enum { WORD_MAX = 64 };

/* Edit distance counting a swap of neighbours as one edit (the commonest
 * typo), case ignored.  Words longer than WORD_MAX are never near. */
int cfg_distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    int d[WORD_MAX + 1][WORD_MAX + 1];
    if (n > WORD_MAX || m > WORD_MAX)
        return WORD_MAX;
    for (size_t i = 0; i <= n; i++)
        d[i][0] = (int)i;
    for (size_t j = 0; j <= m; j++)
        d[0][j] = (int)j;
    for (size_t i = 1; i <= n; i++) {
        for (size_t j = 1; j <= m; j++) {
            int ca = tolower((unsigned char)a[i - 1]), cb = tolower((unsigned char)b[j - 1]);
            int best = d[i - 1][j - 1] + (ca != cb);
            if (d[i - 1][j] + 1 < best)
                best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) == cb && d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    }
    return d[n][m];
}

static int is_prefix(const char *pre, const char *s)
{
    size_t n = strlen(pre);
    return n >= 3 && strncasecmp(pre, s, n) == 0;
}

const char *cfg_suggest(const char *word, const void *cands, size_t stride, int n)
{
    size_t len = strlen(word);
    /* Short words are near everything; allow fewer edits there. */
    int limit = len < 5 ? 1 : len < 9 ? 2 : 3;
    const char *best = NULL;
    int best_d = limit + 1;
    for (int i = 0; i < n; i++) {
        const char *c = *(const char *const *)((const char *)cands + (size_t)i * stride);
        int d = cfg_distance(word, c);
        /* "err" for "error", "sample" for "sample_fps": a cut-short word is
         * as likely a slip as a misspelt one. */
        if (d > limit && (is_prefix(word, c) || is_prefix(c, word)))
            d = limit;
        if (d < best_d) {
            best_d = d;
            best = c;
        }
    }
    return best;
}
