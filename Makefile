# One verb per target; `make` alone lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

GO          ?= go
BIN         ?= $(CURDIR)/build/bin
PKGS        := ./...
WITH_EMU    := $(GO) run ./emulator/cmd/with-emulators
FUZZTIME    ?= 10s
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
GOSEC       := github.com/securego/gosec/v2/cmd/gosec@v2.30.0
# gosec rules left out, and why: G104 (unchecked Close on read paths), G115 (integer
# conversions inside bounded parsers and hashes), G304 (files named by configuration or
# flags, by design), G404 (math/rand for backoff jitter). The emulator/ tooling is not deployed.
GOSEC_FLAGS := -quiet -exclude-dir=emulator -exclude-dir=terraform -exclude=G104,G115,G304,G404

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

.PHONY: run
run: ## Run the whole system locally: emulators, topology, the three functions, the Didit simulator
	$(GO) run ./functions/cmd/local

.PHONY: demo
demo: ## Send realistic signed webhooks to a running `make run` and print the profiles
	$(GO) run ./emulator/cmd/demo

.PHONY: test
test: deps integration tf-check ## All tests: unit and integration on the real emulators, then the Terraform checks

# The model's training loop (internal/model/train/train.py) runs on Debian's python3-xgboost and
# python3-sklearn, with the system python3; `make test` runs it end to end. A fresh machine gets
# them here (as root, from Debian's packages); elsewhere the message says what to install.
PYTHON      ?= /usr/bin/python3
PY_DEBS     := python3-xgboost python3-sklearn
.PHONY: deps
deps: ## Install what the tests need beyond Go (Debian's python3-xgboost, python3-sklearn) when missing
	@if ! $(PYTHON) -c 'import xgboost, sklearn' 2>/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "deps: installing $(PY_DEBS)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(PY_DEBS) >/dev/null; \
	  else \
	    echo "deps: $(PYTHON) lacks xgboost/sklearn: install the Debian packages $(PY_DEBS)"; exit 1; \
	  fi; \
	fi

.PHONY: unit
unit: ## Unit tests (no emulators)
	$(GO) test -count=1 $(PKGS)

.PHONY: integration
integration: ## Unit + integration tests against the Pub/Sub and Firestore emulators, started and stopped here
	@mkdir -p build
	$(WITH_EMU) -log build/emulators.log -- $(GO) test -tags integration -count=1 -timeout 20m $(PKGS)

.PHONY: export-training
export-training: ## Labelled feature CSV from Firestore (emulator or ADC project): make export-training PROJECT=p OUT=training.csv
	$(GO) run ./functions/cmd/export-training -project $(PROJECT) -out $(or $(OUT),training.csv)

.PHONY: rescore
rescore: ## Re-derive every profile under the live policy after a promotion: make rescore PROJECT=p [POLICY=f.yaml] [RESCORE_ARGS="-rate 20"]
	@mkdir -p build
	$(GO) run ./functions/cmd/rescore -project $(PROJECT) $(if $(POLICY),-policy $(POLICY)) $(RESCORE_ARGS)

.PHONY: train
train: deps ## Train a model on an exported CSV: make train DATA=training.csv MODEL=build/model/my NAME=my-model
	@mkdir -p $(dir $(MODEL))
	$(PYTHON) internal/model/train/train.py --data $(DATA) --out $(MODEL) --name $(or $(NAME),model)

.PHONY: train-default
train-default: deps ## Rebuild the synthetic data and the embedded demonstration model
	$(GO) run ./internal/model/train/gendata -n 3000 -seed 1 -out internal/model/train/data/synthetic.csv
	$(PYTHON) internal/model/train/train.py --data internal/model/train/data/synthetic.csv --out internal/model/testdata/default --name synthetic-demo --data-note "3000 synthetic assessments from internal/model/train/gendata (seed 1): a demonstration, no fraud model"

.PHONY: load
load: ## Drive a running `make run` with signed webhooks, open-loop: make load LOAD_ARGS="-rate 200 -duration 30s"
	$(GO) run ./emulator/cmd/load $(LOAD_ARGS)

.PHONY: load-table
load-table: ## README's load table against a running `make run`: 5 s warm-up, then 50, 100, 200/s × 20 s, median of 3 each
	$(GO) run ./emulator/cmd/load -warmup 5s -repeat 3 -duration 20s -table 50,100,200 $(LOAD_ARGS)

.PHONY: load-knee
load-knee: ## Step the rate up until e2e p99 > 1 s or a webhook is lost (median of 3 per rate); prints the last good rate
	$(GO) run ./emulator/cmd/load -warmup 5s -repeat 3 -duration 20s -knee 50,75,100,125,150,200,300 $(LOAD_ARGS)

.PHONY: cost
cost: ## Dollars per million webhooks on Google Cloud list prices: make cost COST_ARGS="-scorer-cpu 3ms -didit-price 0.30"
	$(GO) run ./emulator/cmd/cost $(COST_ARGS)

.PHONY: bench
bench: ## Benchmarks (verification, scoring, handler)
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

.PHONY: fuzz
fuzz: ## Run every fuzz target for FUZZTIME each (default 10s)
	@set -e; for pkg in $$($(GO) list ./...); do \
	  dir=$$($(GO) list -f '{{.Dir}}' $$pkg); \
	  for t in $$(grep -hoE '^func (Fuzz[A-Za-z0-9_]+)' $$dir/*_test.go 2>/dev/null | awk '{print $$2}'); do \
	    echo "fuzz $$pkg $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

.PHONY: lint
lint: ## gofmt, go vet, staticcheck, gosec
	@out=$$(gofmt -l functions internal emulator); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) vet -tags integration $(PKGS)
	@test -x $(BIN)/staticcheck || GOBIN=$(BIN) $(GO) install $(STATICCHECK)
	$(BIN)/staticcheck -tags integration $(PKGS)
	@test -x $(BIN)/gosec || GOBIN=$(BIN) $(GO) install $(GOSEC)
	$(BIN)/gosec $(GOSEC_FLAGS) $(PKGS)

.PHONY: policy-check
policy-check: ## Validate a policy file offline: make policy-check FILE=path.yaml
	$(GO) run ./functions/cmd/policy-check $(FILE)

.PHONY: policy-diff
policy-diff: ## What changes between two policies (rules added, removed, changed): make policy-diff A=old.yaml B=new.yaml (- = default)
	$(GO) run ./functions/cmd/policy-diff $(A) $(B)

# Built, then run, so that the guard's exit status (1) reaches CI as it is (`go run` folds every
# failure into 1). PROJECT defaults to GOOGLE_CLOUD_PROJECT; FIRESTORE_EMULATOR_HOST selects the
# emulator, otherwise application default credentials reach the real project.
.PHONY: backtest
backtest: ## Re-evaluate stored assessments with a candidate: make backtest POLICY=candidate.yaml [PROJECT=p] [BACKTEST_ARGS="-latest-per-user -max-stricter 0.05 -max-looser 0.05"]; SHADOW=1 compares live and shadow
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/backtest ./functions/cmd/backtest
	$(BIN)/backtest -project "$(or $(PROJECT),$(GOOGLE_CLOUD_PROJECT))" $(if $(SHADOW),-shadow,-policy "$(POLICY)") -out $(or $(OUT),build/backtest) $(BACKTEST_ARGS)

# Built, then run, so that riskctl's exit status reaches the shell as it is. PROJECT (default
# GOOGLE_CLOUD_PROJECT) is appended as -project; FIRESTORE_EMULATOR_HOST / PUBSUB_EMULATOR_HOST
# select the emulators, otherwise application default credentials reach the real project.
.PHONY: riskctl
riskctl: ## The operators' command: make riskctl ARGS="show user-123" [PROJECT=p] (ARGS="-h" lists the subcommands)
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/riskctl ./functions/cmd/riskctl
	$(BIN)/riskctl $(ARGS) $(if $(PROJECT),-project "$(PROJECT)")

.PHONY: emulators
emulators: ## Start both emulators in the foreground (Ctrl-C stops them) and print their addresses
	$(WITH_EMU) -from-env -- sleep infinity

-include terraform/terraform.mk
