# Two commands for a fresh clone: `make demo` renders, `make test` runs the tests.
# Both create .venv and install fvcli into it first. `make test-fast` is the edit-test loop:
# job files, plans, the store, collect and the command line on the demo model (about 40 s).
VENV := .venv
PYTHON := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast bench install clean

demo: $(STAMP)
	$(VENV)/bin/fvcli render configs/demo.yaml --out renders/demo
	$(VENV)/bin/fvcli examples configs/demo.yaml --out renders/demo
	@echo "Open renders/demo/index.html in a browser (or renders/demo/*/grid.png) to see the results."

test: $(STAMP)
	$(PYTHON) -m pytest -q

test-fast: $(STAMP)
	$(PYTHON) -m pytest -q -m "not slow"

bench: $(STAMP)
	$(PYTHON) bench/bench.py $(BENCH_ARGS)

install: $(STAMP)

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) renders .pytest_cache
