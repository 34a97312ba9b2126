"""Fixtures of the web UI tests: a store on disk, users, an app and a logged-in client."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.web import create_app
from bot.web.auth import hash_password
from crawlers.config import Settings, default_settings
from crawlers.models import WebUser
from crawlers.store import make_engine, migrate

PASSWORD = "correct horse battery staple"
#: the address TestClient's requests come from and go to (https: the session cookie is Secure)
BASE = "https://testserver"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
#: hashed once: scrypt is slow on purpose (``tingfeng users add`` is tested on its own)
PASSWORD_HASH = hash_password(PASSWORD)


def web_settings(tmp_path: Path, **bot: Any) -> Settings:
    return default_settings(
        base_dir=tmp_path, store={"url": f"sqlite:///{tmp_path / 'web.db'}"}, bot=bot
    )


@pytest.fixture
def web_engine(tmp_path: Path) -> Iterator[Engine]:
    """A SQLite file (the browser tests' server thread and the test share it)."""
    eng = make_engine(f"sqlite:///{tmp_path / 'web.db'}")
    migrate(eng)
    with Session(eng) as s:
        for name in ("alice", "bob", "carol"):
            s.add(WebUser(name=name, password_hash=PASSWORD_HASH))
        s.commit()
    yield eng
    eng.dispose()


@pytest.fixture
def db(web_engine: Engine) -> Iterator[Session]:
    with Session(web_engine) as s:
        yield s


def make_client(settings: Settings, engine: Engine) -> TestClient:
    return TestClient(create_app(settings, engine), base_url=BASE, follow_redirects=False)


@pytest.fixture
def client(tmp_path: Path, web_engine: Engine) -> TestClient:
    return make_client(web_settings(tmp_path), web_engine)


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "no csrf field in the page"
    return found.group(1)


def log_in(client: TestClient, name: str = "alice", password: str = PASSWORD) -> Any:
    page = client.get("/login")
    assert page.status_code == 200
    return client.post(
        "/login", data={"name": name, "password": password, "csrf": csrf_of(page.text)}
    )


def token(client: TestClient, path: str = "/") -> str:
    """The session's CSRF token, read from a page as a browser would."""
    page = client.get(path)
    assert page.status_code == 200, page.text
    return csrf_of(page.text)


def fresh_draft(session: Session, **kw: Any) -> Any:
    """``tests.bot.test_review.make_draft``, but open for review now (it expires in 3 days)."""
    from datetime import timedelta

    from crawlers.models import utcnow
    from tests.bot.test_review import make_draft

    d = make_draft(session, **kw)
    d.expires_at = utcnow() + timedelta(days=3)
    session.add(d)
    session.commit()
    session.refresh(d)
    return d
