# The two commands: `make run` installs everything, builds the demo index and starts the app;
# `make test` installs what the tests need and runs them; `make lint` runs ruff and mypy (see pyproject.toml).
PYTHON ?= python3
HOST ?= 127.0.0.1
PORT ?= 8501
# The one server process: the Streamlit UI (app.py) and the HTTP API (/api/v1, /v1) in one st.App that owns the
# DuckDB file. The WebSocket flags keep Streamlit's own defaults (200 MB messages, no compression) over uvicorn's.
SERVE = $(PYTHON) -m uvicorn components.asgi:app --ws-max-size 209715200 --ws-per-message-deflate false

.PHONY: run install demo app test install-test lint bench

run: install demo app

install:
	$(PYTHON) -m pip install -q -r requirements.txt

demo:
	HF_HUB_OFFLINE=1 $(PYTHON) -m backend ingest data/demo --collection demo

app:
	HF_HUB_OFFLINE=1 $(SERVE) --host $(HOST) --port $(PORT)

test: install-test
	HF_HUB_OFFLINE=1 $(PYTHON) -m pytest -q -ra

install-test:
	$(PYTHON) -m pip install -q -r requirements-dev.txt
	bash scripts/install-chromium.sh

# ruff and mypy are pinned in requirements-dev.txt, so lint installs what the tests install.
lint: install-test
	$(PYTHON) -m ruff check backend components pages bench scripts tests app.py
	$(PYTHON) -m mypy backend

bench:
	HF_HUB_OFFLINE=1 $(PYTHON) -m bench
