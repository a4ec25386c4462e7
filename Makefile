# natschaos — every target a newcomer or CI needs. `make help` lists them.
GO      ?= go
BIN     ?= bin/natschaos
PKGS    ?= ./...
TIMEOUT ?= 20m

.PHONY: help build run test test-short vet fmt bench verify repro-batch-reserve false-alarms fuzz clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-22s %s\n", $$1, $$2}'

build: ## build bin/natschaos
	$(GO) build -o $(BIN) ./cmd/natschaos

run: build ## run the default scenario suite against the embedded stack
	./$(BIN) run

test: ## every test, with the race detector
	$(GO) test -race -timeout $(TIMEOUT) $(PKGS)

test-short: ## the fast subset
	$(GO) test -race -short -timeout $(TIMEOUT) $(PKGS)

vet: ## go vet and gofmt
	$(GO) vet $(PKGS)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change: $$out"; exit 1; fi

bench: ## benchmarks: stack start-up, end-to-end throughput vs raw JetStream, checkers on 1M events
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 3x $(PKGS)

verify: build ## the verification matrix: every known-bad variant must be caught
	./$(BIN) verify

repro-batch-reserve: build ## the incident: reserve-one-by-one must fail, the fix must pass
	./$(BIN) run --scenario http-timeout-batch --variant reserve-one-by-one --out natschaos-results/repro-bad; test $$? -eq 1
	./$(BIN) run --scenario http-timeout-batch --out natschaos-results/repro-good

clean: ## remove build output and results
	rm -rf bin natschaos-results
