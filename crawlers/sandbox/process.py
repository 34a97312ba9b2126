"""``SandboxProcess``: the sandbox as a subprocess, for tests and the demo.

with SandboxProcess(seed=42, users=400) as sandbox:
    urlopen(sandbox.base_url + "/robots.txt")
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import IO

from crawlers.errors import TingfengError
from crawlers.sandbox.faults import Options

logger = logging.getLogger(__name__)
READY = "sandbox listening on "
ROOT = Path(__file__).resolve().parents[2]


class SandboxError(TingfengError):
    """The sandbox subprocess did not come up."""

    def __init__(self, reason: str, output: str = "") -> None:
        tail = f"\n--- sandbox output ---\n{output.strip()[-2000:]}" if output.strip() else ""
        super().__init__(f"sandbox platform did not start: {reason}{tail}")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _pump(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


class SandboxProcess:
    """Start ``python -m crawlers.sandbox`` and wait for its ready line; stop it on exit."""

    def __init__(
        self,
        seed: int = 42,
        users: int = 400,
        port: int | None = None,
        host: str = "127.0.0.1",
        faults: dict[str, float] | None = None,
        timeout: float = 60.0,
        *,
        slow_seconds: float = 2.0,
        retry_after: int = 2,
        guest_caps: bool = True,
        hide_newest: float = 0.0,
    ) -> None:
        self.host, self.seed, self.users = host, seed, users
        self.port = port or free_port(host)
        self.faults = dict(faults or {})
        self.options = Options(slow_seconds, retry_after, guest_caps)
        self.hide_newest = hide_newest
        self.timeout = timeout
        self.base_url = f"http://{host}:{self.port}"
        self._proc: subprocess.Popen[str] | None = None

    def command(self) -> list[str]:
        cmd = [
            sys.executable,
            "-m",
            "crawlers.sandbox",
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--seed",
            str(self.seed),
            "--users",
            str(self.users),
        ]
        for name, value in self.faults.items():
            cmd += ["--fault", f"{name}={value}"]
        return cmd + [
            "--slow-seconds",
            str(self.options.slow_seconds),
            "--retry-after",
            str(self.options.retry_after),
            "--guest-caps",
            "on" if self.options.guest_caps else "off",
            "--hide-newest",
            str(self.hide_newest),
        ]

    def start(self) -> SandboxProcess:
        env = os.environ | {
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
        }
        self._proc = subprocess.Popen(
            self.command(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            env=env,
        )
        self._wait_ready()
        logger.info("sandbox up at %s (seed=%s users=%s)", self.base_url, self.seed, self.users)
        return self

    def _wait_ready(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=_pump, args=(self._proc.stdout, lines), daemon=True).start()
        seen: list[str] = []
        deadline = time.monotonic() + self.timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = lines.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                code = self._proc.wait()
                self.stop()
                raise SandboxError(f"it exited with code {code}", "".join(seen))
            if line.startswith(READY):
                return
            seen.append(line)
        self.stop()
        raise SandboxError(f"no ready line within {self.timeout:.0f}s", "".join(seen))

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def __enter__(self) -> SandboxProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
