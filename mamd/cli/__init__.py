"""The `mamd` command: run the daemon, check a file, and talk to a running daemon.

Exit codes: 0 ok, 1 runtime failure, 2 bad configuration or usage.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import fields
from pathlib import Path
from typing import Any

from mamd import __version__
from mamd.cli.wanted import add_commands
from mamd.config import ConfigError, load_config
from mamd.config.load import load_section
from mamd.config.model import HttpConfig

DEFAULT_CONFIG = "/etc/mamd/mamd.yaml"
HASH_CHARS = frozenset("0123456789abcdefABCDEF")
REQUEST_TIMEOUT_S = 10.0


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_help(sys.stderr)
        return 2
    try:
        code: int = args.handler(args)
    except KeyboardInterrupt:
        return 1
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mamd", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--version", action="version", version=f"mamd {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    def command(name: str, help_text: str, handler: Any, config: bool = True) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        if config:
            sub.add_argument(
                "-c",
                "--config",
                type=Path,
                default=None,
                help=f"configuration file (default: $MAMD_CONFIG, then {DEFAULT_CONFIG})",
            )
        sub.set_defaults(handler=handler)
        return sub

    command("run", "run the daemon in the foreground (what systemd starts)", _run)
    command("check-config", "validate the file and every secret it references", _check_config)
    status = command("status", "show the running daemon's status", _status)
    status.add_argument("--json", action="store_true", help="print the raw JSON")
    hook = command("hook", "tell the running daemon that a torrent completed", _hook)
    hook.add_argument("hash", metavar="HASH", help="the torrent's info-hash (qBittorrent's %%I)")
    run_job = command("run-job", "ask the running daemon to run a job now", _run_job)
    run_job.add_argument("name", metavar="NAME", help="job name, e.g. library_sync")
    command(
        "notify-test",
        "send a test message to every notification target (through the running daemon, else directly)",
        _notify_test,
    )
    add_commands(command, _call)
    demo = command("demo", "run the whole pipeline against built-in simulators", _demo, config=False)
    demo.add_argument("--serve", action="store_true", help="keep the demo daemon running until Ctrl-C")
    demo.add_argument("--keep", action="store_true", help="keep the demo folder afterwards")
    return parser


def config_path(args: argparse.Namespace) -> Path:
    if args.config is not None:
        return Path(args.config)
    return Path(os.environ.get("MAMD_CONFIG") or DEFAULT_CONFIG)


def _print_problems(path: Path, error: ConfigError) -> None:
    print(f"{path}: {len(error.problems)} problem{'s' if len(error.problems) != 1 else ''}", file=sys.stderr)
    for problem in error.problems:
        print(f"  {problem}", file=sys.stderr)


def _run(args: argparse.Namespace) -> int:
    from mamd.daemon import run  # imported here so the small commands start fast

    return asyncio.run(run(config_path(args)))


def _check_config(args: argparse.Namespace) -> int:
    path = config_path(args)
    try:
        config = load_config(path)
    except ConfigError as error:
        _print_problems(path, error)
        return 2
    from mamd.importing.probe import ImportPaths, probe

    paths = ImportPaths.of(config)
    problem = probe(paths)
    if problem is not None:
        print(f"{path}: valid, but imports cannot work here:", file=sys.stderr)
        print(f"  {problem.message}", file=sys.stderr)
        return 2
    jobs = [
        f.name
        for f in fields(config.schedule)
        if getattr(config.schedule, f.name).seconds > 0 and f.name != "series_check"  # per series, no job
    ]
    verb = "hardlinked" if paths.method == "hardlink" else "copied"
    print(f"{path}: ok")
    print(f"  listens on {config.http.host}:{config.http.port}; database {config.state.database}")
    print(f"  jobs on timers: {', '.join(jobs) or 'none'}; dry run: {'yes' if config.dry_run else 'no'}")
    print(f"  imports: {verb} from {paths.save_path} into {paths.library} (tried)")
    if config.notify:
        from mamd.notify.services import scheme_of

        schemes = ", ".join(f"{scheme_of(t.url.reveal())}://" for t in config.notify)
        print(f"  notifications: {len(config.notify)} target(s): {schemes} (`mamd notify-test` tries them)")
    return 0


# -- talking to a running daemon ----------------------------------------------------------


class DaemonUnreachable(Exception):
    pass


def _daemon_http(args: argparse.Namespace) -> HttpConfig | None:
    path = config_path(args)
    try:
        section: HttpConfig = load_section(path, "http")
    except ConfigError as error:
        _print_problems(path, error)
        return None
    return section


def request_daemon(
    http: HttpConfig, method: str, path: str, body: dict[str, Any] | None = None
) -> tuple[int, Any]:
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(http.host, http.host)
    if ":" in host:
        host = f"[{host}]"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"http://{host}:{http.port}{path}", data=data, method=method)
    request.add_header("X-Api-Key", http.api_key.reveal())
    request.add_header("Accept", "application/json")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_S) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        payload = exc.read()
        try:
            return exc.code, json.loads(payload)
        except ValueError:
            return exc.code, {"error": {"message": payload.decode(errors="replace")}}
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DaemonUnreachable(
            f"mamd is not answering at {host}:{http.port} ({reason}); is it running?"
        ) from exc


def _call(
    args: argparse.Namespace, method: str, path: str, body: dict[str, Any] | None
) -> tuple[int, Any] | int:
    """One request to the running daemon; the exit code when it cannot be made (said on stderr)."""
    http = _daemon_http(args)
    if http is None:
        return 2
    try:
        return request_daemon(http, method, path, body)
    except DaemonUnreachable as exc:
        print(f"mamd: {exc}", file=sys.stderr)
        return 1


def _error_message(payload: Any) -> str:
    if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
        return str(payload["error"].get("message"))
    return str(payload)


def _status(args: argparse.Namespace) -> int:
    http = _daemon_http(args)
    if http is None:
        return 2
    try:
        code, payload = request_daemon(http, "GET", "/status")
    except DaemonUnreachable as exc:
        print(f"mamd: {exc}", file=sys.stderr)
        return 1
    if code != 200:
        print(f"mamd: /status answered {code}: {_error_message(payload)}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(payload, indent=2))
    else:
        from mamd.status_text import render_status

        print(render_status(payload))
    return 0


def _hook(args: argparse.Namespace) -> int:
    torrent_hash = args.hash.strip()
    if len(torrent_hash) != 40 or not set(torrent_hash) <= HASH_CHARS:
        print(f"mamd: {args.hash!r} is not a 40-character hexadecimal info-hash", file=sys.stderr)
        return 2
    http = _daemon_http(args)
    if http is None:
        return 2
    try:
        code, payload = request_daemon(http, "POST", "/hooks/qbittorrent", {"hash": torrent_hash})
    except DaemonUnreachable as exc:
        print(f"mamd: {exc}", file=sys.stderr)
        return 1
    if code != 202:
        print(f"mamd: the hook was refused ({code}): {_error_message(payload)}", file=sys.stderr)
        return 1
    note = " (already waiting)" if payload.get("duplicate") else ""
    print(f"accepted {payload['hash']}{note}")
    return 0


def _run_job(args: argparse.Namespace) -> int:
    http = _daemon_http(args)
    if http is None:
        return 2
    try:
        code, payload = request_daemon(http, "POST", f"/api/v1/jobs/{urllib.parse.quote(args.name, safe='')}")
    except DaemonUnreachable as exc:
        print(f"mamd: {exc}", file=sys.stderr)
        return 1
    if code == 202:
        print(f"started {args.name}; follow it with `mamd status`")
        return 0
    print(f"mamd: {_error_message(payload)}", file=sys.stderr)
    return 2 if code == 404 else 1


def _notify_test(args: argparse.Namespace) -> int:
    """The running daemon sends the test (so its targets' state follows); when none answers, this command
    sends it itself from the file."""
    path = config_path(args)
    unreachable = "its http section cannot be read"
    try:
        http: HttpConfig | None = load_section(path, "http")
    except ConfigError:
        http = None
    if http is not None:
        try:
            code, payload = request_daemon(http, "POST", "/api/v1/notify/test")
        except DaemonUnreachable as exc:
            unreachable = str(exc)
        else:
            if code != 200:
                print(
                    f"mamd: the notification test was refused ({code}): {_error_message(payload)}",
                    file=sys.stderr,
                )
                return 1
            print(f"sent by the running mamd at {http.host}:{http.port}:")
            return _test_results(payload.get("results") or [])
    try:
        config = load_config(path)
    except ConfigError as error:
        _print_problems(path, error)
        return 2
    from mamd.config import iter_secrets
    from mamd.logs import Redactor
    from mamd.notify.targets import send_tests, targets_of

    print(f"no running mamd answered ({unreachable}); sending from {path} directly:")
    results = asyncio.run(send_tests(targets_of(config), config, Redactor(iter_secrets(config)).text))
    return _test_results([result.as_dict() for result in results])


def _test_results(results: list[dict[str, Any]]) -> int:
    if not results:
        print("  notify: lists no target; nothing was sent", file=sys.stderr)
        return 2
    for result in results:
        outcome = f"sent ({result['ms']:.0f} ms)" if result["ok"] else f"FAILED: {result['error']}"
        print(f"  {result['target']} {result['service']}: {outcome}")
    return 0 if all(result["ok"] for result in results) else 1


def _demo(args: argparse.Namespace) -> int:
    from mamd.demo.run import run_demo

    return run_demo(serve=args.serve, keep=args.keep)


if __name__ == "__main__":
    sys.exit(main())
