"""The sentiment report and the exports in the review web UI (``/reports``).

Nothing of its own: ``/reports/view`` serves ``reports.render_report`` (the same HTML as
``tingfeng report``) and ``/reports/export`` the files of ``reports.exports`` (as ``tingfeng
export``). The report carries inline CSS, so that one response gets its own
Content-Security-Policy (:data:`REPORT_CSP`: inline styles, ``data:`` images, no script at all);
every other page keeps the app's strict one.

A report over a long period takes as long as ``tingfeng report`` does (SQL aggregates over the
period and the one before it); nothing is cached. An export is written to a temporary file
first (so a refusal, such as XLSX's row limit, is a message and not a cut-off download), then
streamed from it in blocks; the file is unlinked once open, so nothing is left behind even when
a download is cut off.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from sqlmodel import Session
from starlette.background import BackgroundTask

from crawlers.config import Settings
from crawlers.errors import TingfengError

#: the report's own policy: its inline <style> and style attributes, its data: images, nothing
#: else (its JSON data blocks are never executed, so no script source is needed)
REPORT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'none'"
)
DEFAULT_DAYS = 7
#: the longest report the web UI computes (a daily chart of ten years); ``tingfeng report``
#: has no such limit
REPORT_MAX_DAYS = 3660
WHATS = ("posts", "users")
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "parquet": "application/vnd.apache.parquet",
}
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class BadRequest(Exception):
    """What the form asked for cannot be done; the message says why (shown on the form)."""


def safe_name(text: str) -> str:
    """``text`` reduced to ASCII letters, digits, ``.``, ``_`` and ``-`` for a file name."""
    return _UNSAFE.sub("_", text).strip("._") or "campaign"


def default_period(today: datetime | None = None) -> tuple[str, str]:
    """The form's defaults: the last 7 whole days (UTC), today included."""
    day = (today or datetime.now(UTC)).date()
    return (day - timedelta(days=DEFAULT_DAYS - 1)).isoformat(), day.isoformat()


def parse_period(since: str, until: str) -> tuple[datetime, datetime]:
    """``since``/``until`` from the form (``YYYY-MM-DD`` or ``YYYY-MM-DDTHH:MM``, UTC unless an
    offset; an ``until`` date is inclusive, as in ``tingfeng report``); empty: the default."""
    from reports.data import ReportError, parse_when

    first, last = default_period()
    try:
        end = parse_when(until.strip() or last, "until", end=True)
        start = parse_when(since.strip() or first, "since")
    except ReportError as exc:
        raise BadRequest(str(exc)) from exc
    except OverflowError as exc:  # 9999-12-31 as the end: the day after does not exist
        raise BadRequest(f"since {since!r} / until {until!r}: out of range") from exc
    if end <= start:
        raise BadRequest(
            f"until {until or last} is not after since {since or first}: give a period that "
            "ends after it starts (until is inclusive for a date)"
        )
    return start, end


def register(
    app: FastAPI,
    settings: Settings,
    engine: Any,
    page: Callable[..., Response],
    current: Callable[[Request], Any],
) -> None:
    """Add ``/reports``, ``/reports/view`` and ``/reports/export`` to ``app``."""
    campaigns = sorted(settings.campaigns)

    def check_campaign(name: str) -> str:
        if name not in settings.campaigns:
            known = ", ".join(campaigns) or "none: add a [campaigns.NAME] table to settings.toml"
            shown = f"campaign {name!r}" if name else "no campaign"
            raise BadRequest(f"{shown}: choose one of the configured campaigns ({known}).")
        return name

    def form(
        request: Request, login: Any, query: dict[str, str], error: str = "", code: int = 200
    ) -> Response:
        first, last = default_period()
        values = {
            "campaign": query.get("campaign") or (campaigns[0] if campaigns else ""),
            "since": query.get("since") or first,
            "until": query.get("until") or last,
            "what": query.get("what") if query.get("what") in WHATS else "posts",
            "format": query.get("format") if query.get("format") in MEDIA_TYPES else "csv",
        }
        links = [
            {
                "campaign": name,
                "report": "/reports/view?" + urlencode({"campaign": name, "since": first,
                                                        "until": last}),
                "exports": [
                    (f"{what} {fmt}", "/reports/export?" + urlencode(
                        {"what": what, "campaign": name, "since": first, "until": last,
                         "format": fmt}))
                    for what in WHATS for fmt in ("csv", "parquet")
                ],
            }
            for name in campaigns
        ]  # fmt: skip
        return page(
            request, "reports.html", login, code, campaigns=campaigns, values=values,
            links=links, formats=list(MEDIA_TYPES), whats=WHATS,
            messages=[("error", error)] if error else [],
        )  # fmt: skip

    @app.get("/reports", response_class=HTMLResponse)
    def reports_form(request: Request) -> Response:
        login = current(request)
        return form(request, login, dict(request.query_params))

    @app.get("/reports/view", response_class=HTMLResponse)
    def report_view(
        request: Request, campaign: str = "", since: str = "", until: str = ""
    ) -> Response:
        from reports import render_report

        login = current(request)
        try:
            name = check_campaign(campaign)
            start, end = parse_period(since, until)
            if end - start > timedelta(days=REPORT_MAX_DAYS):
                raise BadRequest(
                    f"{since} – {until}: a report in the web UI covers at most "
                    f"{REPORT_MAX_DAYS:,} days; choose a shorter period (or run tingfeng report)"
                )
            with Session(engine) as session:
                html = render_report(session, settings, name, start, end)
        except (BadRequest, TingfengError) as exc:
            return form(request, login, dict(request.query_params), str(exc), 400)
        # the middleware keeps a policy a route set itself (and adds the other headers)
        return HTMLResponse(html, headers={"Content-Security-Policy": REPORT_CSP})

    @app.get("/reports/export")
    def report_export(
        request: Request,
        what: str = "posts",
        campaign: str = "",
        since: str = "",
        until: str = "",
        format: str = "csv",  # noqa: A002 - the query parameter's name
    ) -> Response:
        from reports.exports import posts_export, users_export, write_export

        login = current(request)
        query = dict(request.query_params)
        fd, raw = tempfile.mkstemp(prefix="tingfeng-export-", suffix=f".{format}")
        os.close(fd)
        path = Path(raw)
        try:
            if what not in WHATS:
                raise BadRequest(f"what {what!r}: choose posts or users.")
            if format not in MEDIA_TYPES:
                raise BadRequest(f"format {format!r}: choose one of {', '.join(MEDIA_TYPES)}.")
            name = check_campaign(campaign)
            start, end = parse_period(since, until)
            build = posts_export if what == "posts" else users_export
            with Session(engine) as session:
                write_export(build(session, settings, name, start, end), format, path)  # type: ignore[arg-type]
        except (BadRequest, TingfengError) as exc:
            path.unlink(missing_ok=True)
            return form(request, login, query, _web_wording(str(exc)), 400)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        filename = f"{what}-{safe_name(name)}-{start:%Y%m%d}-{end:%Y%m%d}.{format}"
        size = path.stat().st_size
        fh = path.open("rb")
        # gone from the disk even if the download is cut off (POSIX); a system that cannot
        # delete an open file deletes it after the download (the background task)
        with contextlib.suppress(OSError):
            path.unlink()
        return StreamingResponse(
            _read(fh),
            media_type=MEDIA_TYPES[format],
            headers={
                "Content-Disposition": f'attachment; filename="{filename}"',
                "Content-Length": str(size),
            },
            background=BackgroundTask(path.unlink, missing_ok=True),
        )


def _read(fh: BinaryIO, size: int = 1 << 16) -> Iterator[bytes]:
    """The open file ``fh`` in blocks, closed at the end (or when the download stops)."""
    with fh:
        while block := fh.read(size):
            yield block


def _web_wording(message: str) -> str:
    """An export's refusal in the form's words (its messages name the CLI's options)."""
    return (
        message.replace("use --format csv or --format parquet", "choose csv or parquet")
        .replace("with --since/--until", "to a shorter period")
        .replace("use --format csv or parquet", "choose csv or parquet")
    )
