"""The `axx` command line: one entry point, one subcommand per job (axx/commands/).

Each subcommand imports only what it needs, so `axx luts` works without torch's heavier
parts and the ML commands work without a simulator.
"""
from __future__ import annotations

import argparse
import errno
import signal
import sys
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    from lut_build.schemes import SCHEMES

    from .commands import COMMANDS

    schemes = ", ".join(sorted(SCHEMES))
    p = argparse.ArgumentParser(prog="axx", description=(
        "Hardware-faithful emulation of MARLIN's reconfigurable approximate multiplier: RTL co-verification "
        "and look-up tables, a scheme's gate-level cost, quantized and approximate CNNs trained, attacked, "
        "evaluated and searched, and the thesis's campaign. `axx COMMAND --help` for each command."))
    p.add_argument("--debug", action="store_true",
                   help="show Python tracebacks (errors are otherwise one line: what, where, exit status 2)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for command in COMMANDS:
        command.add(sub, schemes)
    return p


def describe(e: BaseException) -> str:
    """One line for an error: the message, and the file for OS errors that name one."""
    if isinstance(e, KeyError) and e.args:
        return str(e.args[0])
    if isinstance(e, OSError) and e.strerror:
        if e.errno == errno.ENOSPC and "no space left" not in e.strerror:
            return f"no space left on {Path(e.filename).parent if e.filename else 'the output disk'}"
        return f"{e.filename}: {e.strerror}" if e.filename else e.strerror
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


def preflight(args: argparse.Namespace) -> None:
    """Every output a command names is checked writable, with room on its disk, before any work:
    a command module may say how much it writes (`output_bytes(args)`) and that --out is a folder
    (`OUT_IS_FOLDER`)."""
    from fileio import check_output

    from .commands import COMMANDS

    module = next((m for m in COMMANDS if m.run is args.func), None)
    need = module.output_bytes(args) if hasattr(module, "output_bytes") else 1 << 20
    for opt in ("out", "json", "csv", "png"):
        path = getattr(args, opt, None)
        if path:
            folder = opt == "out" and getattr(module, "OUT_IS_FOLDER", False)
            check_output(path, need if opt == "out" else 1 << 20, folder=folder)


class Terminated(KeyboardInterrupt):
    """SIGTERM (`kill`, a job scheduler, a session's end), handled as Ctrl-C is: files being written are left
    as they were, and `axx reproduce`'s worker processes are ended with it instead of running on, orphaned."""


def _terminated(signum, frame):
    raise Terminated()


def main(argv: list[str] | None = None) -> int:
    """Exit status 0 on success, 2 for bad input (one line on stderr), 1 for an RTL/model mismatch
    or an internal error, 130 when interrupted (143 on SIGTERM); --debug shows the traceback."""
    args = build_parser().parse_args(argv)
    try:
        previous = signal.signal(signal.SIGTERM, _terminated)
    except ValueError:  # not the main thread (main() called from a thread): signals stay as they are
        previous = None
    try:
        preflight(args)
        return args.func(args)
    except KeyboardInterrupt as e:
        print("interrupted (finished files are kept; a training or search continues with --resume)", file=sys.stderr)
        return 143 if isinstance(e, Terminated) else 130
    except Exception as e:
        if args.debug:
            raise
        from lut_build.artifacts import LutError
        from lut_build.cost import NetlistMismatch
        from lut_build.netlist import SynthesisError
        from sim.runner import SimulationError, SimulatorMissing

        from experiments.data import DataError

        if isinstance(e, (KeyError, ValueError, OSError, SimulatorMissing, SimulationError, LutError, DataError,
                          SynthesisError, NetlistMismatch)):
            # a compiler's (or Yosys's) own output is the one exception to one line: the user needs it
            print(f"error: {e if isinstance(e, (SimulationError, SynthesisError)) else describe(e)}", file=sys.stderr)
            return 2
        print(f"internal error: {type(e).__name__}: {describe(e)} (rerun with --debug for the traceback, and "
              "please report it)", file=sys.stderr)
        return 1
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
