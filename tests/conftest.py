"""Fixtures every test module may use: settings, an in-memory store, free ports, ../shared."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from crawlers.config import Settings, default_settings, load_settings
from crawlers.store import make_engine, migrate

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The repository's settings.toml, with the store moved into a temporary folder."""
    s = load_settings(ROOT / "settings.toml")
    s.store.url = f"sqlite:///{tmp_path / 'tingfeng.db'}"
    return s


@pytest.fixture
def bare_settings(tmp_path: Path) -> Settings:
    """Every default, no campaigns, store in a temporary folder."""
    return default_settings(base_dir=tmp_path, store={"url": f"sqlite:///{tmp_path / 't.db'}"})


@pytest.fixture
def engine() -> Iterator[Engine]:
    """In-memory SQLite with the schema (StaticPool: one connection, as SQLModel's tests do)."""
    eng = make_engine("sqlite://")
    migrate(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine) as s:
        yield s


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def shared_dir() -> Path:
    """``../shared`` beside the checkout; tests that need it skip when it is absent."""
    if not SHARED.is_dir():
        pytest.skip("../shared is absent (a user's fresh clone has no shared data)")
    return SHARED


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """URL of a real PostgreSQL database on 127.0.0.1, started for this test session."""
    from tests.pg import postgres_server

    with postgres_server(free_port()) as url:
        yield url
