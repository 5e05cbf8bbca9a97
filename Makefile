# The front doors. Each target sets up what it needs first, so a fresh clone needs only these.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
export GX_ANALYTICS_ENABLED := false
export DAGSTER_HOME := $(CURDIR)/.dagster_home

.PHONY: install run test check lint test-spark test-bench ui serve clean browser bench bench-spark

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

run: install
	$(BIN)/warehouse refresh

# A pytest-xdist worker per core (-n auto): each test has its own warehouse home, so no two
# write one DuckDB file; the shared build is made once, by whichever worker asks first.
# The tests' warehouse and Dagster homes go to memory (/dev/shm) where it has room for them (~2 GB
# at the peak; pytest keeps only failed tests' folders): each refresh writes hundreds of run events
# to SQLite and syncs DuckDB files, which memory makes cheaper (bench/NOTES.md).
TEST_TMPDIR := $(shell [ -w /dev/shm ] && [ "$$(df -Pk /dev/shm | awk 'NR==2 {print $$4}')" -gt 4000000 ] && echo /dev/shm || echo "$${TMPDIR:-/tmp}")
PYTEST := TMPDIR=$(TEST_TMPDIR) $(BIN)/pytest -n auto --dist worksteal

test: install browser
	$(PYTEST) --durations=15

# The inner loop: lint, then every module's fast tests on one shared build (no test that runs refreshes of its own).
check: lint browser
	$(PYTEST) -m "not slow and not spark and not bench"

# ruff (pinned in the dev extra, configured in pyproject.toml): the linter, and the formatter as a check.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The benchmark scripts end to end at a tiny size, so they never rot (no timing asserted; CI runs it).
test-bench: install
	TMPDIR=$(TEST_TMPDIR) $(BIN)/pytest -m bench

# The same dbt models on Apache Spark (PySpark, local mode), compared with the DuckDB build.
test-spark: $(VENV)/.installed-spark
	TMPDIR=$(TEST_TMPDIR) $(BIN)/pytest -m spark

$(VENV)/.installed-spark: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[dev,spark]'
	touch $@

# Headless Chromium for the report's browser test (Debian packages). Where it cannot be installed
# the test skips, saying so; in CI (CI=true) both this step and the test fail instead.
browser:
	@(command -v chromium && command -v chromedriver) >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null) || \
	  { echo "chromium could not be installed: the browser test will be skipped"; [ "$$CI" != true ]; }


# Refresh cost, full-WDI-scale ingestion and query latency, written to bench/RESULTS.md (~40 min).
# More sections or other sizes: make bench BENCH_ARGS="--sizes 50,500".
bench: install
	$(BIN)/python -m bench $(BENCH_ARGS)

# The same, with the models built on Apache Spark at 500 series and every table compared (~10 min more).
bench-spark: $(VENV)/.installed-spark
	$(BIN)/python -m bench --spark $(BENCH_ARGS)

ui: install
	$(BIN)/warehouse ui

# The analysts' door: http://127.0.0.1:8765 (docs/querying.md, "For analysts: the served warehouse").
serve: install
	$(BIN)/warehouse serve

clean:
	rm -rf warehouse/build warehouse/warehouse.duckdb dbt_project/target dbt_project/logs
