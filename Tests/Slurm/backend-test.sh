#!/usr/bin/env bash
# The Slurm backend against a real single-node Slurm: a tiny audit and a tiny sweep (2 axes × 2 values ×
# 2 seeds) through `--backend slurm` must give the same report and results.csv as the local backend,
# byte for byte (wall-clock fields aside); an array task cancelled with scancel must be reported by run
# and resubmitted by the next call, and nothing finished is recomputed. Every daemon started here is
# stopped by PID on exit.   usage: backend-test.sh OLAB_BINARY
set -euo pipefail
olab=$(readlink -f "${1:?usage: backend-test.sh OLAB_BINARY}")
here=$(cd "$(dirname "$0")" && pwd)
fail() { echo "slurm backend test FAILED: $*" >&2; exit 1; }
# The test cluster listens on fixed ports (cluster.sh): two test runs on one machine at once (two
# checkouts' `make verify`) would collide, so they take turns on a machine-wide lock.
exec 9>/tmp/olab-slurm-test.lock
flock -w 1200 9 || fail "another Slurm backend test on this machine held /tmp/olab-slurm-test.lock for 20 minutes"
work=$(mktemp -d /tmp/olab-slurm-test.XXXXXX)
cluster="$work/cluster"
# On exit: stop the cluster, then remove the work folder (runs, logs, the cluster's state) unless the
# test failed or OLAB_KEEP_TEST_SCRATCH is set (not "0"), where it stays for a post-mortem.
cleanup() {
  local status=$?
  "$here/cluster.sh" stop "$cluster"
  local keep=${OLAB_KEEP_TEST_SCRATCH:-}
  if [ "$status" -eq 0 ] && { [ -z "$keep" ] || [ "$keep" = 0 ]; }; then
    rm -rf "$work"
  else
    echo "slurm backend test: kept $work"
  fi
}
trap cleanup EXIT
exports=$("$here/cluster.sh" start "$cluster") || fail "the test cluster did not start (its reason is above)"
eval "$exports"
cd "$work"
step() { echo "slurm backend test: $*"; }

# Reports without their wall-clock fields: report.json minus every wall_time_s and tokens_per_s (and the
# worker count each run used, which run summaries record and which never changes a result),
# report.md/html minus the "wall time" phrase.
normalised() {
  case "$1" in
    *.json) /usr/bin/python3 -c '
import json, sys
def strip(x):
    if isinstance(x, dict): return {k: strip(v) for k, v in x.items() if k not in ("wall_time_s", "runs_wall_time_s", "tokens_per_s", "workers")}
    if isinstance(x, list): return [strip(v) for v in x]
    return x
print(json.dumps(strip(json.load(open(sys.argv[1]))), sort_keys=True, indent=1))' "$1" ;;
    *) sed -E -e 's/wall time [0-9][^,]*,/wall time …,/' -e 's/invocation took [^;]*;/invocation took …;/' \
              -e 's/wall times add up to [^(]*\(/wall times add up to … (/' \
              -e 's/\| [^|]* \| (cached|trained) \|$/| … | \1 |/' -e 's#<td>[^<]*</td><td>(cached|trained)</td>#<td>…</td><td>\1</td>#g' "$1" ;;
  esac
}
same_reports() {
  for file in report.json report.md report.html; do
    cmp -s <(normalised "$1/$file") <(normalised "$2/$file") || fail "$1/$file differs from $2/$file"
  done
  for figure in "$1"/figures/*.svg; do cmp -s "$figure" "$2/figures/$(basename "$figure")" || fail "$figure differs"; done
}
audit() { "$olab" audit --registry "$here/tiny-claims.json" --corpus synthetic "$@"; }
sweep() { "$olab" sweep "$here/tiny-grid.json" "$@"; }
wait_for_queue() { for _ in $(seq 600); do [ -z "$(squeue -h -r -j "$1" 2>/dev/null)" ] && return 0; sleep 0.2; done; fail "job $1 never left the queue"; }

step "audit, local backend"
audit --out audit-local --jobs 2 > audit-local.log
step "audit, Slurm backend"
audit --out audit-slurm --backend slurm --poll-seconds 0.5 > audit-slurm.log
same_reports audit-local audit-slurm
step "audit reports are identical (wall-clock fields aside)"

step "sweep, local backend and Slurm backend"
sweep --out sweep-local --jobs 2 > sweep-local.log
sweep --out sweep-slurm --backend slurm --poll-seconds 0.5 > sweep-slurm.log
cmp sweep-local/results.csv sweep-slurm/results.csv || fail "results.csv differs between the backends"
cmp sweep-local/results.jsonl sweep-slurm/results.jsonl || fail "results.jsonl differs between the backends"
step "sweep results.csv and results.jsonl are identical"

step "cancelling one array task"
sweep --out sweep-cancel --backend slurm --submit-only > cancel-submit.log
job=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["submissions"][0]["job"])' sweep-cancel/slurm/submissions.json)
scancel "${job}_3"
wait_for_queue "$job"
if sweep --out sweep-cancel --backend slurm --collect > cancel-collect.log 2>&1; then fail "--collect succeeded with a cancelled task"; fi
cancelled=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["submissions"][0]["keys"][3][:12])' sweep-cancel/slurm/submissions.json)
grep -q "no result for $cancelled .*its array task ended" cancel-collect.log || { cat cancel-collect.log; fail "the cancelled task's run $cancelled was not reported"; }
[ "$(grep -c 'no result for' cancel-collect.log)" = 1 ] || { cat cancel-collect.log; fail "expected exactly one run without a result"; }
before=$(find sweep-cancel/runs -name model.safetensors -newer cancel-collect.log | wc -l)
sweep --out sweep-cancel --backend slurm --poll-seconds 0.5 > cancel-resubmit.log
grep -q "submitted Slurm job array [0-9]*: 1 task(s)" cancel-resubmit.log || { cat cancel-resubmit.log; fail "the resubmission was not exactly the one missing run"; }
after=$(find sweep-cancel/runs -name model.safetensors -newer cancel-collect.log | wc -l)
[ "$before" = 0 ] && [ "$after" = 1 ] || fail "expected only the cancelled run to be trained again (before $before, after $after)"
cmp sweep-local/results.csv sweep-cancel/results.csv || fail "results.csv after the resubmission differs from the local backend's"
step "the cancelled task was reported by run and resubmitted alone; results equal the local backend's"
step "OK"
