#!/usr/bin/env bash
# Trains the model zoo with the thesis's recipe (axx train defaults), resumably, in the order of the
# campaign issue: ResNet-8 (all 6), ResNet-20 float and quant, ResNet-32 (all 6), ResNet-56 float, the rest.
# Re-run it to resume: a finished model is skipped (its sidecar matches), a killed one continues from
# its last epoch (OUT.state). Until `axx reproduce` drives the zoo, this is the zoo's recipe in one place.
#   experiments/zoo/train.sh [ZOO_DIR]     (CIFAR10_DIR must point at the full CIFAR-10)
set -euo pipefail
cd "$(dirname "$0")/../.."
Z=${1:-experiments/zoo}
AXX=${AXX:-.venv/bin/axx}
std() {  # arch: float and quant from scratch, approx fine-tuned from quant
    $AXX train --arch "$1" --exec float --out "$Z/$1_float.pt" --resume --quiet
    $AXX train --arch "$1" --exec quant --out "$Z/$1_quant.pt" --resume --quiet
    [ "${2:-}" = "no-approx" ] || $AXX train --arch "$1" --exec approx --init "$Z/$1_quant.pt" --out "$Z/$1_approx.pt" --resume --quiet
}
at() {   # arch: FGSM-RS (eps 1/255) from each standard model
    for e in float quant approx; do
        $AXX train --arch "$1" --exec $e --init "$Z/$1_$e.pt" --at-eps 1/255 --out "$Z/$1_${e}_at.pt" --resume --quiet
    done
}
std resnet8; at resnet8
$AXX train --arch resnet20 --exec float --out "$Z/resnet20_float.pt" --resume --quiet
$AXX train --arch resnet20 --exec quant --out "$Z/resnet20_quant.pt" --resume --quiet
std resnet32; at resnet32
$AXX train --arch resnet56 --exec float --out "$Z/resnet56_float.pt" --resume --quiet
std resnet20; at resnet20
std resnet56; at resnet56
