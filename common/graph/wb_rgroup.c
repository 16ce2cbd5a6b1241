/*
 * wb_rgroup: the member entries of one group in a round. Entries are appended as pages arrive
 * and netted once: sorted by id, then arrival order, keeping the last entry of each id.
 */
#include "wb_rgroup.h"

#include "wb_mem.h"

#include <stdlib.h>
#include <string.h>

void wb_rgroup_push(struct wb_rgroup *rg, const struct wb_idkey *id, int kind, int added,
                    uint32_t seq)
{
    if (rg->nm == rg->cap) {
        rg->cap = rg->cap ? rg->cap * 2 : 8;
        rg->m = wb_realloc(rg->m, rg->cap * sizeof(*rg->m));
    }
    rg->m[rg->nm].id = *id;
    rg->m[rg->nm].kind = (uint8_t)kind;
    rg->m[rg->nm].added = (uint8_t)added;
    rg->m[rg->nm].seq = seq;
    rg->nm++;
}

static int mref_cmp(const void *a, const void *b)
{
    const struct wb_mref *x = a, *y = b;
    int c = wb_idkey_cmp(&x->id, &y->id);

    if (c)
        return c;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

void wb_rgroup_net(struct wb_rgroup *rg)
{
    size_t i, k = 0;

    if (rg->nm < 2)
        return;
    qsort(rg->m, rg->nm, sizeof(*rg->m), mref_cmp);
    for (i = 0; i < rg->nm; i++) {
        if (i + 1 < rg->nm && memcmp(rg->m[i].id.b, rg->m[i + 1].id.b, 16) == 0)
            continue; /* a later entry for the same member wins */
        rg->m[k++] = rg->m[i];
    }
    rg->nm = k;
}
