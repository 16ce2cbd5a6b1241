/*
 * wb_idkey: GUID keys in binary form. The string form is wb_id's; the comparison follows the
 * byte order of the string form, so sorting keys sorts their strings without formatting them.
 */
#include "wb_idkey.h"

#include "wb_id.h"

/* Byte order of the string form: the first three GUID fields are stored little-endian. */
static const unsigned char str_order[16] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};

bool wb_idkey_parse(const char *str, struct wb_idkey *key)
{
    return wb_id_guid_from_str(str, key->b);
}

void wb_idkey_format(const struct wb_idkey *key, char out[37])
{
    wb_id_guid_to_str(key->b, out);
}

int wb_idkey_cmp(const void *a, const void *b)
{
    const struct wb_idkey *x = a, *y = b;
    int i;

    for (i = 0; i < 16; i++) {
        unsigned char p = x->b[str_order[i]], q = y->b[str_order[i]];

        if (p != q)
            return p < q ? -1 : 1;
    }
    return 0;
}
