"""Reviewer accounts, passwords, login throttling and server-side sessions of the web UI.

* Passwords are hashed with scrypt (``n=2**14, r=8, p=1``, a 16-byte random salt) and checked
  in constant time; the store holds ``scrypt$n$r$p$salt$hash``, never the password.
* A login that fails ``MAX_FAILURES`` times for one name within ``FAILURE_WINDOW`` makes that
  name wait until the window has passed (unknown names too, so waiting reveals nothing).
* A session is a random token in the cookie; the store holds only its SHA-256, the user, the
  session's CSRF token and when it ends. Logging out, expiry and disabling the user end it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, delete, select

from crawlers.errors import ReviewError
from crawlers.models import WebSession, WebUser, utcnow

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
SALT_BYTES = 16
KEY_BYTES = 32
MIN_PASSWORD = 12
MAX_PASSWORD = 1024
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)
NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=KEY_BYTES, maxmem=64 * 2**20
    )


def hash_password(password: str) -> str:
    """``scrypt$n$r$p$salt$hash`` of ``password`` with a fresh random salt."""
    salt = secrets.token_bytes(SALT_BYTES)
    key = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored`` (constant-time comparison of the keys)."""
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        want = _unb64(key)
        got = _scrypt(password[:MAX_PASSWORD], _unb64(salt), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, want)


#: checked when the name is unknown, so a wrong name costs as much time as a wrong password
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


def check_new_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ReviewError(
            f"the password is {len(password)} characters long: use at least {MIN_PASSWORD} "
            "(a passphrase of a few words is easiest)."
        )
    if len(password) > MAX_PASSWORD:
        raise ReviewError(f"the password is longer than {MAX_PASSWORD} characters.")


def check_name(name: str) -> str:
    if not (1 <= len(name) <= 64) or not set(name) <= NAME_CHARS:
        raise ReviewError(
            f"user name {name!r}: use 1-64 letters, digits, '.', '_' or '-' (it is the name the "
            "audit log and [bot] reviewers use)."
        )
    return name


def add_user(session: Session, name: str, password: str) -> WebUser:
    """A new enabled user; ``ReviewError`` if the name is taken or the password too short."""
    check_name(name)
    check_new_password(password)
    if session.exec(select(WebUser).where(WebUser.name == name)).first() is not None:
        raise ReviewError(f"user {name!r} exists already. Pick another name.")
    user = WebUser(name=name, password_hash=hash_password(password), created_at=utcnow())
    session.add(user)
    session.commit()
    session.refresh(user)
    return user


def list_users(session: Session) -> Sequence[WebUser]:
    return session.exec(select(WebUser).order_by(col(WebUser.name))).all()


def disable_user(session: Session, name: str) -> WebUser:
    """Disable ``name`` and end its sessions at once."""
    user = session.exec(select(WebUser).where(WebUser.name == name)).first()
    if user is None:
        raise ReviewError(f"no user {name!r}. `tingfeng users list` shows them.")
    user.disabled = True
    session.add(user)
    session.exec(delete(WebSession).where(col(WebSession.user) == name))  # type: ignore[call-overload]
    session.commit()
    session.refresh(user)
    return user


class Throttle:
    """Failed logins per name in a sliding window, in this process's memory."""

    def __init__(self, max_failures: int = MAX_FAILURES, window: timedelta = FAILURE_WINDOW):
        self.max_failures = max_failures
        self.window = window
        self._fails: dict[str, deque[datetime]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _recent(self, name: str, now: datetime) -> deque[datetime]:
        fails = self._fails[name.lower()]
        while fails and fails[0] <= now - self.window:
            fails.popleft()
        return fails

    def wait(self, name: str, now: datetime) -> timedelta | None:
        """How long ``name`` must wait before trying again, or ``None``."""
        with self._lock:
            fails = self._recent(name, now)
            if len(fails) >= self.max_failures:
                return fails[0] + self.window - now
            return None

    def failed(self, name: str, now: datetime) -> None:
        with self._lock:
            self._recent(name, now).append(now)

    def succeeded(self, name: str) -> None:
        with self._lock:
            self._fails.pop(name.lower(), None)


def authenticate(session: Session, name: str, password: str) -> WebUser | None:
    """The enabled user ``name`` if ``password`` is theirs, else ``None`` (same cost either way)."""
    user = session.exec(select(WebUser).where(WebUser.name == name)).first()
    ok = verify_password(password, user.password_hash if user else _DUMMY_HASH)
    if user is None or user.disabled or not ok:
        return None
    return user


@dataclass(frozen=True)
class Login:
    """A valid session: who, and the token its forms carry."""

    user: str
    csrf: str
    expires_at: datetime


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def start_session(session: Session, user: str, hours: float, now: datetime | None = None) -> str:
    """A new session for ``user``; returns the cookie's token (stored only as its hash)."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    session.add(
        WebSession(
            token_hash=_token_hash(token),
            user=user,
            csrf=secrets.token_urlsafe(32),
            created_at=now,
            expires_at=now + timedelta(hours=hours),
        )
    )
    # sweep sessions that ended, so the table stays small
    session.exec(delete(WebSession).where(col(WebSession.expires_at) <= now))  # type: ignore[call-overload]
    session.commit()
    return token


def _aware(when: datetime) -> datetime:
    from bot.review import as_utc

    return as_utc(when)


def find_session(session: Session, token: str | None, now: datetime | None = None) -> Login | None:
    """The live session of cookie ``token`` whose user is still enabled, else ``None``."""
    if not token or len(token) > 200:
        return None
    now = now or utcnow()
    row = session.exec(
        select(WebSession).where(WebSession.token_hash == _token_hash(token))
    ).first()
    if row is None or _aware(row.expires_at) <= now:
        return None
    user = session.exec(select(WebUser).where(WebUser.name == row.user)).first()
    if user is None or user.disabled:
        return None
    return Login(row.user, row.csrf, _aware(row.expires_at))


def end_session(session: Session, token: str | None) -> None:
    if token:
        stmt = delete(WebSession).where(col(WebSession.token_hash) == _token_hash(token))
        session.exec(stmt)  # type: ignore[call-overload]
        session.commit()
