/*
 * wb_object: the AD group object of one Entra group: the search that finds it (by anchor, or
 * by another attribute, optionally also checking the names a create would take), and the
 * writes on it: create, update (attributes that differ, rename/move), adopt, delete. Objects
 * without our anchor are never modified or deleted. Application thread only.
 */
#ifndef WB_OBJECT_H
#define WB_OBJECT_H

#include "wb_aenv.h"
#include "wb_map.h"

#include <stdbool.h>

/* An AD group as read: DN and the attributes the apply compares. Owned strings, NULL when
 * absent. */
struct wb_object {
    char *dn, *cn, *display_name, *description, *admin_description, *group_type, *soa, *ext_id,
        *sam;
};

/* Frees the strings and zeroes o. */
void wb_object_free(struct wb_object *o);

/* What a create at a mapped name would collide with, learned by wb_object_find's names search
 * (checked false: not known, the create looks itself). */
struct wb_object_names {
    bool checked;
    bool dn_taken;    /* an object holds the DN */
    char *sam_holder; /* owned: the DN of the object holding the sAMAccountName, or NULL */
};

/* Frees and zeroes nc. */
void wb_object_names_clear(struct wb_object_names *nc);

/*
 * The one search for our group: groups under cfg.base_dn whose attr equals value (escaped
 * here). *n counts them and the first is read into o. names non-NULL (a step that may create
 * the group at names->dn): the same request also looks for objects holding names' cn or
 * sAMAccountName, and fills nc; only the entries whose attr equals value count then.
 * Returns an LDAP code.
 */
int wb_object_find(const struct wb_aenv *env, const char *attr, const char *value,
                   const struct wb_map_group *names, struct wb_object_names *nc,
                   struct wb_object *o, int *n);

/* Outcomes of wb_object_create. */
enum wb_object_created {
    WB_OBJECT_CREATED = 0,       /* created (or the failure is in res) */
    WB_OBJECT_OURS = 1,          /* the DN holds our anchor already (created meanwhile) */
    WB_OBJECT_MEMBER_REFUSED = 2 /* refused; a bad member value may explain it */
};

/*
 * Adds group m with the member values vals[0..n) (n may be 0) in the add. nc (may be NULL)
 * spares the search at the DN when the names search already answered. A name taken by an
 * object we do not own is a conflict in res; WB_OBJECT_MEMBER_REFUSED (with WB_ERR_INVALID,
 * res untouched but for writes) when a refusal may come from a member value: the caller then
 * creates the group bare.
 */
wb_err_t wb_object_create(const struct wb_aenv *env, const struct wb_apply_ctx *cx,
                          const struct wb_map_group *m, const struct wb_object_names *nc,
                          const char *const *vals, size_t n, enum wb_object_created *outcome,
                          struct wb_apply_result *res);

/* Writes the attributes of o that differ from m, then renames/moves it to m's name under
 * cfg.target_ou. *dn (owned) is o's DN, replaced by the new one after a rename. */
wb_err_t wb_object_update(const struct wb_aenv *env, const struct wb_apply_ctx *cx,
                          const struct wb_object *o, const struct wb_map_group *m, char **dn,
                          struct wb_apply_result *res);

/* Adds our anchor to o, a Connect Sync writeback group (o->ext_id becomes anchor). */
wb_err_t wb_object_adopt(const struct wb_aenv *env, const struct wb_apply_ctx *cx,
                         struct wb_object *o, const char *anchor, struct wb_apply_result *res);

/* Deletes o (gone meanwhile is success). */
wb_err_t wb_object_delete(const struct wb_aenv *env, const struct wb_apply_ctx *cx,
                          const struct wb_object *o, struct wb_apply_result *res);

#endif
