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

# one session: the cluster's tests are one xdist group (one cluster on fixed ports, its tests in turn on one worker;
# they skip, with the reason, without root) and spend part of their time waiting on SLURM and its services, so a
# third worker runs them beside the rest (28 min 21 s here, against about 32 min for two sessions one after the
# other; tests/conftest.py gives each worker its share of threads)
test: lint
	$(BIN)/python -m pytest -q -rs -n 3 --dist loadgroup --durations=15

test-fast: setup
	$(BIN)/python -m pytest -q -rs -m "not slow"

bench: setup
	$(BIN)/python -m tests.benchmarks.suite --readme

clean:
	rm -rf outputs/runs outputs/multirun outputs/cache
