# Shale: `make run` starts a single-node broker; `make test` runs every test.
GO        ?= go
BIN       := bin/shale
DATA_DIR  ?= shale-data
LISTEN    ?= 127.0.0.1:9092
TEST_TIMEOUT ?= 25m
FUZZTIME  ?= 15s

.PHONY: all build run test test-deps unit vet fuzz bench clean

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

clean:
	rm -rf bin $(DATA_DIR)
