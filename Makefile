VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/mlplab run

test: $(STAMP)
	MLPLAB_DATA=$${MLPLAB_DATA:-$(CURDIR)/../shared/datasets} $(PY) -m pytest -q

bench: $(STAMP)
	MLPLAB_DATA=$${MLPLAB_DATA:-$(CURDIR)/../shared/datasets} $(PY) bench/epoch.py

clean:
	rm -rf $(VENV) mlplab-runs
