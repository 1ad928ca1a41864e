#!/usr/bin/env bash
# make docs-check: the documentation checks `make verify` runs, in seconds and without building the
# modules (`make docs` builds the full HTML, which needs a debug build of every module for the symbol
# graphs: about 5 minutes cold on 2 shared cores). Fails, one line per problem, when a module's catalog lacks its
# root page ("# ``Module``"), a <doc:Name> link in a catalog or in the module's code names no article of
# that module's catalog, DocC itself (`docc convert` of each catalog's articles, without symbols) warns
# about anything but the module symbol it is not given, a relative link in README.md or CHANGELOG.md
# points at no file, or a code comment cites "SPEC §", which is not in the repository.
set -uo pipefail
cd "$(dirname "$0")/.."
problems=0
problem() { echo "docs-check: $*" >&2; problems=$((problems + 1)); }

catalogs=0
for catalog in Sources/*/*.docc; do
  [ -d "$catalog" ] || continue
  catalogs=$((catalogs + 1))
  module=$(basename "$catalog" .docc)
  [ "$(dirname "$catalog")" = "Sources/$module" ] || problem "$catalog is not named for its module (Sources/$module/$module.docc)"
  root="$catalog/$module.md"
  if [ ! -f "$root" ]; then problem "$catalog has no root page $module.md"
  elif [ "$(head -1 "$root")" != "# \`\`$module\`\`" ]; then problem "$root does not start with # \`\`$module\`\`"; fi
  for article in "$catalog"/*.md; do
    [ "$(head -c 2 "$article")" = "# " ] || problem "$article does not start with a '# Title' line"
  done
  # Every <doc:Name> in the catalog and in the module's Swift files names an article of this catalog.
  while IFS=: read -r file line name; do
    [ "$name" = "$module" ] || [ -f "$catalog/$name.md" ] || problem "$file:$line: <doc:$name> names no article of $catalog"
  done < <(grep -rnoE '<doc:[A-Za-z0-9_-]+>' "Sources/$module" --include='*.md' --include='*.swift' \
             | sed -E 's/<doc:([A-Za-z0-9_-]+)>$/\1/')
done
[ "$catalogs" -gt 0 ] || problem "no DocC catalog under Sources/*/*.docc"

# DocC on the articles alone: malformed directives and markup. Without symbol graphs it cannot resolve
# ``Symbol`` links, so it says nothing about links here; <doc:> links are checked above.
docc=$(command -v docc || { swift=$(command -v swift) && [ -x "$(dirname "$swift")/docc" ] && echo "$(dirname "$swift")/docc"; } || true)
if [ -n "$docc" ]; then
  scratch=$(mktemp -d)
  trap 'rm -rf "$scratch"' EXIT
  for catalog in Sources/*/*.docc; do
    module=$(basename "$catalog" .docc)
    "$docc" convert "$catalog" --fallback-display-name "$module" --fallback-bundle-identifier "outlierlab.$module" \
      --output-path "$scratch/$module" > "$scratch/$module.log" 2>&1 || problem "docc convert $catalog failed: $(grep -m1 -E '^error' "$scratch/$module.log")"
    while IFS= read -r diagnostic; do problem "$catalog: docc: $diagnostic"; done \
      < <(grep -E '^(warning|error):' "$scratch/$module.log" | grep -vF "No symbol matched '$module'. Can't resolve '$module'." \
            | grep -vE "^warning: '[^']+' doesn't exist at '/$module/")
  done
else
  echo "docs-check: docc is not beside swift here; the DocC pass is skipped"
fi

# Relative links of the README (and of the CHANGELOG) name files that exist.
for doc in README.md CHANGELOG.md; do
  while IFS= read -r target; do
    path=${target%%#*}
    [ -z "$path" ] || [ -e "$path" ] || problem "$doc links to $path, which does not exist"
  done < <(grep -oE '\]\([^)[:space:]]+\)' "$doc" | sed -E 's/^\]\((.*)\)$/\1/' | grep -vE '^(https?:|mailto:|#)')
done

while IFS= read -r hit; do problem "$hit: cites SPEC §, which is not in the repository; cite the article"; done \
  < <(grep -rnoE 'SPEC §[0-9]+' Sources Tests --include='*.swift' --include='*.json' --include='*.tsv' | cut -d: -f1,2)

if [ "$problems" -gt 0 ]; then
  echo "docs-check: $problems problem(s) in the documentation" >&2
  exit 1
fi
echo "docs-check: $catalogs catalogs, every root page, <doc:> link and README link resolves"
