# Every target installs what it needs first; a fresh clone needs Python 3.11+, Java 17+ and Maven.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
KAFKA_LIBS := .cache/kafka-libs

.PHONY: run test test-unit test-faults lint bench demo k8s-check clean deps

deps: $(VENV)/.installed $(KAFKA_LIBS)/.resolved

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

$(KAFKA_LIBS)/.resolved: deploy/local/pom.xml
	rm -rf $(KAFKA_LIBS)
	mvn --quiet --batch-mode -f deploy/local/pom.xml dependency:copy-dependencies \
		-DincludeScope=runtime -DoutputDirectory=$(CURDIR)/$(KAFKA_LIBS)
	touch $@

run: deps ## start the whole platform with a seeded demo workspace (Ctrl-C stops it)
	$(BIN)/python -m deploy.local.run

test: deps ## unit, integration (real Kafka + Postgres) and end-to-end tests
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-faults: deps ## kill -9 each process, restart the broker and Postgres under load; exact counts (~3 min quiet)
	$(BIN)/python -m pytest tests/faults -m faults -s $(PYTEST_ARGS)

test-unit: deps
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

lint: deps
	$(BIN)/ruff check .
	$(BIN)/mypy services gateway deploy/local bench
	$(BIN)/lint-imports

bench: deps ## benchmarks, each printed next to a baseline measured in the same run
	$(BIN)/python -m bench

demo: deps ## against a running `make run`: watch a join travel gateway → members → Kafka → metrics
	$(BIN)/python -m deploy.local.walkthrough

k8s-check: ## render every kustomize overlay and check what it renders
	bash deploy/k8s/check.sh

clean: ## wipe local data (.run/, and the Postgres home outside it that .run/pg leads to as root); caches stay
	@home=$$(readlink .run/pg 2>/dev/null); \
	if [ -n "$$home" ] && [ -f "$$home/.qunyun-postgres-home" ]; then rm -rf "$$home"; fi
	rm -rf .run
