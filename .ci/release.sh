#!/usr/bin/env bash
# make release VERSION=x.y.z: closes CHANGELOG.md's [Unreleased] into "## [x.y.z] - YYYY-MM-DD" (UTC
# today, or RELEASE_DATE), leaves an empty [Unreleased] above it, and sets Harness.version, which
# `olab --version`, new goldens, checkpoints and summaries record. Refuses, with one line and exit 2, a
# version that is not x.y.z, not newer than the current one or already released, and an empty [Unreleased].
# Goldens are not touched: each keeps the version that recorded it.
set -euo pipefail
cd "$(dirname "$0")/.."
version="${1:-}"
changelog=CHANGELOG.md
harness=Sources/OLCore/OutlierLabError.swift
fail() { echo "make release: $*" >&2; exit 2; }

[ -n "$version" ] || fail "say which version: make release VERSION=x.y.z"
[[ "$version" =~ ^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$ ]] \
  || fail "VERSION=$version is not x.y.z (three whole numbers without leading zeros)"
current=$(sed -n 's/^ *public static let version = "\([^"]*\)"$/\1/p' "$harness")
[ -n "$current" ] || fail "cannot find Harness.version in $harness"
IFS=. read -r a b c <<<"$version"
IFS=. read -r x y z <<<"$current"
if (( a < x || (a == x && (b < y || (b == y && c <= z))) )); then
  fail "VERSION=$version is not newer than the current Harness.version $current"
fi
grep -q '^## \[Unreleased\]$' "$changelog" || fail "$changelog has no '## [Unreleased]' section to close"
! grep -q "^## \[$version\]" "$changelog" || fail "$changelog already has a [$version] section"
entries=$(awk '/^## \[Unreleased\]$/ { on = 1; next } on && /^## / { exit } on && /^- / { n++ } END { print n + 0 }' "$changelog")
[ "$entries" -gt 0 ] || fail "[Unreleased] in $changelog has no entries: nothing to release"
date="${RELEASE_DATE:-$(date -u +%Y-%m-%d)}"
[[ "$date" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}$ ]] || fail "RELEASE_DATE=$date is not YYYY-MM-DD"

tmp=$(mktemp "$changelog.XXXXXX")
awk -v v="$version" -v d="$date" '
  /^## \[Unreleased\]$/ && !done { print; print ""; print "## [" v "] - " d; done = 1; next }
  { print }' "$changelog" > "$tmp"
mv "$tmp" "$changelog"
sed -i "s/^\( *public static let version = \)\"$current\"$/\1\"$version\"/" "$harness"
echo "released $version ($date): $changelog's [Unreleased] is now [$version] and Harness.version is $version; commit both"
