"""One module per `axx` subcommand, each with add(subparsers) and run(args) -> exit status."""
from . import (assess, attack, bench, bench_precision, bench_search, bench_train, convert, cost, data, eval, luts,
               metrics, report, reproduce, search, train)

COMMANDS = (luts, metrics, cost, bench, bench_search, bench_train, bench_precision, data, train, attack, eval, report,
            search, reproduce, assess, convert)
