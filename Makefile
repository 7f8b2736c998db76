# Two commands for a fresh machine:  `make run` (set up, then the main job)  and  `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
MAIN_JOB := -m strategy=full,partial,feature,prompt,lora

.PHONY: setup run lint test test-fast bench clean

setup: $(VENV)/.installed

# torch first, from the CPU wheel: any other torch requirement would pull a multi-GB CUDA build
$(VENV)/.installed: pyproject.toml sweep/zoo/assets.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[test]"
	$(BIN)/python -m sweep.zoo.install
	touch $@

run: setup
	$(BIN)/python -m sweep.run $(MAIN_JOB)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/python -m pytest -q -rs -n 2 --dist loadgroup --durations=10 -m "not cluster"
	$(BIN)/python -m pytest -q -rs --durations=5 -m cluster   # one cluster, on fixed ports: serially (skips, with its reason, without root)

test-fast: setup
	$(BIN)/python -m pytest -q -rs -m "not slow"

bench: setup
	$(BIN)/python -m tests.benchmarks.suite --readme

clean:
	rm -rf outputs/runs outputs/multirun outputs/cache
