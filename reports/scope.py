"""What belongs to a campaign: its posts and their links, for the report, exports and alerts.

The one definition of a campaign's conversation (``reports.data`` builds the report's scope
table with it, ``reports.exports`` and ``reports.alerts`` stream with it). A post is the
campaign's when

* its text names the brand, a ``brand_terms`` or a ``keywords`` word, case-insensitively
  (ASCII letters always; other letters as the database folds them: PostgreSQL by its locale,
  SQLite not at all, so there a non-ASCII term matches as written);
* it carries one of the campaign's ``topics`` or ``hashtags`` (one list: Weibo's ``#topic#``
  and Mastodon's tags are both in ``Post.topics``; a leading or trailing ``#`` is dropped, and
  the match ignores ASCII case, as Mastodon's tags do), whether the JSON list is stored with
  ``\\uXXXX`` escapes or as plain UTF-8;
* it is in one of its ``supertopics`` (a name or a ``100808…`` container id);

and so are the comments and reposts of such a post (``parent_id`` or ``root_id`` naming it on
the same platform): an angry comment thread under a brand post is exactly what a monitor must
see. Interests alone do not count: a brand monitor watches what is said about the brand and in
the places the campaign crawls, not every coffee post.

Every condition is SQL (``LIKE`` on SQLite, whose ``LIKE`` already ignores ASCII case, and
``ILIKE`` on PostgreSQL, chosen when the statement is compiled), so it fits a streamed query
as well as the report's one-scan temporary table.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Boolean, String, cast, exists, false, literal, or_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal

from crawlers.config import Campaign, Settings, supertopic_containerid
from crawlers.errors import TingfengError
from crawlers.models import Post


class CampaignError(TingfengError):
    """``--campaign NAME`` names no configured campaign (report, export, alerts): lists the
    known ones. Exit code 2, like settings and usage errors."""

    exit_code = 2

    def __init__(self, name: str, known: list[str]) -> None:
        self.name = name
        listed = ", ".join(known) or "none (add a [campaigns.NAME] table)"
        super().__init__(f"--campaign {name}: no such campaign; known: {listed}")


def columns(model: Any) -> Any:
    """The table columns of a SQLModel class, for queries (SQLModel declares them as their
    Python types, which SQL expressions do not type-check against)."""
    return model.__table__.c


def campaign_or_error(settings: Settings, name: str) -> Campaign:
    """The campaign called ``name``; a ``CampaignError`` listing the known ones otherwise."""
    if name in settings.campaigns:
        return settings.campaigns[name]
    raise CampaignError(name, list(settings.campaigns))


def _dedup(items: list[str], strip: str | None = None) -> list[str]:
    out = (i.strip().strip(strip).strip() if strip else i.strip() for i in items)
    return [t for t in dict.fromkeys(out) if t]


def campaign_terms(campaign: Campaign) -> list[str]:
    """Words whose mention makes a post the campaign's: the brand, its terms, its keywords."""
    return _dedup([campaign.brand, *campaign.brand_terms, *campaign.keywords])


def brand_terms(campaign: Campaign) -> list[str]:
    """The brand and its terms (the brand's share of voice)."""
    return _dedup([campaign.brand, *campaign.brand_terms])


def campaign_topics(campaign: Campaign) -> list[str]:
    """Topics and hashtags (one list: both are stored in ``Post.topics``), without ``#``."""
    return _dedup([*campaign.topics, *campaign.hashtags], "#")


def campaign_groups(campaign: Campaign) -> list[str]:
    """The super-topics' container ids (``Post.group_id``)."""
    return sorted({supertopic_containerid(s) for s in _dedup(campaign.supertopics)})


def conversation_terms(campaign: Campaign) -> dict[str, list[str]]:
    """What defines the campaign's conversation, as the report shows it."""
    return {
        "terms": campaign_terms(campaign),
        "topics": campaign_topics(campaign),
        "supertopics": _dedup(campaign.supertopics),
    }


class ContainsCI(ColumnElement[bool]):
    """``column`` contains ``term``, ignoring case: ``LIKE`` on SQLite (case-insensitive for
    ASCII already, and cheaper than ``lower()`` on every row), ``ILIKE`` on PostgreSQL."""

    inherit_cache = True
    type = Boolean()
    _traverse_internals = [
        ("column", InternalTraversal.dp_clauseelement),
        ("pattern", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, column: Any, term: str) -> None:
        escaped = term.replace("/", "//").replace("%", "/%").replace("_", "/_")
        self.column = column
        self.pattern = literal(f"%{escaped}%")


@compiles(ContainsCI)
def _contains_ci_default(element: ContainsCI, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.column.ilike(element.pattern, escape="/"), **kw)


@compiles(ContainsCI, "sqlite")
def _contains_ci_sqlite(element: ContainsCI, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.column.like(element.pattern, escape="/"), **kw)


def json_has(column: Any, value: str) -> Any:
    """A JSON list column holds ``value`` (ASCII case ignored), stored escaped by
    ``json.dumps`` or as plain UTF-8 (another writer, PostgreSQL's own JSON functions)."""
    forms = sorted({json.dumps(value), json.dumps(value, ensure_ascii=False)})
    as_text = cast(column, String)
    return or_(*(ContainsCI(as_text, f) for f in forms))


def matches(post: Any, campaign: Campaign) -> Any:
    """An SQL condition: the post ``post`` (table columns or an alias) matches by itself."""
    conds: list[Any] = [ContainsCI(post.text_plain, t) for t in campaign_terms(campaign)]
    conds += [json_has(post.topics, t) for t in campaign_topics(campaign)]
    groups = campaign_groups(campaign)
    if groups:
        conds.append(post.group_id.in_(groups))
    return or_(*conds) if conds else false()


def campaign_clause(campaign: Campaign, post: Any = None) -> Any:
    """An SQL condition on ``post`` (``Post``'s columns unless an alias is given) selecting
    the campaign's posts (see the module docstring): a match itself, or a comment or repost
    of one (looked up by the unique platform key)."""
    post = columns(Post) if post is None else post
    parent = Post.__table__.alias("parent_post").c  # type: ignore[attr-defined]
    parent_matches = (
        parent.platform == post.platform,
        or_(parent.platform_id == post.parent_id, parent.platform_id == post.root_id),
        matches(parent, campaign),
    )
    return or_(matches(post, campaign), exists().where(*parent_matches))


def post_url(settings: Settings, platform: str, post_id: str) -> str:
    """A link a person can open: m.weibo.cn's detail page (or the sandbox's), a Mastodon
    status on the crawled instance."""
    if platform == "mastodon":
        return f"{settings.mastodon.base_url}/web/statuses/{post_id}"
    return f"{settings.crawl.base_url}/detail/{post_id}"


def profile_url(settings: Settings, platform: str, account_id: str, handle: str = "") -> str:
    """A profile a person can open, on the host tingfeng crawls (m.weibo.cn, or the sandbox;
    a Mastodon profile needs the handle)."""
    if platform == "mastodon":
        return f"{settings.mastodon.base_url}/@{handle}" if handle else ""
    return f"{settings.crawl.base_url}/u/{account_id}"
