# meetnoc — see README.md. `make run` and `make test` are the two commands that do
# all set-up on a fresh Debian machine with Go.

GO        ?= go
BIN       := bin/meetnoc
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
REVISION  ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
BRANCH    ?= $(shell git rev-parse --abbrev-ref HEAD 2>/dev/null || echo unknown)
VPKG      := github.com/prometheus/common/version
LDFLAGS   := -s -w -X $(VPKG).Version=$(VERSION) -X $(VPKG).Revision=$(REVISION) -X $(VPKG).Branch=$(BRANCH) \
             -X $(VPKG).BuildUser=$(shell id -un)@$(shell hostname) -X $(VPKG).BuildDate=$(shell date -u +%Y%m%d-%H:%M:%S)
# Bounded so that a hung end-to-end test fails the run instead of eating CI's 90 minutes.
TEST_TIMEOUT ?= 12m

export CGO_ENABLED = 0
# gosnmp formats every packet for its debug log unless built without it; meetnoc
# never installs a gosnmp logger, so release builds (and the benchmark) drop it.
export GOFLAGS = -tags=gosnmp_nodebug

# Each fuzz target runs this many inputs in `make test` (10–20 s each here;
# `make fuzz FUZZTIME=10m` for a real session). A count, not a duration: with a
# duration, Go 1.26's fuzz coordinator can fail a healthy target with "context
# deadline exceeded" at the deadline on a loaded machine (golang/go#75804, fixed in
# Go 1.27). An input that fails is written to the package's testdata/fuzz, where it
# stays a test case once fixed.
FUZZTIME ?= 100000x
FUZZ_TARGETS := ./collectors/traffic:FuzzClassify ./collectors/traffic:FuzzSFlowWalk \
                ./collectors/traffic:FuzzDHCPv4 ./collectors/traffic:FuzzRA \
                ./probes/dns:FuzzAnswer

.PHONY: all build run test test-deps check-format vet fuzz bench clean deb

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/meetnoc

# The daemon against the built-in simulated meeting network.
run: build
	./$(BIN) lab

test-deps:
	./scripts/install-test-deps.sh

check-format:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

# -race needs cgo; the build itself is checked with CGO_ENABLED=0 above.
test: test-deps check-format vet build
	./$(BIN) check configs/lab.yml
	CGO_ENABLED=1 $(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./...
	$(MAKE) fuzz

# One target per `go test -fuzz` run: Go fuzzes a single target at a time.
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
	  pkg=$${t%%:*}; name=$${t##*:}; \
	  echo "fuzz $$pkg $$name for $(FUZZTIME)"; \
	  $(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg; \
	done

# The SNMP benchmark (~9 min), the traffic benchmark (~8 min), the DNS probe benchmark
# (~2.5 min); results in docs/benchmarks.md.
bench: build test-deps
	./bench/snmp/run.sh
	./bench/traffic/run.sh
	./bench/dns/run.sh
	./bench/report/run.sh

# The Debian package (nfpm v2.43.0 from the module proxy, pinned in
# scripts/build-deb.sh) into dist/.
deb:
	./scripts/build-deb.sh dist

clean:
	rm -rf bin dist
