"""The benchmark command: `python -m tests.bench [--quick] [--only NAME…] [--json]`.

It prints a table of named figures against their goals, then the same figures as one JSON
object on the last line. `--quick` shortens the idle and load phases for a fast look; the
figures reported for an issue come from a full run. The qBittorrent it runs is the one
`MAMD_QBITTORRENT` names, else qbittorrent-nox. The soak (90 days of mamd in about ten
minutes) runs only when asked for: `--only soak`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from mamd.sim.qbittorrent import binary as qbittorrent_binary
from tests.bench import audiobookshelf, daemon, imports, library, search, series, soak
from tests.bench.figures import Figure

SUITES = {
    "daemon": daemon.run,
    "library": library.run,
    "imports": imports.run,
    "search": search.run,
    "series": series.run,
    "audiobookshelf": audiobookshelf.run,
    "soak": soak.run,
}
ON_REQUEST = ("soak",)  # ten minutes long: run only with `--only soak`


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter phases (figures are indicative only)")
    parser.add_argument("--only", nargs="*", choices=sorted(SUITES), help="run only these suites")
    parser.add_argument("--json", action="store_true", help="print only the JSON object")
    args = parser.parse_args()
    figures: list[Figure] = []
    started = time.monotonic()
    chosen = args.only or [name for name in SUITES if name not in ON_REQUEST]
    if {"daemon", "imports", "search"} & set(chosen):  # the suites that run qBittorrent
        print(qbittorrent_binary.describe(), file=sys.stderr, flush=True)
    for name in chosen:
        print(f"running {name} …", file=sys.stderr, flush=True)
        figures.extend(SUITES[name](quick=args.quick))
    if not args.json:
        width = max(len(f.name) for f in figures)
        print(f"{'figure':<{width}}  {'value':>10}  {'goal':<10}  ok   note")
        for figure in figures:
            print(
                f"{figure.name:<{width}}  {figure.shown:>10}  {figure.goal_text:<10}  {figure.verdict:<3}  "
                f"{figure.note}".rstrip()
            )
        print(f"({time.monotonic() - started:.0f} s{', quick' if args.quick else ''})")
    print(json.dumps({f.name: f.value for f in figures}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
