"""A simulator as a process of its own: `python -m mamd.sim.abs` and `python -m mamd.sim.mam`.

It prints `listening on http://HOST:PORT` once it accepts connections and stops on SIGTERM or SIGINT. A
simulator that cannot be built (a bad option, an unreadable file) exits with status 2 and says why.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Callable

from aiohttp import web


def argument_parser(module: str, description: str, port: int) -> argparse.ArgumentParser:
    """The command line of `python -m module`, with `--host` and `--port` (default `port`)."""
    parser = argparse.ArgumentParser(prog=f"python -m {module}", description=description)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback only)")
    parser.add_argument("--port", type=int, default=port, help="port (0: any free port)")
    return parser


async def serve(app: web.Application, host: str, port: int) -> None:
    """Serve until SIGTERM or SIGINT; print the listening line once connections are accepted."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)  # before the line a caller may answer with SIGTERM
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound_port = runner.addresses[0][1]
        print(f"listening on http://{host}:{bound_port}", flush=True)
        await stop.wait()
    finally:
        await runner.cleanup()


def run(module: str, args: argparse.Namespace, build: Callable[[argparse.Namespace], web.Application]) -> int:
    """Build the simulator's app from `args` and serve it on `args.host` and `args.port`; the exit status."""
    try:
        app = build(args)
    except (OSError, ValueError) as error:
        print(f"{module}: {error}", file=sys.stderr)
        return 2
    asyncio.run(serve(app, args.host, args.port))
    return 0
