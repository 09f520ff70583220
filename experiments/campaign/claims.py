"""The thesis's qualitative claims (experiments/resources/thesis_claims.toml), each marked as holding or
not on our numbers: evaluation rows (the results CSVs), the zoo's sidecars and the searches' fronts.

A claim is tested in strata (e.g. per victim architecture, attack and eps); its verdict says in how
many strata it held, with the numbers of each, so a reader sees where it fails, not only that it does."""
from __future__ import annotations

import csv
import tomllib
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from ..parsing import parse_eps
from ..provenance import read_sidecar
from ..report import _levels_zero, _thesis_cell, _truthy, eps_text

CLAIMS_TOML = Path(__file__).resolve().parents[1] / "resources" / "thesis_claims.toml"
KINDS = ("difference", "increasing", "spread", "zoo_at", "search_gain")
_BOOL = {"victim_at", "source_at", "adaptive"}
_KEYS = {"id", "section", "text", "kind", "where", "a", "b", "per", "along", "order", "min_diff", "max_diff",
         "max_spread", "max_std_drop", "cells", "general"}


@dataclass
class Claim:
    id: str
    section: str
    text: str
    kind: str
    where: dict = field(default_factory=dict)
    a: dict = field(default_factory=dict)
    b: dict = field(default_factory=dict)
    per: list = field(default_factory=list)
    along: str = ""
    order: list = field(default_factory=list)
    min_diff: float | None = None
    max_diff: float | None = None
    max_spread: float | None = None
    max_std_drop: float = 1.0
    cells: str = "thesis"
    general: bool = False


@dataclass
class Verdict:
    claim: Claim
    state: str                      # holds | does not hold | not measured
    held: int = 0
    strata: int = 0
    evidence: list = field(default_factory=list)   # (stratum text, numbers text, passed)

    def summary(self) -> str:
        if self.state == "not measured":
            return "not measured"
        rule = "most" if self.claim.general else "every"
        return f"{self.state} (in {self.held} of {self.strata} strata; needs {rule})"


def load_claims(path: Path | str = CLAIMS_TOML) -> list[Claim]:
    raw = tomllib.loads(Path(path).read_text())
    out = []
    for i, c in enumerate(raw.get("claims", [])):
        bad = sorted(set(c) - _KEYS)
        if bad:
            raise ValueError(f"{Path(path).name}: claims[{i}]: unknown key {', '.join(bad)}; valid keys: "
                             f"{', '.join(sorted(_KEYS))}")
        if c.get("kind") not in KINDS:
            raise ValueError(f"{Path(path).name}: claims[{i}]: kind must be one of {', '.join(KINDS)}")
        out.append(Claim(**c))
    ids = [c.id for c in out]
    if len(ids) != len(set(ids)):
        raise ValueError(f"{Path(path).name}: two claims share an id")
    return out


def _matches(r: dict, sel: dict) -> bool:
    for k, want in sel.items():
        wants = want if isinstance(want, list) else [want]
        if k in _BOOL:
            ok = _truthy(r[k]) in [bool(w) for w in wants]
        elif k == "eps":
            ok = any(abs(float(r["eps"]) - parse_eps(str(w))) < 1e-9 for w in wants)
        elif k == "levels":
            ok = _levels_zero(r["levels"]) == (str(wants[0]) == "0")
        else:
            ok = str(r[k]) in [str(w) for w in wants]
        if not ok:
            return False
    return True


def _cells(rows: list[dict], cells: str) -> list[dict]:
    if cells == "thesis":
        return [r for r in rows if _thesis_cell(r)]
    if cells == "adaptive":
        return [r for r in rows if _truthy(r["adaptive"]) and _levels_zero(r["levels"])]
    return list(rows)


def _stratum(r: dict, per: list) -> tuple:
    return tuple(r[k] for k in per)


def _label(per: list, key: tuple) -> str:
    parts = []
    for k, v in zip(per, key):
        if k in _BOOL:
            parts.append({"victim_at": "AT victim", "source_at": "AT source", "adaptive": "adaptive"}[k]
                         if _truthy(v) else {"victim_at": "not AT", "source_at": "non-AT source",
                                             "adaptive": "transfer"}[k])
        elif k == "eps":
            parts.append(f"eps {eps_text(v)}")
        elif k == "advset":
            parts.append(Path(str(v)).stem)
        else:
            parts.append(str(v))
    return ", ".join(parts)


def _mean(rows: list[dict]) -> float:
    return 100 * sum(float(r["adv_acc"]) for r in rows) / len(rows)


def _check_rows(c: Claim, rows: list[dict]) -> list[tuple[str, str, bool]]:
    rows = [r for r in _cells(rows, c.cells) if _matches(r, c.where)]
    groups: dict = defaultdict(list)
    for r in rows:
        groups[_stratum(r, c.per)].append(r)
    evidence = []
    for key, rs in sorted(groups.items()):
        label = _label(c.per, key)
        if c.kind == "difference":
            a = [r for r in rs if _matches(r, c.a)]
            b = [r for r in rs if _matches(r, c.b)]
            if not a or not b:
                continue
            ma, mb = _mean(a), _mean(b)
            d = ma - mb
            ok = (c.min_diff is None or d >= c.min_diff) and (c.max_diff is None or d <= c.max_diff)
            evidence.append((label, f"{ma:.1f} against {mb:.1f} ({d:+.1f})", ok))
        elif c.kind == "increasing":
            by = defaultdict(list)
            for r in rs:
                if r[c.along] in c.order:
                    by[r[c.along]].append(r)
            seq = [(v, _mean(by[v])) for v in c.order if by[v]]
            if len(seq) < 2:
                continue
            ok = all(x[1] < y[1] for x, y in zip(seq, seq[1:]))
            evidence.append((label, " < ".join(f"{v} {m:.1f}" for v, m in seq), ok))
        elif c.kind == "spread":
            if len(rs) < 2:
                continue
            accs = [100 * float(r["adv_acc"]) for r in rs]
            s = max(accs) - min(accs)
            evidence.append((label, f"{min(accs):.1f}-{max(accs):.1f} (spread {s:.1f})", s <= c.max_spread))
    return evidence


def _check_zoo(c: Claim, zoo: Path | str | None) -> list[tuple[str, str, bool]]:
    evidence = []
    if zoo is None:
        return evidence
    for at in sorted(Path(zoo).glob("*_at.pt")):
        std = at.with_name(at.name.replace("_at.pt", ".pt"))
        ma, ms = read_sidecar(at) or {}, read_sidecar(std) or {}
        if "test_accuracy" not in ma or "test_accuracy" not in ms:
            continue
        d = 100 * (ma["test_accuracy"] - ms["test_accuracy"])
        ok = (c.min_diff is None or d >= c.min_diff) and (c.max_diff is None or d <= c.max_diff)
        evidence.append((at.stem, f"{100 * ma['test_accuracy']:.2f} against {100 * ms['test_accuracy']:.2f} "
                                  f"({d:+.2f})", ok))
    return evidence


def _check_search(c: Claim, searches: list) -> list[tuple[str, str, bool]]:
    evidence = []
    for folder in searches:
        p = Path(folder) / "pareto.csv"
        meta = read_sidecar(p) or {}
        exact = meta.get("exact") or {}
        if not p.is_file() or "adv" not in exact or "std" not in exact:
            continue
        with open(p, newline="") as f:
            front = list(csv.DictReader(f))
        ea, es = 100 * float(exact["adv"]), 100 * float(exact["std"])
        best = None
        for r in front:
            adv, std = 100 * float(r.get("adv_full") or r["adv"]), 100 * float(r.get("std_full") or r["std"])
            if es - std <= c.max_std_drop and (best is None or adv > best[0]):
                best = (adv, std)
        if best is None:
            evidence.append((Path(folder).name, f"no front point within {c.max_std_drop} points of the exact "
                                                f"standard accuracy {es:.2f}", False))
            continue
        gain = best[0] - ea
        evidence.append((Path(folder).name, f"adversarial {ea:.2f} -> {best[0]:.2f} ({gain:+.2f}) for standard "
                                            f"{es:.2f} -> {best[1]:.2f}", gain >= (c.min_diff or 0.0)))
    return evidence


def check_claims(rows: list[dict], zoo: Path | str | None = None, searches: list | None = None,
                 claims: list[Claim] | None = None) -> list[Verdict]:
    """Every claim against what is measured; a claim nothing here measures is 'not measured'."""
    out = []
    for c in claims if claims is not None else load_claims():
        if c.kind == "zoo_at":
            ev = _check_zoo(c, zoo)
        elif c.kind == "search_gain":
            ev = _check_search(c, searches or [])
        else:
            ev = _check_rows(c, rows)
        held = sum(ok for _, _, ok in ev)
        if not ev:
            state = "not measured"
        elif held == len(ev) or (c.general and held > len(ev) / 2):
            state = "holds"
        else:
            state = "does not hold"
        out.append(Verdict(c, state, held, len(ev), ev))
    return out


def claims_section(verdicts: list[Verdict], title: str = "## The thesis's claims, on these numbers",
                   measured_only: bool = True) -> list[str]:
    shown = [v for v in verdicts if v.state != "not measured" or not measured_only]
    if not shown:
        return []
    lines = [f"{title}\n", "| claim | thesis | verdict |", "|---|---|---|"]
    for v in shown:
        lines.append(f"| {v.claim.text} | {v.claim.section} | **{v.summary()}** |")
    lines.append("\nThe numbers behind each verdict (mean accuracy in %, adversarial unless the claim is about standard "
                 "accuracy, per stratum; "
                 "`experiments/resources/thesis_claims.toml` holds each test):\n")
    for v in shown:
        if not v.evidence:
            continue
        lines.append(f"- `{v.claim.id}`: " + "; ".join(f"{lab}: {num}{'' if ok else ' (fails)'}"
                                                      for lab, num, ok in v.evidence))
    lines.append("")
    return lines


__all__ = ["CLAIMS_TOML", "Claim", "Verdict", "check_claims", "claims_section", "load_claims"]
