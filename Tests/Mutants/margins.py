#!/usr/bin/env python3
"""Margins of one mutant: python3 margins.py GOLDENS_DIR ACTUAL_DIR

For every golden the mutant failed (its actual values under ACTUAL_DIR, `.build/golden-actual/` of the
scratch package), prints one tab-separated line: the golden (`suite/case`), the worst tensor's
|actual − golden| / (atol + rtol·|golden|) under the accepted golden's own compare mode (inf for an
exact mismatch or a NaN where the golden has a number), that tensor's name, and the header keys that
differ (config, seed, kind). A golden that fails on its header alone has margin 0: the header names the
changed constant, but no value shows the changed behaviour.
"""
import glob
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def config_differences(actual, golden, path=""):
    if isinstance(actual, dict) and isinstance(golden, dict):
        keys = list(golden) + [k for k in actual if k not in golden]
        return [d for k in keys for d in config_differences(actual.get(k), golden.get(k), f"{path}.{k}" if path else k)]
    return [] if actual == golden else [path or "(config)"]


def main(goldens, actual_root):
    sys.path.insert(0, os.path.join(goldens, "replay"))
    sys.path.insert(0, goldens)
    from read_golden import read_golden
    from replay import budget_ratio
    import numpy as np
    np.seterr(divide="ignore", invalid="ignore")  # a zero budget (atol 0 at a zero golden) is an inf margin
    for actual_path in sorted(glob.glob(os.path.join(actual_root, "*", "*.golden.gz"))):
        relative = os.path.relpath(actual_path, actual_root)
        golden_header, golden = read_golden(os.path.join(goldens, relative))
        actual_header, actual = read_golden(actual_path)
        header = config_differences(actual_header["config"], golden_header["config"])
        header += [key for key in ("kind", "seed") if actual_header[key] != golden_header[key]]
        worst, worst_name = 0.0, "-"
        for entry in golden_header["tensors"]:
            name = entry["name"]
            if name not in actual or actual[name].shape != golden[name].shape:
                worst, worst_name = float("inf"), name + " (missing or reshaped)"
                continue
            ratio = budget_ratio(actual[name], golden[name], entry["compare"])[0]
            if ratio > worst:
                worst, worst_name = ratio, name
        print(f"{relative.removesuffix('.golden.gz')}\t{worst:.6g}\t{worst_name}\t{','.join(header) or '-'}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: margins.py GOLDENS_DIR ACTUAL_DIR")
    main(sys.argv[1], sys.argv[2])
