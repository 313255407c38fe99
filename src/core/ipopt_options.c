/* The Ipopt options shared by the equilibrium reference solver and pmpec
 * (nothing here in a build without Ipopt: PRILLM_WITH_IPOPT=OFF). */
#include "internal.h"

#if PRILLM_HAVE_IPOPT

#include "ipopt_options.h"

#include <math.h>
#include <stdio.h>

/* Ipopt's option setters take char * although they only read the strings;
 * copying into local buffers keeps string literals const without casts. */
int prillm__ipopt_set_str(IpoptProblem problem, const char *key, const char *value) {
    char k[64], v[64];
    snprintf(k, sizeof k, "%s", key);
    snprintf(v, sizeof v, "%s", value);
    return AddIpoptStrOption(problem, k, v) ? 1 : 0;
}

int prillm__ipopt_set_int(IpoptProblem problem, const char *key, int value) {
    char k[64];
    snprintf(k, sizeof k, "%s", key);
    return AddIpoptIntOption(problem, k, value) ? 1 : 0;
}

int prillm__ipopt_set_num(IpoptProblem problem, const char *key, double value) {
    char k[64];
    snprintf(k, sizeof k, "%s", key);
    return AddIpoptNumOption(problem, k, value) ? 1 : 0;
}

const char *prillm__ipopt_quiet(IpoptProblem problem, int print_level, double time_limit) {
    /* Ipopt would otherwise read ./ipopt.opt, so the answer would depend on
     * the caller's working directory. */
    if (!prillm__ipopt_set_str(problem, "option_file_name", "")) return "option_file_name";
    if (!prillm__ipopt_set_str(problem, "sb", "yes")) return "sb";
    if (!prillm__ipopt_set_int(problem, "print_level", print_level)) return "print_level";
    /* MUMPS's default workspace is 11 times its own estimate; on a
     * 10000 x 500 market that allocation (4.4 GB) fails and Ipopt reports a
     * misleading Restoration_Failed. Ipopt doubles the percentage and
     * retries when MUMPS asks for more, so starting low costs nothing. */
    if (!prillm__ipopt_set_int(problem, "mumps_mem_percent", 100)) return "mumps_mem_percent";
    if (time_limit > 0.0 && isfinite(time_limit) && !prillm__ipopt_set_num(problem, "max_cpu_time", time_limit))
        return "max_cpu_time";
    return NULL;
}


Bool prillm__ipopt_progress(Index alg_mod, Index iter_count, Number obj_value, Number inf_pr, Number inf_du,
                            Number mu, Number d_norm, Number regularization_size, Number alpha_du,
                            Number alpha_pr, Index ls_trials, UserDataPtr user_data) {
    PrillmIpoptProgress *progress = user_data;
    (void)alg_mod;
    (void)obj_value;
    (void)inf_pr;
    (void)inf_du;
    (void)mu;
    (void)d_norm;
    (void)regularization_size;
    (void)alpha_du;
    (void)alpha_pr;
    (void)ls_trials;
    progress->iterations = iter_count;
    if (progress->deadline > 0 && prillm__now() >= progress->deadline) {
        progress->timed_out = 1;
        return FALSE;
    }
    return TRUE;
}

#endif
