"""Checks every draft passes before it reaches the review queue.

Suppression (accounts never to contact), stable dedup keys, the per-run cap and safe template
rendering live here so that drafting rules stay small and the checks are tested once.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import string
from collections.abc import Iterable, Iterator
from typing import TypeVar

from sqlmodel import Session, select

from crawlers.models import Suppression

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: the length of ``Draft.dedup_key``
DEDUP_KEY_MAX = 128
#: placeholders a template may use
TEMPLATE_FIELDS = frozenset({"name", "topic", "brand"})


def suppressed_accounts(session: Session) -> set[tuple[str, str]]:
    """Every suppressed ``(platform, account_id)``."""
    rows = session.exec(select(Suppression.platform, Suppression.account_id)).all()
    return {(platform, account_id) for platform, account_id in rows}


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
        logger.warning(
            "template placeholder {%s} is unknown; known: %s",
            key,
            ", ".join(sorted(TEMPLATE_FIELDS)),
        )
        return "{" + key + "}"


def render_template(template: str, values: dict[str, str]) -> str:
    """Fill ``{name}``, ``{topic}``, ``{brand}`` in ``template``.

    Values are inserted verbatim (``format_map`` never re-reads them as a template), so a
    user's name holding braces cannot inject anything. Attribute and index lookups
    (``{name.__class__}``, ``{name[0]}``) are refused, like any malformed template: they raise
    ``ValueError``, which the caller logs and skips.
    """
    for _literal, field, _spec, _conv in string.Formatter().parse(template):
        if field is not None and not field.isidentifier():
            raise ValueError(f"placeholder {{{field}}} is not a plain name")
    return template.format_map(_SafeValues(values))


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
