# Everything a fresh machine needs: `make demo` runs the main job on the
# embedded demo data, `make test` runs the test suite. Both set up .venv first.
PY := .venv/bin/python

.PHONY: setup demo test

setup:
	bash tools/setup_env.sh

demo: setup
	$(PY) tools/run_demo.py $(ARGS)

test: setup
	$(PY) -m pytest tests $(PYTEST_ARGS)
