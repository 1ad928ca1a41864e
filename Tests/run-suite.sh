#!/usr/bin/env bash
# Runs `swift test` with the given arguments and keeps its whole log in .build/test-log.txt. On the
# terminal it leaves out the per-test "started" lines (half the log), then closes with what failed —
# tests by name, goldens by path — and the suite's own summary lines last, so the verdict is at the end.
set -uo pipefail
log=.build/test-log.txt
mkdir -p .build
# Tests keep their files under /tmp/olab-test-<pid>, which the test process removes when it exits
# (OLTestSupport's scratchDirectory). After a passing suite, a new /tmp/olab-* entry that no live process
# owns was left behind by a test writing elsewhere: that fails the run, named below.
scratch_before=$(ls -d /tmp/olab-* 2>/dev/null | sort)
swift test "$@" 2>&1 | tee "$log" | grep --line-buffered -vE "^. (Test|Suite) .* started\.$|^Test (Case|Suite) '.*' started|^golden candidate written .*: /tmp/"
status=${PIPESTATUS[0]}
keep=${OLAB_KEEP_TEST_SCRATCH:-}
leaked=""
if [ "$status" -eq 0 ] && { [ -z "$keep" ] || [ "$keep" = 0 ]; }; then
  leaked=$(comm -13 <(echo "$scratch_before") <(ls -d /tmp/olab-* 2>/dev/null | sort) | while IFS= read -r entry; do
    case "$entry" in /tmp/olab-slurm-test.*) continue ;; esac   # the Slurm test's own, removed by its script
    pid=$(sed -nE 's#^/tmp/olab-test-([0-9]+)$#\1#p' <<< "$entry")
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then continue; fi   # another suite, still running
    echo "$entry"
  done)
  [ -n "$leaked" ] && status=1
fi

# Swift Testing names a failing test `✘ Test "name" …`; XCTest `Test Case '-[Module.Class test]' failed`.
tests=$(grep -E '^✘ Test "' "$log" | sed -E 's/^✘ Test "([^"]*)".*/\1/' | sort -u)
cases=$(grep -E "^Test Case '.*' failed" "$log" | sed -E "s/^Test Case '(.*)' failed.*/\1/" | sort -u)
goldens=$(grep -oE 'Golden mismatch in [^ ,:]+' "$log" | sed 's/^Golden mismatch in //' | sort -u)
echo
if [ -z "$tests$cases$goldens" ] && [ "$status" -eq 0 ]; then
  echo "Nothing failed (whole log: $log)."
else
  echo "What failed (whole log: $log):"
  list() { [ -n "$2" ] && while IFS= read -r item; do echo "  $1 $item"; done <<< "$2"; return 0; }
  list "test:  " "$tests"
  list "xctest:" "$cases"
  list "golden:" "${goldens//$PWD\//}"
  [ -n "$goldens" ] && echo "  (intended? make goldens, review, a CHANGELOG line, make goldens-accept)"
  if [ -n "$leaked" ]; then
    echo "  scratch: $(wc -l <<< "$leaked") new entries in /tmp outside the tests' scratch root (first: $(head -n 1 <<< "$leaked")); use scratchDirectory(_:)"
  elif [ -z "$tests$cases$goldens" ]; then
    echo "  swift test exited $status before naming a failing test (see the log)"
  fi
fi
grep -E "^[[:space:]]*Executed [0-9]+ tests?, with" "$log" | tail -n 1
grep -E "^. Test run with [0-9]+ tests?" "$log" | tail -n 1
exit "$status"
