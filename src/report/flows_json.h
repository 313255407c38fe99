/* The JSON of a limited flow matrix (prillm_equilibrium_write_json_flows),
 * shared with prillm-sweep's scenario printer so that both write the same
 * rows. */
#ifndef PRILLM_FLOWS_JSON_H
#define PRILLM_FLOWS_JSON_H

#include <stdio.h>

/* One user's top flows as [{"provider": ID, "flow": x}, ...]: provider
 * best[q] (an index into provider_id) with flow[q], q < count. */
void prillm__json_top_flows_row(FILE *out, char *const *provider_id, const int *best, const double *flow, int count);

#endif
