"""Checks every draft passes before it reaches the review queue.

Suppression (accounts never to contact), stable dedup keys, the per-run cap and safe template
rendering live here so that drafting rules stay small and the checks are tested once.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import logging
import string
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlmodel import Session, col, select

from crawlers.models import AuditEvent, Draft, Suppression

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: the length of ``Draft.dedup_key``
DEDUP_KEY_MAX = 128
#: placeholders a template may use
TEMPLATE_FIELDS = frozenset({"name", "topic", "brand", "interest", "keywords", "post", "campaign"})


def suppressed_accounts(session: Session) -> set[tuple[str, str]]:
    """Every suppressed ``(platform, account_id)``."""
    rows = session.exec(select(Suppression.platform, Suppression.account_id)).all()
    return {(platform, account_id) for platform, account_id in rows}


#: follow drafts that mean "this platform account follows them" (done, or on the way)
FOLLOWED = ("sending", "sent", "reconcile", "handoff")


def recent_follows(session: Session, since: datetime) -> set[tuple[str, str]]:
    """Every ``(platform, account)`` followed (sent, handed off, or on the way) since ``since``:
    tingfeng never unfollows, and never drafts a follow of them again (no follow churn)."""
    stmt = select(Draft.platform, Draft.target_account).where(
        Draft.kind == "follow", col(Draft.status).in_(FOLLOWED), col(Draft.sent_at) >= since
    )
    return {(platform, account) for platform, account in session.exec(stmt)}


def followed_recently(
    session: Session, platform: str, account: str, since: datetime, other_than: int | None = None
) -> bool:
    """Whether another follow draft toward ``account`` was sent or handed off since ``since``."""
    stmt = select(Draft.id).where(
        Draft.kind == "follow",
        Draft.platform == platform,
        Draft.target_account == account,
        col(Draft.status).in_(FOLLOWED),
        col(Draft.sent_at) >= since,
    )
    if other_than is not None:
        stmt = stmt.where(Draft.id != other_than)
    return session.exec(stmt).first() is not None


def add_suppression(
    session: Session, platform: str, account_id: str, actor: str, reason: str, now: datetime
) -> Suppression:
    """The suppression row for this account, added (with a ``suppressed`` audit event) if new.

    The caller commits.
    """
    stmt = select(Suppression).where(
        Suppression.platform == platform, Suppression.account_id == account_id
    )
    row = session.exec(stmt).first()
    if row is not None:
        return row
    row = Suppression(
        platform=platform, account_id=account_id, reason=reason, added_by=actor, added_at=now
    )
    detail = {"platform": platform, "account_id": account_id, "reason": reason}
    session.add(row)
    session.add(AuditEvent(at=now, actor=actor, action="suppressed", detail=detail))
    return row


def fit_key(key: str, limit: int = DEDUP_KEY_MAX) -> str:
    """``key`` itself when it fits the column, else a prefix plus a hash of the whole key."""
    if len(key) <= limit:
        return key
    digest = hashlib.sha1(key.encode("utf-8")).hexdigest()
    return f"{key[: limit - len(digest) - 1]}#{digest}"


def dedup_key(
    campaign: str, kind: str, platform: str, target_account: str, target_post: str | None
) -> str:
    """``campaign:kind:platform:target_account:target_post``: one draft per action and target."""
    return fit_key(f"{campaign}:{kind}:{platform}:{target_account}:{target_post or ''}")


class _SafeValues(dict[str, str]):
    """Unknown placeholders stay as written, so the reviewer sees them instead of a crash."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def is_jinja(template: str) -> bool:
    """Whether ``template`` is written for Jinja2 (``{{ name }}``, ``{% if %}``) rather than
    as a plain ``{name}`` format string."""
    return any(mark in template for mark in ("{{", "{%", "{#"))


@functools.cache
def _jinja() -> Any:
    from jinja2 import StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    # sandboxed: no attribute access to internals, no mutation; plain text out (escaping is
    # the web page's job); an unknown variable is an error, found when the template is tried
    return ImmutableSandboxedEnvironment(
        autoescape=False, undefined=StrictUndefined, keep_trailing_newline=False
    )


def _render_jinja(template: str, values: dict[str, str]) -> str:
    from jinja2 import TemplateError

    try:
        return str(_jinja().from_string(template).render(**values))
    except TemplateError as exc:  # syntax, undefined variable, sandbox violation
        raise ValueError(f"{type(exc).__name__}: {exc}") from exc


def template_fields(template: str) -> set[str]:
    """The placeholders of ``template``; ``ValueError`` if it is malformed or not plain names.

    Attribute and index lookups (``{name.__class__}``, ``{name[0]}``) are refused: they are how
    a format string reads more than it was given.
    """
    fields = set()
    for _literal, name, _spec, _conv in string.Formatter().parse(template):
        if name is not None and not name.isidentifier():
            raise ValueError(f"placeholder {{{name}}} is not a plain name")
        if name is not None:
            fields.add(name)
    return fields


def render_template(template: str, values: dict[str, str]) -> str:
    """Fill ``template`` with ``values`` (``TEMPLATE_FIELDS``); ``ValueError`` if malformed.

    A Jinja2 template (``{{ name }}``, ``{% if interest %}...{% endif %}``, filters such as
    ``{{ post | truncate(20) }}``) renders in a sandbox; a plain one fills ``{name}`` with
    ``format_map``. Either way values are inserted verbatim, never re-read as a template, so a
    user's name holding ``{{`` or braces cannot inject anything.
    """
    if is_jinja(template):
        return _render_jinja(template, values)
    template_fields(template)
    return template.format_map(_SafeValues(values))


def usable_templates(templates: Sequence[str], where: str) -> list[str]:
    """The templates that render; each broken one is logged once and left out.

    Whether a template renders depends only on its own text (values are plain strings), so
    one trial with empty values finds every broken template before any draft is made. Unknown
    placeholders are kept as written (the reviewer sees them) and logged once.
    """
    usable = []
    for index, template in enumerate(templates):
        try:
            unknown = set() if is_jinja(template) else template_fields(template) - TEMPLATE_FIELDS
            render_template(template, dict.fromkeys(TEMPLATE_FIELDS, ""))
        except (ValueError, IndexError, KeyError, AttributeError, TypeError) as exc:
            logger.warning("%s: template %d %r is broken (%s); skipped. Fix it in the settings.",
                           where, index, template, exc)  # fmt: skip
            continue
        if unknown:
            logger.warning("%s: template %d has unknown placeholders %s, left as written; known: %s",
                           where, index, sorted(unknown), sorted(TEMPLATE_FIELDS))  # fmt: skip
        usable.append(template)
    if not usable:
        logger.warning("%s: no usable template; no drafts of this kind", where)
    return usable


def roundrobin(*streams: Iterable[T]) -> Iterator[T]:
    """One item from each stream in turn, so a cap shares itself among campaigns and rules."""
    iterators = [iter(s) for s in streams]
    while iterators:
        alive = []
        for it in iterators:
            item = next(it, _DONE)
            if item is not _DONE:
                alive.append(it)
                yield item  # type: ignore[misc]
        iterators = alive


_DONE = object()


def capped(items: Iterable[T], cap: int) -> Iterator[T]:
    """At most ``cap`` items of ``items``."""
    return itertools.islice(items, max(cap, 0))
