"""A plan's results page: `experiments/results/<plan>.md` with its figures, each of our numbers beside
the thesis's (experiments/resources/thesis_numbers.csv, transcribed from the thesis and cited by table
or figure), the difference, and a sentence where they disagree beyond the campaign's bounds."""
from __future__ import annotations

import csv
import re
from pathlib import Path

from fileio import atomic_write_text, code_version

from ..provenance import is_complete, read_sidecar
from ..report import ROW_ORDER, cells, eps_text, figures
from ..results import read_rows
from .claims import check_claims, claims_section
from .names import THESIS_EPOCHS
from .plan import PLANS_DIR, Plan, load_plan

THESIS_CSV = Path(__file__).resolve().parents[1] / "resources" / "thesis_numbers.csv"
NOTES_TOML = Path(__file__).resolve().parents[1] / "resources" / "deviation_notes.toml"
BOUND = {"4.1": 1.0, "4.2": 1.5}  # points; Tables 5.x: 5 points (the campaign issue's bounds)
EXEC_NAME = {"approx": "transaxx"}  # the thesis's name of our approx


def thesis_numbers() -> list[dict]:
    with open(THESIS_CSV, newline="") as f:
        return list(csv.DictReader(f))


def _thesis(table: str, arch: str, what: str, at: bool) -> tuple[float | None, str]:
    for r in thesis_numbers():
        if r["table"] == table and r["arch"] == arch and r["scenario_or_exec"] == what and (r["at"] == "yes") == at:
            return float(r["value_pct"]), r["source"]
    return None, ""


def deviation_notes() -> list[tuple[str, str]]:
    """(pattern, text) of experiments/resources/deviation_notes.toml, in its order."""
    import tomllib
    with open(NOTES_TOML, "rb") as f:
        return [(n["match"], " ".join(n["text"].split())) for n in tomllib.load(f).get("note", [])]


def _why(key: str) -> str:
    """What we know about a deviation (the first matching note), as a sentence to append, or ''."""
    from fnmatch import fnmatchcase
    for pattern, text in deviation_notes():
        if fnmatchcase(key, pattern):
            return " " + text
    return ""


def _fmt(v: float | None, digits: int = 1) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def _diff(ours: float | None, theirs: float | None, digits: int = 1) -> str:
    return "-" if ours is None or theirs is None else f"{ours - theirs:+.{digits}f}"


def _hours(meta: dict) -> str:
    s = meta.get("wall_time_s")
    return "-" if s is None else (f"{s / 3600:.1f} h" if s >= 3600 else f"{s / 60:.0f} min")


def _machine(meta: dict) -> str:
    """Where the model trained: the machine of its last epoch, or each machine's share of its epochs when a
    training moved (a GPU's states continued on a CPU)."""
    shares: dict = {}
    for h in meta.get("history") or []:
        if h.get("machine"):
            shares[h["machine"]] = shares.get(h["machine"], 0) + 1
    if len(shares) > 1:
        # the labels are pace keys ("cpu: NAME, 1 threads"), kept as recorded so a projection still matches them
        return "; ".join(f"{n} epoch{'s' * (n != 1)} on {re.sub(r'^(cuda|cpu): |(?<=, 1 thread)s$', '', m)}"
                         for m, n in shares.items())
    hw = meta.get("hardware") or {}
    return f"{hw['cpu']}, {hw.get('cores', '?')} cores" + (f", {hw['gpu']}" if hw.get("gpu") else "") if hw else "-"


def accuracy_section(table: str, models: list, ctx) -> tuple[list[str], list[str]]:
    """Table 4.1/4.2, or 'zoo': every model beside Table 4.1's (standard) or 4.2's (AT) number."""
    title = "the zoo's test accuracy (%), beside Tables 4.1 and 4.2" if table == "zoo" else f"Table {table}: test accuracy (%)"
    lines = [f"## {title}\n", "| model | ours | thesis | difference | epochs | test images | wall time | machine |",
             "|---|---|---|---|---|---|---|---|"]
    notes = []
    for m in models:
        tab = ("4.2" if m.at else "4.1") if table == "zoo" else table
        bound = BOUND.get(tab, 1.0)
        meta = read_sidecar(ctx.model(m)) or {}
        ours = 100 * meta["test_accuracy"] if "test_accuracy" in meta else None
        theirs, _ = _thesis(tab, m.arch, EXEC_NAME.get(m.params, m.params), m.at)
        lines.append(f"| {m.name} | {_fmt(ours, 2)} | {_fmt(theirs, 2)} | {_diff(ours, theirs, 2)} | "
                     f"{meta.get('epochs', '-')} | {meta.get('test_images', '-')} | {_hours(meta)} | {_machine(meta)} |")
        if ours is not None and theirs is not None and abs(ours - theirs) > bound:
            notes.append(f"- {m.name}: {ours:.2f} % against the thesis's {theirs:.2f} % ({ours - theirs:+.2f} points, "
                         f"beyond the {bound} point bound of Table {tab})." + _why(f"{tab} {m.name}"))
        if m.init is None and meta.get("epochs") not in (None, THESIS_EPOCHS):
            notes.append(f"- {m.name}: trained {meta['epochs']} epochs, not the thesis's {THESIS_EPOCHS} (learning rate "
                         "x0.1 at the same 50 % and 75 % of the epochs; `ZOO_RECIPE` in experiments/campaign/names.py "
                         "says why).")
    cited = "Tables 4.1 (standard) and 4.2 (AT)" if table == "zoo" else f"Table {table}"
    lines.append(f"\nThesis: {cited} (`experiments/resources/thesis_numbers.csv`); ours: the zoo's sidecars "
                 "(best-validation checkpoint, the test set used once).\n")
    return lines, notes


def attack_section(t, rows: list[dict]) -> tuple[list[str], list[str]]:
    from ..parsing import parse_eps
    eps = parse_eps(t.eps)
    groups = {k: v for k, v in cells(rows).items()
              if k[0] == t.arch and k[1].lower() == t.attack and abs(float(k[2]) - eps) < 1e-9}
    lines = [f"## Table {t.table}: {t.arch} under {t.attack.upper()} (eps {eps_text(eps)}), mean adversarial "
             "accuracy (%)\n", "| scenario | ours, not AT | thesis | diff. | ours, AT | thesis | diff. |",
             "|---|---|---|---|---|---|---|"]
    notes = []
    thesis_cells = {}
    for (_, _, _), (th, _) in groups.items():
        for k, v in th.items():
            thesis_cells.setdefault(k, []).extend(v)
    for sc in ROW_ORDER:
        label = sc.capitalize()
        row = [label]
        for at in (False, True):
            v = thesis_cells.get((label, at))
            ours = 100 * sum(v) / len(v) if v else None
            theirs, _ = _thesis(t.table, t.arch, sc, at)
            if ours is None and theirs is None:
                row += ["-", "-", "-"]
                continue
            row += [f"{_fmt(ours)}" + (f" (n={len(v)})" if v else ""), _fmt(theirs), _diff(ours, theirs)]
            if ours is not None and theirs is not None and abs(ours - theirs) > 5:
                which = "AT" if at else "not AT"
                notes.append(f"- Table {t.table}, {sc}, {which}: {ours:.1f} % against {theirs:.1f} % "
                             f"({ours - theirs:+.1f} points, beyond the 5 point bound)." + _why(f"{t.table} {sc} {which}"))
        if any(x != "-" for x in row[1:]):
            lines.append("| " + " | ".join(row) + " |")
    lines.append(f"\nAs the thesis's Table {t.table}: the mean over the victims' execution types of exact-multiplier "
                 "(level 0) rows, transfer sets from non-AT sources (n = rows averaged).\n")
    return lines, notes


ADAPTIVE_ATTACKS = ("pgd", "square", "autoattack")
FAMILY = ("float", "quant", "approx", "float_at", "quant_at", "approx_at")


def adaptive_section(spec, rows: list[dict], transfer_rows: list[dict]) -> list[str]:
    """Per victim of one architecture: clean accuracy, the strongest transfer attack measured on it (any
    plan, exact multipliers, in its own execution type) and each attack computed on the victim itself."""
    from ..parsing import parse_eps
    eps = parse_eps(spec.eps)
    same_eps = lambda r: abs(float(r["eps"]) - eps) < 1e-9  # noqa: E731
    lines = [f"## {spec.arch}: attacks on the victim itself beside the strongest transfer attack (eps "
             f"{eps_text(eps)}), accuracy (%)\n",
             "| victim | exec | clean | strongest transfer | adaptive PGD | Square | AutoAttack |",
             "|---|---|---|---|---|---|---|"]
    weaker = []  # victims where the gradient-free Square leaves far more than adaptive PGD
    for kind in FAMILY:
        name = f"{spec.arch}_{kind}"
        own = [r for r in rows if Path(r["victim"]).stem == name and str(r["adaptive"]).lower() == "true"
               and same_eps(r)]
        if not own:
            continue
        exec_type = own[0]["victim_exec"]
        by_attack = {r["attack"].lower(): r for r in own}
        tr = [r for r in transfer_rows if Path(r["victim"]).stem == name and r["victim_exec"] == exec_type
              and str(r["adaptive"]).lower() != "true" and str(r["levels"]) == "0" and same_eps(r)
              and Path(r["source"]).stem != name]
        best = min(tr, key=lambda r: float(r["adv_acc"])) if tr else None
        transfer = "-" if best is None else (f"{100 * float(best['adv_acc']):.1f} ({best['attack'].upper()} from "
                                             f"{Path(best['source']).stem}, {int(best['n_images']):,} images)")
        cells = [f"{100 * float(by_attack[a]['adv_acc']):.1f}" if a in by_attack else "-" for a in ADAPTIVE_ATTACKS]
        lines.append(f"| {name} | {EXEC_NAME.get(exec_type, exec_type)} | {100 * float(own[0]['std_acc']):.1f} | "
                     f"{transfer} | " + " | ".join(cells) + " |")
        sq, pgd = by_attack.get("square"), by_attack.get("pgd")
        if sq and pgd and float(sq["adv_acc"]) - float(pgd["adv_acc"]) > 0.10:
            weaker.append(f"{name} ({100 * float(sq['adv_acc']):.1f} against {100 * float(pgd['adv_acc']):.1f})")
    if len(lines) == 3:
        return lines[:1] + ["No victim of this family has been attacked yet.\n"]
    n = sorted({int(r["n_images"]) for r in rows if r.get("n_images") and Path(r["victim"]).stem.startswith(
        f"{spec.arch}_")})
    lines.append(f"\nAttacks on the victim itself run through its quantizers' straight-through gradients (Square "
                 f"needs none) on the first {', '.join(f'{x:,}' for x in n) or '?'} test images; the transfer column "
                 "is the lowest adversarial accuracy any results page measured on that victim from another model. "
                 "Far lower adaptive numbers mean the transfer robustness is the attacker's mismatch, not the "
                 "model's.\n")
    if weaker:
        lines.append(f"Square leaves far more than adaptive PGD on {', '.join(weaker)}: there the gradient-free "
                     "attack is the weaker one (the victim's lowest number bounds its robustness), the reverse of "
                     "gradient masking." + _why("beyond square-weaker") + "\n")
    return lines


def search_section(folder: str) -> list[str]:
    p = Path(folder) / "pareto.csv"
    with open(p, newline="") as f:
        front = list(csv.DictReader(f))
    meta = read_sidecar(p) or {}
    cfg = meta.get("config", {})
    lines = [f"## NSGA-II search `{Path(folder).name}` (as thesis Figure 5.25)\n",
             f"Victim `{Path(cfg.get('victim', '?')).stem}`, set `{Path(cfg.get('advset', '?')).stem}`, levels "
             f"0..{cfg.get('axx_levels')}, population {cfg.get('pop')}, {cfg.get('gens')} generations, "
             f"{meta.get('evaluations', '?')} genomes evaluated. Exact (all levels 0): adversarial "
             f"{100 * float(meta.get('exact', {}).get('adv', 0)):.2f} %, standard "
             f"{100 * float(meta.get('exact', {}).get('std', 0)):.2f} %.\n",
             "| levels | adversarial (%) | standard (%) |", "|---|---|---|"]
    if cfg.get("n_images"):
        lines.insert(2, f"Searched on the first {int(cfg['n_images']):,} images of the adversarial and the clean "
                        "test set (a CPU's budget; the thesis searched on all); the front below is re-evaluated on "
                        "all of them.\n")
    for m in meta.get("set_remade") or []:
        # a search continued on another machine: its set was made there again, by the same recipe
        lines.insert(2, f"After generation {m.get('after_generation')} the search continued on another machine, on "
                        f"the adversarial set made there again by the same recipe: {m.get('images_differing', '?')} "
                        f"of its {m.get('images', '?')} searched images differ from the ones the earlier generations "
                        "saw (floating-point rounding of the attack's gradients on another CPU).\n")
    for r in front:
        adv = r.get("adv_full") or r["adv"]
        std = r.get("std_full") or r["std"]
        lines.append(f"| {r['levels']} | {100 * float(adv):.2f} | {100 * float(std):.2f} |")
    thesis = [r for r in thesis_numbers() if r["table"] == "5.25"]
    lines.append("\nThe thesis's points (Section 5.4): " + "; ".join(f"{r['scenario_or_exec']} {r['value_pct']} %"
                                                                   for r in thesis) + ".\n")
    lines.append(f"![Pareto front]({Path(folder).name}/pareto.png)\n")
    return lines


def remade_sets_note(evals: list[str]) -> list[str]:
    """One paragraph on the tables some of whose rows a stopped run measured on an earlier make of their set
    (another machine's, by the same recipe: eval_reuse.py); none when every row saw the set here."""
    said = []
    for p in evals:
        meta = read_sidecar(p) or {}
        n = meta.get("reused_on_remade_sets")
        if n:
            sets = sorted({Path(r[2]).stem for r in meta.get("remade_rows") or []})
            said.append(f"`{Path(p).parent.name}/{Path(p).name}`: {n} of its {meta.get('rows', '?')} rows "
                        f"(against {', '.join(sets)})")
    if not said:
        return []
    return ["Measured over more than one session: " + "; ".join(said) + " were measured by a stopped run on its own "
            "make of the set, which this machine made again by the same recipe (the CPU's rounding may move a few "
            "pixels, so such a row may differ by a few images of ten thousand from a measurement here).\n"]


def partial_reason(missing: dict[str, list[str]]) -> str:
    """Why a page is partial, in a few words: its models are still being trained, or (the zoo complete) its
    longer steps, a search or a set of attacks, have not all run yet."""
    if missing.get("models"):
        return "the zoo is still being trained"
    return "waiting for its " + " and ".join(k for k, v in missing.items() if v)


def _partial_banner(missing: dict[str, list[str]], evaluations: bool) -> list[str]:
    def names(v: list[str]) -> str:
        return ", ".join(f"`{x}`" for x in v[:8]) + (f" and {len(v) - 8} more" if len(v) > 8 else "")
    return ["> **Partial results.** " + partial_reason(missing).capitalize() + "; this page holds what exists "
            "today" + (" (evaluations over the victims and sets that exist, `*.partial.csv`)" if evaluations else "")
            + ", and is rewritten in full once everything exists. Missing: "
            + "; ".join(f"{k}: {names(v)}" for k, v in missing.items()) + ".\n"]


def write_results(plan: Plan, ctx, evals: list[str], models: list[str], searches: list[str],
                  missing: dict[str, list[str]] | None = None) -> Path:
    """The plan's page; with `missing` (the --partial run) a partial one that names what it lacks."""
    out = Path(f"{ctx.result_dir(plan.name)}.md")
    fig_dir = Path(ctx.result_dir(plan.name))
    rows = [r for p in evals for r in read_rows(p)]
    md = [f"# {plan.title}\n", f"Plan `{plan.path.name}`; code version {code_version()}; "
          f"{'all 10,000' if ctx.n_images is None else f'the first {ctx.n_images:,}'} test images. "
          "Regenerate with `axx reproduce " + (plan.name if plan.path.resolve().parent == PLANS_DIR else str(plan.path))
          + (f" --n-images {ctx.n_images}" if ctx.n_images != plan.n_images else "")
          + (" --partial" if missing is not None else "") + "`.\n"]
    if missing:
        md += _partial_banner(missing, bool(plan.evaluations))
    notes: list[str] = []
    for a in plan.accuracy:
        lines, n = accuracy_section(a.table, a.models, ctx)
        md += lines
        notes += n
    for t in plan.tables:
        lines, n = attack_section(t, rows)
        md += lines
        notes += n
    md += remade_sets_note(evals)
    if plan.adaptive:
        transfer, _ = _all_rows(Path(ctx.results))
        for a in plan.adaptive:
            md += adaptive_section(a, rows, transfer)
    for s in searches:
        md += search_section(s)
    if missing and missing.get("searches"):
        thesis = [r for r in thesis_numbers() if r["table"] == "5.25"]
        md += ["## NSGA-II searches (as thesis Figure 5.25): not finished yet\n",
               f"{', '.join(f'`{n}`' for n in missing['searches'])}: not finished (a stopped search keeps its "
               "generations in its folder; `axx reproduce search --resume` continues it). The thesis's points "
               "(Section 5.4): " + "; ".join(f"{r['scenario_or_exec']} {r['value_pct']} %" for r in thesis) + ".\n"]
    md += claims_section(check_claims(rows, ctx.zoo if plan.accuracy else None, searches))
    if rows:
        fig_dir.mkdir(parents=True, exist_ok=True)
        figs = figures(rows, fig_dir)
        md.append("## Figures\n")
        md += [f"![{p.stem}]({fig_dir.name}/{p.name})\n" for p in figs]
    md.append("## Deviations\n")
    md += notes or ["None beyond the bounds (1 point for Table 4.1, 1.5 for 4.2, 5 for Tables 5.2-5.6)."]
    atomic_write_text(out, "\n".join(md) + "\n")
    return out


def _all_rows(results: Path) -> tuple[list[dict], list[Path]]:
    """Every evaluation row under the results folder; where two plans measured the same victim on the same
    set, the row on more images wins (the full test set over a quick subset)."""
    best: dict = {}
    used = []
    for p in sorted(results.glob("*/*.csv")):
        try:
            rows = read_rows(p)
        except (ValueError, OSError, csv.Error):
            continue  # a search's or another tool's CSV
        used.append(p)
        for r in rows:
            key = (r["victim"].split("/")[-1], r["victim_exec"], r["levels"], r["advset"].split("/")[-1])
            if key not in best or int(r["n_images"] or 0) > int(best[key]["n_images"] or 0):
                best[key] = r
    return list(best.values()), used


def write_conclusions(ctx) -> Path:
    """experiments/results/README.md: every claim of the thesis's chapter 5 against all our results so far,
    the adaptive ones (does a conclusion survive an attacker who attacks the victim itself?) apart."""
    results = Path(ctx.results)
    rows, used = _all_rows(results)
    searches = sorted(str(p.parent) for p in results.glob("*/search-*/pareto.csv"))
    verdicts = check_claims(rows, ctx.zoo, searches)
    thesis = [v for v in verdicts if not v.claim.section.startswith("beyond")]
    beyond = [v for v in verdicts if v.claim.section.startswith("beyond")]
    n = sorted({int(r["n_images"]) for r in rows if r.get("n_images")})
    md = ["# What we measured against what the thesis concludes\n",
          "Generated by `axx reproduce` from every results file under this folder and the zoo's sidecars "
          f"(code version {code_version()}); regenerated whenever a plan's page is. Each claim of the thesis's "
          "chapter 5 is tested per stratum (victim architecture, attack, eps, ... as the claim says) on the "
          "thesis's cells: exact multipliers, transfer sets from non-AT sources. "
          + (f"Test images per row: {', '.join(map(str, n))}." if n else "No evaluation rows yet.") + "\n"]
    zoo = [m.name for a in load_plan("zoo").accuracy for m in a.models]
    trained = [m for m in zoo if is_complete(f"{ctx.zoo}/{m}.pt")]
    md.append(f"The zoo: {len(trained)} of its {len(zoo)} models trained"
              + (f" ({', '.join(trained)})" if trained else "") + "; the rest are being trained "
              "(`experiments/zoo/train.sh`), so the verdicts below cover what those models allow.\n"
              if len(trained) < len(zoo) else f"The zoo: all {len(zoo)} models trained.\n")
    md += claims_section(thesis, "## The thesis's conclusions under its own (transfer) attacks", measured_only=False)
    md += claims_section(beyond, "## Do they survive adaptive attacks?", measured_only=False)
    md += ["Adaptive attacks are white-box PGD computed on the victim itself, through its quantizers' "
           "straight-through gradients (the `beyond` plan); the thesis attacks only through transfer from "
           "another model. A conclusion that holds under transfer but not here describes the attacker's "
           "mismatch, not a robust model.\n",
           "## Pages\n"]
    pages = [p for p in sorted(results.glob("*.md")) if p.name != "README.md"]
    metas = {p.name: read_sidecar(p) or {} for p in pages}
    partial = {name: partial_reason(m.get("missing") or {"models": ["?"]})  # pages written before it was recorded
               for name, m in metas.items() if (m.get("config") or {}).get("partial")}
    md += [f"- [{p.stem}]({p.name})" + (f" (partial: {partial[p.name]})" if p.name in partial else "")
           for p in pages] or ["- none yet"]
    md += ["", "Rows from: " + (", ".join(f"`{p.relative_to(results)}`" for p in used) or "none") + ".\n"]
    out = results / "README.md"
    atomic_write_text(out, "\n".join(md))
    return out


__all__ = ["THESIS_CSV", "thesis_numbers", "write_conclusions", "write_results"]
