# Two commands for a fresh machine: `make demo` and `make test`. Each bootstraps what it needs.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: test demo bench lint proto bootstrap tools clean reliability-tables

$(STAMP): pyproject.toml
	bash scripts/install_system_packages.sh
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

bootstrap: $(STAMP)

tools: ## the official Depot clients from npm, dockerd for a local BuildKit, docker-buildx
	bash scripts/install_build_tools.sh
	bash scripts/npm_install.sh

test: bootstrap tools lint
	$(BIN)/pytest -q -p no:cacheprovider $(PYTEST_ARGS)

lint: bootstrap
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python scripts/gen_proto.py --check

demo: bootstrap
	bash scripts/install_build_tools.sh >/dev/null
	$(BIN)/python scripts/demo.py $(DEMO_ARGS)

bench: bootstrap tools
	$(BIN)/python bench/run_all.py

reliability-tables: bootstrap tools ## run tests/reliability and rewrite README.md's tables from it
	$(BIN)/python scripts/reliability_tables.py

proto: bootstrap
	$(BIN)/python scripts/gen_proto.py

clean:
	rm -rf $(VENV) .cache
