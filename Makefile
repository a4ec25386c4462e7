# natschaos — every target a newcomer or CI needs. `make help` lists them.
GO      ?= go
BIN     ?= bin/natschaos
PKGS    ?= ./...
TIMEOUT ?= 20m
FALSE_ALARM_RUNS ?= 20
FUZZTIME ?= 20s
# package:fuzzer pairs that `make fuzz` runs, FUZZTIME each
FUZZERS ?= ./chaos:FuzzScenario ./history:FuzzUnmarshal ./history:FuzzReader \
	./protocol/ackreply:FuzzParse ./protocol/ackreply:FuzzRoundTrip ./harness/observe:FuzzConnTap \
	./harness/api:FuzzTasksBody ./harness/api:FuzzResultBody

.PHONY: help build run test test-short vet fmt bench verify repro-batch-reserve false-alarms fuzz mutation exit-codes clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-22s %s\n", $$1, $$2}'

build: ## build bin/natschaos
	$(GO) build -o $(BIN) ./cmd/natschaos

run: build ## run the default scenario suite against the embedded stack
	./$(BIN) run

# -p 1: the scenario tests judge timing against ack_wait; run side by side on
# two cores under -race, packages starve each other's stacks into false alarms.
test: ## every test, with the race detector
	$(GO) test -race -p 1 -timeout $(TIMEOUT) $(PKGS)

test-short: ## the fast subset
	$(GO) test -race -short -timeout $(TIMEOUT) $(PKGS)

vet: ## go vet, gofmt, go mod tidy -diff, and no file outside tests over 450 lines
	$(GO) vet $(PKGS)
	$(GO) mod tidy -diff
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change: $$out"; exit 1; fi
	@out=$$(wc -l $$(git ls-files '*.go' ':!:*_test.go') | awk '$$2 != "total" && $$1 > 450'); \
		if [ -n "$$out" ]; then echo "over 450 lines (split by concern): $$out"; exit 1; fi

bench: ## benchmarks: stack start-up, end-to-end throughput vs raw JetStream, checkers on 1M events
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 3x $(PKGS)

MUTANTS ?= 30
mutation: ## mutation score (not in CI): single-point mutants of harness/api, each against the fast scenarios
	$(GO) run ./cmd/mutate -max $(MUTANTS)

verify: build ## the verification matrix: every known-bad variant must be caught
	./$(BIN) verify

repro-batch-reserve: build ## the incident: reserve-one-by-one must fail, the fix must pass (both in under 10 s)
	@echo "== the bug: reserve-one-by-one under api-nats latency must FAIL (orphaned, stall, tasks-latency, round-trips)"
	./$(BIN) run --scenario batch-reserve-incident --variant reserve-one-by-one --out natschaos-results/repro-batch-reserve/bad; test $$? -eq 1
	@echo "== the fix: the good variant (one pull per /tasks) must PASS"
	./$(BIN) run --scenario batch-reserve-incident --variant good --out natschaos-results/repro-batch-reserve/good

false-alarms: ## the healthy baseline FALSE_ALARM_RUNS (20) times: false alarms must be 0
	NATSCHAOS_FALSE_ALARM_RUNS=$(FALSE_ALARM_RUNS) $(GO) test -count=1 -v -run '^TestBaselineNoFalseAlarms$$' -timeout $(TIMEOUT) ./chaos

fuzz: ## every fuzzer for FUZZTIME (20s) each: scenario YAML, history lines, ack subjects, API bodies
	@set -e; for f in $(FUZZERS); do \
		pkg=$${f%%:*}; name=$${f##*:}; \
		echo "== $$name ($$pkg, $(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg; \
	done

exit-codes: build ## the exit code of each way out (usage errors, verdicts, a history over 1 MiB, SIGTERM), as a table
	BIN=$(BIN) scripts/exit-codes.sh

clean: ## remove build output and results
	rm -rf bin natschaos-results
