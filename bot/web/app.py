"""The review web UI: FastAPI, server-rendered Jinja2 pages, no business logic of its own.

Every change goes through ``bot.review`` (approve, edit, reject, suppress) with the logged-in
user as the actor, exactly as ``tingfeng review`` does on the command line; this module only
reads the store to show it, checks who is asking and turns refusals into messages.

Security: server-side sessions (``bot.web.auth``) in an HttpOnly, SameSite=Strict (and, with
``[web] https_only``, Secure) cookie; a per-session CSRF token in every form and a same-origin
check (``Sec-Fetch-Site``, else ``Origin``, else ``Referer``) on every POST; a strict
Content-Security-Policy (no inline script or style at all; only the served sentiment report,
``/reports/view``, gets its own policy for its inline CSS, still without scripts), ``nosniff``, ``no-referrer``,
``DENY`` framing and ``no-store`` caching on every response; autoescaped templates, with hidden
characters shown as badges (``bot.web.render``).
"""

from __future__ import annotations

import hmac
import logging
import secrets
import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlalchemy import func
from sqlmodel import Session, col, select

from bot import handoff, reconcile, review
from bot.web import auth, render
from crawlers.config import Settings
from crawlers.errors import ReviewError
from crawlers.models import AuditEvent, Draft, Post, Suppression

logger = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
COOKIE = "tingfeng_session"
LOGIN_COOKIE = "tingfeng_login"
PAGE_SIZE = 50
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}
STATUSES = (
    "pending", "edited", "approved", "rejected", "expired", "sending", "sent", "failed",
    "reconcile", "handoff",
)  # fmt: skip
#: what the dispatch view lists ("handoff": a Weibo action handed to a person to post)
DISPATCH_STATUSES = ("approved", "sending", "handoff", "sent", "failed", "reconcile")
KINDS = ("follow", "reply", "repost", "group_post", "post")
#: what a redirect's ``?done=`` may say (never free text from the request)
DONE = {
    "approved": "Approved. `tingfeng dispatch` sends it.",
    "approval_step": "Added your approval. It is approved once enough reviewers "
    "([bot] approvals_required) have approved this same text.",
    "edited": "Saved the new text. It needs an approval again.",
    "rejected": "Rejected.",
    "suppressed": "Suppressed: no draft will target this account again; its unsent drafts "
    "were rejected.",
    "bulk": "Done. See the messages below for any draft that was refused.",
}
#: statuses that wait for a person, counted in the navigation bar
WAITING = ("handoff", "reconcile")


class NeedLogin(Exception):
    """No valid session: pages redirect to the login page, POSTs are refused."""


@dataclass
class Flash:
    """Messages kept for the next page of one session (in this process's memory)."""

    lock: threading.Lock
    by_session: dict[str, list[tuple[str, str]]]

    def add(self, key: str, level: str, text: str) -> None:
        with self.lock:
            self.by_session.setdefault(key, []).append((level, text))

    def take(self, key: str) -> list[tuple[str, str]]:
        with self.lock:
            return self.by_session.pop(key, [])


def _templates() -> Jinja2Templates:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=True,  # every {{ }} is escaped, whatever the file's name
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["reveal"] = render.reveal
    env.filters["utc"] = render.utc
    env.globals["pairs"] = render.pairs
    return Jinja2Templates(env=env)


def create_app(settings: Settings, engine: Any = None) -> FastAPI:
    """The review UI over the store of ``settings`` (or ``engine``, for tests)."""
    if engine is None:
        from crawlers.store import open_store

        engine = open_store(settings)
    else:
        from crawlers.store import migrate

        migrate(engine)
    web = settings.web
    bot_cfg = settings.bot
    templates = _templates()
    throttle = auth.Throttle()
    flash = Flash(threading.Lock(), {})
    app = FastAPI(title="tingfeng review", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.engine = engine
    app.state.throttle = throttle
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.middleware("http")
    async def headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        own_csp = response.headers.get("Content-Security-Policy")  # /reports/view's only
        for k, v in SECURITY_HEADERS.items():
            response.headers[k] = v
        if own_csp is not None and request.url.path == "/reports/view":
            response.headers["Content-Security-Policy"] = own_csp
        if not request.url.path.startswith("/static/"):
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.exception_handler(NeedLogin)
    async def need_login(request: Request, _exc: NeedLogin) -> Response:
        if request.method in ("GET", "HEAD"):
            return RedirectResponse("/login", status_code=303)
        return _plain(403, "Log in first.")

    @app.exception_handler(HTTPException)
    async def http_error(_request: Request, exc: HTTPException) -> Response:
        return _plain(exc.status_code, str(exc.detail))

    # --- helpers ---------------------------------------------------------------------------

    def db() -> Session:
        return Session(engine)

    def current(request: Request) -> auth.Login:
        with db() as s:
            login = auth.find_session(s, request.cookies.get(COOKIE))
        if login is None:
            raise NeedLogin()
        return login

    def same_origin(request: Request) -> None:
        """Refuse a POST another site's page made (the CSRF token is the second check)."""
        site = request.headers.get("sec-fetch-site")
        if site is not None:
            if site not in ("same-origin", "none"):
                raise HTTPException(403, "Cross-site request refused.")
            return
        mine = f"{request.url.scheme}://{request.headers.get('host', '')}"
        origin = request.headers.get("origin")
        if origin is not None and origin != "null":
            if origin != mine:
                raise HTTPException(403, "Cross-origin request refused.")
            return
        referer = request.headers.get("referer")
        if referer:
            parts = urlsplit(referer)
            if f"{parts.scheme}://{parts.netloc}" != mine:
                raise HTTPException(403, "Cross-origin request refused.")

    def check_post(request: Request, csrf: str) -> auth.Login:
        same_origin(request)
        login = current(request)
        if not csrf or not hmac.compare_digest(csrf.encode(), login.csrf.encode()):
            raise HTTPException(403, "The form's security token is missing or wrong. Reload.")
        return login

    def page(
        request: Request,
        name: str,
        login: auth.Login | None,
        status_code: int = 200,
        **context: Any,
    ) -> Response:
        messages = flash.take(login.csrf) if login else []
        done = request.query_params.get("done")
        if done in DONE:
            messages.insert(0, ("ok", DONE[done]))
        messages += context.pop("messages", [])
        waiting: dict[str, int] = {}
        if login is not None:
            with db() as s:
                waiting = dict(
                    s.exec(
                        select(Draft.status, func.count())
                        .where(col(Draft.status).in_(WAITING))
                        .group_by(Draft.status)
                    ).all()  # fmt: skip
                )
        ctx = {
            "login": login,
            "csrf": login.csrf if login else "",
            "messages": messages,
            "reviewer": login is not None and _may_review(login.user),
            "waiting": waiting,
            **context,
        }
        return templates.TemplateResponse(request, name, ctx, status_code=status_code)

    def _may_review(user: str) -> bool:
        return not bot_cfg.reviewers or user in bot_cfg.reviewers

    def back(path: str, **query: str) -> RedirectResponse:
        return RedirectResponse(path + ("?" + urlencode(query) if query else ""), status_code=303)

    # --- login -----------------------------------------------------------------------------

    @app.get("/login", response_class=HTMLResponse)
    def login_form(request: Request) -> Response:
        token = secrets.token_urlsafe(24)
        resp = page(request, "login.html", None, login_csrf=token)
        _set_cookie(resp, LOGIN_COOKIE, token, 600, web.https_only)
        return resp

    @app.post("/login")
    def login_post(
        request: Request,
        name: str = Form(""),
        password: str = Form(""),
        csrf: str = Form(""),
    ) -> Response:
        same_origin(request)
        pre = request.cookies.get(LOGIN_COOKIE, "")
        if not csrf or not pre or not hmac.compare_digest(csrf.encode(), pre.encode()):
            raise HTTPException(403, "The login form's security token is missing or wrong.")
        now = datetime.now(UTC)
        name = name.strip()
        wait = throttle.wait(name, now)
        if wait is not None:
            minutes = max(1, int(wait.total_seconds() // 60) + 1)
            return _login_again(request, f"Too many failed logins for this name: wait {minutes} "
                                f"minutes and try again.", 429)  # fmt: skip
        with db() as s:
            user = auth.authenticate(s, name, password)
            if user is None:
                throttle.failed(name, now)
                logger.warning("failed web login for %r", name[:64])
                return _login_again(request, "Wrong name or password.", 401)
            throttle.succeeded(name)
            token = auth.start_session(s, user.name, web.session_hours)
        logger.info("web login: %s", name)
        resp = back("/")
        _set_cookie(resp, COOKIE, token, int(web.session_hours * 3600), web.https_only)
        resp.delete_cookie(LOGIN_COOKIE, path="/")
        return resp

    def _login_again(request: Request, message: str, code: int) -> Response:
        token = secrets.token_urlsafe(24)
        resp = page(
            request, "login.html", None, code, login_csrf=token, messages=[("error", message)]
        )
        _set_cookie(resp, LOGIN_COOKIE, token, 600, web.https_only)
        return resp

    @app.post("/logout")
    def logout(request: Request, csrf: str = Form("")) -> Response:
        check_post(request, csrf)
        with db() as s:
            auth.end_session(s, request.cookies.get(COOKIE))
        resp = back("/login")
        resp.delete_cookie(COOKIE, path="/")
        return resp

    # --- the queue -------------------------------------------------------------------------

    @app.get("/", response_class=HTMLResponse)
    def queue(
        request: Request,
        status: str = "open",
        campaign: str = "",
        kind: str = "",
        interest: str = "",
        min_score: str = "",
        page_no: int = 1,
    ) -> Response:
        login = current(request)
        messages: list[tuple[str, str]] = []
        try:
            floor = float(min_score) if min_score.strip() else None
        except ValueError:
            floor, messages = None, [("error", f"min score {min_score!r} is not a number.")]
        with db() as s:
            stmt = select(Draft).order_by(col(Draft.created_at), col(Draft.id))
            if status == "open":
                stmt = stmt.where(col(Draft.status).in_(review.OPEN))
            elif status in STATUSES:
                stmt = stmt.where(Draft.status == status)
            if campaign:
                stmt = stmt.where(Draft.campaign == campaign)
            if kind:
                stmt = stmt.where(Draft.kind == kind)
            drafts = list(s.exec(stmt).all())
            if interest:
                drafts = [d for d in drafts if interest in render.interests_of(d.evidence)]
            if floor is not None:
                drafts = [d for d in drafts if (render.score_of(d.evidence) or 0.0) >= floor]
            total = len(drafts)
            pages = max(1, -(-total // PAGE_SIZE))
            page_no = min(max(page_no, 1), pages)
            shown = drafts[(page_no - 1) * PAGE_SIZE : page_no * PAGE_SIZE]
            rows = _rows(s, shown)
            campaigns = sorted(set(s.exec(select(Draft.campaign).distinct()).all()))
        filters = {
            "status": status, "campaign": campaign, "kind": kind, "interest": interest,
            "min_score": min_score,
        }  # fmt: skip
        return page(
            request, "queue.html", login, rows=rows, total=total, page_no=page_no, pages=pages,
            filters=filters, campaigns=campaigns, statuses=STATUSES, kinds=KINDS,
            interests=sorted(settings.nlp.interests), messages=messages,
            pager_base="/?" + urlencode(filters) + "&",
        )  # fmt: skip

    def _rows(s: Session, drafts: Sequence[Draft]) -> list[dict[str, Any]]:
        from bot.summary import account_names

        names = account_names(s, list(drafts))
        rows = []
        for d in drafts:
            ev = render.evidence_view(d.evidence)
            ev["rule_name"] = ev["rule_name"] or d.rule
            rows.append(
                {
                    "d": d,
                    "name": names.get((d.platform, d.target_account), "")
                    or str(ev["account"].get("name", "")),
                    "ev": ev,
                    "hidden": render.has_hidden(d.text, d.evidence),
                    "text_hidden": render.hidden_in(d.text),
                    # multi-step approval ([bot] approvals_required): who approved this text
                    "need": bot_cfg.approvals_required,
                    "approvers": review.approvers(d),
                }
            )
        return rows

    @app.post("/bulk")
    def bulk(
        request: Request,
        csrf: str = Form(""),
        action: str = Form(""),
        reason: str = Form(""),
        pick: list[str] = Form([]),  # noqa: B008
    ) -> Response:
        login = check_post(request, csrf)
        if action not in ("approve", "reject"):
            raise HTTPException(400, "Choose approve or reject.")
        if not pick:
            flash.add(login.csrf, "error", "Tick at least one draft first.")
            return back("/")
        done = steps = 0
        for item in pick[:PAGE_SIZE]:
            draft_id, _, seen = item.partition(":")
            if not draft_id.isdigit():
                continue
            with db() as s:
                try:
                    if action == "approve":
                        d = review.approve(s, int(draft_id), login.user, expected_hash=seen,
                                           settings=bot_cfg)  # fmt: skip
                        if d.status in review.OPEN:  # a step: more approvals needed
                            steps += 1
                            continue
                    else:
                        review.reject(s, int(draft_id), login.user, reason=reason,
                                      settings=bot_cfg)  # fmt: skip
                    done += 1
                except ReviewError as exc:
                    s.rollback()
                    flash.add(login.csrf, "error", str(exc))
        verb = "approved" if action == "approve" else "rejected"
        if steps:
            flash.add(login.csrf, "ok", f"added your approval to {steps} of {len(pick)} drafts "
                      f"(each needs {bot_cfg.approvals_required} approvals).")  # fmt: skip
        if done or not steps:
            flash.add(login.csrf, "ok", f"{verb} {done} of {len(pick)} drafts.")
        return back("/")

    # --- one draft -------------------------------------------------------------------------

    def _draft_page(
        request: Request,
        login: auth.Login,
        draft_id: int,
        status_code: int = 200,
        messages: list[tuple[str, str]] | None = None,
        text: str | None = None,
    ) -> Response:
        with db() as s:
            d = s.get(Draft, draft_id)
            if d is None:
                raise HTTPException(404, f"No draft with id {draft_id}.")
            (row,) = _rows(s, [d])
            events = list(review.history(s, draft_id))
            post = None
            if d.target_post:
                post = s.exec(
                    select(Post).where(Post.platform == d.platform,
                                       Post.platform_id == d.target_post)
                ).first()  # fmt: skip
            suppressed = (
                s.exec(
                    select(Suppression).where(
                        Suppression.platform == d.platform,
                        Suppression.account_id == d.target_account,
                    )
                ).first()  # fmt: skip
                is not None
            )
        post_text = post.text_plain or post.text if post else ""
        return page(
            request, "draft.html", login, status_code, row=row, d=d, events=events,
            post_text=post_text, post_hidden=render.hidden_in(post_text),
            post_link=render.post_link(d.platform, d.target_post), suppressed=suppressed,
            edit_text=d.text if text is None else text, messages=messages or [],
        )  # fmt: skip

    @app.get("/drafts/{draft_id}", response_class=HTMLResponse)
    def draft_page(request: Request, draft_id: int) -> Response:
        return _draft_page(request, current(request), draft_id)

    def _act(
        request: Request,
        login: auth.Login,
        draft_id: int,
        fn: Callable[[Session], Any],
        done: str,
        text: str | None = None,
    ) -> Response:
        with db() as s:
            try:
                out = fn(s)
                if done == "approved" and isinstance(out, Draft) and out.status in review.OPEN:
                    done = "approval_step"  # one step of a multi-step approval
            except ReviewError as exc:
                s.rollback()
                return _draft_page(request, login, draft_id, 409, [("error", str(exc))], text)
        return back(f"/drafts/{draft_id}", done=done)

    @app.post("/drafts/{draft_id}/approve")
    def approve(
        request: Request, draft_id: int, csrf: str = Form(""), seen_hash: str = Form("")
    ) -> Response:
        login = check_post(request, csrf)
        if not seen_hash:
            raise HTTPException(400, "The form did not say which text you saw. Reload the draft.")
        return _act(
            request, login, draft_id,
            lambda s: review.approve(s, draft_id, login.user, expected_hash=seen_hash,
                                     settings=bot_cfg),
            "approved",
        )  # fmt: skip

    @app.post("/drafts/{draft_id}/edit")
    def edit(
        request: Request, draft_id: int, csrf: str = Form(""), text: str = Form("")
    ) -> Response:
        login = check_post(request, csrf)
        text = text.replace("\r\n", "\n")
        return _act(
            request, login, draft_id,
            lambda s: review.edit(s, draft_id, text, login.user, settings=bot_cfg),
            "edited", text,
        )  # fmt: skip

    @app.post("/drafts/{draft_id}/reject")
    def reject(
        request: Request, draft_id: int, csrf: str = Form(""), reason: str = Form("")
    ) -> Response:
        login = check_post(request, csrf)
        return _act(
            request, login, draft_id,
            lambda s: review.reject(s, draft_id, login.user, reason=reason, settings=bot_cfg),
            "rejected",
        )  # fmt: skip

    @app.post("/drafts/{draft_id}/suppress")
    def suppress_target(
        request: Request, draft_id: int, csrf: str = Form(""), reason: str = Form("")
    ) -> Response:
        login = check_post(request, csrf)
        if not _may_review(login.user):
            return _draft_page(request, login, draft_id, 403, [("error", _not_reviewer(login))])
        with db() as s:
            d = s.get(Draft, draft_id)
            if d is None:
                raise HTTPException(404, f"No draft with id {draft_id}.")
            platform, account = d.platform, d.target_account
        return _act(
            request, login, draft_id,
            lambda s: review.suppress(s, platform, account, login.user, reason),
            "suppressed",
        )  # fmt: skip

    def _not_reviewer(login: auth.Login) -> str:
        return (
            f"{login.user!r} is not a reviewer ([bot] reviewers: {', '.join(bot_cfg.reviewers)}):"
            " only reviewers may do this."
        )

    # --- suppression list ------------------------------------------------------------------

    @app.get("/suppressions", response_class=HTMLResponse)
    def suppressions(request: Request, page_no: int = 1) -> Response:
        login = current(request)
        with db() as s:
            total = s.exec(select(func.count()).select_from(Suppression)).one()
            pages = max(1, -(-int(total) // PAGE_SIZE))
            page_no = min(max(page_no, 1), pages)
            rows = s.exec(
                select(Suppression).order_by(col(Suppression.added_at).desc(),
                                             col(Suppression.id).desc())
                .offset((page_no - 1) * PAGE_SIZE).limit(PAGE_SIZE)
            ).all()  # fmt: skip
        return page(
            request, "suppressions.html", login, rows=rows, total=total, page_no=page_no,
            pages=pages, pager_base="/suppressions?",
        )  # fmt: skip

    @app.post("/suppressions")
    def suppress_add(
        request: Request,
        csrf: str = Form(""),
        platform: str = Form("weibo"),
        account_id: str = Form(""),
        reason: str = Form(""),
    ) -> Response:
        login = check_post(request, csrf)
        account_id, platform = account_id.strip(), platform.strip()
        if not _may_review(login.user):
            flash.add(login.csrf, "error", _not_reviewer(login))
        elif not account_id or len(account_id) > 64 or not platform or len(platform) > 32:
            flash.add(login.csrf, "error", "Give the platform and the account's id (at most 64 "
                      "characters).")  # fmt: skip
        else:
            with db() as s:
                review.suppress(s, platform, account_id, login.user, reason)
            flash.add(login.csrf, "ok", f"Suppressed {platform}:{account_id}.")
        return back("/suppressions")

    # --- audit log and dispatch ------------------------------------------------------------

    @app.get("/audit", response_class=HTMLResponse)
    def audit(request: Request, page_no: int = 1, draft: str = "") -> Response:
        login = current(request)
        with db() as s:
            base = select(AuditEvent)
            counter = select(func.count()).select_from(AuditEvent)
            if draft.isdigit():
                base = base.where(AuditEvent.draft_id == int(draft))
                counter = counter.where(AuditEvent.draft_id == int(draft))
            total = int(s.exec(counter).one())
            pages = max(1, -(-total // PAGE_SIZE))
            page_no = min(max(page_no, 1), pages)
            events = s.exec(
                base.order_by(col(AuditEvent.at).desc(), col(AuditEvent.id).desc())
                .offset((page_no - 1) * PAGE_SIZE).limit(PAGE_SIZE)
            ).all()  # fmt: skip
        return page(
            request, "audit.html", login, events=events, total=total, page_no=page_no,
            pages=pages, draft=draft if draft.isdigit() else "",
            pager_base="/audit?" + (urlencode({"draft": draft}) + "&" if draft.isdigit() else ""),
        )  # fmt: skip

    @app.get("/dispatch", response_class=HTMLResponse)
    def dispatch_view(request: Request, status: str = "", page_no: int = 1) -> Response:
        login = current(request)
        wanted = (status,) if status in DISPATCH_STATUSES else DISPATCH_STATUSES
        with db() as s:
            counts = dict(
                s.exec(
                    select(Draft.status, func.count())
                    .where(col(Draft.status).in_(DISPATCH_STATUSES))
                    .group_by(Draft.status)
                ).all()  # fmt: skip
            )
            stmt = select(Draft).where(col(Draft.status).in_(wanted))
            total = sum(int(counts.get(k, 0)) for k in wanted)
            pages = max(1, -(-total // PAGE_SIZE))
            page_no = min(max(page_no, 1), pages)
            drafts = s.exec(
                stmt.order_by(col(Draft.updated_at).desc(), col(Draft.id).desc())
                .offset((page_no - 1) * PAGE_SIZE).limit(PAGE_SIZE)
            ).all()  # fmt: skip
            rows = _rows(s, drafts)
        return page(
            request, "dispatch.html", login, rows=rows, counts=counts, status=status,
            statuses=DISPATCH_STATUSES, total=total, page_no=page_no, pages=pages,
            pager_base="/dispatch?" + (urlencode({"status": status}) + "&" if status else ""),
        )  # fmt: skip

    # --- hand-off: a person posts the approved text (Weibo) ----------------------------------

    def _handoff_page(
        request: Request,
        login: auth.Login,
        status_code: int = 200,
        messages: list[tuple[str, str]] | None = None,
        typed: dict[int, str] | None = None,
    ) -> Response:
        with db() as s:
            rows = _rows(s, handoff.pending(s))
        for r in rows:
            r["links"] = render.handoff_links(r["d"])
            r["todo"] = handoff.ACTIONS.get(r["d"].kind, r["d"].kind)
            r["typed"] = (typed or {}).get(r["d"].id, "")
        return page(request, "handoff.html", login, status_code, rows=rows, messages=messages or [])

    @app.get("/handoff", response_class=HTMLResponse)
    def handoff_view(request: Request) -> Response:
        return _handoff_page(request, current(request))

    def _handoff_act(
        request: Request,
        login: auth.Login,
        draft_id: int,
        fn: Callable[[Session], Any],
        done: str,
        typed: str = "",
    ) -> Response:
        if not _may_review(login.user):
            return _handoff_page(request, login, 403, [("error", _not_reviewer(login))])
        with db() as s:
            try:
                fn(s)
            except ReviewError as exc:
                s.rollback()
                return _handoff_page(request, login, 409, [("error", str(exc))], {draft_id: typed})
        flash.add(login.csrf, "ok", done)
        return back("/handoff")

    @app.post("/handoff/{draft_id}/confirm")
    def handoff_confirm(
        request: Request,
        draft_id: int,
        csrf: str = Form(""),
        seen_hash: str = Form(""),
        ref: str = Form(""),
    ) -> Response:
        login = check_post(request, csrf)
        if not seen_hash:
            raise HTTPException(400, "The form did not say which text you saw. Reload the page.")
        return _handoff_act(
            request, login, draft_id,
            lambda s: handoff.confirm(s, draft_id, login.user, ref, expected_hash=seen_hash,
                                      settings=bot_cfg),
            f"Draft #{draft_id} recorded as posted ({ref.strip()}): it is sent.", ref,
        )  # fmt: skip

    @app.post("/handoff/{draft_id}/skip")
    def handoff_skip(
        request: Request, draft_id: int, csrf: str = Form(""), why: str = Form("")
    ) -> Response:
        login = check_post(request, csrf)
        return _handoff_act(
            request, login, draft_id,
            lambda s: handoff.skip(s, draft_id, login.user, why, settings=bot_cfg),
            f"Draft #{draft_id} not posted: it is failed, with your reason.",
        )  # fmt: skip

    # --- reconcile: outcomes nobody knows --------------------------------------------------

    def _checkable() -> set[str]:
        """Platforms whose configured route can say what became of a send."""
        from bot.dispatch import build_adapters

        return {p for p, route in build_adapters(settings).items() if hasattr(route, "check")}

    @app.get("/reconcile", response_class=HTMLResponse)
    def reconcile_view(request: Request) -> Response:
        login = current(request)
        with db() as s:
            drafts = reconcile.pending(s)
            rows = _rows(s, drafts)
            for r in rows:
                r["events"] = list(review.history(s, r["d"].id))
        checkable = _checkable()
        for r in rows:
            r["checkable"] = r["d"].platform in checkable
        return page(request, "reconcile.html", login, rows=rows)

    def _reconcile_act(
        request: Request, login: auth.Login, fn: Callable[[Session], Any], done: str
    ) -> Response:
        if not _may_review(login.user):
            flash.add(login.csrf, "error", _not_reviewer(login))
            return back("/reconcile")
        with db() as s:
            try:
                fn(s)
            except ReviewError as exc:
                s.rollback()
                flash.add(login.csrf, "error", str(exc))
                return back("/reconcile")
        flash.add(login.csrf, "ok", done)
        return back("/reconcile")

    @app.post("/reconcile/{draft_id}/sent")
    def reconcile_sent(
        request: Request, draft_id: int, csrf: str = Form(""), ref: str = Form("")
    ) -> Response:
        login = check_post(request, csrf)
        return _reconcile_act(
            request, login,
            lambda s: reconcile.resolve(s, draft_id, login.user, True, ref),
            f"Draft #{draft_id} recorded as sent.",
        )  # fmt: skip

    @app.post("/reconcile/{draft_id}/not-sent")
    def reconcile_not_sent(
        request: Request, draft_id: int, csrf: str = Form(""), why: str = Form("")
    ) -> Response:
        login = check_post(request, csrf)
        return _reconcile_act(
            request, login,
            lambda s: reconcile.resolve(s, draft_id, login.user, False, why=why.strip()),
            f"Draft #{draft_id} recorded as not sent: it is approved again, and the next "
            "dispatch sends it with the same key.",
        )  # fmt: skip

    @app.post("/reconcile/check")
    def reconcile_check(request: Request, csrf: str = Form("")) -> Response:
        login = check_post(request, csrf)
        if not _may_review(login.user):
            flash.add(login.csrf, "error", _not_reviewer(login))
            return back("/reconcile")
        with db() as s:
            try:
                summary = reconcile.check(s, settings)
            except Exception as exc:  # a platform's odd answer must not hide what was settled
                s.rollback()
                logger.exception("reconcile check from the web UI failed")
                flash.add(login.csrf, "error", f"The check stopped: {type(exc).__name__}: {exc}"
                          " (what it settled before stays settled). See the server's log.")  # fmt: skip
                return back("/reconcile")
        flash.add(login.csrf, "ok", f"Checked with the platforms: {summary}.")
        for note in summary.notes[:PAGE_SIZE]:
            flash.add(login.csrf, "error", f"still unknown: {note}")
        return back("/reconcile")

    # --- outcomes --------------------------------------------------------------------------

    @app.get("/outcomes", response_class=HTMLResponse)
    def outcomes_view(request: Request, campaign: str = "", since: str = "") -> Response:
        from bot import outcomes

        login = current(request)
        messages: list[tuple[str, str]] = []
        start: datetime | None = None
        if since.strip():
            from reports.data import ReportError, parse_when

            try:
                start = parse_when(since, "since")
            except ReportError:
                messages.append(("error", f"since {since!r} is not a date: use YYYY-MM-DD."))
        own = {name: list(c.own_accounts) for name, c in settings.campaigns.items()}
        with db() as s:
            rows = outcomes.by_template(s, campaign or None, start, own)
            known = set(s.exec(select(Draft.campaign).distinct()).all())
        best: set[tuple[str, str]] = set()
        shown = []
        for r in rows:
            star = (r.campaign, r.rule) not in best and not r.too_few and r.score >= 0
            if star:
                best.add((r.campaign, r.rule))
            shown.append({"r": r, "best": star})
        return page(
            request, "outcomes.html", login, rows=shown, campaign=campaign, since=since,
            campaigns=sorted(known | set(settings.campaigns)), min_sample=outcomes.MIN_SAMPLE,
            no_own=sorted(c for c, a in own.items() if not a), messages=messages,
        )  # fmt: skip

    # --- reports and exports (bot.web.reports) ----------------------------------------------

    from bot.web import reports as report_routes

    report_routes.register(app, settings, engine, page, current)

    return app


def _plain(code: int, text: str) -> Response:
    return Response(text + "\n", status_code=code, media_type="text/plain; charset=utf-8")


def _set_cookie(resp: Response, name: str, value: str, max_age: int, secure: bool) -> None:
    resp.set_cookie(
        name, value, max_age=max_age, path="/", httponly=True, samesite="strict", secure=secure
    )
