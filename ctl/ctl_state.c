/*
 * state: writebackctl's side of topic.state. resync and deletes allow write a
 * <tenant>/command record that the producer applies once at its next round (ckpt.h);
 * deletes show reads the checkpoint the producer last committed and lists the staged
 * deletes (and staged unscoped groups) held back by graph.delete_threshold.
 */
#include "ctl.h"
#include "ctl_kafka.h"
#include "wb_command.h"
#include "wb_id.h"
#include "wb_kafka.h"
#include "wb_mem.h"
#include "wb_state.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage_resync(FILE *fp)
{
    fputs("usage: writebackctl resync [--json]\n"
          "\n"
          "Asks the producer to do a full sync at its next round: it drops its Graph delta\n"
          "token and reads every group again, emitting snapshots (the equivalent of Cloud\n"
          "Sync's \"restart provisioning\" with a cleared watermark). Groups that disappeared\n"
          "meanwhile are deleted through the in-scope id set (subject to\n"
          "graph.delete_threshold). Written as {\"v\":1,\"resync\":true} to topic.state under\n"
          "<tenant>/command; the producer applies each command once.\n"
          "\n"
          "Exit: 0 request stored, 1 failure, 2 usage error.\n",
          fp);
}

static void usage_deletes(FILE *fp)
{
    fputs("usage: writebackctl deletes show [--json]\n"
          "       writebackctl deletes allow (--all | OBJECTID ...)\n"
          "\n"
          "When one round would delete (or unscope) more groups than graph.delete_threshold,\n"
          "the producer stages them in its checkpoint instead of emitting the events\n"
          "(accidental-deletion prevention). show lists them from the checkpoint in\n"
          "topic.state; allow releases all of them or the given ids: the producer emits the\n"
          "group.delete / group.unscoped events at its next round.\n"
          "\n"
          "Exit: 0 done, 1 failure (no checkpoint, broker down), 2 usage error.\n",
          fp);
}

/* A stored command (resync, deletes allow) or the checkpoint's stage (deletes show). */
struct state_result {
    char *key, *value; /* the command record */
    const char *topic;
    struct wb_kafka_delivery dr;
    struct wb_ckpt ck; /* deletes show */
    struct wb_idkey *keys;
    size_t nkeys;
};

wb_err_t ctl_state_put(struct ctl *c, const char *suffix, const char *value, char **key,
                       struct wb_kafka_delivery *dr)
{
    rd_kafka_t *prod = ctl_kafka_new(c, RD_KAFKA_PRODUCER);
    const char *topic = wb_conf_get_str(c->conf, "topic.state");
    wb_err_t rc = WB_ERR_TRANSIENT;

    *key = wb_asprintf("%s/%s", wb_conf_get_str(c->conf, "tenant"), suffix);
    if (!prod)
        goto out;
    if (ctl_kafka_partitions(prod, topic) <= 0)
        goto out;
    rc = wb_kafka_produce(prod, topic, *key, strlen(*key), value, strlen(value), NULL, 0, dr);
    if (rc != WB_OK)
        goto out;
    rc = wb_kafka_flush(prod, 30000);
    if (rc == WB_OK && (!dr->done || dr->err)) {
        fprintf(stderr, "writebackctl: %s not stored: %s\n", *key,
                dr->done ? rd_kafka_err2str(dr->err) : "no acknowledgement");
        rc = WB_ERR_TRANSIENT;
    }
out:
    wb_kafka_destroy(prod);
    return rc;
}

/* Produces r->value under <tenant>/command (what the producer applies at its next round). */
static wb_err_t put_command(struct ctl *c, struct state_result *r)
{
    r->topic = wb_conf_get_str(c->conf, "topic.state");
    return ctl_state_put(c, "command", r->value, &r->key, &r->dr);
}

static void print_stored(const struct state_result *r)
{
    printf("stored %s = %s in %s [%d] at offset %lld\n", r->key, r->value, r->topic,
           (int)r->dr.partition, (long long)r->dr.offset);
}

static void result_free(void *result)
{
    struct state_result *r = result;

    free(r->key);
    free(r->value);
    free(r->keys);
    wb_ckpt_free(&r->ck);
}

/* ---------------------------------------------------------------- resync */

static const struct ctl_opt resync_options[] = {{.name = NULL}};

static int resync_run(struct ctl *c, const void *opts, void *result, bool *render)
{
    struct state_result *r = result;

    (void)opts;
    r->value = wb_command_encode_resync();
    if (put_command(c, r) != WB_OK)
        return CTL_EXIT_FAIL;
    *render = true;
    return CTL_EXIT_OK;
}

static cJSON *resync_json(struct ctl *c, const void *opts, const void *result)
{
    cJSON *doc = cJSON_CreateObject();

    (void)opts, (void)result;
    cJSON_AddBoolToObject(doc, "resyncRequested", true);
    cJSON_AddStringToObject(doc, "tenant", wb_conf_get_str(c->conf, "tenant"));
    return doc;
}

static void resync_text(struct ctl *c, const void *opts, const void *result)
{
    (void)c, (void)opts;
    print_stored(result);
    printf("the producer will do a full sync at its next round\n");
}

const struct ctl_cmd ctl_resync_cmd = {
    .name = "resync",
    .summary = "ask the producer for a full sync at its next round",
    .kafka = true,
    .usage = usage_resync,
    .opt = resync_options,
    .result_size = sizeof(struct state_result),
    .run = resync_run,
    .text = resync_text,
    .json = resync_json,
    .free = result_free,
};

/* ---------------------------------------------------------------- deletes */

enum { D_SHOW, D_ALLOW };

static const char *const deletes_verbs[] = {"show", "allow", NULL};

struct deletes_opts {
    int verb;
    const char **ids;
    int all;
};

static const struct ctl_opt deletes_options[] = {
    CTL_OPT("--all", CTL_OPT_FLAG, struct deletes_opts, all, .val = 1),
    {.name = NULL},
};

/* Reads the checkpoint the producer last committed. */
static int deletes_show(struct ctl *c, struct state_result *r)
{
    char errstr[512];
    wb_state_t *st = NULL;
    int rc = CTL_EXIT_FAIL;

    wb_ckpt_init(&r->ck);
    st = wb_state_new(wb_conf_kafka_kv(c->conf), wb_conf_get_str(c->conf, "topic.state"),
                      wb_conf_get_str(c->conf, "tenant"), errstr, sizeof(errstr));
    if (!st) {
        fprintf(stderr, "writebackctl deletes: %s\n", errstr);
        goto out;
    }
    if (wb_state_poll(st, 60000) != WB_OK) {
        fprintf(stderr, "writebackctl deletes: could not read %s to its end\n",
                wb_conf_get_str(c->conf, "topic.state"));
        goto out;
    }
    if (wb_state_checkpoint(st, &r->ck) != WB_OK) {
        fprintf(stderr, "writebackctl deletes: the stored checkpoint is damaged\n");
        goto out;
    }
    r->keys = wb_idmap_keys_sorted(r->ck.staged, &r->nkeys);
    rc = CTL_EXIT_OK;
out:
    wb_state_destroy(st);
    return rc;
}

static int deletes_allow(struct ctl *c, const struct deletes_opts *o, struct state_result *r)
{
    struct wb_idkey *ids = NULL;
    size_t nids = 0, i;
    int rc = CTL_EXIT_FAIL;

    for (i = 0; o->ids[i]; i++)
        ;
    ids = wb_calloc(i + 1, sizeof(*ids));
    for (i = 0; o->ids[i]; i++) {
        if (!wb_id_guid_valid(o->ids[i]) || !wb_idkey_parse(o->ids[i], &ids[nids])) {
            rc = ctl_usage_error("deletes", "\"%s\" is not an objectId (GUID) or --all", o->ids[i]);
            goto out;
        }
        nids++;
    }
    if (o->all == (nids > 0)) {
        rc = ctl_usage_error("deletes", "%sallow takes either --all or object ids", "");
        goto out;
    }
    r->value = wb_command_encode_allow(o->all ? NULL : ids, nids);
    if (put_command(c, r) != WB_OK)
        goto out;
    rc = CTL_EXIT_OK;
out:
    free(ids);
    return rc;
}

static int deletes_run(struct ctl *c, const void *opts, void *result, bool *render)
{
    const struct deletes_opts *o = opts;
    int rc;

    if (o->verb == D_SHOW && (o->ids[0] || o->all))
        return ctl_usage_error("deletes", "unexpected argument %s",
                               o->ids[0] ? o->ids[0] : "--all");
    rc = o->verb == D_SHOW ? deletes_show(c, result) : deletes_allow(c, o, result);
    *render = rc == CTL_EXIT_OK;
    return rc;
}

/* Whether staged entry k is an unscoped group rather than a delete. */
static bool staged_unscoped(const struct state_result *r, size_t k)
{
    void **v = wb_idmap_get(r->ck.staged, &r->keys[k]);

    return v && *v == WB_CKPT_STAGED_UNSCOPED;
}

static cJSON *deletes_json(struct ctl *c, const void *opts, const void *result)
{
    const struct deletes_opts *o = opts;
    const struct state_result *r = result;
    cJSON *doc, *del, *uns;
    size_t i;

    if (o->verb == D_ALLOW) {
        doc = cJSON_Parse(r->value);
        cJSON_AddBoolToObject(doc, "stored", true);
        return doc;
    }
    doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "tenant", wb_conf_get_str(c->conf, "tenant"));
    cJSON_AddNumberToObject(doc, "round", (double)r->ck.round);
    del = cJSON_AddArrayToObject(doc, "stagedDeletes");
    uns = cJSON_AddArrayToObject(doc, "stagedUnscoped");
    for (i = 0; i < r->nkeys; i++) {
        char id[37];

        wb_idkey_format(&r->keys[i], id);
        cJSON_AddItemToArray(staged_unscoped(r, i) ? uns : del, cJSON_CreateString(id));
    }
    return doc;
}

static void deletes_text(struct ctl *c, const void *opts, const void *result)
{
    const struct deletes_opts *o = opts;
    const struct state_result *r = result;
    size_t i, ndel = 0, nuns = 0;

    (void)c;
    if (o->verb == D_ALLOW) {
        print_stored(r);
        printf("the producer releases the staged deletes at its next round\n");
        return;
    }
    for (i = 0; i < r->nkeys; i++) {
        char id[37];
        bool uns = staged_unscoped(r, i);

        wb_idkey_format(&r->keys[i], id);
        printf("%s %s\n", id, uns ? "unscoped" : "delete");
        if (uns)
            nuns++;
        else
            ndel++;
    }
    printf("%zu staged delete(s), %zu staged unscoped group(s) (checkpoint round %llu)%s\n", ndel,
           nuns, (unsigned long long)r->ck.round,
           r->nkeys ? "; release with `writebackctl deletes allow --all` or by id" : "");
}

const struct ctl_cmd ctl_deletes_cmd = {
    .name = "deletes",
    .summary = "staged deletes over graph.delete_threshold: show, allow",
    .kafka = true,
    .usage = usage_deletes,
    .verbs = deletes_verbs,
    .opt = deletes_options,
    .opts_size = sizeof(struct deletes_opts),
    .verb_off = offsetof(struct deletes_opts, verb),
    .operands_off = offsetof(struct deletes_opts, ids),
    .result_size = sizeof(struct state_result),
    .run = deletes_run,
    .text = deletes_text,
    .json = deletes_json,
    .free = result_free,
};
