#!/usr/bin/env bash
# make mutants: applies every mutant of Tests/Mutants/INDEX.tsv, one at a time, to a scratch copy of the
# package (.build-mutants/package, kept between runs so every build after the first is incremental),
# builds, runs the golden suites and reports which goldens killed it and by how much (worst failing
# tensor's |Δ| as a multiple of its budget), then replays the mutant's failing outputs with NumPy.
# Usage: bash Tests/Mutants/run-mutants.sh [MUTANT_NAME ...]   (default: every mutant in the index)
# Exit 1 if any mutant survives, is killed by less than KILL_MARGIN, or does not build.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SCRATCH="$ROOT/.build-mutants/package"
INDEX="$ROOT/Tests/Mutants/INDEX.tsv"
LOGS="$ROOT/.build-mutants/logs"
PYTHON=${REPLAY_PYTHON:-/usr/bin/python3}
# A kill must be unmistakable: a mutant that moves a golden by less than 3× its budget could pass on
# another machine whose rounding differs by a fraction of the budget in the other direction.
KILL_MARGIN=3
BUILD=(swift build -c release -Xswiftc -enable-testing --build-tests)
TEST=(swift test -c release -Xswiftc -enable-testing --skip-build --filter 'GoldenTests')

started=$(date +%s)
mkdir -p "$SCRATCH" "$LOGS"
names=("$@")
[ ${#names[@]} -eq 0 ] && mapfile -t names < <(grep -v '^#' "$INDEX" | cut -f1 | grep .)

# The scratch copy: the package's tracked and untracked (not ignored) files, with their mtimes to the
# nanosecond (POSIX tar format; ustar keeps whole seconds, and llbuild would rebuild every file whose
# mtime moved). Package.resolved is ignored by git but pins the dependencies.
echo "make mutants: copying the package to $SCRATCH"
rm -rf "$SCRATCH/Sources" "$SCRATCH/Tests" "$SCRATCH/Goldens"
(cd "$ROOT" && { git ls-files -z --cached --others --exclude-standard; [ -f Package.resolved ] && printf 'Package.resolved\0'; } \
  | tar --format=posix --null -T - -cf -) | (cd "$SCRATCH" && tar -xf -) || { echo "make mutants: copy failed"; exit 1; }
cd "$SCRATCH" || exit 1

run_goldens() {  # $1: log name; leaves the failing goldens' actual values in .build/golden-actual/
  rm -rf .build/golden-actual
  GOLDEN_RECORD=never "${TEST[@]}" >"$LOGS/$1.test.log" 2>&1
}

echo "make mutants: baseline build (the first run builds from cold, ~8 min on 2 cores)"
if ! "${BUILD[@]}" >"$LOGS/baseline.build.log" 2>&1; then
  echo "make mutants: the unmutated package does not build; see $LOGS/baseline.build.log"; exit 1
fi
if ! run_goldens baseline || [ -d .build/golden-actual ]; then
  echo "make mutants: the unmutated package fails its goldens; see $LOGS/baseline.test.log"; exit 1
fi
if "$PYTHON" -c 'import numpy' 2>/dev/null; then
  "$PYTHON" -B Goldens/replay/replay.py Goldens >"$LOGS/baseline.replay.log" 2>&1 \
    || { echo "make mutants: the NumPy replay fails on Goldens/; see $LOGS/baseline.replay.log"; exit 1; }
  replay=1
else
  echo "make mutants: $PYTHON cannot import numpy; the mutants' outputs are not replayed"; replay=0
fi
echo "make mutants: baseline green (golden suites and NumPy replay)"

failures=0
summary=()
for name in "${names[@]}"; do
  patch_file="$ROOT/Tests/Mutants/$name.patch"
  what=$(awk -F'\t' -v n="$name" '$1 == n { print $2 }' "$INDEX")
  t0=$(date +%s)
  if [ ! -f "$patch_file" ] || ! patch -p1 --quiet --forward <"$patch_file" >"$LOGS/$name.patch.log" 2>&1; then
    echo "MUTANT $name: ERROR: the patch does not apply (see $LOGS/$name.patch.log)"
    failures=$((failures + 1)); summary+=("$name	ERROR	-	-"); continue
  fi
  if ! "${BUILD[@]}" >"$LOGS/$name.build.log" 2>&1; then
    status="ERROR (does not build, see $LOGS/$name.build.log)"; kills=""
  else
    run_goldens "$name"; test_status=$?
    kills=$([ -d .build/golden-actual ] && "$PYTHON" -B "$ROOT/Tests/Mutants/margins.py" Goldens .build/golden-actual | sort -t$'\t' -k2,2gr)
    if [ -z "$kills" ] && [ $test_status -ne 0 ]; then
      status="ERROR (golden tests failed without a golden mismatch, see $LOGS/$name.test.log)"
    elif [ -z "$kills" ]; then
      status="SURVIVED"
    else
      best=$(printf '%s\n' "$kills" | head -1 | cut -f2)
      if "$PYTHON" -c "import sys; sys.exit(0 if float('$best') >= $KILL_MARGIN else 1)"; then status="KILLED"; else status="WEAK (best ${best}× < ${KILL_MARGIN}×)"; fi
    fi
  fi
  replayed="-"
  if [ -n "$kills" ] && [ $replay = 1 ]; then
    # The replay recomputes the mutant's outputs from the mutant's own inputs: FAIL means the independent
    # implementation disagrees with the mutant too.
    if "$PYTHON" -B Goldens/replay/replay.py .build/golden-actual >"$LOGS/$name.replay.log" 2>&1; then replayed="replay agrees"; else
      replayed="replay rejects $(grep -c FAIL "$LOGS/$name.replay.log")/$(printf '%s\n' "$kills" | wc -l)"; fi
  fi
  patch -p1 --quiet --reverse <"$patch_file" >>"$LOGS/$name.patch.log" 2>&1 || { echo "make mutants: cannot revert $name"; exit 1; }
  seconds=$(( $(date +%s) - t0 ))
  echo "MUTANT $name: $status  (${seconds} s; $replayed)"
  echo "  breaks: $what"
  if [ -n "$kills" ]; then
    printf '%s\n' "$kills" | awk -F'\t' '{ h = ($4 == "-") ? "" : "  header: " $4; printf "  %-48s %10s×  %s%s\n", $1, $2, $3, h }'
  fi
  [ "$status" = KILLED ] || failures=$((failures + 1))
  best_line=$(printf '%s\n' "$kills" | head -1)
  summary+=("$name	${status%% *}	$(printf '%s' "$best_line" | cut -f1)	$(printf '%s' "$best_line" | cut -f2)")
done

total=$(( $(date +%s) - started ))
echo
echo "| mutant | result | strongest kill | margin |"
echo "|---|---|---|---|"
for line in "${summary[@]}"; do IFS=$'\t' read -r n s g m <<<"$line"; echo "| \`$n\` | $s | ${g:--} | ${m:+$m×} |"; done
echo
echo "make mutants: ${#names[@]} mutants, $((${#names[@]} - failures)) killed by ≥ ${KILL_MARGIN}× their budget, $failures not; total $((total / 60)) min $((total % 60)) s on $(nproc) cores ($(uname -m), $(date -u +%Y-%m-%d))"
[ $failures -eq 0 ]
