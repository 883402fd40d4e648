# loopmq: an MQTT broker on gnet for massive connection counts.
# `make run` starts the broker with defaults; `make test` is what CI runs.

GO        ?= go
BIN       := bin
PKGS      := ./...
FUZZTIME  ?= 10s
BENCHTIME ?= 1s

.PHONY: all build run test test-short test-budgets vet fmt bench bench-go bench-compare fuzz fuzz-smoke mutate clean

all: build

build:
	@mkdir -p $(BIN)
	@for d in tools/*/; do \
		if [ -f $$d/main.go ]; then \
			n=$$(basename $$d); echo "go build -o $(BIN)/$$n ./$$d"; \
			$(GO) build -o $(BIN)/$$n ./$$d || exit 1; \
		fi; \
	done

run: build
	./$(BIN)/loopmq

vet:
	$(GO) vet $(PKGS)

fmt:
	gofmt -l -w $$(git ls-files '*.go')

# BUDGETS names the memory and allocation budget tests (Test...Memory, Test...DoesNotAllocate, TestZeroAllocs,
# TestBytesPer...). Those that the race detector would distort are not built under -race (`//go:build !race`),
# so test-budgets runs them all without it.
BUDGETS := Memory$$|DoesNotAllocate$$|ZeroAllocs$$|^TestBytesPer

# test: vet, the whole suite under the race detector, the budgets without it, then a short fuzz smoke
# of every fuzz target (the seed corpus already ran as part of go test). No -parallel: the t.Parallel tests
# (the conformance suite) run GOMAXPROCS at a time, go test's default, which follows the machine.
test: vet
	$(GO) test -race -count=1 -timeout 20m $(PKGS)
	$(MAKE) test-budgets
	$(MAKE) fuzz-smoke FUZZTIME=5s

# test-budgets: memory per connection and zero allocations, without -race (see BUDGETS).
test-budgets:
	$(GO) test -count=1 -timeout 10m -run '$(BUDGETS)' $(PKGS)

test-short:
	$(GO) test -count=1 -short $(PKGS)

# fuzz-smoke runs each Fuzz* target for FUZZTIME (tests/fuzz-smoke.sh: it retries a target only for the Go
# fuzzing coordinator's bare deadline race, which writes no failing input).
fuzz-smoke:
	FUZZTIME=$(FUZZTIME) GO=$(GO) tests/fuzz-smoke.sh $(PKGS)

# fuzz: longer runs while developing, e.g. `make fuzz FUZZTIME=5m`.
fuzz: fuzz-smoke

# mutate: break named broker behaviours one at a time in a copy of the tree (the table in tools/mutate/main.go)
# and check that a real-client test catches each; fails if one survives or its anchor is gone.
mutate:
	$(GO) run ./tools/mutate $(MUTATE_FLAGS)

# bench: the Go micro-benchmarks, then a short harness comparison of loopmq, Mosquitto and NATS
# (bench/figures.sh with short durations; `make bench-compare DUR=5s CONNS=19000` for the recorded figures).
bench: bench-go
	$(MAKE) bench-compare DUR=$${DUR:-2s} CONNS=$${CONNS:-2000}

bench-go:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) $(PKGS)

bench-compare: build
	DUR=$${DUR:-5s} CONNS=$${CONNS:-19000} bench/figures.sh

clean:
	rm -rf $(BIN)
