# Shale: `make run` starts a single-node broker; `make test` runs every test.
GO        ?= go
BIN       := bin/shale
DATA_DIR  ?= shale-data
LISTEN    ?= 127.0.0.1:9092
TEST_TIMEOUT ?= 25m
FUZZTIME  ?= 15s

.PHONY: all build run test test-deps unit vet fuzz bench dist clean

# Release version and commit, stamped into the binary by `make dist`.
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT    ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
GOOS      ?= $(shell $(GO) env GOOS)
GOARCH    ?= $(shell $(GO) env GOARCH)
DIST_DIR  ?= dist

all: build

build:
	$(GO) build -o $(BIN) ./cmd/shale

run: build
	./$(BIN) dev --data-dir $(DATA_DIR) --listen $(LISTEN)

test-deps:
	./scripts/test-deps.sh

# Every test, with the real clients and a real MinIO required (a missing one
# fails the run instead of skipping).
test: test-deps vet
	SHALE_REQUIRE_MINIO=1 SHALE_REQUIRE_TOOLS=1 $(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...

# Unit tests only: no external tools required (those tests skip).
unit:
	$(GO) test -short -count=1 ./...

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1)

# A short run of every fuzz target.
fuzz:
	./scripts/fuzz.sh $(FUZZTIME)

# The Go micro-benchmarks, then the side-by-side run (Shale, kfake, NATS
# JetStream, the machine's limits, the object tier on MinIO, scale); writes
# bench/RESULTS.md. BENCH_* variables in bench/run.sh tune it.
bench: test-deps
	$(GO) test -run '^$$' -bench . -benchmem ./wal ./partition ./index ./recordbatch ./tiering
	./bench/run.sh

# A release tarball: a static binary stamped with VERSION and COMMIT, the
# systemd unit, an example configuration and the operator docs, laid out
# as they install (usr/local/bin, etc/shale, lib/systemd/system,
# usr/local/share/doc/shale).
dist:
	rm -rf $(DIST_DIR)/root && mkdir -p $(DIST_DIR)/root/usr/local/bin $(DIST_DIR)/root/etc/shale \
		$(DIST_DIR)/root/lib/systemd/system $(DIST_DIR)/root/usr/local/share/doc/shale
	CGO_ENABLED=0 GOOS=$(GOOS) GOARCH=$(GOARCH) $(GO) build -trimpath \
		-ldflags "-s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)" \
		-o $(DIST_DIR)/root/usr/local/bin/shale ./cmd/shale
	cp deploy/shale.example.yaml $(DIST_DIR)/root/etc/shale/shale.example.yaml
	cp deploy/shale.service $(DIST_DIR)/root/lib/systemd/system/shale.service
	cp README.md docs/OPERATIONS.md docs/CONFIG.md $(DIST_DIR)/root/usr/local/share/doc/shale/
	if [ -f LICENSE ]; then cp LICENSE $(DIST_DIR)/root/usr/local/share/doc/shale/; fi
	# Files only, owned by root: extracting over / creates missing
	# directories and never changes the owner or mode of existing ones.
	tar -C $(DIST_DIR)/root --owner=0 --group=0 --numeric-owner -czf $(DIST_DIR)/shale-$(VERSION)-$(GOOS)-$(GOARCH).tar.gz \
		$$(cd $(DIST_DIR)/root && find . -type f | sed 's|^\./||' | sort)
	rm -rf $(DIST_DIR)/root
	@echo "$(DIST_DIR)/shale-$(VERSION)-$(GOOS)-$(GOARCH).tar.gz"

clean:
	rm -rf bin dist $(DATA_DIR)
