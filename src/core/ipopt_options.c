/* The Ipopt options shared by the equilibrium reference solver and pmpec
 * (nothing here in a build without Ipopt: PRILLM_WITH_IPOPT=OFF). */
#include "internal.h"

#if PRILLM_HAVE_IPOPT

#include "ipopt_options.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>

/* Debian's Ipopt solves its linear systems with the sequential MUMPS
 * (libmumps-seq), whose stand-in for MPI keeps process-wide state: two
 * solves at once, from any two threads, crash or abort the process, or end
 * it with "MPI_ABORT called" and exit status 0 (prillm price --all --method
 * pmpec --threads 2; concurrent pmpec or ipopt requests to prillm serve).
 * With only IpoptSolve locked, 4 threads of 300 tiny solves each still
 * ended "MPI_ABORT called" in 6 runs of 6 (test_ipopt_from_many_threads):
 * option registration counts in an unguarded static, and the MUMPS
 * instance lives in the problem until FreeIpoptProblem shuts it down.
 * So every call into Ipopt here, from creating a problem to freeing it,
 * runs under this one lock: the library's only process-wide state, since
 * what it guards is process-wide. Threads that need Ipopt then take turns;
 * nothing else waits. */
static pthread_mutex_t ipopt_lock = PTHREAD_MUTEX_INITIALIZER;

IpoptProblem prillm__ipopt_create(Index n, Number *x_lower, Number *x_upper, Index m, Number *g_lower,
                                  Number *g_upper, Index nele_jac, Index nele_hess, Eval_F_CB eval_f,
                                  Eval_G_CB eval_g, Eval_Grad_F_CB eval_grad_f, Eval_Jac_G_CB eval_jac_g,
                                  Eval_H_CB eval_h) {
    pthread_mutex_lock(&ipopt_lock);
    IpoptProblem problem = CreateIpoptProblem(n, x_lower, x_upper, m, g_lower, g_upper, nele_jac, nele_hess, 0,
                                              eval_f, eval_g, eval_grad_f, eval_jac_g, eval_h);
    pthread_mutex_unlock(&ipopt_lock);
    return problem;
}

void prillm__ipopt_free(IpoptProblem problem) {
    if (!problem) return;
    pthread_mutex_lock(&ipopt_lock);
    FreeIpoptProblem(problem);
    pthread_mutex_unlock(&ipopt_lock);
}

/* Ipopt's option setters take char * although they only read the strings;
 * copying into local buffers keeps string literals const without casts. */
int prillm__ipopt_set_str(IpoptProblem problem, const char *key, const char *value) {
    char k[64], v[64];
    snprintf(k, sizeof k, "%s", key);
    snprintf(v, sizeof v, "%s", value);
    pthread_mutex_lock(&ipopt_lock);
    int ok = AddIpoptStrOption(problem, k, v) ? 1 : 0;
    pthread_mutex_unlock(&ipopt_lock);
    return ok;
}

int prillm__ipopt_set_int(IpoptProblem problem, const char *key, int value) {
    char k[64];
    snprintf(k, sizeof k, "%s", key);
    pthread_mutex_lock(&ipopt_lock);
    int ok = AddIpoptIntOption(problem, k, value) ? 1 : 0;
    pthread_mutex_unlock(&ipopt_lock);
    return ok;
}

int prillm__ipopt_set_num(IpoptProblem problem, const char *key, double value) {
    char k[64];
    snprintf(k, sizeof k, "%s", key);
    pthread_mutex_lock(&ipopt_lock);
    int ok = AddIpoptNumOption(problem, k, value) ? 1 : 0;
    pthread_mutex_unlock(&ipopt_lock);
    return ok;
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

enum ApplicationReturnStatus prillm__ipopt_solve(IpoptProblem problem, double *x, UserDataPtr user_data) {
    pthread_mutex_lock(&ipopt_lock);
    enum ApplicationReturnStatus status = IpoptSolve(problem, x, NULL, NULL, NULL, NULL, NULL, user_data);
    pthread_mutex_unlock(&ipopt_lock);
    return status;
}

#endif
