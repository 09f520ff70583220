"""Plans: one TOML file per thesis table or figure group (experiments/plans/), read with the standard
library. A plan names what it needs (adversarial sets, evaluations, accuracy tables, searches); the
models and the order come from the names (campaign/steps.py).

    title = "FGSM, eps 8/255 (thesis 5.1: Figures 5.1-5.16, Tables 5.2-5.4)"
    [[sets]]                       # one adversarial set per source model x attack x eps
    source = "resnet8_float"
    attack = "fgsm"
    eps = "8/255"
    [[evaluations]]                # every victim in every execution type against every set: one CSV
    name = "resnet8"
    victims = ["resnet8_float", "resnet8_quant", "resnet8_approx"]
    sets = ["resnet8_float-fgsm-eps8"]
    [[accuracy]]                   # test accuracies of zoo models (Tables 4.1, 4.2)
    table = "4.1"
    models = ["resnet8_float"]
    [[searches]]                   # NSGA-II over per-layer levels (Figure 5.25)
    name = "levels50"
    victim = "resnet32_approx_at"
    set = "resnet32_float-pgd-eps8"
    axx_levels = 50
    [[adaptive]]                   # per victim of an architecture: attacks on itself beside transfer attacks
    arch = "resnet32"

and, before the first table (top-level keys): `first = ["train:resnet8_*", ...]`, step id patterns whose ready
steps start before the others, in this order, when more are ready than workers (else the longest chain of work
goes first: campaign/schedule.py).
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from ..parsing import parse_eps
from .names import ModelName, parse_model

PLANS_DIR = Path(__file__).resolve().parents[1] / "plans"
EXEC_TYPES = ("float", "quant", "approx")
_TOP = {"title", "cites", "n_images", "training", "sets", "evaluations", "accuracy", "searches", "tables", "adaptive",
        "first"}
_SET = {"source", "attack", "eps", "alpha", "steps", "exec", "id", "adaptive"}
_EVAL = {"name", "victims", "exec", "sets", "levels", "figures"}
_ACC = {"table", "models"}
_SEARCH = {"name", "victim", "set", "axx_levels", "pop", "gens", "n_images", "objectives", "operators", "seed"}
_TABLE = {"table", "arch", "attack", "eps"}
_ADAPTIVE = {"arch", "eps"}


def eps_tag(eps: str) -> str:
    """'8/255' -> 'eps8'; other values by their decimal."""
    f = Fraction(str(eps).strip()) if "/" in str(eps) else Fraction(parse_eps(eps)).limit_denominator(10_000)
    n = f * 255
    return f"eps{n.numerator}" if n.denominator == 1 else f"eps{float(f):.4g}"


@dataclass
class SetSpec:
    source: ModelName
    attack: str
    eps: str
    exec: str
    alpha: str | None = None
    steps: int | None = None
    id: str = ""
    adaptive: bool = False   # computed on the victim itself (straight-through gradients), not transferred


@dataclass
class EvalSpec:
    name: str
    victims: list[ModelName]
    sets: list[str]
    exec: list[str] = field(default_factory=lambda: list(EXEC_TYPES))
    levels: int = 0
    figures: list[str] = field(default_factory=list)


@dataclass
class AccSpec:
    table: str
    models: list[ModelName]


@dataclass
class SearchSpec:
    name: str
    victim: ModelName
    set: str
    axx_levels: int = 50
    pop: int = 50
    gens: int = 30
    n_images: int | None = None
    objectives: list[str] = field(default_factory=lambda: ["adv", "std"])
    operators: str = "thesis"
    seed: int = 1


@dataclass
class TableSpec:
    table: str
    arch: str
    attack: str
    eps: str = "8/255"


@dataclass
class AdaptiveSpec:
    """A table of one architecture's victims: attacks computed on each victim itself beside the strongest
    transfer attack measured on it (any plan's results)."""
    arch: str
    eps: str = "8/255"


@dataclass
class Plan:
    name: str
    path: Path
    title: str
    cites: str = ""
    n_images: int | None = None
    training: dict = field(default_factory=dict)
    sets: list[SetSpec] = field(default_factory=list)
    evaluations: list[EvalSpec] = field(default_factory=list)
    accuracy: list[AccSpec] = field(default_factory=list)
    searches: list[SearchSpec] = field(default_factory=list)
    tables: list[TableSpec] = field(default_factory=list)
    adaptive: list[AdaptiveSpec] = field(default_factory=list)
    first: list[str] = field(default_factory=list)  # step id patterns started first (campaign/schedule.py)

    def models(self) -> list[ModelName]:
        """Every zoo model the plan uses, with the models they start from, in training order."""
        want = [s.source for s in self.sets] + [v for e in self.evaluations for v in e.victims] \
            + [m for a in self.accuracy for m in a.models] + [s.victim for s in self.searches]
        out: list[ModelName] = []

        def add(m: ModelName) -> None:
            if m.init is not None:
                add(m.init)
            if m not in out:
                out.append(m)

        for m in want:
            add(m)
        return out


def builtin_plans() -> list[str]:
    return sorted(p.stem for p in PLANS_DIR.glob("*.toml"))


def _check_keys(where: str, d: dict, allowed: set) -> None:
    if not isinstance(d, dict):
        raise ValueError(f"{where} must be a table")
    bad = sorted(set(d) - allowed)
    if bad:
        raise ValueError(f"{where}: unknown key {', '.join(map(repr, bad))}; valid keys: {', '.join(sorted(allowed))}")


def _need(where: str, d: dict, key: str):
    if key not in d:
        raise ValueError(f"{where}: missing {key!r}")
    return d[key]


def _exec(where: str, v: str) -> str:
    if v not in EXEC_TYPES:
        raise ValueError(f"{where}: unknown execution type {v!r}; choose among {', '.join(EXEC_TYPES)}")
    return v


def load_plan(plan: str | Path) -> Plan:
    """A plan by built-in name ('fgsm') or path; every name in it is checked, errors name the valid ones."""
    from ..attacks import attack_class

    path = Path(plan)
    if not path.suffix and not path.exists():
        path = PLANS_DIR / f"{plan}.toml"
        if not path.is_file():
            raise ValueError(f"unknown plan {plan!r}; built-in plans: {', '.join(builtin_plans())} (or a .toml path)")
    try:
        raw = tomllib.loads(path.read_text())
    except OSError as e:
        raise ValueError(f"{path}: cannot read the plan ({e.strerror})") from None
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"{path}: not valid TOML ({e})") from None
    where = path.name
    _check_keys(where, raw, _TOP)
    first = raw.get("first", [])
    if not isinstance(first, list) or not all(isinstance(f, str) and f for f in first):
        raise ValueError(f"{where}: first must be a list of step ids or patterns, e.g. [\"train:resnet8_*\"]")
    p = Plan(name=path.stem, path=path, title=raw.get("title", path.stem), cites=raw.get("cites", ""),
             n_images=raw.get("n_images"), training=raw.get("training", {}), first=list(first))
    for i, s in enumerate(raw.get("sets", [])):
        w = f"{where}: sets[{i}]"
        _check_keys(w, s, _SET)
        source = parse_model(_need(w, s, "source"))
        attack = str(_need(w, s, "attack")).lower()
        attack_class(attack)
        eps = str(s.get("eps", "8/255"))
        parse_eps(eps)
        spec = SetSpec(source=source, attack=attack, eps=eps, exec=_exec(w, s.get("exec", source.params)),
                       alpha=s.get("alpha"), steps=s.get("steps"), adaptive=bool(s.get("adaptive", False)))
        spec.id = s.get("id") or (f"{source.name}-{attack}-{eps_tag(eps)}"
                                  + (f"-adaptive-{spec.exec}" if spec.adaptive else ""))
        p.sets.append(spec)
    ids = [s.id for s in p.sets]
    if len(ids) != len(set(ids)):
        raise ValueError(f"{where}: two sets share an id ({', '.join(sorted({i for i in ids if ids.count(i) > 1}))})")
    for i, e in enumerate(raw.get("evaluations", [])):
        w = f"{where}: evaluations[{i}]"
        _check_keys(w, e, _EVAL)
        sets = list(_need(w, e, "sets"))
        unknown = [s for s in sets if s not in ids]
        if unknown:
            raise ValueError(f"{w}: unknown set {', '.join(map(repr, unknown))}; this plan's sets: {', '.join(ids)}")
        p.evaluations.append(EvalSpec(name=str(_need(w, e, "name")), victims=[parse_model(v) for v in _need(w, e, "victims")],
                                      sets=sets, exec=[_exec(w, x) for x in e.get("exec", EXEC_TYPES)],
                                      levels=int(e.get("levels", 0)), figures=list(e.get("figures", []))))
    for i, a in enumerate(raw.get("accuracy", [])):
        w = f"{where}: accuracy[{i}]"
        _check_keys(w, a, _ACC)
        p.accuracy.append(AccSpec(table=str(_need(w, a, "table")), models=[parse_model(m) for m in _need(w, a, "models")]))
    for i, s in enumerate(raw.get("searches", [])):
        w = f"{where}: searches[{i}]"
        _check_keys(w, s, _SEARCH)
        if _need(w, s, "set") not in ids:
            raise ValueError(f"{w}: unknown set {s['set']!r}; this plan's sets: {', '.join(ids) or 'none'}")
        p.searches.append(SearchSpec(**{**s, "victim": parse_model(_need(w, s, "victim")), "name": str(_need(w, s, "name"))}))
    for i, t in enumerate(raw.get("tables", [])):
        w = f"{where}: tables[{i}]"
        _check_keys(w, t, _TABLE)
        p.tables.append(TableSpec(table=str(_need(w, t, "table")), arch=parse_model(f"{_need(w, t, 'arch')}_float").arch,
                                  attack=str(_need(w, t, "attack")).lower(), eps=str(t.get("eps", "8/255"))))
    for i, t in enumerate(raw.get("adaptive", [])):
        w = f"{where}: adaptive[{i}]"
        _check_keys(w, t, _ADAPTIVE)
        eps = str(t.get("eps", "8/255"))
        parse_eps(eps)
        p.adaptive.append(AdaptiveSpec(arch=parse_model(f"{_need(w, t, 'arch')}_float").arch, eps=eps))
    names = [e.name for e in p.evaluations] + [s.name for s in p.searches]
    if len(names) != len(set(names)):
        raise ValueError(f"{where}: two evaluations or searches share a name")
    return p


__all__ = ["AccSpec", "AdaptiveSpec", "EvalSpec", "PLANS_DIR", "Plan", "SearchSpec", "SetSpec", "TableSpec", "builtin_plans",
           "eps_tag", "load_plan"]
