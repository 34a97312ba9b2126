"""``python -m crawlers.sandbox``: build a world and serve it until SIGTERM or SIGINT.

Prints exactly one line to stdout once it accepts connections:
``sandbox listening on http://HOST:PORT``.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from types import FrameType

from crawlers.sandbox.server import make_server
from crawlers.sandbox.world import build_world

logger = logging.getLogger(__name__)
READY = "sandbox listening on"


def _fault(text: str) -> tuple[str, float]:
    name, sep, rate = text.partition("=")
    try:
        return name.strip(), float(rate) if sep else 1.0
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected NAME=RATE, got {text!r}") from None


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m crawlers.sandbox", description="Serve a generated Weibo-like world on HTTP."
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--users", type=int, default=400)
    p.add_argument(
        "--fault",
        type=_fault,
        action="append",
        default=[],
        metavar="NAME=RATE",
        help="failure mode and the share of URLs it hits, e.g. malformed_json=0.2",
    )
    p.add_argument("--log-level", default="WARNING")
    return p


def serve(
    host: str, port: int, seed: int, users: int, faults: dict[str, float] | None = None
) -> None:
    """Build the world, announce the address on stdout, serve until SIGTERM/SIGINT."""
    server = make_server(host, port, build_world(seed, users), faults)
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _stop)
    worker = threading.Thread(target=server.serve_forever, name="sandbox", daemon=True)
    worker.start()
    print(f"{READY} {server.base_url}", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.shutdown()
        server.server_close()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        serve(args.host, args.port, args.seed, args.users, dict(args.fault))
    except (ValueError, OSError) as exc:
        logger.error("sandbox cannot start: %s (pick another --port, or 0 for any free one)", exc)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
