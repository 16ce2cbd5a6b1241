/*
 * wbt_metrics: one metric value for a test (see wbt_metrics.h).
 */
#include "wbt_metrics.h"

#include <stdlib.h>
#include <string.h>

double wbt_metrics_value(wb_metrics_t *m, const char *needle, double absent)
{
    char *text = wb_metrics_render(m), *p = strstr(text, needle);
    double v = p ? strtod(p + strlen(needle), NULL) : absent;

    free(text);
    return v;
}
