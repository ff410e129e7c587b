# Two commands are all the set-up: `make run` (demo) and `make test`. Both build .venv on first use.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Pinned CPU wheel where one is available (a laptop or CI); a GPU host sets TORCH_SPEC to its CUDA build.
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml Makefile | sha1sum | cut -c1-12)
# DeepSpeed JIT-builds its CPU comm op once; keep it in a project cache so CI and reruns pay it once.
export TORCH_EXTENSIONS_DIR ?= $(CURDIR)/.cache/torch_extensions
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false
export MLFLOW_DISABLE_TELEMETRY ?= true
export DO_NOT_TRACK ?= 1
export TOKENIZERS_PARALLELISM ?= false

PIP := $(BIN)/python -m pip install --quiet
# This machine's pip config names index folders that may be absent: drop those warnings, keep pip's exit code.
QUIET_PIP := 2>&1 | { grep -v 'is ignored: it is neither' || true; }; exit $${PIPESTATUS[0]}

.PHONY: install run test test-fast bench gpu-check lint serve deploy clean

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip $(QUIET_PIP)
	$(PIP) "$(TORCH_SPEC)" $(QUIET_PIP)
	$(PIP) -e '.[dev,demo]' $(QUIET_PIP)
	rm -f $(VENV)/.installed-*
	touch $@

run: $(STAMP)
	$(BIN)/account-tax demo

# Every test: the fast tier on both cores, then the slow tier (training, servers) one at a time, its slowest
# tests listed at the end so the next split can be planned from a CI log.
test: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow" -n 2
	$(BIN)/python -m pytest -q -m slow --durations=30

# The edit-test loop: everything not marked slow, on both cores, a test that runs past 2 min fails by its name
# (~3.5 min on 2 cores; tests/_tiers.py keeps a few cases of each flow-level family). `make test` stays the complete
# suite (CI runs it).
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow" -n 2 --timeout 120

# Benchmarks against their floors (P1-P6, over 45 min on 2 cores: bench/README.md); writes bench/RESULTS.md.
bench: $(STAMP)
	$(BIN)/python -m bench.run $(BENCH_ARGS)

# GPU readiness: real-size Qwen3 shapes through train_model and the launcher, checks and tokens/s; writes
# bench/RESULTS-gpu.md. One line and exit 0 where no GPU is visible. On a GPU host: TORCH_SPEC=torch (its CUDA
# build) and `$(BIN)/pip install -e '.[gpu]'` for the Liger kernels; GPU_ARGS="--only throughput" runs one stage.
gpu-check: $(STAMP)
	$(BIN)/python -m bench.gpu_check $(GPU_ARGS)

# SERVE_ARGS="--host 0.0.0.0" for a team: then PREFECT_API_AUTH_STRING and MLFLOW_TRACKING_USERNAME / _PASSWORD
# must be set (deployments/README.md, Authentication).
serve: $(STAMP)
	$(BIN)/python -m deployments.serve $(SERVE_ARGS)

# Work pools + every deployment of prefect.yaml, against $PREFECT_API_URL (e.g. the server of `make serve`);
# STORE=s3://bucket/prefix also registers the shared result storage and the crashed-host automation.
deploy: $(STAMP)
	test -n "$$PREFECT_API_URL" || { echo "set PREFECT_API_URL, e.g. http://127.0.0.1:4200/api"; exit 2; }
	$(BIN)/prefect work-pool create cpu --type process --overwrite
	$(BIN)/prefect work-pool create gpu --type process --base-job-template deployments/gpu-process-pool.json --overwrite
	ACCOUNT_TAX_HOME=$(CURDIR) $(BIN)/prefect --no-prompt deploy --all
	if [ -n "$(STORE)" ]; then $(BIN)/python -m deployments.shared_store "$(STORE)"; fi

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache

clean:
	rm -rf $(VENV) .cache data/demo
