"""A real PostgreSQL server for the store tests, started and stopped by the tests themselves.

Uses Debian's ``postgresql`` package (``.ci/run`` installs it). When the server binaries are
missing the tests skip, unless ``TINGFENG_REQUIRE_POSTGRES=1`` (set by ``.ci/run``) turns the
skip into a failure so CI can never pass without having run them.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _as_postgres(cmd: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root; CI runs as root, so drop to the package's user.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


def _unavailable(reason: str) -> None:
    if os.environ.get("TINGFENG_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"PostgreSQL is required here but {reason}")
    pytest.skip(f"PostgreSQL not available: {reason} (apt-get install postgresql)")


@contextmanager
def postgres_server(port: int) -> Iterator[str]:
    """Start a throw-away cluster on 127.0.0.1:port; yield a SQLAlchemy URL to a fresh database."""
    bindir = _pg_bin()
    if bindir is None:
        _unavailable("initdb was not found")
        raise AssertionError  # unreachable: skip/fail raise
    root = Path(tempfile.mkdtemp(prefix="tingfeng-pg-"))
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(sock, "postgres")

    def run(*cmd: str) -> None:
        subprocess.run(
            _as_postgres([str(bindir / cmd[0]), *cmd[1:]]),
            check=True,
            capture_output=True,
            text=True,
        )

    try:
        run("initdb", "-D", str(data), "-A", "trust", "-U", "tingfeng", "-E", "UTF8", "--no-locale")
        opts = f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
        run(
            "pg_ctl",
            "-D",
            str(data),
            "-o",
            opts,
            "-l",
            str(root / "log"),
            "-w",
            "-t",
            "60",
            "start",
        )
        run("createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "tingfeng", "tingfeng_test")
        yield f"postgresql+psycopg://tingfeng@127.0.0.1:{port}/tingfeng_test"
    except subprocess.CalledProcessError as exc:
        _unavailable(
            f"{exc.cmd[-1] if exc.cmd else 'a command'} failed: {exc.stderr.strip()[:300]}"
        )
    finally:
        subprocess.run(
            _as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)
