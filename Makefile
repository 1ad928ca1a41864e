# OutlierLab — the commands a user needs. `make verify` is what CI runs.
SWIFT        ?= swift
APT_PACKAGES := libopenblas-dev libjson-c-dev zlib1g-dev pkg-config
# Release mode with testable imports: tests that train run at full speed.
RELEASE      := -c release
TESTABLE     := -Xswiftc -enable-testing
SUDO         := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: deps build verify test bench audit goldens goldens-accept fuzz clean

## deps: install the three Debian -dev packages (and pkg-config) when any is missing
deps:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "make deps: installing$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

## build: the release build of the library modules and the olab tool
build: deps
	$(SWIFT) build $(RELEASE)

## verify: deps + release build + the whole test suite in release mode; never writes goldens
verify: deps
	$(SWIFT) build $(RELEASE) $(TESTABLE) --build-tests
	GOLDEN_RECORD=never $(SWIFT) test $(RELEASE) $(TESTABLE) --skip-build

test: verify

## bench: sgemm peak, tokens/s and MFU of the bench model for three arms, step breakdown, peak memory
bench: build
	.build/release/olab bench

## audit: the paper's claims at CPU scale (quick by default, ~10 min; FULL=1 for 3 seeds and 4x the
## steps); writes audit-out/report.md, report.html, report.json and figures/, reusing cached runs
audit: build
	.build/release/olab audit $(if $(FULL),--full,) --out $(or $(OUT),audit-out)

## goldens: record candidates for new and failing golden cases (GOLDEN_RECORD=all re-records every
## case), then print the review table; nothing in Goldens/ changes until goldens-accept
goldens: deps
	$(SWIFT) build $(RELEASE) $(TESTABLE) --build-tests
	-GOLDEN_RECORD=$${GOLDEN_RECORD:-failed} $(SWIFT) test $(RELEASE) $(TESTABLE) --skip-build
	$(SWIFT) run $(RELEASE) $(TESTABLE) olab golden review

## goldens-accept: move reviewed candidates into Goldens/ (refused unless CHANGELOG.md names them)
goldens-accept:
	$(SWIFT) run $(RELEASE) $(TESTABLE) olab golden accept

FUZZ_ITERATIONS ?= 200000
FUZZ_SEED       ?= 2024
## fuzz: the golden, safetensors, config and manifest readers and the CLI's numeric flags under
## FUZZ_ITERATIONS seeded mutations each
fuzz: build
	set -e; for target in golden safetensors config manifest flags; do \
	  .build/release/olab fuzz --target $$target --iterations $(FUZZ_ITERATIONS) \
	    --seed $(FUZZ_SEED) --failure-output fuzz-failure-$$target.bin; \
	done

clean:
	rm -rf .build .build-* golden-candidates
