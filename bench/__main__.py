"""`python -m bench`: run the benchmarks, print the figures and their same-run ratios.

    python -m bench                         # full run (~2–4 min on a small machine)
    python -m bench --quick                 # a small run (~1 min)
    python -m bench --only projector        # one bench
    python -m bench --markdown              # also print a block for BENCHMARKS.md

Servers: those of DATABASE_URL / NATS_URL when set, otherwise embedded ones started in a
temporary directory. Each bench gets a database and a stream of its own, removed afterwards.

A bench is a module `bench.<name>_bench` with
`async def run(servers: Servers, options: Options, workdir: Path) -> Section`; the optional
ones (`label`) are included when their module exists.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import importlib.util
import shutil
import sys
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import cast

from bench.common import Options, Section, Servers, describe_machine, markdown_table, servers
from bench.common import text_table as table
from infra.logs import configure_logging

BenchRun = Callable[[Servers, Options, Path], Awaitable[Section]]
BENCHES = ("declarations", "projector", "pdf")
OPTIONAL_BENCHES = ("label", "national")


def load_bench(name: str) -> BenchRun | None:
    """The `run` of `bench.<name>_bench`, or None when an optional bench is not there."""
    module_name = f"bench.{name}_bench"
    if name in OPTIONAL_BENCHES and importlib.util.find_spec(module_name) is None:
        return None
    module = importlib.import_module(module_name)
    run = getattr(module, "run", None)
    if run is None:
        raise RuntimeError(f"{module_name} has no run(servers, options, workdir)")
    return cast(BenchRun, run)


def markdown_block(machine: dict[str, str], options: Options, sections: Sequence[Section]) -> str:
    command = "python -m bench" + (" --quick" if options.quick else "")
    lines = [
        f"### {machine['date']} — `{command}`",
        "",
        *(f"- {key}: {value}" for key, value in machine.items() if key != "date"),
        f"- load: {options.clients} HTTP clients for {options.duration:.0f} s a phase; "
        f"{options.events} events for the projector, batch {options.batch}, "
        f"best of {options.rounds} alternated rounds",
        "",
        markdown_table(sections),
    ]
    return "\n".join(lines)


async def main_async(args: argparse.Namespace, workdir: Path) -> int:
    options = Options.for_run(args.quick, duration=args.duration, events=args.events)
    names = [args.only] if args.only else [*BENCHES, *OPTIONAL_BENCHES]
    sections: list[Section] = []
    with servers(workdir) as srv:
        machine = await describe_machine(srv)
        print("Numécole benchmarks —", machine["date"], flush=True)
        for key, value in machine.items():
            if key != "date":
                print(f"  {key:11} {value}", flush=True)
        for name in names:
            run = load_bench(name)
            if run is None:
                print(f"\n{name}: not there yet (bench/{name}_bench.py), skipped", flush=True)
                continue
            print(f"\n{name}: running…", flush=True)
            section = await run(srv, options, workdir / name)
            sections.append(section)
            print(table([section]), flush=True)
    print("\nAll figures\n" + table(sections))
    if args.markdown:
        print("\n" + markdown_block(machine, options, sections))
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench", description="Numécole benchmarks")
    p.add_argument("--quick", action="store_true", help="a small run (5 s phases, 5 000 events)")
    p.add_argument("--only", choices=[*BENCHES, *OPTIONAL_BENCHES], help="run one bench")
    p.add_argument("--markdown", action="store_true", help="also print a block for BENCHMARKS.md")
    p.add_argument("--duration", type=float, help="seconds of load for each HTTP phase")
    p.add_argument("--events", type=int, help="events recorded for the projector's catch-up")
    p.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    configure_logging("bench", level="WARNING")
    workdir = Path(tempfile.mkdtemp(prefix="numecole-bench-"))
    ok = False
    try:
        code = asyncio.run(main_async(args, workdir))
        ok = code == 0
        return code
    finally:
        if ok and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"work directory (logs): {workdir}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
