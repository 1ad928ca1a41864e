#!/usr/bin/env bash
# Runs `swift test` with the given arguments and keeps its whole log in .build/test-log.txt. On the
# terminal it leaves out the per-test "started" lines (half the log), then closes with what failed —
# tests by name, goldens by path — and the suite's own summary lines last, so the verdict is at the end.
set -uo pipefail
log=.build/test-log.txt
mkdir -p .build
swift test "$@" 2>&1 | tee "$log" | grep --line-buffered -vE "^. (Test|Suite) .* started\.$|^Test (Case|Suite) '.*' started|^golden candidate written .*: /tmp/"
status=${PIPESTATUS[0]}

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
  [ -z "$tests$cases$goldens" ] && echo "  swift test exited $status before naming a failing test (see the log)"
fi
grep -E "^[[:space:]]*Executed [0-9]+ tests?, with" "$log" | tail -n 1
grep -E "^. Test run with [0-9]+ tests?" "$log" | tail -n 1
exit "$status"
