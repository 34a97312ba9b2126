"""``tingfeng export posts|users``: a campaign's posts with their labels, or its users with
their influence, as CSV, XLSX or Parquet, streamed in chunks.

Nothing holds the whole export in memory: rows come from the database ``chunk`` at a time
(``yield_per``: a server-side cursor on PostgreSQL, SQLite's lazy cursor), CSV is written
row by row, XLSX with openpyxl's write-only mode, Parquet one row group per chunk with
``pyarrow.parquet.ParquetWriter``.

* **CSV** is UTF-8 with a byte-order mark (``utf-8-sig``), so Excel opens Chinese text
  correctly on a double click; lists are joined with ``"; "``; times are UTC,
  ``YYYY-MM-DD HH:MM:SS``.
* **XLSX** holds at most 1,048,576 rows (header included): a larger export is refused before
  anything is written, suggesting csv or parquet. Times are UTC (Excel has no time zones).
* **Parquet** keeps types: timestamps in UTC, lists as lists of strings, numbers as numbers.

CSV and XLSX are opened by spreadsheets, and a crawled text such as ``=HYPERLINK(...)`` would
run as a formula: text cells starting with ``= + - @``, a tab or a carriage return get a
leading apostrophe (OWASP "CSV injection"). Parquet is data, not a spreadsheet: kept as is.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import and_, case, func, select
from sqlmodel import Session

from crawlers.config import Settings
from crawlers.errors import TingfengError
from crawlers.models import Account, InfluenceScore, Post, PostLabel, ScoreRun
from crawlers.store import latest_label_version
from reports.scope import campaign_clause, campaign_or_error, columns, post_url

P, L, A, R = columns(Post), columns(PostLabel), columns(Account), columns(ScoreRun)

Format = Literal["csv", "xlsx", "parquet"]
FORMATS: tuple[Format, ...] = ("csv", "xlsx", "parquet")
Kind = Literal["str", "int", "float", "bool", "time", "list"]

#: rows an XLSX sheet holds, the header row included
XLSX_MAX_ROWS = 1_048_576
#: characters an Excel cell holds
XLSX_MAX_CELL = 32_767
CHUNK = 5_000
LIST_SEP = "; "
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


class ExportError(TingfengError):
    """An export cannot be written as asked (too many rows for XLSX, an unwritable path)."""

    exit_code = 1


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind


@dataclass
class Export:
    """What an export query gives: its columns, a way to count its rows, its rows in chunks."""

    columns: list[Column]
    count: Callable[[], int]
    chunks: Callable[[], Iterator[list[tuple[Any, ...]]]]


def safe_text(value: str) -> str:
    """``value`` with a leading apostrophe when a spreadsheet would read it as a formula."""
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _stream(session: Session, stmt: Any, chunk: int) -> Iterator[list[tuple[Any, ...]]]:
    result = session.execute(stmt.execution_options(yield_per=chunk))
    for part in result.partitions():
        yield [tuple(row) for row in part]


def _counter(session: Session, stmt: Any) -> Callable[[], int]:
    return lambda: int(
        session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    )


# --- posts ----------------------------------------------------------------------------------

POST_COLUMNS = [
    Column("platform", "str"),
    Column("post_id", "str"),
    Column("kind", "str"),
    Column("created_at_utc", "time"),
    Column("author_id", "str"),
    Column("author_name", "str"),
    Column("url", "str"),
    Column("text", "str"),
    Column("sentiment", "str"),
    Column("sentiment_score", "float"),
    Column("polarity", "float"),
    Column("emotion", "str"),
    Column("interests", "list"),
    Column("intents", "list"),
    Column("keywords", "list"),
    Column("topic", "str"),
    Column("spam_score", "float"),
    Column("reposts", "int"),
    Column("comments", "int"),
    Column("likes", "int"),
    Column("label_version", "str"),
]


def posts_export(
    session: Session,
    settings: Settings,
    campaign: str,
    since: datetime | None = None,
    until: datetime | None = None,
    chunk: int = CHUNK,
) -> Export:
    """The campaign's posts created in ``[since, until)``, oldest first, each with its label of
    the latest model version (empty label columns when it has none)."""
    camp = campaign_or_error(settings, campaign)
    version = latest_label_version(session)
    stmt = (
        select(
            P.platform,
            P.platform_id,
            P.kind,
            P.created_at,
            P.author_id,
            A.name,
            P.text_plain,
            L.sentiment,
            L.sentiment_score,
            L.polarity,
            L.emotion,
            L.interests,
            L.intents,
            L.keywords,
            L.topic,
            L.spam_score,
            P.reposts_count,
            P.comments_count,
            P.likes_count,
            L.model_version,
        )  # fmt: skip
        .select_from(Post)
        .outerjoin(
            PostLabel,
            and_(L.post_id == P.id, L.model_version == version),
        )
        .outerjoin(
            Account,
            and_(A.platform == P.platform, A.platform_id == P.author_id),
        )
        .where(campaign_clause(camp), *_window(P.created_at, since, until))
        .order_by(P.created_at, P.id)
    )

    def rows() -> Iterator[list[tuple[Any, ...]]]:
        for part in _stream(session, stmt, chunk):
            yield [
                (r[0], r[1], r[2], _utc(r[3]), r[4], r[5] or "", post_url(settings, r[0], r[1]),
                 *r[6:])
                for r in part
            ]  # fmt: skip

    return Export(POST_COLUMNS, _counter(session, stmt), rows)


def _window(column: Any, since: datetime | None, until: datetime | None) -> list[Any]:
    conds = []
    if since is not None:
        conds.append(column >= since)
    if until is not None:
        conds.append(column < until)
    return conds


# --- users ----------------------------------------------------------------------------------

#: parts of the overall influence score exported as their own columns (all parts: parts_json)
PART_COLUMNS: tuple[tuple[str, Kind], ...] = (
    ("reach", "float"),
    ("audience", "float"),
    ("pagerank", "float"),
    ("leaderrank", "float"),
    ("coreness", "float"),
    ("engagement_rate", "float"),
    ("quality", "float"),
    ("spam", "float"),
    ("community", "int"),
)


def users_columns(interests: Sequence[str]) -> list[Column]:
    cols = [
        Column("platform", "str"),
        Column("account_id", "str"),
        Column("name", "str"),
        Column("handle", "str"),
        Column("followers", "int"),
        Column("verified", "bool"),
        Column("posts", "int"),
        Column("negative_posts", "int"),
        Column("last_post_utc", "time"),
        Column("influence_rank", "int"),
        Column("influence_score", "float"),
        Column("explanation", "str"),
    ]
    cols += [Column(name, kind) for name, kind in PART_COLUMNS]
    for interest in interests:
        cols += [
            Column(f"{interest}_rank", "int"),
            Column(f"{interest}_score", "float"),
            Column(f"{interest}_explanation", "str"),
        ]
    cols.append(Column("parts_json", "str"))
    return cols


def users_export(
    session: Session,
    settings: Settings,
    campaign: str,
    since: datetime | None = None,
    until: datetime | None = None,
    chunk: int = CHUNK,
) -> Export:
    """The authors of the campaign's posts in ``[since, until)``, with their overall influence
    (rank, score, parts, the plain explanation) and their influence in each of the campaign's
    interests, from the latest ranking run of their platform; the best ranked first, unranked
    users last (most posts first)."""
    camp = campaign_or_error(settings, campaign)
    version = latest_label_version(session)
    negative = case((L.sentiment == "negative", 1), else_=0)
    authors = (
        select(
            P.platform.label("platform"),
            P.author_id.label("author_id"),
            func.count().label("posts"),
            func.sum(negative).label("negative"),
            func.max(P.created_at).label("last_post"),
        )
        .select_from(Post)
        .outerjoin(
            PostLabel,
            and_(L.post_id == P.id, L.model_version == version),
        )
        .where(campaign_clause(camp), *_window(P.created_at, since, until))
        .group_by(P.platform, P.author_id)
        .subquery()
    )
    runs = (
        select(R.platform.label("platform"), func.max(R.id).label("run_id"))
        .group_by(R.platform)
        .subquery()
    )

    def score_of(interest: str) -> Any:
        table = InfluenceScore.__table__.alias()  # type: ignore[attr-defined]
        cond = and_(
            table.c.run_id == runs.c.run_id,
            table.c.platform == authors.c.platform,
            table.c.account_id == authors.c.author_id,
            table.c.interest == interest,
        )
        return table, cond

    overall_table, overall_on = score_of("")
    overall = overall_table.c
    per_interest = [score_of(i) for i in camp.interests]
    cols: list[Any] = [
        authors.c.platform, authors.c.author_id, A.name, A.handle, A.followers_count,
        A.verified, authors.c.posts, authors.c.negative, authors.c.last_post, overall.rank,
        overall.score, overall.explanation, overall.parts,
    ]  # fmt: skip
    for table, _ in per_interest:
        cols += [table.c.rank, table.c.score, table.c.explanation]
    stmt = (
        select(*cols)
        .select_from(authors)
        .outerjoin(runs, runs.c.platform == authors.c.platform)
        .outerjoin(
            Account,
            and_(A.platform == authors.c.platform, A.platform_id == authors.c.author_id),
        )
        .outerjoin(overall_table, overall_on)
    )
    for table, cond in per_interest:
        stmt = stmt.outerjoin(table, cond)
    stmt = stmt.order_by(
        overall.rank.is_(None), overall.rank, authors.c.posts.desc(), authors.c.author_id
    )
    n_interests = len(per_interest)

    def rows() -> Iterator[list[tuple[Any, ...]]]:
        for part in _stream(session, stmt, chunk):
            out = []
            for r in part:
                parts = r[12] or {}
                extracted = [_part(parts.get(k), kind) for k, kind in PART_COLUMNS]
                tail = list(r[13 : 13 + 3 * n_interests])
                out.append(
                    (r[0], r[1], r[2] or "", r[3] or "", r[4], bool(r[5]) if r[5] is not None
                     else None, int(r[6]), int(r[7] or 0), _utc(r[8]), r[9], r[10], r[11] or "",
                     *extracted, *tail,
                     json.dumps(parts, ensure_ascii=False, sort_keys=True) if parts else "")
                )  # fmt: skip
            yield out

    return Export(users_columns(camp.interests), _counter(session, stmt), rows)


def _part(value: Any, kind: Kind) -> Any:
    if value is None or isinstance(value, dict | list):
        return None
    try:
        return int(value) if kind == "int" else float(value)
    except (TypeError, ValueError):
        return None


# --- writers --------------------------------------------------------------------------------


def write_export(export: Export, fmt: Format, path: Path) -> int:
    """Write ``export`` to ``path`` as ``fmt``; returns the rows written (header excluded)."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if fmt == "xlsx":
        n = export.count()
        if n + 1 > XLSX_MAX_ROWS:
            raise ExportError(
                f"{n:,} rows do not fit in an XLSX sheet (at most {XLSX_MAX_ROWS - 1:,} rows "
                "under the header): use --format csv or --format parquet, or narrow the "
                "export with --since/--until"
            )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        writer = {"csv": write_csv, "xlsx": write_xlsx, "parquet": write_parquet}[fmt]
        return writer(export.columns, export.chunks(), path)
    except OSError as exc:
        raise ExportError(f"cannot write {path}: {exc.strerror or exc}") from exc


def _csv_cell(value: Any, kind: Kind) -> Any:
    if value is None:
        return ""
    if kind == "list":
        return safe_text(LIST_SEP.join(str(v) for v in value))
    if kind == "time":
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if kind == "bool":
        return "true" if value else "false"
    if kind == "str":
        return safe_text(str(value))
    return value


def write_csv(
    columns: Sequence[Column], chunks: Iterator[list[tuple[Any, ...]]], path: Path
) -> int:
    """CSV in UTF-8 with a BOM (Excel reads the BOM and shows Chinese correctly)."""
    n = 0
    kinds = [c.kind for c in columns]
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([c.name for c in columns])
        for part in chunks:
            writer.writerows(
                [_csv_cell(v, k) for v, k in zip(row, kinds, strict=True)] for row in part
            )
            n += len(part)
    return n


def _xlsx_text(value: str) -> str:
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    text = safe_text(ILLEGAL_CHARACTERS_RE.sub("", value))
    return text if len(text) <= XLSX_MAX_CELL else text[: XLSX_MAX_CELL - 1] + "…"


def _xlsx_cell(value: Any, kind: Kind) -> Any:
    if value is None:
        return None
    if kind == "list":
        return _xlsx_text(LIST_SEP.join(str(v) for v in value))
    if kind == "time":
        return value.astimezone(UTC).replace(tzinfo=None)  # Excel has no time zones: UTC
    if kind == "str":
        return _xlsx_text(str(value))
    return value


def write_xlsx(
    columns: Sequence[Column], chunks: Iterator[list[tuple[Any, ...]]], path: Path
) -> int:
    """One sheet in openpyxl's write-only mode (rows go to a temporary file, not memory)."""
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("export")
    ws.append([c.name for c in columns])
    kinds = [c.kind for c in columns]
    n = 0
    for part in chunks:
        for row in part:
            if n + 2 > XLSX_MAX_ROWS:
                raise ExportError(
                    f"more than {XLSX_MAX_ROWS - 1:,} rows: use --format csv or parquet"
                )
            ws.append([_xlsx_cell(v, k) for v, k in zip(row, kinds, strict=True)])
            n += 1
    wb.save(path)
    return n


def _arrow_type(kind: Kind) -> Any:
    import pyarrow as pa

    return {
        "str": pa.string(),
        "int": pa.int64(),
        "float": pa.float64(),
        "bool": pa.bool_(),
        "time": pa.timestamp("us", tz="UTC"),
        "list": pa.list_(pa.string()),
    }[kind]


def write_parquet(
    columns: Sequence[Column], chunks: Iterator[list[tuple[Any, ...]]], path: Path
) -> int:
    """Parquet with a fixed schema, one row group per chunk (zstd-compressed)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([pa.field(c.name, _arrow_type(c.kind)) for c in columns])
    n = 0
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        for part in chunks:
            if not part:
                continue
            arrays = [
                pa.array([row[i] for row in part], type=field.type)
                for i, field in enumerate(schema)
            ]
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
            n += len(part)
    return n
