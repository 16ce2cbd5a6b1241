/*
 * wb_graph_page.c: Graph's pages: the shape a page must have (wb_graph_page_ok), and a list
 * followed through its nextLinks (wb_graph_list).
 */
#include "wb_graph.h"

#include "wb_mem.h"

#include <stdlib.h>

bool wb_graph_page_ok(const cJSON *j, unsigned check, const char **why)
{
    const cJSON *v, *next, *delta;

    if (!cJSON_IsObject(j)) {
        *why = "not a JSON object";
        return false;
    }
    if (check == WB_GRAPH_OBJECT)
        return true;
    v = cJSON_GetObjectItemCaseSensitive(j, "value");
    if (!cJSON_IsArray(v)) {
        *why = "no value array";
        return false;
    }
    next = cJSON_GetObjectItemCaseSensitive(j, "@odata.nextLink");
    delta = cJSON_GetObjectItemCaseSensitive(j, "@odata.deltaLink");
    if ((next && !cJSON_IsString(next)) || (delta && !cJSON_IsString(delta))) {
        *why = "link is not a string";
        return false;
    }
    if (check == WB_GRAPH_DELTA && !next == !delta) {
        *why = next ? "both nextLink and deltaLink" : "neither nextLink nor deltaLink";
        return false;
    }
    return true;
}

wb_err_t wb_graph_list(wb_graph_t *g, const char *url, void (*each)(void *ctx, const cJSON *obj),
                       void *ctx, long *status)
{
    char *next_url = wb_strdup(url);
    wb_err_t err = WB_OK;

    while (next_url) {
        cJSON *page = NULL;
        const cJSON *o, *next;
        bool resync;

        err = wb_graph_request(g, "GET", next_url, NULL, WB_GRAPH_LIST, &page, &resync, status);
        free(next_url);
        next_url = NULL;
        if (err != WB_OK)
            break;
        cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(page, "value"))
        {
            each(ctx, o);
        }
        next = cJSON_GetObjectItemCaseSensitive(page, "@odata.nextLink");
        if (cJSON_IsString(next))
            next_url = wb_strdup(next->valuestring);
        cJSON_Delete(page);
    }
    return err;
}
