"""`axx luts` / `axx metrics`: sweep the RTL, prove it equal to the model, write the tables."""
from __future__ import annotations

import time
from pathlib import Path

from fileio import check_output


def build_luts(scheme: str, sim: str, out: Path, *, defines: dict | None = None, jobs: int | None = None,
               headers: bool = True, progress: bool = True, log=print, cost: bool = True) -> Path:
    """Sweep all 256 levels x 65,536 operand pairs on the RTL, compare every entry with the
    model, then write the LUT folder atomically. Raises MismatchError (nothing written) when
    any entry differs."""
    from lut_build import compare, get_scheme, write_lut_dir
    from lut_build.model import all_tables
    from lut_build.verify import MismatchError
    from sim import runner
    from sim.sweep import sweep

    sch = get_scheme(scheme)
    check_output(out, (34 << 20) + (90 << 20 if headers else 0), folder=True)  # before the sweep, not after
    version = runner.simulator_version(sim)
    res = sweep(scheme, sim, defines=defines, jobs=jobs, show_progress=progress)
    t = time.perf_counter()
    report = compare(res.tables, all_tables(sch.model), label=f"{scheme} on {sim}")
    verify_s = time.perf_counter() - t
    log(f"build {res.build_s:.1f} s (cached when 0), sweep {res.sweep_s:.2f} s ({res.method}), "
        f"verification {verify_s:.2f} s: sweep + verification {res.sweep_s + verify_s:.2f} s")
    if not report.ok:
        raise MismatchError(report)
    log(report.text())
    path = write_lut_dir(out, scheme, res.tables, source="rtl", simulator=sim, simulator_version=version,
                         elapsed_s=res.sweep_s + verify_s, headers=headers)
    if cost:
        from lut_build.netlist import SynthesisError
        try:
            build_cost(scheme, path, defines=defines or None, progress=progress, log=log)
        except SynthesisError as e:
            log(f"note: no cost model ({str(e).splitlines()[0]}); `axx cost --scheme {scheme}` makes it later")
    return path


def build_cost(scheme: str, lut_dir: Path, vectors: int = 100_000, seed: int = 0, defines: dict | None = None,
               progress: bool = True, log=print) -> dict:
    """The gate-level cost model of a table folder's scheme: cost.csv and cost.png beside the tables,
    its summary (and, for marlin, the agreement with MARLIN's published power) in the manifest."""
    from fileio import sha256_file
    from lut_build.artifacts import load_luts, update_manifest
    from lut_build.cost import cost_table, write_cost

    if vectors < 64:
        raise ValueError(f"--vectors must be at least 64, got {vectors}")
    tables, manifest = load_luts(lut_dir)
    if manifest["scheme"] != scheme:
        raise ValueError(f"{lut_dir} holds the tables of {manifest['scheme']!r}, not {scheme!r}")
    rows, summary = cost_table(scheme, tables, vectors, seed, progress=progress, defines=defines)
    write_cost(rows, Path(lut_dir) / "cost.csv", Path(lut_dir) / "cost.png",
               f"{scheme}: gate-level cost per level ({vectors:,} random vectors)")
    summary["cost_sha256"] = sha256_file(Path(lut_dir) / "cost.csv")
    summary["defines"] = defines or {}
    secs = summary["seconds"]
    log(f"{scheme}: {sum(summary['netlist_cells'].values())} gates, checked equal to the tables; synthesis "
        f"{secs['synthesis']} s, switching of 256 levels x {vectors:,} vectors {secs['switching']} s, area "
        f"{secs['area']} s")
    if scheme == "marlin" and not defines:
        from experiments.energy import validate_power_proxy
        v = validate_power_proxy([r["power_proxy"] for r in rows])
        summary["validation"] = v
        log(f"against MARLIN's published per-level power: Spearman rank correlation {v['spearman']:.4f}, mean "
            f"relative error {100 * v['mean_relative_error']:.2f} % (max {100 * v['max_relative_error']:.2f} %) "
            "after one least-squares scale")
    update_manifest(lut_dir, cost=summary)
    return summary


def metrics_table(scheme: str, width: int, rtl: bool = False, sim: str = "verilator",
                  progress: bool = True, log=print) -> list[dict]:
    """Per-level metrics over all (2^width)^2 operand pairs, from the model or (rtl=True) from
    the RTL, which is then also checked entry by entry against the model."""
    from lut_build import compare, get_scheme
    from lut_build.metrics import level_metrics
    from lut_build.model import all_tables
    from lut_build.verify import MismatchError

    sch = get_scheme(scheme)
    if width < 8:
        raise ValueError(f"--width must be at least 8 (the CNN operand width), got {width}")
    if width > sch.width:
        raise ValueError(f"--width {width} exceeds the {sch.width}-bit array of scheme {scheme}")
    model = all_tables(sch.model, operand_bits=width)
    if not rtl:
        return level_metrics(model, width)
    from sim.sweep import sweep

    res = sweep(scheme, sim, operand_bits=width, show_progress=progress)
    rep = compare(res.tables, model, operand_bits=width, label=f"{scheme} on {sim}, {width}-bit operands")
    if not rep.ok:
        raise MismatchError(rep)
    log(rep.text() + f" (sweep {res.sweep_s:.1f} s)")
    return level_metrics(res.tables, width)


def parse_defines(items: list[str] | None) -> dict:
    out = {}
    for item in items or []:
        name, _, value = item.partition("=")
        if not name.isidentifier():
            raise ValueError(f"bad --define {item!r}: expected NAME or NAME=VALUE")
        out[name] = value or 1
    return out


def summary(rows: list[dict]) -> str:
    pick = [r for r in rows if r["level"] in (0, 1, 8, 50, 100, 128, 255)]
    lines = [f"{'level':>5} {'ER':>8} {'MAE':>9} {'MRED':>9} {'WCE':>6} {'bias':>9}"]
    lines += [f"{r['level']:>5} {r['error_rate']:>8.4f} {r['mae']:>9.3f} {r['mred']:>9.5f} {r['wce']:>6} "
              f"{r['mean_error']:>9.3f}" for r in pick]
    return "\n".join(lines)


__all__ = ["build_luts", "metrics_table", "parse_defines", "summary"]
