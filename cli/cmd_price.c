/* Placeholder until this command is built (see the open issue). */
#include "cli.h"
int cmd_price(int argc, char **argv) {
    (void)argc;
    fprintf(stderr, "prillm: error: %s is not built yet\n", argv[0]);
    return EXIT_FAILED;
}
