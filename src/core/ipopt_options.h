/* Ipopt options every prillm Ipopt run sets. Internal. */
#ifndef PRILLM_IPOPT_OPTIONS_H
#define PRILLM_IPOPT_OPTIONS_H

#include <coin/IpStdCInterface.h>

/* Ipopt's setters with const strings; 1 if Ipopt accepted the option. */
int prillm__ipopt_set_str(IpoptProblem problem, const char *key, const char *value);
int prillm__ipopt_set_int(IpoptProblem problem, const char *key, int value);
int prillm__ipopt_set_num(IpoptProblem problem, const char *key, double value);

/* No ./ipopt.opt, no banner, the given print_level, MUMPS's workspace
 * started small, and max_cpu_time = time_limit when that is positive and
 * finite. Returns the name of the first option Ipopt refused, or NULL. */
const char *prillm__ipopt_quiet(IpoptProblem problem, int print_level, double time_limit);

/* CreateIpoptProblem (index style 0), IpoptSolve(problem, x, NULL, ...,
 * user_data) and FreeIpoptProblem (NULL: nothing), each under the
 * process-wide lock every call into Ipopt takes (the sequential MUMPS below
 * it is not thread-safe; the option setters above take it too). Call
 * these, never Ipopt's own. */
IpoptProblem prillm__ipopt_create(Index n, Number *x_lower, Number *x_upper, Index m, Number *g_lower,
                                  Number *g_upper, Index nele_jac, Index nele_hess, Eval_F_CB eval_f,
                                  Eval_G_CB eval_g, Eval_Grad_F_CB eval_grad_f, Eval_Jac_G_CB eval_jac_g,
                                  Eval_H_CB eval_h);
void prillm__ipopt_free(IpoptProblem problem);
enum ApplicationReturnStatus prillm__ipopt_solve(IpoptProblem problem, double *x, UserDataPtr user_data);

/* What the intermediate callback tracks. It must be the FIRST member of the
 * user data given to IpoptSolve (a pointer to a struct converts to one to
 * its first member), so one callback serves every problem. */
typedef struct {
    double deadline; /* prillm__now() value at which to stop, 0 = none   */
    int iterations;  /* last iteration count Ipopt reported              */
    int timed_out;   /* the callback stopped Ipopt at the deadline       */
} PrillmIpoptProgress;

/* Ipopt's intermediate callback: records the iteration count (the 3.11 C
 * interface has no getter for it) and stops at
 * the wall-clock deadline (max_cpu_time counts CPU time, which a slow
 * machine or a blocked process does not spend). */
Bool prillm__ipopt_progress(Index alg_mod, Index iter_count, Number obj_value, Number inf_pr, Number inf_du,
                            Number mu, Number d_norm, Number regularization_size, Number alpha_du,
                            Number alpha_pr, Index ls_trials, UserDataPtr user_data);

#endif
