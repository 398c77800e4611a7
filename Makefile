VENV ?= .venv
# the full MNIST / Fashion-MNIST for tests and benchmarks: ../shared/datasets beside the checkout
MLPLAB_DATA ?= $(firstword $(wildcard $(CURDIR)/../shared/datasets /work/shared/datasets) $(CURDIR)/../shared/datasets)
export MLPLAB_DATA
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test test-fast bench clean

$(STAMP): pyproject.toml mlplab-keras-backend.pth
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	cp mlplab-keras-backend.pth "$$($(PY) -c 'import sysconfig; print(sysconfig.get_path("purelib"))')/"   # KERAS_BACKEND=jax when unset (setup.py)
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/mlplab run

test: $(STAMP)
	$(PY) -m pytest -q

# the tests that neither train, spawn a process nor open a browser: a signal in well under 90 s
test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow"

bench: $(STAMP)
	$(PY) bench/epoch.py
	$(PY) bench/sweep.py
	$(PY) bench/stats_overhead.py

clean:
	rm -rf $(VENV) mlplab-runs
