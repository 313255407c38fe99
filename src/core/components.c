/* Which optional components this build of the library has. */
#include <string.h>

#include "prillm/prillm.h"

int prillm_has_component(const char *name) {
    static const struct {
        const char *name;
        int present;
    } components[] = {
        {"glpk", PRILLM_HAVE_GLPK},
        {"xgboost", PRILLM_HAVE_XGBOOST},
        {"ipopt", PRILLM_HAVE_IPOPT},
        {"openmp", PRILLM_HAVE_OPENMP},
    };
    if (!name) return 0;
    for (size_t k = 0; k < sizeof components / sizeof components[0]; k++)
        if (strcmp(name, components[k].name) == 0) return components[k].present;
    return 0;
}
