/*
 * provision: on-demand provisioning of one group from Graph. Not implemented yet: it needs
 * a single-group read (group, members, member identities) from the producer's Graph code,
 * which the producer library does not expose as one call. The command exists so that the
 * interface and exit code are stable.
 */
#include "ctl.h"

#include <stdio.h>

int ctl_provision(struct ctl *c, int argc, char **argv)
{
    (void)c;
    if (ctl_wants_help(argc, argv)) {
        printf("usage: writebackctl provision --group OBJECTID [--dry-run]\n"
               "\n"
               "Not implemented in this version. Meanwhile: `writebackctl resync` makes the\n"
               "producer re-read every group (snapshots), and `writebackctl replay --group-id\n"
               "OBJECTID --to-earliest --execute` re-applies one group's events.\n");
        return 0;
    }
    fprintf(stderr, "writebackctl provision: not implemented in this version (use resync, or "
                    "replay --group-id)\n");
    return CTL_EXIT_FAIL;
}
