/*
 * wb-topic-dump: a test helper that reads every partition of a topic from the beginning to
 * its end with isolation.level=read_committed and prints one JSON line per record:
 * {"p": partition, "o": offset, "k": key|null, "v": value text|null, "h": {name: value}}
 * (headers with a null value are printed as null; a repeated name keeps its last value).
 * usage: wb-topic-dump BOOTSTRAP TOPIC [TIMEOUT_MS]
 *        wb-topic-dump --put BOOTSTRAP TOPIC KEY VALUE   (writes one record, e.g. a command)
 */
#include "wb_kafka.h"
#include "wb_mem.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int put(char **argv)
{
    const char *kv[] = {"bootstrap.servers", argv[2], NULL};
    char errstr[512];
    rd_kafka_t *rk = wb_kafka_producer_new(kv, errstr, sizeof(errstr));
    wb_err_t err;

    if (!rk) {
        fprintf(stderr, "wb-topic-dump: %s\n", errstr);
        return 1;
    }
    err = wb_kafka_produce(rk, argv[3], argv[4], strlen(argv[4]), argv[5], strlen(argv[5]), NULL, 0,
                           NULL);
    if (err == WB_OK)
        err = wb_kafka_flush(rk, 30000);
    wb_kafka_destroy(rk);
    return err == WB_OK ? 0 : 1;
}

static void add_headers(cJSON *j, rd_kafka_message_t *m)
{
    rd_kafka_headers_t *hdrs = NULL;
    cJSON *h = cJSON_AddObjectToObject(j, "h");
    const char *name;
    const void *val;
    size_t len, i;

    if (rd_kafka_message_headers(m, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return;
    for (i = 0; rd_kafka_header_get_all(hdrs, i, &name, &val, &len) == RD_KAFKA_RESP_ERR_NO_ERROR;
         i++) {
        char *s = val ? wb_strndup(val, len) : NULL;

        cJSON_DeleteItemFromObjectCaseSensitive(h, name);
        if (s)
            cJSON_AddStringToObject(h, name, s);
        else
            cJSON_AddNullToObject(h, name);
        free(s);
    }
}

/* One record as a JSON line on stdout. */
static void print_record(rd_kafka_message_t *m)
{
    cJSON *j = cJSON_CreateObject();
    char *s, *k = m->key ? wb_strndup(m->key, m->key_len) : NULL;
    char *v = m->payload ? wb_strndup(m->payload, m->len) : NULL;

    cJSON_AddNumberToObject(j, "p", m->partition);
    cJSON_AddNumberToObject(j, "o", (double)m->offset);
    if (k)
        cJSON_AddStringToObject(j, "k", k);
    else
        cJSON_AddNullToObject(j, "k");
    if (v)
        cJSON_AddStringToObject(j, "v", v);
    else
        cJSON_AddNullToObject(j, "v");
    add_headers(j, m);
    s = cJSON_PrintUnformatted(j);
    puts(s);
    free(s);
    free(k);
    free(v);
    cJSON_Delete(j);
}

/* Whether the end of partition eof (a PARTITION_EOF event) of topic is its end for good. Right
 * after a commit the markers may still be on their way (the last stable offset lags): done
 * only once the position reached the high watermark. */
static bool at_end(rd_kafka_t *rk, const char *topic, const rd_kafka_message_t *eof)
{
    int64_t lo = 0, hi = 0;

    return rd_kafka_query_watermark_offsets(rk, topic, eof->partition, &lo, &hi, 5000) ==
               RD_KAFKA_RESP_ERR_NO_ERROR &&
           eof->offset >= hi;
}

int main(int argc, char **argv)
{
    const char *kv[] = {"bootstrap.servers", NULL, NULL};
    char errstr[512];
    rd_kafka_t *rk = NULL;
    rd_kafka_topic_partition_list_t *parts = NULL;
    int *done = NULL, nparts, i, rc = 1;
    long timeout_ms;
    time_t start = time(NULL);

    if (argc == 6 && strcmp(argv[1], "--put") == 0)
        return put(argv);
    if (argc < 3) {
        fprintf(stderr, "usage: wb-topic-dump BOOTSTRAP TOPIC [TIMEOUT_MS]\n");
        return 2;
    }
    kv[1] = argv[1];
    timeout_ms = argc > 3 ? atol(argv[3]) : 30000;
    rk = wb_kafka_reader_new(kv, "wb-topic-dump", errstr, sizeof(errstr));
    if (!rk) {
        fprintf(stderr, "wb-topic-dump: %s\n", errstr);
        return 1;
    }
    nparts = wb_kafka_partitions(rk, argv[2], 10000, errstr, sizeof(errstr));
    if (nparts < 0) {
        fprintf(stderr, "wb-topic-dump: %s\n", errstr);
        goto out;
    }
    done = wb_calloc((size_t)nparts + 1, sizeof(int));
    parts = rd_kafka_topic_partition_list_new(nparts);
    for (i = 0; i < nparts; i++)
        rd_kafka_topic_partition_list_add(parts, argv[2], i)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(rk, parts);
    for (;;) {
        rd_kafka_message_t *m;
        int all = 1;

        for (i = 0; i < nparts; i++)
            all &= done[i];
        if (all) {
            rc = 0;
            break;
        }
        if ((time(NULL) - start) * 1000 > timeout_ms) {
            fprintf(stderr, "wb-topic-dump: timeout\n");
            break;
        }
        m = rd_kafka_consumer_poll(rk, 500);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (m->partition >= 0 && m->partition < nparts && at_end(rk, argv[2], m))
                done[m->partition] = 1;
        } else if (m->err) {
            fprintf(stderr, "wb-topic-dump: %s\n", rd_kafka_message_errstr(m));
        } else {
            print_record(m);
        }
        rd_kafka_message_destroy(m);
    }
out:
    free(done);
    if (parts)
        rd_kafka_topic_partition_list_destroy(parts);
    rd_kafka_assign(rk, NULL);
    wb_kafka_destroy(rk);
    return rc;
}
