# Quick start:  make luts   (build and verify the multiplier tables)
#               make test   (the test suite; what CI runs)
SHELL   := /bin/bash
VENV    := .venv
BIN     := $(VENV)/bin
SCHEME  ?= marlin
SIM     ?= verilator
PYTEST_ARGS ?=

.PHONY: venv luts cost assess bench-cost test test-all demo demo-search reproduce results reproduce-quick bench bench-search bench-train bench-precision bench-sweep lint-rtl hdl clean

venv: $(VENV)/.stamp
$(VENV)/.stamp: pyproject.toml scripts/setup_venv.sh
	bash scripts/setup_venv.sh

## Sweep the RTL (all 256 levels x 65,536 operand pairs), verify against the model, write luts/$(SCHEME)/
luts: venv
	$(BIN)/axx luts --scheme $(SCHEME) --sim $(SIM) --out luts/$(SCHEME)

## Gate-level power and area proxies per level (luts/<scheme>/cost.csv, cost.png); `make luts` makes them too
cost: venv
	$(BIN)/axx cost --scheme $(SCHEME)

## A scheme's levels on a trained network beside their cost (artifacts/assess/<scheme>/); ASSESS_ARGS adds options
assess: venv
	$(BIN)/axx assess --scheme $(SCHEME) $(ASSESS_ARGS)

## The cost model's time: synthesis + 256 levels x 100,000 vectors, bit-parallel vs booleans
bench-cost: venv
	$(BIN)/python -m lut_build.bench_cost --scheme $(SCHEME)

## Default test suite (CI): model, RTL on both simulators, artifacts, CLI
test: venv
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

## Everything, including the slow marker (e.g. the exhaustive Icarus sweep of every scheme)
test-all: venv
	$(BIN)/python -m pytest -q -m "slow or not slow" $(PYTEST_ARGS)

## The main ML job on a small budget: train, attack, evaluate, report (artifacts/demo/report/)
demo: venv
	$(BIN)/python -m experiments.demo $(DEMO_ARGS)

## The thesis campaign: the zoo, every attack, table and figure (days on a CPU: resumable; see README)
reproduce: venv
	$(BIN)/axx reproduce table4_1 table4_2 fgsm bim pgd --resume $(REPRODUCE_ARGS)

## Every results page from the models trained so far (partial pages while the zoo is being trained; no training;
## an attack killed on the way continues where it stopped)
results: venv
	$(BIN)/axx reproduce table4_1 table4_2 zoo fgsm bim pgd search --partial --resume $(REPRODUCE_ARGS)
	$(BIN)/axx reproduce beyond --partial --resume $(REPRODUCE_ARGS)

## Table 4.1 for ResNet-8 and its FGSM matrix on 1,000 images from the committed zoo, equal to the committed results
reproduce-quick: venv
	$(BIN)/python -m experiments.campaign.quick

## A small NSGA-II search on the demo's models (artifacts/demo/search/pareto.png)
demo-search: venv
	$(BIN)/python -m experiments.demo_search $(DEMO_ARGS)

## Engines vs exact float32 (per layer and whole ResNet-32), throughput per execution type
bench: venv
	mkdir -p build && $(BIN)/axx bench --json build/bench.json

## Genome evaluations of the NSGA-II search (ResNet-32), projected to the thesis's 50 x 30 x 20,000-image search
bench-search: venv
	mkdir -p build && $(BIN)/axx bench-search --json build/bench_search.json

## Training steps per second (ResNet-8/20/32/56 x float/quant x eager/compiled...), projected zoo training time
bench-train: venv
	mkdir -p build && $(BIN)/axx bench-train --json build/bench_train.json

## bf16 vs fp32 training: ResNet-8 and ResNet-20, 16 epochs, 3 seeds each (a GPU or a CPU with native bf16); PRECISION_ARGS adds options
bench-precision: venv
	$(BIN)/axx bench-precision $(PRECISION_ARGS)

## Time the exhaustive sweep + verification on both simulators
bench-sweep: venv
	$(BIN)/python -m sim.bench --scheme $(SCHEME)

## Verilator lint of the RTL (-Wall) at the supported widths
lint-rtl: venv
	$(BIN)/python -m pytest -q tests/test_hdl_sources.py

## Regenerate hdl/mult_cores.v after changing hdl/gen_cores.py
hdl:
	python3 hdl/gen_cores.py > hdl/mult_cores.v.tmp && mv hdl/mult_cores.v.tmp hdl/mult_cores.v

clean:
	rm -rf build .pytest_cache
