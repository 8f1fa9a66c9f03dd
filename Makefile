# vossim: `make demo` and `make test` set up everything they need on a fresh Debian machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
APT := DEBIAN_FRONTEND=noninteractive apt-get

.PHONY: demo test lint bench bench-live fuzz system-deps clean training compiled docs \
	mariadb mariadb-stop

$(STAMP): pyproject.toml
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { $(APT) update -qq && $(APT) install -y -qq python3-venv && $(PYTHON) -m venv $(VENV); }
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev,live]'
	@touch $(STAMP)

# Real peers used by the tests: SIPp (Debian sip-tester), tshark, MariaDB (the tests start a
# private server) and chromium (the HTML page test). Installed as root when missing.
system-deps:
	@missing=""; \
	command -v sipp >/dev/null 2>&1 || missing="$$missing sip-tester"; \
	command -v tshark >/dev/null 2>&1 || missing="$$missing tshark"; \
	command -v baresip >/dev/null 2>&1 || missing="$$missing baresip"; \
	{ command -v mariadbd || test -x /usr/sbin/mariadbd; } >/dev/null 2>&1 || missing="$$missing mariadb-server"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
		echo "installing$$missing"; \
		$(APT) update -qq && echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections && \
		$(APT) install -y -qq $$missing; \
	fi

demo: $(STAMP)
	$(BIN)/vossim run scenarios/demo.yaml -o out --format pipe,e_cdr,sqlite,jsonl --trace out/trace.jsonl
	@echo; echo "First CDR lines (cdr/*.txt):"; head -n 5 out/cdr/*.txt

# A private MariaDB server for --format mariadb (data in .mariadb/, 127.0.0.1, a free port): prints
# the --db URL to use and keeps it in .mariadb/url. `make mariadb-stop` stops it; the data stays.
mariadb: $(STAMP)
	@{ command -v mariadbd || test -x /usr/sbin/mariadbd; } >/dev/null 2>&1 || { \
		$(APT) update -qq && $(APT) install -y -qq mariadb-server; }
	@$(BIN)/python bench/private_mariadb.py start

mariadb-stop: $(STAMP)
	@$(BIN)/python bench/private_mariadb.py stop

# Every explain page of scenarios/training/ (one per kind of server hangup) and an index.
training: $(STAMP)
	$(BIN)/python -m simulator.explain.training scenarios/training out/training
	@echo "open out/training/index.html"

# The tables of docs/decision-table.md, written from simulator/core/_decisions.py (a test fails
# when they are stale).
docs: $(STAMP)
	$(BIN)/python -m simulator.explain._decision_doc docs/decision-table.md

lint: $(STAMP)
	$(BIN)/ruff check simulator cdr_writer tests bench

test: $(STAMP) system-deps
	$(BIN)/ruff check simulator cdr_writer tests bench
	$(BIN)/vossim check scenarios/
	VOSSIM_CORE=python $(BIN)/python -m pytest -q -n 2 tests

# The compiled core: simulator/core built with mypyc into build/compiled. The editable install
# above builds it too (simulator/_build_hook.py); a run uses it by default while it matches the
# sources (same CDRs, byte for byte; see simulator/_core_choice.py). Rebuilt here when a source
# of the core changes; VOSSIM_CORE=python runs the pure core.
COMPILED := build/compiled/manifest.json
$(COMPILED): $(STAMP) $(wildcard simulator/core/*.py) simulator/_compiled.py simulator/_core_choice.py
	VOSSIM_CORE=python $(BIN)/python -m simulator._compiled build

compiled: $(COMPILED)

bench: $(STAMP) system-deps $(COMPILED)
	$(BIN)/python bench/run.py --results docs/benchmarks.md
	$(BIN)/python bench/pipeline.py --results docs/benchmarks.md
	$(BIN)/python bench/audit.py

# Mutated copies of scenarios/ through the loader and a run: 0 tracebacks, hangs, unplaced errors.
fuzz: $(STAMP)
	$(BIN)/python bench/fuzz_scenarios.py --cases 3000 --timeout 20 --workers 2

# SIPp uac -> vossim live -> SIPp uas at rising rates, SIPp -> SIPp directly, concurrency, profile;
# then 10,000 unACKed INVITEs in 2.6 s beside SIPp at 20 CPS (bench/live/flood.py).
bench-live: $(STAMP) system-deps
	$(BIN)/python bench/live/run.py
	$(BIN)/python bench/live/flood.py

clean:
	rm -rf out .pytest_cache .ruff_cache build *.egg-info
