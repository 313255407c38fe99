/* Where the shipped data is at run time: the aggregation models
 * (the aggregator/ folder) and the default market (default_market.json).
 *
 *   1. $PRILLM_DATA_DIR, when set and not empty;
 *   2. the installed copy, PRILLM_RELATIVE_DATA_DIR (../share/prillm)
 *      from the directory of the running executable (/proc/self/exe), when
 *      that directory exists: an installed prillm, wherever the tree was
 *      installed or moved;
 *   3. the source tree's data/ (PRILLM_SOURCE_DATA_DIR), for the command
 *      run from its build directory.
 * When none of these exists the installed location is reported, so the
 * error names the file an installed prillm would read. */
#define _XOPEN_SOURCE 700 /* realpath */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

static int is_directory(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* ../share/prillm from the executable's directory, resolved when it exists;
 * "" if the executable cannot be found. out has PATH_MAX bytes. */
static void installed_dir(char *out) {
    char exe[PATH_MAX], joined[PATH_MAX];
    out[0] = '\0';
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0 || (size_t)len >= sizeof exe - 1) return;
    exe[len] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash) return;
    slash[1] = '\0';
    size_t need = strlen(exe) + strlen(PRILLM_RELATIVE_DATA_DIR) + 1;
    if (need > sizeof joined) return;
    memcpy(joined, exe, strlen(exe) + 1);
    strcat(joined, PRILLM_RELATIVE_DATA_DIR);
    if (!realpath(joined, out)) memcpy(out, joined, need);
}

const char *prillm_cli_data_dir(void) {
    static char dir[PATH_MAX];
    const char *env = getenv("PRILLM_DATA_DIR");
    if (env && env[0]) {
        snprintf(dir, sizeof dir, "%s", env);
        return dir;
    }
    installed_dir(dir);
    if (dir[0] && is_directory(dir)) return dir;
    if (is_directory(PRILLM_SOURCE_DATA_DIR) || !dir[0]) snprintf(dir, sizeof dir, "%s", PRILLM_SOURCE_DATA_DIR);
    return dir;
}

const char *prillm_cli_data_file(const char *relative) {
    static char path[PATH_MAX + 256];
    const char *dir = prillm_cli_data_dir();
    size_t n = strlen(dir);
    snprintf(path, sizeof path, "%s%s%s", dir, n && dir[n - 1] == '/' ? "" : "/", relative);
    return path;
}
