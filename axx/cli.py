"""The `axx` command line: one entry point, one subcommand per job (axx/commands/).

Each subcommand imports only what it needs, so `axx luts` works without torch's heavier
parts and the ML commands work without a simulator.
"""
from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    from lut_build.schemes import SCHEMES

    from .commands import COMMANDS

    schemes = ", ".join(sorted(SCHEMES))
    p = argparse.ArgumentParser(prog="axx", description=(
        "Hardware-faithful emulation of MARLIN's reconfigurable approximate multiplier: RTL "
        "co-verification, LUTs, and (in later commands) approximate CNNs under attack."))
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for command in COMMANDS:
        command.add(sub, schemes)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted; nothing was written", file=sys.stderr)
        return 130
    except (KeyError, ValueError, OSError) as e:
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"error: {msg}", file=sys.stderr)
        return 2
    except Exception as e:  # simulator missing, RTL that does not compile, unreadable tables
        from lut_build.artifacts import LutError
        from sim.runner import SimulationError, SimulatorMissing

        from experiments.data import DataError

        if isinstance(e, (SimulatorMissing, SimulationError, LutError, DataError)):
            print(f"error: {e}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
