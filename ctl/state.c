/*
 * state: writebackctl's side of topic.state. resync and deletes allow write a
 * <tenant>/command record that the producer applies once at its next round (ckpt.h);
 * deletes show reads the checkpoint the producer last committed and lists the staged
 * deletes (and staged unscoped groups) held back by graph.delete_threshold.
 */
#include "ctl.h"
#include "wb_command.h"
#include "wb_id.h"
#include "wb_kafka.h"
#include "wb_mem.h"
#include "wb_state.h"

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

wb_err_t ctl_state_put(struct ctl *c, const char *suffix, const char *value)
{
    const char *tenant = wb_conf_get_str(c->conf, "tenant");
    const char *topic = wb_conf_get_str(c->conf, "topic.state");
    char *key = wb_asprintf("%s/%s", tenant, suffix);
    rd_kafka_t *prod = ctl_kafka_new(c, RD_KAFKA_PRODUCER, NULL);
    struct wb_kafka_delivery dr = {0};
    wb_err_t rc = WB_ERR_TRANSIENT;

    if (!prod)
        goto out;
    if (ctl_partitions(prod, topic) <= 0)
        goto out;
    rc = wb_kafka_produce(prod, topic, key, strlen(key), value, strlen(value), NULL, 0, &dr);
    if (rc != WB_OK)
        goto out;
    rc = wb_kafka_flush(prod, 30000);
    if (rc == WB_OK && (!dr.done || dr.err)) {
        fprintf(stderr, "writebackctl: command not stored: %s\n",
                dr.done ? rd_kafka_err2str(dr.err) : "no acknowledgement");
        rc = WB_ERR_TRANSIENT;
    }
    if (rc == WB_OK && !c->json)
        printf("stored %s = %s in %s [%d] at offset %lld\n", key, value, topic, (int)dr.partition,
               (long long)dr.offset);
out:
    wb_kafka_destroy(prod);
    free(key);
    return rc;
}

int ctl_resync(struct ctl *c, int argc, char **argv)
{
    char *cmd;
    int rc;

    if (ctl_wants_help(argc, argv)) {
        usage_resync(stdout);
        return 0;
    }
    if (argc > 1)
        return ctl_usage_error("resync", "unexpected argument %s", argv[1]);
    cmd = wb_command_encode_resync();
    rc = ctl_state_put(c, "command", cmd);
    free(cmd);
    if (rc != WB_OK)
        return CTL_EXIT_FAIL;
    if (c->json) {
        cJSON *doc = cJSON_CreateObject();

        cJSON_AddBoolToObject(doc, "resyncRequested", true);
        cJSON_AddStringToObject(doc, "tenant", wb_conf_get_str(c->conf, "tenant"));
        ctl_print_json(doc);
    } else {
        printf("the producer will do a full sync at its next round\n");
    }
    return 0;
}

static int deletes_show(struct ctl *c)
{
    char errstr[512];
    wb_state_t *st = NULL;
    struct wb_ckpt ck;
    struct wb_idkey *keys = NULL;
    size_t n = 0, i, ndel = 0, nuns = 0;
    int rc = CTL_EXIT_FAIL;
    wb_err_t e;

    wb_ckpt_init(&ck);
    st = wb_state_new(wb_conf_kafka_kv(c->conf), wb_conf_get_str(c->conf, "topic.state"),
                      wb_conf_get_str(c->conf, "tenant"), errstr, sizeof(errstr));
    if (!st) {
        fprintf(stderr, "writebackctl deletes: %s\n", errstr);
        goto out;
    }
    e = wb_state_poll(st, 60000);
    if (e != WB_OK) {
        fprintf(stderr, "writebackctl deletes: could not read %s to its end\n",
                wb_conf_get_str(c->conf, "topic.state"));
        goto out;
    }
    if (wb_state_checkpoint(st, &ck) != WB_OK) {
        fprintf(stderr, "writebackctl deletes: the stored checkpoint is damaged\n");
        goto out;
    }
    keys = wb_idmap_keys_sorted(ck.staged, &n);
    if (c->json) {
        cJSON *doc = cJSON_CreateObject(), *del, *uns;

        cJSON_AddStringToObject(doc, "tenant", wb_conf_get_str(c->conf, "tenant"));
        cJSON_AddNumberToObject(doc, "round", (double)ck.round);
        del = cJSON_AddArrayToObject(doc, "stagedDeletes");
        uns = cJSON_AddArrayToObject(doc, "stagedUnscoped");
        for (i = 0; i < n; i++) {
            char id[37];
            void **v = wb_idmap_get(ck.staged, &keys[i]);

            wb_idkey_format(&keys[i], id);
            cJSON_AddItemToArray(v && *v == WB_CKPT_STAGED_UNSCOPED ? uns : del,
                                 cJSON_CreateString(id));
        }
        ctl_print_json(doc);
    } else {
        for (i = 0; i < n; i++) {
            char id[37];
            void **v = wb_idmap_get(ck.staged, &keys[i]);
            bool uns = v && *v == WB_CKPT_STAGED_UNSCOPED;

            wb_idkey_format(&keys[i], id);
            printf("%s %s\n", id, uns ? "unscoped" : "delete");
            if (uns)
                nuns++;
            else
                ndel++;
        }
        printf("%zu staged delete(s), %zu staged unscoped group(s) (checkpoint round %llu)%s\n",
               ndel, nuns, (unsigned long long)ck.round,
               n ? "; release with `writebackctl deletes allow --all` or by id" : "");
    }
    rc = 0;
out:
    free(keys);
    wb_ckpt_free(&ck);
    wb_state_destroy(st);
    return rc;
}

int ctl_deletes(struct ctl *c, int argc, char **argv)
{
    cJSON *cmd = NULL;
    struct wb_idkey *ids = NULL;
    char *txt = NULL;
    bool all = false;
    int i, rc = CTL_EXIT_FAIL;
    size_t nids = 0;

    if (ctl_wants_help(argc, argv) || argc < 2) {
        usage_deletes(argc < 2 ? stderr : stdout);
        return argc < 2 ? CTL_EXIT_USAGE : 0;
    }
    if (strcmp(argv[1], "show") == 0) {
        if (argc > 2)
            return ctl_usage_error("deletes", "unexpected argument %s", argv[2]);
        return deletes_show(c);
    }
    if (strcmp(argv[1], "allow") != 0)
        return ctl_usage_error("deletes", "unknown subcommand %s (show, allow)", argv[1]);
    ids = wb_calloc((size_t)argc, sizeof(*ids));
    for (i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--all") == 0) {
            all = true;
        } else if (wb_id_guid_valid(argv[i]) && wb_idkey_parse(argv[i], &ids[nids])) {
            nids++;
        } else {
            rc = ctl_usage_error("deletes", "\"%s\" is not an objectId (GUID) or --all", argv[i]);
            goto out;
        }
    }
    if (all == (nids > 0)) {
        rc = ctl_usage_error("deletes", "%sallow takes either --all or object ids", "");
        goto out;
    }
    txt = wb_command_encode_allow(all ? NULL : ids, nids);
    if (ctl_state_put(c, "command", txt) != WB_OK)
        goto out;
    if (c->json) {
        cmd = cJSON_Parse(txt);
        cJSON_AddBoolToObject(cmd, "stored", true);
        ctl_print_json(cmd);
        cmd = NULL;
    } else {
        printf("the producer releases the staged deletes at its next round\n");
    }
    rc = 0;
out:
    free(txt);
    free(ids);
    cJSON_Delete(cmd);
    return rc;
}
