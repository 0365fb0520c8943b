# supportkb: two commands on a fresh machine with Python 3.11 and make.
#   make demo   install, ingest the sample corpus, start the API and show example requests
#   make test   install and run the test suite
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
KB_HOME ?= ./kb-data
PORT ?= 8000

# Offline: no model or data is fetched at run time (the code sets these too).
export HF_HUB_OFFLINE=1
export TRANSFORMERS_OFFLINE=1
export DO_NOT_TRACK=1
export SCARF_NO_ANALYTICS=1
export RAGAS_DO_NOT_TRACK=true
export OPENBLAS_NUM_THREADS=1
export TOKENIZERS_PARALLELISM=false

.PHONY: install demo test lint bench clean

$(BIN)/.installed: requirements.lock constraints.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) (or run: make PYTHON=python3 ...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first, pinned: any other torch request pulls a multi-GB CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -r requirements.lock -c constraints.txt
	$(BIN)/pip install -q --no-deps -e .
	touch $@

install: $(BIN)/.installed

demo: install
	KB_HOME=$(KB_HOME) PORT=$(PORT) BIN=$(BIN) bash scripts/demo.sh

test: install
	@# pytest exits 5 when it collects no tests: say so plainly instead of failing make with a bare error 2.
	$(BIN)/python -m pytest -q $(PYTEST_ARGS) || { rc=$$?; if [ $$rc -eq 5 ]; then echo 'pytest: no tests collected'; exit 0; fi; exit $$rc; }

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy core ingest retrieval answering triage learning service api eval cli

bench: install
	$(BIN)/python -m eval.bench_retrieval

clean:
	rm -rf $(KB_HOME) .pytest_cache .mypy_cache .ruff_cache
