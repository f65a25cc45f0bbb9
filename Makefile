# The two commands: `make run` installs everything, builds the demo index and starts the app;
# `make test` installs what the tests need and runs them.
PYTHON ?= python3
PORT ?= 8501

.PHONY: run install demo app test install-test bench

run: install demo app

install:
	$(PYTHON) -m pip install -q -r requirements.txt

demo:
	HF_HUB_OFFLINE=1 $(PYTHON) -m backend ingest data/demo --collection demo

app:
	HF_HUB_OFFLINE=1 $(PYTHON) scripts/serve.py --server.headless true --server.port $(PORT)

test: install-test
	HF_HUB_OFFLINE=1 $(PYTHON) -m pytest -q -ra

install-test:
	$(PYTHON) -m pip install -q -r requirements-dev.txt
	bash scripts/install-chromium.sh

bench:
	HF_HUB_OFFLINE=1 $(PYTHON) -m bench
