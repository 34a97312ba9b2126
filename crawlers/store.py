"""Engine, sessions and idempotent upserts, for SQLite (WAL) and PostgreSQL alike.

``open_store(settings)`` gives an engine with the schema in place; ``upsert`` writes rows with
the dialect's ``INSERT .. ON CONFLICT`` on their natural key, so running a stage twice never
duplicates a row.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, inspect, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError, ProgrammingError, SQLAlchemyError
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, SQLModel, create_engine, select

from crawlers import models
from crawlers.config import Settings
from crawlers.errors import StoreError

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1


def database_url(settings: Settings) -> str:
    """The store URL with a relative SQLite path resolved against the settings file's folder."""
    url = make_url(settings.store.url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        path = settings.resolve(url.database)
        return str(url.set(database=str(path)))
    return settings.store.url


def _check_sqlite_path(url: str) -> None:
    db = make_url(url).database
    if not db or db == ":memory:":
        return
    path = Path(db)
    parent = path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(
            url,
            f"cannot create the folder {parent} ({exc.strerror})",
            "Set [store] url to a writable location.",
        ) from exc
    target = path if path.exists() else parent
    if not os.access(target, os.W_OK):
        raise StoreError(
            url,
            f"{target} is not writable",
            "Fix its permissions or set [store] url to a writable location.",
        )


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # the busy timeout first: switching a new file to WAL needs a lock another process may hold
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def make_engine(url: str, echo: bool = False) -> Engine:
    """An engine for ``url``; SQLite files get WAL, a busy timeout and foreign keys."""
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        _check_sqlite_path(url)
        in_memory = make_url(url).database in (None, "", ":memory:")
        kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False, "timeout": 10}}
        if in_memory:
            kwargs["poolclass"] = StaticPool
        engine = create_engine(url, echo=echo, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, echo=echo, pool_pre_ping=True)


def migrate(engine: Engine) -> None:
    """Create missing tables and add columns that later releases added to existing tables.

    Schema changes so far are additive (new tables, new columns with a default), so this is the
    whole migration; a change that is not additive gets its own step here, keyed by version.
    """
    try:
        with _schema_lock(engine):
            _create_schema(engine)
    except OperationalError as exc:
        raise StoreError(
            engine.url.render_as_string(hide_password=True),
            _reason(exc),
            "Check that the database is reachable and writable.",
        ) from exc


#: pg_advisory_lock key of schema changes (any fixed number; "tingfeng" in ASCII)
SCHEMA_LOCK_KEY = 0x74696E6766656E67


@contextmanager
def _schema_lock(engine: Engine) -> Iterator[None]:
    """Serialise schema changes across processes opening one store at the same time.

    SQLite files: an exclusive ``flock`` on ``<file>.schema-lock`` beside the database.
    PostgreSQL: a session advisory lock. Other stores (in-memory SQLite): no lock needed.
    """
    url = engine.url
    if url.get_backend_name() == "postgresql":
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": SCHEMA_LOCK_KEY})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": SCHEMA_LOCK_KEY})
                conn.commit()
        return
    database = url.database if url.get_backend_name() == "sqlite" else None
    if not database or database == ":memory:" or database.startswith("file:"):
        yield
        return
    import fcntl

    with open(f"{database}.schema-lock", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _create_schema(engine: Engine, attempts: int = 3) -> None:
    # Several crawler processes may start together on an empty store: another one can create a
    # table between our check and our CREATE. Checking again then finds it and moves on.
    for attempt in range(attempts):
        try:
            SQLModel.metadata.create_all(engine)
            _add_missing_columns(engine)
            return
        except (OperationalError, ProgrammingError) as exc:
            if "already exists" not in str(exc) or attempt == attempts - 1:
                raise


def _add_missing_columns(engine: Engine) -> None:
    inspector = inspect(engine)
    with engine.begin() as conn:
        for table in SQLModel.metadata.sorted_tables:
            existing = {c["name"] for c in inspector.get_columns(table.name)}
            for column in table.columns:
                if column.name not in existing:
                    conn.execute(text(_add_column_ddl(engine, table.name, column)))
                    logger.info("migrated: added column %s.%s", table.name, column.name)


def _add_column_ddl(engine: Engine, table: str, column: Any) -> str:
    kind = column.type.compile(dialect=engine.dialect)
    default = _literal_default(column)
    not_null = " NOT NULL" if not column.nullable and default is not None else ""
    fill = f" DEFAULT {default}" if default is not None else ""
    return f'ALTER TABLE "{table}" ADD COLUMN "{column.name}" {kind}{fill}{not_null}'


def _literal_default(column: Any) -> str | None:
    """The column's Python default as an SQL literal (None when it has none we can express)."""
    default = column.default
    if default is None:
        return None
    value = default.arg
    if callable(value):
        try:
            value = value(None)  # SQLAlchemy wraps callables to take a context
        except TypeError:
            return None
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, list | dict):
        return "'" + json.dumps(value) + "'"
    return None


def _reason(exc: SQLAlchemyError) -> str:
    orig = getattr(exc, "orig", None)
    return str(orig or exc).strip().splitlines()[0]


def open_store(settings: Settings) -> Engine:
    """Engine for the configured store, schema migrated, writability checked."""
    url = database_url(settings)
    engine = make_engine(url, echo=settings.store.echo)
    migrate(engine)
    if engine.dialect.name == "sqlite":
        _probe_write(engine)
    return engine


def _probe_write(engine: Engine) -> None:
    # A read-only file opens fine and fails only on the first write: find out now, clearly.
    try:
        with engine.begin() as conn:
            # writing the schema version into the header fails at once on a read-only file
            conn.exec_driver_sql(f"PRAGMA user_version = {SCHEMA_VERSION}")
    except OperationalError as exc:
        raise StoreError(
            engine.url.render_as_string(hide_password=True),
            _reason(exc),
            "Fix the file's permissions or set [store] url to a writable location.",
        ) from exc


def _insert_for(engine_or_session: Engine | Session, table: Any) -> Any:
    bind = (
        engine_or_session.get_bind()
        if isinstance(engine_or_session, Session)
        else engine_or_session
    )
    if bind.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)
    if bind.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table)
    raise StoreError(  # pragma: no cover - guarded by make_engine's supported backends
        str(bind.engine.url),
        f"unsupported backend {bind.dialect.name}",
        "Use sqlite:/// or postgresql+psycopg://",
    )


def upsert(
    session: Session,
    model: type[SQLModel],
    rows: Sequence[dict[str, Any]],
    keys: Sequence[str],
    update: Iterable[str] | None = None,
    keep_existing_when_none: bool = True,
) -> int:
    """Insert ``rows`` into ``model``'s table; on a natural-key conflict update ``update`` columns.

    ``update=None`` updates every non-key column present in the rows; ``update=()`` leaves
    existing rows untouched (``DO NOTHING``). With ``keep_existing_when_none`` a ``None`` in a row
    does not overwrite a stored value (a response that omits a count keeps the known count).
    Returns the number of rows sent. The caller owns the transaction (commit or rollback).
    """
    if not rows:
        return 0
    for columns, group in _group_by_columns(rows).items():
        session.execute(
            _upsert_statement(session, model, columns, keys, update, keep_existing_when_none), group
        )
    return len(rows)


def _group_by_columns(
    rows: Sequence[dict[str, Any]],
) -> dict[tuple[str, ...], list[dict[str, Any]]]:
    # one compiled statement per column set, executed as executemany: far faster than
    # multi-row VALUES, which SQLAlchemy would recompile for every chunk
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(sorted(row)), []).append(row)
    return groups


def _upsert_statement(
    session: Session,
    model: type[SQLModel],
    columns: tuple[str, ...],
    keys: Sequence[str],
    update: Iterable[str] | None,
    keep_existing_when_none: bool,
) -> Any:
    table = model.__table__  # type: ignore[attr-defined]
    stmt = _insert_for(session, table)
    wanted = set(update) if update is not None else set(columns)
    cols = [c for c in columns if c in wanted and c not in keys]
    if not cols:
        return stmt.on_conflict_do_nothing(index_elements=list(keys))
    excluded = stmt.excluded
    set_ = {
        c: func.coalesce(excluded[c], table.c[c]) if keep_existing_when_none else excluded[c]
        for c in cols
    }
    return stmt.on_conflict_do_update(index_elements=list(keys), set_=set_)


def count(session: Session, model: type[SQLModel], *where: Any) -> int:
    """Number of rows of ``model`` matching ``where``."""
    stmt = select(func.count()).select_from(model)
    for cond in where:
        stmt = stmt.where(cond)
    return int(session.exec(stmt).one())


def table_counts(session: Session) -> dict[str, int]:
    """Rows per table, for the CLI's summaries and for idempotence tests."""
    names = inspect(session.get_bind()).get_table_names()
    out: dict[str, int] = {}
    for name, table in SQLModel.metadata.tables.items():
        if name in names:
            out[name] = int(session.exec(select(func.count()).select_from(table)).one())
    return out


def latest_label_version(session: Session) -> str | None:
    """The NLP model version whose post labels were written last (None before any)."""
    label = models.PostLabel
    stmt = (
        select(label.model_version)
        .group_by(label.model_version)
        .order_by(func.max(label.labeled_at).desc(), label.model_version.desc())  # type: ignore[attr-defined]
        .limit(1)
    )
    return session.exec(stmt).first()


__all__ = [
    "count",
    "database_url",
    "latest_label_version",
    "make_engine",
    "migrate",
    "models",
    "open_store",
    "table_counts",
    "upsert",
]
