"""``depot-emulator``: a local Depot API for tests, demos and laptops.

Prints ``depot-emulator listening on http://HOST:PORT`` on stdout once it accepts connections,
then serves until SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from collections.abc import Sequence

from airflow_provider_depot.connect._options import is_loopback_host

from ._emulator import DEFAULT_TOKEN, Emulator, EmulatorConfig
from ._inprocess import base_url
from ._snapshot import SnapshotError
from .connect_server import FaultRule, rules_from_json
from .connect_server._hosting import bind_socket


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="depot-emulator",
        description="Serve a local Depot API (Connect over HTTP/1.1 and h2c on one port).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to listen on; 0 picks a free one (default)")
    parser.add_argument(
        "--token",
        action="append",
        default=None,
        metavar="TOKEN",
        help=f"an accepted organization token (repeatable; default: {DEFAULT_TOKEN})",
    )
    parser.add_argument("--seed", metavar="FILE|demo", help="initial state: a seed JSON file, or 'demo'")
    parser.add_argument(
        "--state", metavar="FILE", help="persist the state in FILE (loaded at start if it exists)"
    )
    parser.add_argument(
        "--health-timeout",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="release endpoints and fail builds without health for this long (default 300)",
    )
    parser.add_argument(
        "--buildkit-endpoint",
        metavar="tcp://HOST:PORT",
        help="the BuildKit that builds get, fronted by a per-build mTLS proxy",
    )
    parser.add_argument(
        "--buildkit-plain",
        action="store_true",
        help="front --buildkit-endpoint with plain TCP proxies (no mTLS)",
    )
    parser.add_argument(
        "--pending",
        type=int,
        default=1,
        metavar="N",
        help="pending replies before an endpoint is active (default 1)",
    )
    parser.add_argument(
        "--pending-interval",
        type=float,
        default=0.5,
        metavar="SECONDS",
        help="time between pending replies, and the CLI's wait_ms (default 0.5)",
    )
    parser.add_argument(
        "--faults", metavar="FILE", help='fault rules (JSON: a rule, a list, or {"rules": [...]})'
    )
    parser.add_argument(
        "--fault", action="append", default=[], metavar="JSON", help="one fault rule, inline (repeatable)"
    )
    parser.add_argument("--id-seed", type=int, metavar="N", help="make generated ids reproducible")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return parser


def _fault_rules(args: argparse.Namespace) -> list[FaultRule]:
    rules: list[FaultRule] = []
    if args.faults:
        with open(args.faults, encoding="utf-8") as handle:
            rules.extend(rules_from_json(json.load(handle)))
    for inline in args.fault:
        rules.extend(rules_from_json(json.loads(inline)))
    return rules


def _config(args: argparse.Namespace) -> EmulatorConfig:
    return EmulatorConfig(
        tokens=tuple(args.token or (DEFAULT_TOKEN,)),
        seed=args.seed,
        state_file=args.state,
        health_timeout=args.health_timeout,
        buildkit_endpoint=args.buildkit_endpoint,
        buildkit_mtls=not args.buildkit_plain,
        pending=args.pending,
        pending_interval=args.pending_interval,
        faults=_fault_rules(args),
        id_seed=args.id_seed,
    )


async def _serve(emulator: Emulator, host: str, port: int) -> None:
    sock = bind_socket(host, port)
    if not is_loopback_host(host):
        logging.getLogger("airflow_provider_depot.emulator").warning(
            "listening on %s: the admin endpoints (/_emulator/) have no authentication", host
        )
    shutdown = asyncio.Event()
    loop = asyncio.get_running_loop()
    for name in ("SIGINT", "SIGTERM"):
        loop.add_signal_handler(getattr(signal, name), shutdown.set)
    url = base_url(sock)

    def ready() -> None:
        print(f"depot-emulator listening on {url}", flush=True)

    try:
        await emulator.serve(sock, shutdown, on_ready=ready)
    finally:
        sock.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        emulator = Emulator(_config(args))
    except (OSError, ValueError, SnapshotError) as exc:
        print(f"depot-emulator: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(_serve(emulator, args.host, args.port))
    except OSError as exc:
        print(f"depot-emulator: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
