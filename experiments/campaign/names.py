"""The zoo's model names and the recipe each name stands for (thesis 4.3).

`resnet32_quant_at` is the ResNet-32 trained with quantized parameters, then adversarially
trained: arch, parameter type (float | quant | approx, the thesis's "transaxx"), AT or not.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..parsing import ARCHS, parse_arch

PARAMS = ("float", "quant", "approx")
AT_EPS = "1/255"  # FGSM-RS eps of the thesis's adversarial training (4.3.2)
THESIS_EPOCHS = 128  # from scratch (the author's recipe: x0.1 at 64 and 96)
# Where the zoo departs from the thesis's recipe, per architecture (from-scratch trainings only; the
# fine-tunes and AT keep the thesis's 2 epochs). ResNet-56: 64 epochs, x0.1 at 32 and 48 (the same
# proportions). The campaign issue allows it only when `axx reproduce --dry-run` projects more than
# 40 CPU-hours of training left: it projected about 57 h (idle) on the 2-core AVX2 EPYC this zoo
# trains on (2026-11-25), of which ResNet-56 float and quant are the largest part. (That projection timed
# quant steps eagerly, 1.6x slower than the compiled steps a training runs, fixed 2026-11-27; the paces
# measured since still put ResNet-56 float and quant at 128 epochs alone near 38 h, ~9 min an epoch each,
# with ResNet-32 float and quant then ~20 h to go: well over 40 h either way.) The sidecar records the
# epochs; the results pages state it beside each ResNet-56 number.
ZOO_RECIPE: dict[str, dict] = {"resnet56": {"epochs": 64}}
_NAME = re.compile(r"^(resnet\d+)_(float|quant|approx)(_at)?$")


@dataclass(frozen=True)
class ModelName:
    arch: str
    params: str
    at: bool = False

    @property
    def name(self) -> str:
        return f"{self.arch}_{self.params}{'_at' if self.at else ''}"

    @property
    def init(self) -> "ModelName | None":
        """The model this one starts from: AT from its standard model, approx from quant, else none."""
        if self.at:
            return ModelName(self.arch, self.params)
        if self.params == "approx":
            return ModelName(self.arch, "quant")
        return None

    def __str__(self) -> str:
        return self.name


def parse_model(text: str) -> ModelName:
    """'resnet8_float' / 'resnet32_approx_at' -> ModelName; the error says what a name looks like."""
    m = _NAME.match(str(text).strip().lower())
    if not m:
        raise ValueError(f"unknown model {text!r}: a zoo name is ARCH_PARAMS[_at] with ARCH one of "
                         f"{', '.join(ARCHS)} and PARAMS one of {', '.join(PARAMS)} "
                         "(e.g. resnet32_quant_at)")
    arch = f"resnet{parse_arch(m.group(1))}"
    return ModelName(arch, m.group(2), bool(m.group(3)))


__all__ = ["AT_EPS", "PARAMS", "THESIS_EPOCHS", "ZOO_RECIPE", "ModelName", "parse_model"]
