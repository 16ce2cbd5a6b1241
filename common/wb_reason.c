/*
 * wb_reason: the one table of reason tags (see wb_reason.h) and the Markdown it generates for
 * docs/errors.md. A new reason is a row here; then refresh the docs with
 * WB_UPDATE_DOCS=1 ctest --test-dir <build> -R 0015-reason.
 */
#include "wb_reason.h"

#include <string.h>

/* clang-format off */
const struct wb_reason_info wb_reason_table[WB_REASON_COUNT] = {
    [WB_REASON_POISON] = {"poison", WB_REASON_KIND_DEAD_LETTER, WB_ERR_INVALID,
        "the event does not decode (not JSON, unknown `v` or `type`, a field "
        "that is not a GUID/SID/time, a limit of "
        "[events.md](events.md#limits-the-decoder-enforces) exceeded); the "
        "decoder's message is in `wb.ldap.message`",
        "this producer validates what it writes, so something else wrote to "
        "`topic.events`, or the worker is older than the producer (`unknown "
        "v`): find the writer or upgrade the worker; re-driving the same bytes "
        "fails again"},
    [WB_REASON_DN_CONFLICT] = {"dn_conflict", WB_REASON_KIND_DEAD_LETTER, WB_ERR_CONFLICT,
        "creating or renaming the group: its DN (`CN=<cn>,<ldap.target_ou>`) is"
        " held by an object without our anchor; `wb.ldap.matched_dn` names it",
        "rename, move or delete that object; or, if it is this group, add "
        "`msDS-ExternalDirectoryObjectId=Group_<objectId>` to it; then re-drive"},
    [WB_REASON_SAM_CONFLICT] = {"sam_conflict", WB_REASON_KIND_DEAD_LETTER, WB_ERR_CONFLICT,
        "creating the group: `sAMAccountName` `Group_<last 12 of objectId>` "
        "belongs to another object (`wb.ldap.matched_dn`)",
        "rename or delete the other object's sAMAccountName, or anchor it as "
        "above if it is this group; re-drive"},
    [WB_REASON_DUPLICATE_ANCHOR] = {"duplicate_anchor", WB_REASON_KIND_DEAD_LETTER, WB_ERR_CONFLICT,
        "two objects carry `msDS-ExternalDirectoryObjectId=Group_<objectId>` "
        "(or, when adopting, `adminDescription=Group_<objectId>`); "
        "`wb.ldap.matched_dn` names one",
        "delete the stray copy or clear its anchor (usually one was restored or"
        " copied by hand); re-drive"},
    [WB_REASON_UNOWNED_WRITEBACK_GROUP] = {"unowned_writeback_group", WB_REASON_KIND_DEAD_LETTER, WB_ERR_CONFLICT,
        "a group written by Connect Sync group writeback v2 "
        "(`adminDescription=Group_<objectId>`, no "
        "`msDS-ExternalDirectoryObjectId`) is in the way; it is left untouched",
        "to take it over, set `worker.adopt_writeback_v2=true` on the workers "
        "and re-drive; otherwise remove it (or its `adminDescription`) so a new"
        " group is created"},
    [WB_REASON_GROUP_NOT_FOUND] = {"group_not_found", WB_REASON_KIND_DEAD_LETTER, WB_ERR_DEPENDENCY,
        "a member change (`group.members`, or a snapshot without attributes) "
        "for a group that is not in AD after the retries; sent at once when the"
        " group's own upsert was dead-lettered by this worker",
        "fix the dead letter of the group's upsert first and re-drive it, then "
        "this one; or `writebackctl provision --group ID`"},
    [WB_REASON_MEMBER_GROUP_NOT_FOUND] = {"member_group_not_found", WB_REASON_KIND_DEAD_LETTER, WB_ERR_DEPENDENCY,
        "a nested group to be added is still not in AD after the retries; the "
        "rest of the change is applied, the events naming it are dead-lettered",
        "find why the nested group is missing (its own dead letter, usually a "
        "conflict), fix it, then re-drive"},
    [WB_REASON_BAD_ATTRIBUTES] = {"bad_attributes", WB_REASON_KIND_DEAD_LETTER, WB_ERR_INVALID,
        "the group's attributes cannot be mapped (log: `cannot map attributes: "
        "…`)",
        "should not happen with a validated configuration: report it with the "
        "log line"},
    [WB_REASON_BAD_GROUP_ID] = {"bad_group_id", WB_REASON_KIND_DEAD_LETTER, WB_ERR_INVALID,
        "the group id is not a GUID although the event decoded",
        "should not happen (the decoder checks it): report it"},
    [WB_REASON_UNKNOWN_STEP] = {"unknown_step", WB_REASON_KIND_DEAD_LETTER, WB_ERR_INVALID,
        "the worker built a step it does not know",
        "a bug: report it"},
    [WB_REASON_SEARCH_FAILED] = {"search_failed", WB_REASON_KIND_DEAD_LETTER, WB_OK,
        "a search (anchor, DN, sAMAccountName) failed",
        "read `wb.ldap.rc` and `wb.ldap.message`; fix what AD says, re-drive"},
    [WB_REASON_ADD_FAILED] = {"add_failed", WB_REASON_KIND_DEAD_LETTER, WB_OK,
        "the add of a new group failed for a reason other than a name conflict",
        "as above; for example 19 (a value AD refuses) or 53"},
    [WB_REASON_MODIFY_FAILED] = {"modify_failed", WB_REASON_KIND_DEAD_LETTER, WB_OK,
        "updating displayName, description, adminDescription, groupType or "
        "`msDS-ObjectSoa` failed",
        "as above; on a DC that enforces the AD object source-of-authority "
        "policy, check that the bind account's SID is listed (`writebackctl "
        "soa-policy check`)"},
    [WB_REASON_MODRDN_FAILED] = {"modrdn_failed", WB_REASON_KIND_DEAD_LETTER, WB_OK,
        "the rename or move (modrdn) failed for a reason other than a name "
        "conflict",
        "as above"},
    [WB_REASON_ADOPT_FAILED] = {"adopt_failed", WB_REASON_KIND_DEAD_LETTER, WB_OK,
        "adding our anchor to a Connect Sync group failed",
        "as above; check the bind account may write "
        "`msDS-ExternalDirectoryObjectId` there"},
    [WB_REASON_DELETE_FAILED] = {"delete_failed", WB_REASON_KIND_DEAD_LETTER, WB_OK,
        "deleting the group failed (a group already gone is success)",
        "as above; 66 means the object has children: move them away"},
    [WB_REASON_RESOLVE_FAILED] = {"resolve_failed", WB_REASON_KIND_DEAD_LETTER, WB_OK,
        "looking up member users or nested groups by SID, GUID or anchor failed",
        "as above"},
    [WB_REASON_MEMBER_MODIFY_FAILED] = {"member_modify_failed", WB_REASON_KIND_DEAD_LETTER, WB_OK,
        "adding or removing member values failed and no missing user explains "
        "it",
        "as above; AD refuses, for example, a domain-local group as member of a"
        " universal group"},
    [WB_REASON_READ_MEMBERS_FAILED] = {"read_members_failed", WB_REASON_KIND_DEAD_LETTER, WB_OK,
        "reading the current members (ranged retrieval) failed",
        "as above"},
    [WB_REASON_USER_NOT_FOUND] = {"user_not_found", WB_REASON_KIND_SKIP, WB_OK,
        "a user's `<SID=…>`/`<GUID=…>` does not resolve in AD after the "
        "dependency retries (during the retries the same tag is logged as the "
        "missing dependency)",
        "the user is not in this domain or forest (deleted on-premises, not yet"
        " replicated, another forest); once it exists, `writebackctl provision "
        "--group ID` or `writebackctl resync` adds it"},
    [WB_REASON_NO_ONPREM_IDENTITY] = {"no_onprem_identity", WB_REASON_KIND_SKIP, WB_OK,
        "a user reference carries neither a usable SID nor GUID",
        "should not happen (the decoder requires one): report it"},
    [WB_REASON_CLOUD_ONLY] = {"cloud_only", WB_REASON_KIND_DROP, WB_OK,
        "the user has no `onPremisesSecurityIdentifier`: it has no AD account",
        "none needed; synchronise the user from AD if it should be a member"},
    [WB_REASON_UNRESOLVED] = {"unresolved", WB_REASON_KIND_DROP, WB_OK,
        "Graph does not know the member id (`getByIds` returned nothing, "
        "usually a user deleted meanwhile)",
        "none if it is transient; if it persists, check the app's User.Read.All"
        " permission"},
    [WB_REASON_GROUP_OUT_OF_SCOPE] = {"group_out_of_scope", WB_REASON_KIND_DROP, WB_OK,
        "a nested group that is not in scope (mail-enabled, Microsoft 365, "
        "synced from AD, or outside `scope.mode`)",
        "bring the nested group into scope if its membership should be written"},
    [WB_REASON_UNSUPPORTED_TYPE] = {"unsupported_type", WB_REASON_KIND_DROP, WB_OK,
        "a member of another kind (device, service principal, contact)",
        "none: AD groups provisioned here hold users and groups only"},
    [WB_REASON_OUT_OF_SCOPE_KEEP] = {"out_of_scope_keep", WB_REASON_KIND_LEFT_ALONE, WB_OK,
        "`group.unscoped` with `worker.out_of_scope=keep`",
        "the AD group stays as it is and is no longer managed; counted as "
        "`writeback_worker_events_total{outcome=\"skipped\"}` and logged"},
};
/* clang-format on */

const char *wb_reason_tag(enum wb_reason r)
{
    return (unsigned)r < WB_REASON_COUNT ? wb_reason_table[r].tag : "";
}

int wb_reason_find(const char *tag)
{
    int i;

    for (i = 0; tag && i < WB_REASON_COUNT; i++)
        if (strcmp(wb_reason_table[i].tag, tag) == 0)
            return i;
    return -1;
}

const char *wb_reason_kind_name(enum wb_reason_kind kind)
{
    static const char *const names[WB_REASON_KIND_COUNT] = {"dead_letter", "skip", "drop",
                                                            "left_alone"};

    return (unsigned)kind < WB_REASON_KIND_COUNT ? names[kind] : NULL;
}

void wb_reason_markdown(FILE *fp, enum wb_reason_kind kind)
{
    int i;

    if (kind == WB_REASON_KIND_DEAD_LETTER)
        fputs("| reason | class | when | the operator's fix |\n|---|---|---|---|\n", fp);
    else if (kind == WB_REASON_KIND_LEFT_ALONE)
        fputs("| reason | when | effect |\n|---|---|---|\n", fp);
    else
        fputs("| reason | when | the operator's fix |\n|---|---|---|\n", fp);
    for (i = 0; i < WB_REASON_COUNT; i++) {
        const struct wb_reason_info *r = &wb_reason_table[i];

        if (r->kind != kind)
            continue;
        fprintf(fp, "| `%s` |", r->tag);
        if (kind == WB_REASON_KIND_DEAD_LETTER)
            fprintf(fp, " %s |", r->cls == WB_OK ? "from the LDAP code" : wb_err_name(r->cls));
        fprintf(fp, " %s | %s |\n", r->when, r->fix);
    }
}
