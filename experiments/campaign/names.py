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


__all__ = ["AT_EPS", "PARAMS", "ModelName", "parse_model"]
