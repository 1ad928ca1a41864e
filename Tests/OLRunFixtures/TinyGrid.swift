import OLCore
import OLRuns

/// A 2 × 2 grid on tiny models, two seeds.
public let tinyGridJSON = """
{"base": {"width": 16, "layers": 2, "heads": 2, "seq": 16, "batch": 4, "steps": 12, "log_every": 4, "checkpoint_every": 0,
          "eval_windows": 4, "probe_batch": 2, "synthetic_bytes": 65536},
 "axes": {"block": ["preLN", "op"], "lr": [0.001, 0.01]},
 "seeds": [0, 1],
 "quantisation": [{"scheme": "w8a8-naive", "bits": 4}]}
"""

/// A grid parsed from `text` (the tiny grid by default), as `olab sweep` reads grid.json.
public func tinyGrid(_ text: String = tinyGridJSON) throws -> SweepGrid {
    try SweepGrid(json: try JSONValue.parse(text), source: "grid.json")
}
