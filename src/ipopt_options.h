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

#endif
