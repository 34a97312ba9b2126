"""Several processes opening one new SQLite store at once all get a migrated store."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import inspect
from sqlmodel import SQLModel

from crawlers.store import make_engine

OPEN = """
import sys
from crawlers.store import make_engine, migrate
migrate(make_engine(sys.argv[1]))
"""


def test_processes_opening_a_new_store_together_all_succeed(tmp_path: Path) -> None:
    # Before the schema lock, 4 processes failed in 5 of 6 rounds ("table already exists",
    # "database is locked").
    for round_ in range(3):
        url = f"sqlite:///{tmp_path / f'race{round_}.db'}"
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", OPEN, url], stderr=subprocess.PIPE, text=True
            )
            for _ in range(4)
        ]
        errors = [(p.wait(timeout=120), p.stderr.read() if p.stderr else "") for p in procs]
        assert all(rc == 0 for rc, _ in errors), errors
        tables = set(inspect(make_engine(url)).get_table_names())
        assert set(SQLModel.metadata.tables) <= tables
