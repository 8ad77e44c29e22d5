"""`mamd wanted`, `why`, `want`, `ignore`, `unignore`, `search`, `grab`, `import`: the running daemon's API.

Each command asks the daemon at the address and with the key of the configuration, as `mamd status` does.
Exit codes: 0 done, 1 refused by the daemon or the daemon unreachable, 2 bad usage or configuration.
"""

from __future__ import annotations

import argparse
import sys
import urllib.parse
from collections.abc import Callable
from typing import Any

from mamd.store.wanted import STATES

# (args, method, path, body) → (status, payload), or the exit code when the daemon could not be asked
Call = Callable[[argparse.Namespace, str, str, "dict[str, Any] | None"], "tuple[int, Any] | int"]
Command = Callable[..., argparse.ArgumentParser]


def add_commands(command: Command, call: Call) -> None:
    def run(handler: Callable[[argparse.Namespace, Call], int]) -> Callable[[argparse.Namespace], int]:
        return lambda args: handler(args, call)

    wanted = command("wanted", "list the wanted books, with their state and reason", run(_wanted))
    wanted.add_argument("--state", choices=STATES, help="only the books in this state")
    why = command("why", "show one wanted book: every release considered for it and why", run(_why))
    why.add_argument("id", metavar="ID", type=int, help="the wanted book's id (see `mamd wanted`)")
    want = command("want", "want a book by hand (kept in mamd's database)", run(_want))
    want.add_argument("title", metavar="TITLE")
    want.add_argument("--author", required=True)
    want.add_argument("--series")
    want.add_argument("--position")
    for name, text in (
        ("ignore", "never search or grab this wanted book"),
        ("unignore", "want an ignored book again"),
        ("search", "search MAM for this wanted book now"),
    ):
        sub = command(name, text, run(_simple(name)))
        sub.add_argument("id", metavar="ID", type=int, help="the wanted book's id")
    drop = command("unwant", "drop a book wanted through the API", run(_unwant))
    drop.add_argument("id", metavar="ID", type=int)
    grab = command("grab", "grab this release (one of the book's candidates) for this book", run(_grab))
    grab.add_argument("id", metavar="ID", type=int, help="the wanted book's id")
    grab.add_argument("mam_id", metavar="MAM_ID", type=int, help="the release's MAM torrent id")
    grab.add_argument(
        "--override-rules", action="store_true", help="take it though the rules refuse it (never the guard)"
    )
    again = command("import", "import a completed torrent again", run(_import))
    again.add_argument("hash", metavar="HASH", help="the torrent's info-hash")


def _answer(found: tuple[int, Any] | int, ok: tuple[int, ...]) -> Any:
    """The payload of an accepted answer; None (after saying why) otherwise."""
    if isinstance(found, int):
        return None
    code, payload = found
    if code in ok:
        return payload
    message = payload.get("error", {}).get("message") if isinstance(payload, dict) else payload
    print(f"mamd: refused ({code}): {message}", file=sys.stderr)
    return None


def _failed(found: tuple[int, Any] | int) -> int:
    return found if isinstance(found, int) else 1


def _line(book: dict[str, Any]) -> str:
    why = f" — {book['state_reason']}" if book.get("state_reason") else ""
    return f"{book['id']:>5}  {book['state']:<11} {book['reason']:<11} {book['label']}{why}"


def _wanted(args: argparse.Namespace, call: Call) -> int:
    after, shown = 0, 0
    while True:
        query = urllib.parse.urlencode(
            {"limit": 1000, "after": after, **({"state": args.state} if args.state else {})}
        )
        found = call(args, "GET", f"/api/v1/wanted?{query}", None)
        payload = _answer(found, (200,))
        if payload is None:
            return _failed(found)
        for book in payload["wanted"]:
            print(_line(book))
            shown += 1
        if payload.get("next") is None:
            break
        after = payload["next"]
    counts = ", ".join(f"{state} {n}" for state, n in payload["counts"].items() if n)
    print(f"{shown} shown; {counts or 'nothing wanted'}")
    return 0


def _why(args: argparse.Namespace, call: Call) -> int:
    found = call(args, "GET", f"/api/v1/wanted/{args.id}", None)
    payload = _answer(found, (200,))
    if payload is None:
        return _failed(found)
    print(_line(payload["wanted"]))
    for line in _evidence(payload["wanted"].get("evidence")):
        print(f"  {line}")
    candidates = payload["candidates"]
    if not candidates:
        print("  no release considered yet: `mamd search ID` looks now")
    for candidate in candidates:
        head = f"MAM {candidate['torrent_id']}  {candidate['title']}  (score {candidate['score']:g})"
        print(f"  {candidate['decision']:<8} {head}")
        for reason in candidate.get("reasons", []):
            print(f"           - {reason}")
    return 0


def _evidence(evidence: Any) -> list[str]:
    """What named the book, readably: the MAM rows of a continuation, the rank of a weekly best."""
    if not isinstance(evidence, dict):
        return []
    if isinstance(evidence.get("rows"), list):
        return [
            f"named by MAM {row.get('torrent_id')} {row.get('title')!r} as #{row.get('series_number')}"
            for row in evidence["rows"]
            if isinstance(row, dict)
        ]
    if "rank" in evidence:
        return [f"#{evidence['rank']} of {evidence.get('category')} by snatches ({evidence.get('snatches')})"]
    return [f"wanted {key} {value}" for key, value in evidence.items()]


def _want(args: argparse.Namespace, call: Call) -> int:
    body: dict[str, Any] = {"title": args.title, "author": args.author}
    if args.series is not None or args.position is not None:
        body |= {"series": args.series, "position": args.position}
    found = call(args, "POST", "/api/v1/wanted", body)
    payload = _answer(found, (201,))
    if payload is None:
        return _failed(found)
    print(f"wanted {payload['wanted']['label']} (id {payload['wanted']['id']})")
    return 0


def _simple(action: str) -> Callable[[argparse.Namespace, Call], int]:
    def handler(args: argparse.Namespace, call: Call) -> int:
        found = call(args, "POST", f"/api/v1/wanted/{args.id}/{action}", None)
        payload = _answer(found, (200, 202))
        if payload is None:
            return _failed(found)
        if action == "search":
            print(f"search of {args.id}: {payload['search']}; follow it with `mamd why {args.id}`")
        else:
            print(_line(payload["wanted"]))
        return 0

    return handler


def _unwant(args: argparse.Namespace, call: Call) -> int:
    found = call(args, "DELETE", f"/api/v1/wanted/{args.id}", None)
    if _answer(found, (200,)) is None:
        return _failed(found)
    print(f"no longer wanted: {args.id}")
    return 0


def _grab(args: argparse.Namespace, call: Call) -> int:
    body = {"mam_id": args.mam_id, "override_rules": args.override_rules}
    found = call(args, "POST", f"/api/v1/wanted/{args.id}/grab", body)
    payload = _answer(found, (200, 201, 202))
    if payload is None:
        return _failed(found)
    if payload.get("dry_run"):
        print(payload["message"])
    elif payload.get("added"):
        print(f"grabbed MAM {args.mam_id} for {args.id}: {payload['hash']}")
    else:
        print(f"fetched MAM {args.mam_id} for {args.id}; qBittorrent takes it later ({payload['hash']})")
    return 0


def _import(args: argparse.Namespace, call: Call) -> int:
    found = call(
        args, "POST", f"/api/v1/torrents/{urllib.parse.quote(args.hash.strip(), safe='')}/import", None
    )
    payload = _answer(found, (202,))
    if payload is None:
        return _failed(found)
    print(f"importing {payload['hash']}; `mamd status` shows the outcome")
    return 0
