/// The claims registries the OLAudit tests train: tiny models (d = 16, L = 2, T = 16) on the synthetic
/// corpus, fast enough to run in the suite. They share one `base` and differ in steps, logging and claims.

/// The `"base"` member of a test registry, with its trailing comma: `steps` steps logged every
/// `logEvery`, `evalWindows` validation windows; `extra` adds keys at the end (", \"key\": value").
func tinyRegistryBase(steps: Int, logEvery: Int, evalWindows: Int, extra: String = "") -> String {
    """
    {"base": {"width": 16, "layers": 2, "heads": 2, "seq": 16, "batch": 4, "steps": \(steps), "log_every": \(logEvery), "checkpoint_every": 0,
              "eval_windows": \(evalWindows), "probe_batch": 2, "synthetic_bytes": 65536, "optimizer": "adamw", "lr": 0.01\(extra)},
    """
}

/// A tiny registry with a quantisation claim that declares both preconditions: Pre-LN must show outlier
/// features, and a planted ×64 channel must resolve a 4-bit activation effect under the claim's protocol.
let preconditionRegistryJSON = """
\(tinyRegistryBase(steps: 40, logEvery: 10, evalWindows: 32))
 "scales": {"quick": {"confirming_seeds": 3}, "full": {"confirming_seeds": 3}},
 "claims": [
  {"id": "quant", "statement": "Pre-LN quantises worse than OP", "paper": "§6", "paper_says": "OFs hurt quantisation", "origin": {"kind": "paper"},
   "arms": [{"name": "Pre-LN", "config": {}}, {"name": "OP", "config": {"block": "op"}}],
   "metric": {"quantised": "ppl_ratio", "scheme": "a8-only", "bits": 4},
   "predicate": {"kind": "ratio", "pairs": [["Pre-LN", "OP"]], "at_least": 0.5},
   "preconditions": [
     {"kind": "outlier_features", "arm": "Pre-LN", "metric": {"series": "kurtosis", "taps": "max", "steps": "final"}, "at_least": LEVEL},
     {"kind": "positive_control", "arm": "Pre-LN", "metric": {"quantised": "ppl_ratio", "scheme": "a8-only", "bits": 4, "planted": 64}, "at_least": 1.05}]}
 ]}
"""

/// A tiny registry with every audit-v2 mechanism: best-lr arms chosen on a calibration seed, a sweep
/// correlated with a config value, a per-site quantisation attribution and the quantisation study.
let bestLearningRateRegistryJSON = """
\(tinyRegistryBase(steps: 12, logEvery: 4, evalWindows: 4, extra: #", "linear_taps": true"#))
 "scales": {"quick": {"seeds": [1, 2, 3]}, "full": {"seeds": [1, 2, 3]}},
 "lr_sweep": {"values": [0.03, 0.001, 0.01], "calibration_seed": 0},
 "quantisation_study": {"arms": [{"name": "OP best", "lr": "best", "config": {"block": "op"}}], "schemes": [["w8-only", 4], ["a8-only", 4]]},
 "claims": [
  {"id": "best", "statement": "OP vs Pre-LN at their best rates", "paper": "§3", "paper_says": "OP ≪ Pre-LN", "origin": {"kind": "paper"},
   "arms": [{"name": "Pre-LN best", "lr": "best", "config": {}}, {"name": "OP best", "lr": "best", "config": {"block": "op"}}],
   "metric": {"summary": "val_loss"}, "predicate": {"kind": "margin", "pairs": [["OP best", "Pre-LN best"]], "at_most": 10}},
  {"id": "lr-sweep", "statement": "kurtosis rises with lr", "paper": "§5", "paper_says": "smaller lr, fewer OFs", "origin": {"kind": "paper"},
   "arms": [{"name": "lr 1e-3", "config": {"lr": 0.001}}, {"name": "lr 1e-2", "config": {"lr": 0.01}}],
   "metric": {"series": "kurtosis"}, "against": {"config": "lr"}, "predicate": {"kind": "spearman", "at_least": 0.5}},
  {"id": "sites", "statement": "outlier inputs are the costly ones", "paper": "§6", "paper_says": "OFs hurt quantisation", "origin": {"kind": "paper"},
   "arms": [{"name": "Pre-LN", "config": {}}],
   "metric": {"site_correlation": "kurtosis", "scheme": "a8-only", "bits": 4}, "predicate": {"kind": "value", "at_least": -2}}
 ]}
"""

/// A two-claim registry on tiny models and the synthetic corpus: fast enough to train in tests.
let fixtureRegistryJSON = """
\(tinyRegistryBase(steps: 12, logEvery: 4, evalWindows: 4))
 "scales": {"quick": {"seeds": [0, 1, 2]}, "full": {"seeds": [0, 1, 2]}},
 "claims": [
  {"id": "op-lower", "statement": "OP has lower kurtosis than Pre-LN", "paper": "§3, Fig. 2", "paper_says": "OP ≪ Pre-LN", "origin": {"kind": "paper"},
   "arms": [{"name": "Pre-LN", "config": {}}, {"name": "OP", "config": {"block": "op"}}],
   "metric": {"series": "kurtosis", "excess": true, "steps": "tail_mean"},
   "predicate": {"kind": "ratio", "pairs": [["Pre-LN", "OP"]], "at_least": 1.0}},
  {"id": "quant", "statement": "kurtosis tracks quantisation damage", "paper": "§6", "paper_says": "rank correlation", "origin": {"kind": "paper"},
   "arms": [{"name": "Pre-LN", "config": {}}, {"name": "OP", "config": {"block": "op"}}, {"name": "Pre-LN small lr", "config": {"lr": 0.001}}],
   "metric": {"series": "kurtosis"}, "against": {"quantised": "delta_ppl", "scheme": "w8a8-naive", "bits": 4},
   "predicate": {"kind": "spearman", "at_least": 0.5}}
 ]}
"""
