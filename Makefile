# ehealth-hub: `make demo` runs the sandbox, `make test` runs every check. Both create .venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# The lock: every package of the resolved environment (runtime, dev and the build backend), each
# pinned with its hashes. Written by `make lock` / `make upgrade`; installed exactly by every target.
LOCK   := requirements.lock
# uv resolves and installs; it is itself pinned and lives in its own small venv.
UV_VERSION := 0.13.8
TOOLS  := .venv-tools
UV     := $(TOOLS)/bin/uv
COMPILE = $(UV) pip compile --quiet --universal --python-version 3.11 --generate-hashes \
          --extra dev --custom-compile-command 'make lock' -o $(LOCK) pyproject.toml

# axe-core (accessibility checker, MPL-2.0) for the console's browser tests: from the npm registry,
# pinned, into a git-ignored folder; never shipped with the hub.
AXE_VERSION := 4.14.1
AXE := .cache/axe-core-$(AXE_VERSION)/axe.min.js

.PHONY: demo test bench lint typecheck lock upgrade system-deps fhir-validator clean

$(UV):
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python >= 3.11 required"'
	@$(PYTHON) -m venv $(TOOLS)
	@$(TOOLS)/bin/python -m pip install -qq --disable-pip-version-check uv==$(UV_VERSION)

# A changed lock or pyproject.toml reinstalls: `pip sync` makes the venv equal the lock (it removes
# what the lock no longer names), then the project itself goes in, editable, with the locked backend.
$(STAMP): $(UV) $(LOCK) pyproject.toml
	@test -x $(BIN)/python || $(UV) venv --quiet --python $(PYTHON) $(VENV)
	@$(UV) pip sync --quiet --require-hashes --python $(BIN)/python $(LOCK)
	@$(UV) pip install --quiet --no-deps --no-build-isolation --python $(BIN)/python -e .
	@touch $(STAMP)

# Re-resolve after editing dependencies in pyproject.toml (keeps every pin that still fits) ...
lock: $(UV)
	$(COMPILE)

# ... or to move every package to the newest version pyproject.toml allows (then run `make test`).
upgrade: $(UV)
	$(COMPILE) --upgrade

# Debian tools the interoperability tests compare against (xmlsec1, openssl), and the headless
# browser the console's browser tests drive (chromium + chromium-driver). Installed when we are
# root with apt; otherwise those tests skip and say why.
system-deps: $(AXE)
	@command -v xmlsec1 >/dev/null && command -v openssl >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq xmlsec1 openssl >/dev/null) \
	      || echo "warning: could not install xmlsec1/openssl; interoperability tests will skip"; \
	  else echo "note: xmlsec1/openssl missing and not root; interoperability tests will skip"; fi; }
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) \
	      || echo "warning: could not install chromium; the console's browser tests will skip"; \
	  else echo "note: chromium missing and not root; the console's browser tests will skip"; fi; }

# axe-core for the console's accessibility checks (see AXE above).
$(AXE):
	@command -v npm >/dev/null || { echo "note: npm missing; the accessibility checks will skip"; exit 0; }; \
	  mkdir -p $(@D) && cd $(@D) && npm pack --silent axe-core@$(AXE_VERSION) >/dev/null \
	  && tar -xzf axe-core-$(AXE_VERSION).tgz package/axe.min.js && mv package/axe.min.js . \
	  && rm -rf package axe-core-$(AXE_VERSION).tgz \
	  || echo "warning: could not fetch axe-core; the accessibility checks will skip"

# Independent FHIR validators (FHIR.js and @medplum/core, pinned by the lock beside them) that the
# conformance tests run against the HL7-BE profiles; installed when missing or when the lock
# changed. Without node/npm those tests skip and say why.
VALIDATOR := tools/fhir-validator
$(VALIDATOR)/node_modules/.package-lock.json: $(VALIDATOR)/package-lock.json
	@if command -v npm >/dev/null; then cd $(VALIDATOR) && npm ci --no-audit --no-fund --silent; \
	  else echo "note: npm missing; the independent FHIR validation tests will skip"; fi

fhir-validator: $(VALIDATOR)/node_modules/.package-lock.json

demo: $(STAMP)
	$(BIN)/ehealth-hub demo

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy src

test: $(STAMP) system-deps fhir-validator lint typecheck
	rm -f .coverage .coverage.*
	$(BIN)/coverage run -m pytest
	$(BIN)/coverage combine --quiet
	$(BIN)/coverage report

bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) $(TOOLS) $(VALIDATOR)/node_modules .cache .coverage .coverage.* .mypy_cache .ruff_cache .pytest_cache
