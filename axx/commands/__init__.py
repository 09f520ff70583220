"""One module per `axx` subcommand, each with add(subparsers) and run(args) -> exit status."""
from . import attack, bench, bench_search, eval, luts, metrics, report, search, train

COMMANDS = (luts, metrics, bench, bench_search, train, attack, eval, report, search)
