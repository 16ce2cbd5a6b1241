/*
 * wb-bench-produce: benchmark helper. Creates a topic (if absent) and produces every line of
 * standard input, "key<TAB>value", to it with the murmur2_random partitioner, then waits for
 * every delivery report. Usage: wb-bench-produce BOOTSTRAP TOPIC PARTITIONS < records.
 */
#include "wb_kafka.h"
#include "wb_mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    const char *kv[] = {"bootstrap.servers", NULL,        "partitioner",
                        "murmur2_random",    "linger.ms", "20",
                        "message.max.bytes", "10000000",  NULL};
    char errstr[512], *line = NULL;
    size_t cap = 0, count = 0;
    ssize_t len;
    rd_kafka_t *rk;
    int rc = 1;

    if (argc != 4) {
        fprintf(stderr, "usage: %s BOOTSTRAP TOPIC PARTITIONS < key<TAB>value lines\n", argv[0]);
        return 2;
    }
    kv[1] = argv[1];
    rk = wb_kafka_producer_new(kv, errstr, sizeof(errstr));
    if (!rk) {
        fprintf(stderr, "wb-bench-produce: %s\n", errstr);
        return 1;
    }
    if (wb_kafka_create_topic(rk, argv[2], atoi(argv[3]), NULL, 30000) != WB_OK) {
        fprintf(stderr, "wb-bench-produce: cannot create topic %s\n", argv[2]);
        goto out;
    }
    while ((len = getline(&line, &cap, stdin)) > 0) {
        char *tab = memchr(line, '\t', (size_t)len);

        if (line[len - 1] == '\n')
            line[--len] = '\0';
        if (!tab) {
            fprintf(stderr, "wb-bench-produce: line %zu has no TAB\n", count + 1);
            goto out;
        }
        if (wb_kafka_produce(rk, argv[2], line, (size_t)(tab - line), tab + 1,
                             (size_t)(len - (tab + 1 - line)), NULL, 0, NULL) != WB_OK) {
            fprintf(stderr, "wb-bench-produce: produce failed at line %zu\n", count + 1);
            goto out;
        }
        count++;
    }
    if (wb_kafka_flush(rk, 120000) != WB_OK) {
        fprintf(stderr, "wb-bench-produce: flush failed\n");
        goto out;
    }
    printf("%zu\n", count);
    rc = 0;
out:
    free(line);
    wb_kafka_destroy(rk);
    return rc;
}
