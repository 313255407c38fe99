"""ctypes mirror of the C API in include/prillm/*.h.

Every Structure here copies its C struct field by field, in order, with the
C names (tests/test_abi.py compiles a small C program against the headers and
checks every field's offset and every struct's size against these classes).
Nothing outside the package should need this module.
"""

import ctypes
import ctypes.util
import os
from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    c_char,
    c_char_p,
    c_double,
    c_int,
    c_long,
    c_size_t,
    c_ubyte,
    c_uint,
    c_ulonglong,
    c_void_p,
)

from ._loader import load_library

c_double_p = POINTER(c_double)
c_int_p = POINTER(c_int)
c_ubyte_p = POINTER(c_ubyte)

# ---- error.h -------------------------------------------------------------

ERROR_NAMES = {
    0: "OK",
    1: "INVALID_ARGUMENT",
    2: "PARSE",
    3: "INVALID_DATA",
    4: "IO",
    5: "NO_MEMORY",
    6: "SOLVER",
    7: "TOO_LARGE",
    8: "UNAVAILABLE",
}


class PrillmError(Structure):
    _fields_ = [("code", c_int), ("message", c_char * 512)]


# ---- options.h -----------------------------------------------------------

OPTION_DOUBLE, OPTION_INT, OPTION_CHOICE = 0, 1, 2


class PrillmOptionInfo(Structure):
    _fields_ = [
        ("name", c_char_p),
        ("type", c_int),
        ("default_value", c_double),
        ("min_value", c_double),
        ("max_value", c_double),
        ("choices", c_char_p),
        ("help", c_char_p),
        ("offset", c_size_t),
    ]


# ---- market.h ------------------------------------------------------------


class PrillmMarket(Structure):
    _fields_ = [
        ("n_users", c_int),
        ("n_providers", c_int),
        ("w_price", c_double),
        ("w_congestion", c_double),
        ("w_delay", c_double),
        ("provider_id", POINTER(c_char_p)),
        ("price", c_double_p),
        ("capacity", c_double_p),
        ("value", c_double_p),
        ("cost", c_double_p),
        ("latency", c_double_p),
        ("user_id", POINTER(c_char_p)),
        ("demand", c_double_p),
        ("delay", c_double_p),
        ("affinity", c_double_p),
        ("owner", POINTER(c_char_p)),
        ("price_min", c_double_p),
        ("price_max", c_double_p),
    ]


PrillmMarket_p = POINTER(PrillmMarket)
WarnFn = CFUNCTYPE(None, c_void_p, c_char_p)

# ---- equilibrium.h -------------------------------------------------------


class PrillmEquilibriumSettings(Structure):
    _fields_ = [
        ("method", c_int),
        ("tolerance", c_double),
        ("max_rounds", c_int),
        ("presweeps", c_int),
        ("max_sweeps", c_int),
        ("time_limit", c_double),
        ("verbose", c_int),
    ]


class PrillmEquilibriumInfo(Structure):
    _fields_ = [
        ("status", c_int),
        ("kkt_violation", c_double),
        ("demand_residual", c_double),
        ("potential", c_double),
        ("iterations", c_int),
        ("sweeps", c_int),
        ("active_pairs", c_long),
        ("seconds", c_double),
    ]


class PrillmEquilibrium(Structure):
    _fields_ = [
        ("n_users", c_int),
        ("n_providers", c_int),
        ("flows", c_double_p),
        ("provider_flow", c_double_p),
        ("lambda", c_double_p),
        ("info", PrillmEquilibriumInfo),
    ]


# ---- pricing.h -----------------------------------------------------------

PRICE_METHODS = ["exact", "grid", "bf", "spiter", "pmpec", "smooth", "odca", "spgce", "da", "min", "avg"]
PRICE_EXACT, PRICE_DA = 0, 8
PRICE_WARN_BITS = [1 << k for k in range(5)]


class PrillmPriceSettings(Structure):
    _fields_ = [
        ("method", c_int),
        ("p_max", c_double),
        ("grid_points", c_int),
        ("start_price", c_double),
        ("tolerance", c_double),
        ("bf_max_patterns", c_double),
        ("epsilon", c_double),
        ("time_limit", c_double),
        ("max_pieces", c_int),
        ("k", c_int),
        ("compare", c_int),
        ("verbose", c_int),
        ("model", c_void_p),
        ("prune", c_int),
        ("da_check", c_int),
        ("da_check_tolerance", c_double),
        ("da_check_step", c_double),
        ("row_bounds", c_int),
        ("join_current", c_int),
    ]


class PrillmPriceSegment(Structure):
    _fields_ = [
        ("from", c_double),
        ("to", c_double),
        ("flow_from", c_double),
        ("flow_slope", c_double),
        ("best_price", c_double),
        ("best_profit", c_double),
    ]


class PrillmPriceBreakpoint(Structure):
    _fields_ = [("price", c_double), ("user", c_int), ("provider", c_int), ("enters", c_int)]


class PrillmPriceResult(Structure):
    _fields_ = [
        ("status", c_int),
        ("method", c_int),
        ("target", c_int),
        ("p_max", c_double),
        ("cost", c_double),
        ("price", c_double),
        ("profit", c_double),
        ("flow", c_double),
        ("kkt_violation", c_double),
        ("model_profit", c_double),
        ("curve_residual", c_double),
        ("iterations", c_long),
        ("equilibrium_solves", c_long),
        ("exact_profit", c_double),
        ("profit_ratio", c_double),
        ("method_seconds", c_double),
        ("seconds", c_double),
        ("current_price", c_double),
        ("current_profit", c_double),
        ("current_flow", c_double),
        ("uplift", c_double),
        ("uplift_relative", c_double),
        ("warnings", c_uint),
        ("n_segments", c_int),
        ("segments", POINTER(PrillmPriceSegment)),
        ("n_breakpoints", c_int),
        ("breakpoints", POINTER(PrillmPriceBreakpoint)),
        ("walked_fraction", c_double),
        ("bound_solves", c_long),
        ("check", c_int),
        ("abstract_price", c_double),
        ("abstract_profit", c_double),
        ("check_price", c_double),
        ("check_profit", c_double),
        ("check_shortfall", c_double),
        ("check_solves", c_long),
    ]


# ---- explain.h -------------------------------------------------------------


class PrillmExplainSettings(Structure):
    _fields_ = [
        ("price", PrillmPriceSettings),
        ("sensitivities", c_int),
        ("step", c_double),
        ("breakpoints", c_int),
        ("far_below", c_double),
    ]


class PrillmExplainRival(Structure):
    _fields_ = [
        ("provider", c_int),
        ("role", c_int),
        ("flow_current", c_double),
        ("flow_price", c_double),
        ("diversion", c_double),
        ("sensitivity", c_double),
        ("sensitivity_up", c_double),
        ("sensitivity_down", c_double),
        ("step", c_double),
    ]


class PrillmExplainApp(Structure):
    _fields_ = [
        ("user", c_int),
        ("flow_current", c_double),
        ("flow_price", c_double),
        ("top_rival", c_int),
        ("top_diversion", c_double),
    ]


class PrillmExplainBreakpoint(Structure):
    _fields_ = [
        ("price", c_double),
        ("user", c_int),
        ("provider", c_int),
        ("enters", c_int),
        ("moves_to", c_int),
        ("moved", c_double),
    ]


class PrillmExplainResult(Structure):
    _fields_ = [
        ("status", c_int),
        ("sensitivity_status", c_int),
        ("target", c_int),
        ("price", PrillmPriceResult),
        ("exact", PrillmPriceResult),
        ("total_demand", c_double),
        ("n_users", c_int),
        ("n_providers", c_int),
        ("flows_current", POINTER(c_double)),
        ("flows_price", POINTER(c_double)),
        ("diversion", POINTER(c_double)),
        ("apps", POINTER(PrillmExplainApp)),
        ("n_rivals", c_int),
        ("rivals", POINTER(PrillmExplainRival)),
        ("n_sensitive", c_int),
        ("most_sensitive", POINTER(c_int)),
        ("sensitivity_step", c_double),
        ("n_breakpoints", c_int),
        ("breakpoints", POINTER(PrillmExplainBreakpoint)),
        ("abstracted", c_int),
        ("far_below", c_int),
        ("far_below_threshold", c_double),
        ("seconds", c_double),
    ]


# ---- observations.h / calibration.h --------------------------------------


class PrillmObservedPeriod(Structure):
    _fields_ = [
        ("label", c_char_p),
        ("market", PrillmMarket_p),
        ("observed", c_double_p),
        ("upper", c_double_p),
        ("throughput", c_double_p),
        ("tokens", c_double_p),
    ]


class PrillmObservations(Structure):
    _fields_ = [
        ("n_periods", c_int),
        ("n_users", c_int),
        ("n_providers", c_int),
        ("periods", POINTER(PrillmObservedPeriod)),
        ("layout", c_char * 16),
        ("observed_cells", c_long),
        ("censored_cells", c_long),
        ("bounded_cells", c_long),
    ]


class PrillmCalibrationSettings(Structure):
    _fields_ = [
        ("models", c_int),
        ("apps", c_int),
        ("capacity", c_int),
        ("price", c_int),
        ("flow_date", c_int),
        ("price_date", c_int),
        ("window_start", c_int),
        ("window_end", c_int),
        ("window_scale", c_double),
        ("method", c_int),
        ("censoring", c_int),
        ("iterations", c_int),
        ("learning_rate", c_double),
        ("init", c_int),
        ("slack_weight", c_double),
        ("folds", c_int),
        ("seed", c_int),
        ("xgb_rounds", c_int),
        ("xgb_depth", c_int),
        ("verbose", c_int),
    ]


class PrillmCalibrationResult(Structure):
    _fields_ = [
        ("status", c_int),
        ("method", c_int),
        ("w_congestion", c_double),
        ("w_delay", c_double),
        ("value", c_double_p),
        ("iterations", c_int),
        ("evaluations", c_long),
        ("seconds", c_double),
        ("seconds_total", c_double),
        ("loss_initial", c_double),
        ("loss_final", c_double),
        ("lp_slack", c_double),
        ("lp_slack_relative", c_double),
        ("lp_seconds", c_double),
        ("r2", c_double),
        ("mae", c_double),
        ("r2_heldout", c_double),
        ("mae_heldout", c_double),
        ("cells", c_long),
        ("n_periods", c_int),
        ("n_users", c_int),
        ("n_providers", c_int),
        ("predicted", c_double_p),
        ("predicted_heldout", c_double_p),
    ]


class PrillmCalibrationDiagnostics(Structure):
    _fields_ = [
        ("n_providers", c_int),
        ("stranded", c_ubyte_p),
        ("n_stranded", c_int),
        ("own_elasticity", c_double_p),
        ("implied_cost", c_double_p),
        ("paid", c_int),
        ("paid_nonnegative_cost", c_int),
    ]


ProgressFn = WarnFn  # same signature: (void *context, const char *message)

# ---- elasticity.h --------------------------------------------------------


class PrillmElasticitySettings(Structure):
    _fields_ = [
        ("bootstrap", c_int),
        ("seed", c_int),
        ("level", c_double),
        ("price", c_int),
        ("controls", c_int),
        ("input_share", c_double),
        ("min_price_change", c_double),
        ("model_min_providers", c_int),
        ("model_min_obs", c_int),
    ]


class PrillmElasticityEstimate(Structure):
    _fields_ = [
        ("elasticity", c_double),
        ("se", c_double),
        ("lo", c_double),
        ("hi", c_double),
        ("se_analytic", c_double),
        ("r2_within", c_double),
        ("latency", c_double),
        ("throughput", c_double),
        ("n_obs", c_long),
        ("n_groups", c_long),
        ("n_models", c_int),
        ("n_days", c_int),
        ("bootstrap_ok", c_int),
    ]


class PrillmElasticityModel(Structure):
    _fields_ = [
        ("model", c_char_p),
        ("providers", c_int),
        ("n_obs", c_long),
        ("n_groups", c_long),
        ("raw", c_double),
        ("raw_se", c_double),
        ("shrunk", c_double),
        ("shrunk_se", c_double),
    ]


class PrillmElasticityResult(Structure):
    _fields_ = [
        ("across_providers", PrillmElasticityEstimate),
        ("over_time", PrillmElasticityEstimate),
        ("models", POINTER(PrillmElasticityModel)),
        ("n_models", c_int),
        ("between_sd", c_double),
        ("rows_read", c_long),
        ("share_fallbacks", c_long),
        ("controls_missing", c_long),
        ("over_time_candidates", c_int),
        ("seconds", c_double),
    ]


# ---- market_model.h ------------------------------------------------------

FIT_MAX_SEGMENTS = 8


class PrillmFitSettings(Structure):
    _fields_ = [
        ("fit_end", c_int),
        ("fit_days", c_int),
        ("forward_end", c_int),
        ("flow_date", c_int),
        ("snapshot_start", c_int),
        ("snapshot_end", c_int),
        ("price", c_int),
        ("elasticity", c_double),
        ("price_floor", c_double),
        ("shrinkage", c_double),
        ("segments", c_int),
        ("entry_quality", c_int),
        ("classes", c_int),
        ("max_models", c_int),
        ("max_apps", c_int),
        ("verbose", c_int),
    ]


class PrillmForwardScore(Structure):
    _fields_ = [
        ("name", c_char * 48),
        ("elasticity", c_double),
        ("segments", c_int),
        ("r2", c_double),
        ("r2_log", c_double),
        ("median_abs_log_error", c_double),
        ("r2_changed", c_double),
        ("cells", c_long),
        ("changed_cells", c_long),
    ]


class PrillmHeldoutScore(Structure):
    _fields_ = [("shrinkage", c_double), ("category", c_int), ("r2", c_double), ("r2_log", c_double), ("cells", c_long)]


class PrillmFitResult(Structure):
    _fields_ = [
        ("status", c_int),
        ("market", PrillmMarket_p),
        ("n_apps", c_int),
        ("segments", c_int),
        ("tier_edge", c_double * FIT_MAX_SEGMENTS),
        ("tier", c_int_p),
        ("elasticity", c_double),
        ("per_model_elasticity", c_int),
        ("candidate_lo", c_double),
        ("candidate_hi", c_double),
        ("shrinkage", c_double),
        ("category_effect", c_int),
        ("observed_flow", c_double_p),
        ("own_elasticity", c_double_p),
        ("implied_cost", c_double_p),
        ("diversion_to", c_int_p),
        ("diversion", c_double_p),
        ("throughput", c_double_p),
        ("latency", c_double_p),
        ("prompt_share", c_double_p),
        ("kappa", c_double_p),
        ("entry_coef", c_double * 6),
        ("entry_r2", c_double),
        ("indexed_models", c_int),
        ("entry_kappa", c_double),
        ("settings", PrillmFitSettings),
        ("imputed", c_ubyte_p),
        ("max_total_error", c_double),
        ("max_cell_error", c_double),
        ("kkt_violation", c_double),
        ("stranded", c_int),
        ("forward", POINTER(PrillmForwardScore)),
        ("n_forward", c_int),
        ("forward_days", c_int),
        ("heldout", POINTER(PrillmHeldoutScore)),
        ("n_heldout", c_int),
        ("listed_cells", c_long),
        ("dropped_models", c_int),
        ("have_measured", c_int),
        ("measured", PrillmElasticityResult),
        ("measured_model", c_int_p),
        ("seconds", c_double),
        ("diversion_lo", c_double_p),
        ("diversion_hi", c_double_p),
        ("service_class", POINTER(c_int)),
        ("class_users", c_int),
        ("floor", c_double_p),
        ("classes_applied", c_int),
    ]


class PrillmPrediction(Structure):
    _fields_ = [
        ("status", c_int),
        ("market", PrillmMarket_p),
        ("flows", c_double_p),
        ("provider_flow", c_double_p),
        ("entrant", c_ubyte_p),
        ("carried", c_ubyte_p),
        ("new_app", c_ubyte_p),
        ("app_carried", c_ubyte_p),
        ("scale", c_double),
        ("kkt_violation", c_double),
        ("date", c_int),
    ]


# ---- compete.h -------------------------------------------------------------


class PrillmCompeteSettings(Structure):
    _fields_ = [
        ("order", c_int),
        ("damping", c_double),
        ("max_rounds", c_int),
        ("time_limit", c_double),
        ("tolerance", c_double),
        ("profit_tolerance", c_double),
        ("certificate", c_double),
        ("owner_sweeps", c_int),
        ("pair_grid", c_int),
        ("verbose", c_int),
        ("threads", c_int),
    ]


class PrillmCompeteResult(Structure):
    _fields_ = [
        ("status", c_int),
        ("certified", c_int),
        ("exact", c_int),
        ("rounds", c_int),
        ("best_responses", c_long),
        ("equilibrium_solves", c_long),
        ("residual", c_double),
        ("profit_change", c_double),
        ("seconds", c_double),
        ("n_providers", c_int),
        ("price", c_double_p),
        ("profit", c_double_p),
        ("flow", c_double_p),
        ("n_leaders", c_int),
        ("leader", c_int_p),
        ("group", c_int_p),
        ("price_min", c_double_p),
        ("price_max", c_double_p),
        ("deviation_price", c_double_p),
        ("gain", c_double_p),
        ("gain_relative", c_double_p),
        ("n_groups", c_int),
        ("group_name", POINTER(c_char_p)),
        ("group_value", c_double_p),
        ("pair_gain_relative", c_double_p),
        ("max_gain_relative", c_double),
        ("cycle_length", c_int),
        ("cycle", c_double_p),
    ]


# The C struct name of each mirror (for the ABI test).
C_NAMES = {
    PrillmError: "PrillmError",
    PrillmOptionInfo: "PrillmOptionInfo",
    PrillmMarket: "PrillmMarket",
    PrillmEquilibriumSettings: "PrillmEquilibriumSettings",
    PrillmEquilibriumInfo: "PrillmEquilibriumInfo",
    PrillmEquilibrium: "PrillmEquilibrium",
    PrillmPriceSettings: "PrillmPriceSettings",
    PrillmPriceSegment: "PrillmPriceSegment",
    PrillmPriceBreakpoint: "PrillmPriceBreakpoint",
    PrillmPriceResult: "PrillmPriceResult",
    PrillmExplainSettings: "PrillmExplainSettings",
    PrillmExplainRival: "PrillmExplainRival",
    PrillmExplainApp: "PrillmExplainApp",
    PrillmExplainBreakpoint: "PrillmExplainBreakpoint",
    PrillmExplainResult: "PrillmExplainResult",
    PrillmObservedPeriod: "PrillmObservedPeriod",
    PrillmObservations: "PrillmObservations",
    PrillmCalibrationSettings: "PrillmCalibrationSettings",
    PrillmCalibrationResult: "PrillmCalibrationResult",
    PrillmCalibrationDiagnostics: "PrillmCalibrationDiagnostics",
    PrillmElasticitySettings: "PrillmElasticitySettings",
    PrillmElasticityEstimate: "PrillmElasticityEstimate",
    PrillmElasticityModel: "PrillmElasticityModel",
    PrillmElasticityResult: "PrillmElasticityResult",
    PrillmFitSettings: "PrillmFitSettings",
    PrillmForwardScore: "PrillmForwardScore",
    PrillmHeldoutScore: "PrillmHeldoutScore",
    PrillmFitResult: "PrillmFitResult",
    PrillmPrediction: "PrillmPrediction",
    PrillmCompeteSettings: "PrillmCompeteSettings",
    PrillmCompeteResult: "PrillmCompeteResult",
}

# ---- function prototypes -------------------------------------------------

E = POINTER(PrillmError)
_PROTOTYPES = {
    # name: (restype, argtypes)
    "prillm_version": (c_char_p, []),
    "prillm_error_name": (c_char_p, [c_int]),
    "prillm_error_text": (c_char_p, [c_int]),
    "prillm_status_name": (c_char_p, [c_int]),
    # market
    "prillm_market_alloc": (PrillmMarket_p, [c_int, c_int, E]),
    "prillm_market_free": (None, [PrillmMarket_p]),
    "prillm_market_copy": (PrillmMarket_p, [PrillmMarket_p, E]),
    "prillm_market_subset": (PrillmMarket_p, [PrillmMarket_p, c_int_p, c_int, c_int_p, c_int, E]),
    "prillm_market_validate": (c_int, [PrillmMarket_p, E]),
    "prillm_market_provider_index": (c_int, [PrillmMarket_p, c_char_p]),
    "prillm_market_user_index": (c_int, [PrillmMarket_p, c_char_p]),
    "prillm_market_parse_json": (c_int, [c_char_p, c_size_t, WarnFn, c_void_p, POINTER(PrillmMarket_p), E]),
    "prillm_market_write_json": (c_int, [PrillmMarket_p, c_void_p, E]),
    "prillm_market_write_binary": (c_int, [PrillmMarket_p, c_void_p, E]),
    "prillm_market_parse_binary": (c_int, [c_char_p, c_size_t, POINTER(PrillmMarket_p), E]),
    "prillm_market_parse": (c_int, [c_char_p, c_size_t, WarnFn, c_void_p, POINTER(PrillmMarket_p), E]),
    "prillm_market_is_binary": (c_int, [c_char_p, c_size_t]),
    "prillm_market_random": (PrillmMarket_p, [c_int, c_int, c_ulonglong, E]),
    # equilibrium
    "prillm_equilibrium_options": (POINTER(PrillmOptionInfo), [c_int_p]),
    "prillm_equilibrium_default_settings": (None, [POINTER(PrillmEquilibriumSettings)]),
    "prillm_equilibrium_set_option": (c_int, [POINTER(PrillmEquilibriumSettings), c_char_p, c_char_p, E]),
    "prillm_equilibrium_check_settings": (c_int, [POINTER(PrillmEquilibriumSettings), E]),
    "prillm_equilibrium_setup": (c_int, [POINTER(c_void_p), PrillmMarket_p, POINTER(PrillmEquilibriumSettings), E]),
    "prillm_equilibrium_solve": (c_int, [c_void_p, E]),
    "prillm_equilibrium_solution": (POINTER(PrillmEquilibrium), [c_void_p]),
    "prillm_equilibrium_update_price": (c_int, [c_void_p, c_int, c_double, E]),
    "prillm_equilibrium_cleanup": (None, [c_void_p]),
    "prillm_equilibrium_certify": (c_int, [PrillmMarket_p, c_double_p, c_double_p, POINTER(PrillmEquilibriumInfo), E]),
    # pricing
    "prillm_price_method_name": (c_char_p, [c_int]),
    "prillm_price_options": (POINTER(PrillmOptionInfo), [c_int_p]),
    "prillm_price_default_settings": (None, [POINTER(PrillmPriceSettings)]),
    "prillm_price_set_option": (c_int, [POINTER(PrillmPriceSettings), c_char_p, c_char_p, E]),
    "prillm_price_check_settings": (c_int, [POINTER(PrillmPriceSettings), E]),
    "prillm_price_warning_name": (c_char_p, [c_uint]),
    "prillm_price_warning_text": (c_char_p, [POINTER(PrillmPriceResult), c_uint, c_char_p, c_size_t]),
    "prillm_price_default_pmax": (c_double, [PrillmMarket_p, c_int]),
    "prillm_price": (c_int, [PrillmMarket_p, c_int, POINTER(PrillmPriceSettings), POINTER(PrillmPriceResult), E]),
    "prillm_price_result_clear": (None, [POINTER(PrillmPriceResult)]),
    # explain
    "prillm_explain_options": (POINTER(PrillmOptionInfo), [c_int_p]),
    # compete
    "prillm_compete_options": (POINTER(PrillmOptionInfo), [POINTER(c_int)]),
    "prillm_compete_default_settings": (None, [POINTER(PrillmCompeteSettings)]),
    "prillm_compete_set_option": (c_int, [POINTER(PrillmCompeteSettings), c_char_p, c_char_p, E]),
    "prillm_compete": (
        c_int,
        [PrillmMarket_p, c_int_p, c_int, POINTER(PrillmCompeteSettings), POINTER(PrillmCompeteResult), E],
    ),
    "prillm_compete_result_clear": (None, [POINTER(PrillmCompeteResult)]),
    "prillm_compete_status_name": (c_char_p, [c_int]),
    "prillm_explain_default_settings": (None, [POINTER(PrillmExplainSettings)]),
    "prillm_explain_set_option": (c_int, [POINTER(PrillmExplainSettings), c_char_p, c_char_p, E]),
    "prillm_explain": (
        c_int,
        [PrillmMarket_p, c_int, POINTER(PrillmExplainSettings), POINTER(PrillmExplainResult), E],
    ),
    "prillm_explain_result_clear": (None, [POINTER(PrillmExplainResult)]),
    "prillm_explain_write_html": (c_int, [PrillmMarket_p, POINTER(PrillmExplainResult), c_void_p, E]),
    "prillm_explain_write_markdown": (
        c_int,
        [PrillmMarket_p, POINTER(PrillmExplainResult), c_char_p, c_void_p, E],
    ),
    "prillm_explain_write_json": (c_int, [PrillmMarket_p, POINTER(PrillmExplainResult), c_void_p, E]),
    "prillm_explain_write_svg": (c_int, [PrillmMarket_p, POINTER(PrillmExplainResult), c_void_p, E]),
    "prillm_price_profit_at": (
        c_int,
        [PrillmMarket_p, c_int, c_double, c_double_p, c_double_p, c_double_p, E],
    ),
    "prillm_aggregator_read_json": (c_int, [c_void_p, POINTER(c_void_p), E]),
    "prillm_aggregator_free": (None, [c_void_p]),
    # observations and calibration
    "prillm_observations_free": (None, [POINTER(PrillmObservations)]),
    "prillm_observations_synthetic": (
        c_int,
        [c_int, c_int, c_int, c_double, c_double, c_double_p, c_double, c_int, c_ulonglong,
         POINTER(POINTER(PrillmObservations)), E],
    ),
    "prillm_calibration_options": (POINTER(PrillmOptionInfo), [c_int_p]),
    "prillm_calibration_default_settings": (None, [POINTER(PrillmCalibrationSettings)]),
    "prillm_calibration_set_option": (c_int, [POINTER(PrillmCalibrationSettings), c_char_p, c_char_p, E]),
    "prillm_calibration_check_settings": (c_int, [POINTER(PrillmCalibrationSettings), E]),
    "prillm_calibration_method_name": (c_char_p, [c_int]),
    "prillm_observations_read": (
        c_int,
        [c_char_p, POINTER(PrillmCalibrationSettings), WarnFn, c_void_p, POINTER(POINTER(PrillmObservations)), E],
    ),
    "prillm_calibrate": (
        c_int,
        [POINTER(PrillmObservations), POINTER(PrillmCalibrationSettings), ProgressFn, c_void_p,
         POINTER(POINTER(PrillmCalibrationResult)), E],
    ),
    "prillm_calibration_result_free": (None, [POINTER(PrillmCalibrationResult)]),
    "prillm_calibration_market": (
        c_int,
        [POINTER(PrillmObservations), c_int, POINTER(PrillmCalibrationResult), POINTER(PrillmMarket_p), E],
    ),
    "prillm_calibration_diagnose": (
        c_int,
        [POINTER(PrillmObservations), POINTER(PrillmCalibrationResult), POINTER(PrillmCalibrationDiagnostics), E],
    ),
    "prillm_calibration_diagnostics_free": (None, [POINTER(PrillmCalibrationDiagnostics)]),
    # elasticity
    "prillm_elasticity_default_settings": (None, [POINTER(PrillmElasticitySettings)]),
    "prillm_elasticity_check_settings": (c_int, [POINTER(PrillmElasticitySettings), E]),
    "prillm_elasticity_price_name": (c_char_p, [c_int]),
    "prillm_elasticity_estimate": (
        c_int,
        [c_char_p, POINTER(PrillmElasticitySettings), POINTER(PrillmElasticityResult), E],
    ),
    "prillm_elasticity_result_free": (None, [POINTER(PrillmElasticityResult)]),
    # market model
    "prillm_fit_options": (POINTER(PrillmOptionInfo), [c_int_p]),
    "prillm_fit_default_settings": (None, [POINTER(PrillmFitSettings)]),
    "prillm_fit_set_option": (c_int, [POINTER(PrillmFitSettings), c_char_p, c_char_p, E]),
    "prillm_fit_openrouter": (
        c_int,
        [c_char_p, POINTER(PrillmFitSettings), WarnFn, c_void_p, POINTER(POINTER(PrillmFitResult)), E],
    ),
    "prillm_fit_result_free": (None, [POINTER(PrillmFitResult)]),
    "prillm_market_price_jacobian": (c_int, [PrillmMarket_p, c_int_p, c_int, c_double_p, E]),
    "prillm_fit_write_market": (c_int, [c_void_p, POINTER(PrillmFitResult), E]),
    "prillm_fit_write_json": (None, [c_void_p, POINTER(PrillmFitResult)]),
    "prillm_predict": (
        c_int,
        [c_char_p, c_size_t, c_char_p, c_int, WarnFn, c_void_p, POINTER(POINTER(PrillmPrediction)), E],
    ),
    "prillm_prediction_free": (None, [POINTER(PrillmPrediction)]),
}

# Optional: present in newer builds only.
_OPTIONAL = {
    "prillm_has_component": (c_int, [c_char_p]),
    "prillm_set_blas_threads": (c_int, [c_int]),
}


# A library without these is not libprillm (or far too old): refuse to load.
_CORE = ("prillm_version", "prillm_error_name", "prillm_market_parse_json", "prillm_market_free",
         "prillm_equilibrium_setup", "prillm_price")


def _unavailable(path, name):
    def stub(*args, **kwargs):
        from ._errors import Error

        raise Error(
            8,
            "%s does not export %s (a build from before the function existed, or one that does not mark it "
            "PRILLM_API)" % (path, name),
        )

    stub.__name__ = name
    return stub


class _Lib:
    """The loaded library with every prototype set. A function the library
    does not export becomes a stub that raises prillm.Error (UNAVAILABLE)
    when called, so the rest stays usable; .missing lists them."""

    def __init__(self):
        self.path, self.dll = load_library()
        self.missing = []
        for name, (res, args) in _PROTOTYPES.items():
            fn = getattr(self.dll, name, None)
            if fn is None:
                self.missing.append(name)
                setattr(self, name, _unavailable(self.path, name))
                continue
            fn.restype = res
            fn.argtypes = args
            setattr(self, name, fn)
        core = [name for name in _CORE if name in self.missing]
        if core:
            raise OSError("%s is not a usable libprillm: it does not export %s" % (self.path, ", ".join(core)))
        for name, (res, args) in _OPTIONAL.items():
            fn = getattr(self.dll, name, None)
            if fn is not None:
                fn.restype = res
                fn.argtypes = args
            setattr(self, name, fn)
        self.libc = _load_libc()
        pin_blas_threads(self)


def blas_threads_from_environment():
    """PRILLM_BLAS_THREADS as the command line reads it: unset or empty is
    1, else an integer in 1..1024 (anything else raises prillm.Error naming
    the variable)."""
    text = os.environ.get("PRILLM_BLAS_THREADS", "")
    if not text:
        return 1
    try:
        threads = int(text, 10)
    except ValueError:
        threads = 0
    if not 1 <= threads <= 1024 or text.strip() != text:
        from ._errors import Error

        raise Error(1, "PRILLM_BLAS_THREADS (environment) must be an integer in 1..1024, got %r" % text)
    return threads


def pin_blas_threads(library):
    """OpenBLAS splits some sums between its threads, so the last digits of
    a solve depend on how many it has: pin them as the command line does
    (PRILLM_BLAS_THREADS, default 1), so that Python and the CLI print the
    same numbers on every machine. A library without the call is left as
    it is."""
    if library.prillm_set_blas_threads is not None:
        library.prillm_set_blas_threads(blas_threads_from_environment())


def _load_libc():
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    libc.open_memstream.restype = c_void_p
    libc.open_memstream.argtypes = [POINTER(c_void_p), POINTER(c_size_t)]
    libc.fopen.restype = c_void_p
    libc.fopen.argtypes = [c_char_p, c_char_p]
    libc.fclose.restype = c_int
    libc.fclose.argtypes = [c_void_p]
    libc.free.restype = None
    libc.free.argtypes = [c_void_p]
    libc.strdup.restype = c_void_p
    libc.strdup.argtypes = [c_char_p]
    return libc


_lib = None


def lib():
    """The loaded library (loaded on first use)."""
    global _lib
    if _lib is None:
        _lib = _Lib()
    return _lib


def write_to_string(call):
    """Run call(stream, err) on an in-memory FILE * stream and return the text.

    call returns an error code (non-zero raises prillm.Error with the
    library's message) or None for the writers that cannot fail."""
    return write_to_bytes(call).decode("utf-8")


def write_to_bytes(call):
    """write_to_string's bytes, undecoded (the binary market form)."""
    from ._errors import check

    L = lib()
    buf = c_void_p()
    size = c_size_t()
    stream = L.libc.open_memstream(ctypes.byref(buf), ctypes.byref(size))
    if not stream:
        errno = ctypes.get_errno()
        raise OSError(errno, "open_memstream failed: " + os.strerror(errno))
    err = PrillmError()
    try:
        rc = call(stream, ctypes.byref(err))
    finally:
        L.libc.fclose(stream)
        text = ctypes.string_at(buf.value, size.value) if buf.value else b""
        L.libc.free(buf)
    if rc:
        check(rc, err)
    return text
