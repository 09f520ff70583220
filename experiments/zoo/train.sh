#!/usr/bin/env bash
# Trains the model zoo (experiments/plans/zoo.toml: the 24 models in the campaign issue's order, with
# the thesis's recipe and the zoo's stated departures, ZOO_RECIPE in experiments/campaign/names.py),
# resumably: a finished model is skipped (its sidecar matches), a killed one continues from its last
# epoch (NAME.pt.state). When all are done, it writes experiments/results/zoo.md.
# Two independent trainings at a time, each on half the cores: on a 2-core CPU two quant trainings made 1.3-1.4x
# the images per second of one on both cores, float ResNet-56 0.9x (README, "Training speed"), and most trainings
# left are quant ones; a --jobs given here overrides it.
#   experiments/zoo/train.sh [axx reproduce options]     (CIFAR10_DIR must point at the full CIFAR-10)
set -euo pipefail
cd "$(dirname "$0")/../.."
AXX=${AXX:-.venv/bin/axx}
exec $AXX reproduce zoo --resume --quiet --jobs 2 "$@"
