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

from crawlers.sandbox.faults import Options
from crawlers.sandbox.server import make_server
from crawlers.sandbox.world import build_world, hide_newest_posts

logger = logging.getLogger(__name__)
READY = "sandbox listening on"


def _fault(text: str) -> tuple[str, float]:
    name, sep, value = text.partition("=")
    try:
        return name.strip(), float(value) if sep else 1.0
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}") from None


def _fraction(text: str) -> float:
    value = float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a fraction in [0, 1), got {text!r}")
    return value


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
        metavar="NAME=VALUE",
        help="failure mode, repeatable: the share of URLs it hits (malformed_json=0.2) or, "
        "for ban_418/ban_432/ban_403/captcha_after/rate_limit, a number of requests (ban_418=50)",
    )
    p.add_argument("--slow-seconds", type=float, default=2.0, help="delay of the slow fault")
    p.add_argument("--retry-after", type=int, default=2, help="Retry-After of 429 replies")
    p.add_argument(
        "--guest-caps",
        choices=("on", "off"),
        default="on",
        help="without a SUB= cookie: 3 pages of a search, 1 page of a timeline (default: on)",
    )
    p.add_argument(
        "--hide-newest",
        type=_fraction,
        default=0.0,
        metavar="FRACTION",
        help="hide this newest share of posts, as if not yet written (default: 0)",
    )
    p.add_argument("--log-level", default="WARNING")
    return p


def serve(
    host: str,
    port: int,
    seed: int,
    users: int,
    faults: dict[str, float] | None = None,
    options: Options | None = None,
    hide_newest: float = 0.0,
) -> None:
    """Build the world, announce the address on stdout, serve until SIGTERM/SIGINT."""
    world = hide_newest_posts(build_world(seed, users), hide_newest)
    server = make_server(host, port, world, faults, options)
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
        options = Options(args.slow_seconds, args.retry_after, args.guest_caps == "on")
        serve(
            args.host, args.port, args.seed, args.users, dict(args.fault), options, args.hide_newest
        )
    except ValueError as exc:
        logger.error("sandbox cannot start: %s", exc)
        return 2
    except OSError as exc:
        logger.error("sandbox cannot start: %s (pick another --port, or 0 for any free one)", exc)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
