# OutlierLab — the commands a user needs. `make verify` is what CI runs.
SWIFT        ?= swift
APT_PACKAGES := libopenblas-dev libjson-c-dev zlib1g-dev pkg-config
# What tests of real components need beyond the build (a single-node Slurm; Chromium, to render the
# report pages); skipped with one line where they cannot be installed.
TEST_PACKAGES := slurm-wlm munge chromium
# For the three Python interop tests (safetensors written here load in Python and back; the quantised
# export dequantises in NumPy): a virtual environment with PyPI's safetensors and NumPy, which Debian
# does not package; the tests find it through OLAB_INTEROP_PYTHON.
INTEROP_VENV   := .build/python-interop
INTEROP_PYTHON := $(CURDIR)/$(INTEROP_VENV)/bin/python3
# For `make replay` only, so a failed install never blocks the build: Debian's NumPy, run by Debian's Python.
REPLAY_PACKAGES := python3-numpy
REPLAY_PYTHON   := /usr/bin/python3
# Release mode with testable imports: tests that train run at full speed.
RELEASE      := -c release
TESTABLE     := -Xswiftc -enable-testing
SUDO         := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# The suites that compare with Goldens/ (kernels, metrics, optimisers, quantisation, training) and the
# golden workflow's own tests: what `make verify-goldens` and `make goldens` run.
GOLDEN_SUITES := GoldenTests|OLGoldensTests

.PHONY: deps deps-test build docs docs-check release verify verify-goldens golden-checks-built test replay slurm-test slurm-test-built bench audit goldens goldens-accept mutants fuzz clean

## deps: install the three Debian -dev packages (and pkg-config) when any is missing, and try
## python3-numpy for `make replay` (a failure there is reported, not fatal)
deps:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "make deps: installing$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi
	@for p in $(REPLAY_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" && continue; \
	  echo "make deps: installing $$p (for make replay)"; \
	  ( $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$p >/dev/null ) \
	    || echo "make deps: could not install $$p; make replay will skip"; \
	done

## deps-test: install the packages of the real-component tests when missing, and the Python interop
## environment (safetensors, NumPy from PyPI); never fails: what cannot be installed is skipped with a line
deps-test:
	@missing=""; for p in $(TEST_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "make deps-test: installing$$missing"; \
	  ( $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null ) \
	    || echo "make deps-test: could not install$$missing; the tests that need them will be skipped"; \
	fi
	@if ! $(INTEROP_PYTHON) -c 'import safetensors.numpy, numpy' 2>/dev/null; then \
	  echo "make deps-test: making $(INTEROP_VENV) (safetensors and NumPy from PyPI, for the Python interop tests)"; \
	  ( python3 -m venv $(INTEROP_VENV) && $(INTEROP_VENV)/bin/pip install -q --disable-pip-version-check safetensors numpy ) >/dev/null 2>&1 \
	    || echo "make deps-test: could not make $(INTEROP_VENV) (no venv module or PyPI unreachable); the three Python interop tests will be skipped"; \
	fi

## build: the release build of the library modules and the olab tool
build: deps
	$(SWIFT) build $(RELEASE)

## docs: every DocC catalog (Sources/<Module>/<Module>.docc) built by swift-docc-plugin into one static
## HTML site under .build/docs (open .build/docs/index.html through a web server, or read the Markdown);
## the plugin builds the modules' symbol graphs in debug mode first: about 5 minutes cold on 2 cores
DOCS_TARGETS := $(patsubst Sources/%/,%,$(dir $(wildcard Sources/*/*.docc)))
docs:
	$(SWIFT) package --allow-writing-to-directory .build/docs generate-documentation \
	  $(foreach t,$(DOCS_TARGETS),--target $(t)) --enable-experimental-combined-documentation \
	  --transform-for-static-hosting --output-path .build/docs
	@echo "make docs: $(words $(DOCS_TARGETS)) catalogs built into .build/docs"

## docs-check: what `make verify` checks of the docs, in seconds: every catalog's root page, every
## <doc:> link, README's relative links, and no "SPEC §" citation (.ci/docs-check.sh)
docs-check:
	@bash .ci/docs-check.sh

## release: VERSION=x.y.z closes CHANGELOG.md's [Unreleased] into a dated [x.y.z] section and sets
## Harness.version (olab --version) to it; refuses, with one line, a malformed, old or repeated version
## or an empty [Unreleased]. Goldens keep the version that recorded them.
release:
	@bash .ci/release.sh "$(VERSION)"

## verify: deps + the docs check + release build, then what fails most often first: the golden tests and
## the NumPy replay, the Slurm backend test, then the whole suite in release mode, whose list of what
## failed and own summary close the output (whole log in .build/test-log.txt); never writes goldens
verify: deps deps-test docs-check
	$(SWIFT) build $(RELEASE) $(TESTABLE) --build-tests
	@$(MAKE) --no-print-directory golden-checks-built
	$(MAKE) --no-print-directory slurm-test-built
	@GOLDEN_RECORD=never OLAB_INTEROP_PYTHON=$(INTEROP_PYTHON) bash Tests/run-suite.sh $(RELEASE) $(TESTABLE) --skip-build

## verify-goldens: the golden loop alone: build, the golden tests and the NumPy replay (about a minute
## on a warm build); run it after `make goldens-accept`
verify-goldens: deps
	$(SWIFT) build $(RELEASE) $(TESTABLE) --build-tests
	@$(MAKE) --no-print-directory golden-checks-built

golden-checks-built:
	@GOLDEN_RECORD=never bash Tests/run-suite.sh $(RELEASE) $(TESTABLE) --skip-build --filter '$(GOLDEN_SUITES)'
	@$(MAKE) --no-print-directory replay

test: verify

## slurm-test: the Slurm backend against a real single-node cluster (Tests/Slurm/backend-test.sh);
## skipped with one line where slurm-wlm and munge are not installed
slurm-test: deps deps-test
	$(SWIFT) build $(RELEASE) $(TESTABLE) --build-tests
	$(MAKE) --no-print-directory slurm-test-built

slurm-test-built:
	@if command -v slurmctld >/dev/null && command -v munged >/dev/null; then \
	  bash Tests/Slurm/backend-test.sh .build/release/olab; \
	else \
	  echo "slurm-test: skipped (slurm-wlm and munge are not installed and could not be installed here)"; \
	fi

## replay: recompute every golden (or those under GOLDENS=DIR) with NumPy alone (Goldens/replay/), one
## line per golden; fails on any value beyond the golden's own tolerance. Skips, with one line and exit
## 0, where Debian's python3-numpy is not installed.
replay:
	@if $(REPLAY_PYTHON) -c 'import numpy' 2>/dev/null; then \
	  PYTHONDONTWRITEBYTECODE=1 $(REPLAY_PYTHON) -B Goldens/replay/replay.py $(or $(GOLDENS),Goldens); \
	else \
	  echo "make replay: skipped: $(REPLAY_PYTHON) cannot import numpy (Debian's python3-numpy is not installed; see make deps)"; \
	fi

## bench: sgemm peak, tokens/s and MFU of the bench model for three arms, step breakdown, peak memory
bench: build
	.build/release/olab bench

## audit: the paper's claims at CPU scale (quick by default: 17 claims, 75 runs, 5 seeds derived from the registry;
## measured 13 min 48 s from a cold cache on a 2-core x86_64 VM, 2026-12-07; see `olab audit --dry-run`;
## FULL=1 or SCALE=full for 8 seeds and 5x the steps, SCALE=regime for 12,500-step BOS runs, ~2 h 40 min on 2 cores); writes audit-out/report.md, report.html, report.json and figures/, reusing cached runs
audit: build
	.build/release/olab audit $(if $(FULL),--full,) $(if $(SCALE),--scale $(SCALE),) --out $(or $(OUT),audit-out)

## goldens: record candidates for new and failing golden cases (GOLDEN_RECORD=all re-records every
## case) with the golden suites only, then print the review table (one row per changed golden; ALL=1
## for every tensor); nothing in Goldens/ changes until goldens-accept
goldens: deps
	$(SWIFT) build $(RELEASE) $(TESTABLE) --build-tests
	-@GOLDEN_RECORD=$${GOLDEN_RECORD:-failed} bash Tests/run-suite.sh $(RELEASE) $(TESTABLE) --skip-build --filter 'GoldenTests'
	@.build/release/olab golden review $(if $(ALL),--all,)

## goldens-accept: replay the reviewed candidates with NumPy, then move them into Goldens/; refused
## unless CHANGELOG.md has a line added since the last commit naming each with its reason
goldens-accept:
	$(SWIFT) build $(RELEASE) $(TESTABLE) --product olab
	.build/release/olab golden accept

## mutants: does every documented convention have a golden that notices? Applies each patch of
## Tests/Mutants/INDEX.tsv to a scratch copy (.build-mutants/package), builds incrementally, runs the
## golden suites and reports per mutant the goldens that killed it with their margins (MUTANTS="a b"
## for a few); fails on a survivor or a kill under 3x the budget. One build per mutant: not in verify
mutants: deps
	bash Tests/Mutants/run-mutants.sh $(MUTANTS)

FUZZ_ITERATIONS ?= 200000
FUZZ_SEED       ?= 2024
## fuzz: the golden, safetensors, config and manifest readers, the CLI's numeric flags, sweep grids and claims registries under
## FUZZ_ITERATIONS seeded mutations each
fuzz: build
	set -e; for target in golden safetensors config manifest flags grid registry; do \
	  .build/release/olab fuzz --target $$target --iterations $(FUZZ_ITERATIONS) \
	    --seed $(FUZZ_SEED) --failure-output fuzz-failure-$$target.bin; \
	done

clean:
	rm -rf .build .build-* golden-candidates
