"""What belongs to a campaign, for exports and alerts: its posts and their links.

A post is the campaign's when its text names the brand (``brand`` or a ``brand_terms`` word) or
one of its ``keywords`` (case-insensitive), when it carries one of its #topics# / hashtags, or
when it is in one of its super-topics; and so are the comments and reposts of such a post (an
angry comment thread under a brand post is exactly what a monitor must see). Interests alone do
not count: a brand monitor watches what is said about the brand and in the places the campaign
crawls, not every coffee post. This is the same conversation as ``reports.data`` (the report).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import String, cast, exists, false, func, or_

from crawlers.config import Campaign, Settings, supertopic_containerid
from crawlers.errors import ConfigError
from crawlers.models import Post


def columns(model: Any) -> Any:
    """The table columns of a SQLModel class, for queries (SQLModel declares them as their
    Python types, which SQL expressions do not type-check against)."""
    return model.__table__.c


def campaign_or_error(settings: Settings, name: str) -> Campaign:
    """The campaign called ``name``; a ``ConfigError`` listing the known ones otherwise."""
    if name in settings.campaigns:
        return settings.campaigns[name]
    known = ", ".join(settings.campaigns) or "none (add a [campaigns.NAME] table)"
    raise ConfigError(
        [f"--campaign {name}: no such campaign; known: {known}"],
        str(settings.path or "settings"),
    )


def campaign_terms(campaign: Campaign) -> list[str]:
    """Words whose mention makes a post the campaign's: the brand, its terms, its keywords."""
    words = [campaign.brand, *campaign.brand_terms, *campaign.keywords]
    return [w for w in dict.fromkeys(w.strip() for w in words) if w]


def _matches(post: Any, campaign: Campaign) -> Any:
    conds: list[Any] = [
        func.lower(post.text_plain).contains(term.lower(), autoescape=True)
        for term in campaign_terms(campaign)
    ]
    # JSON lists are stored as json.dumps text (non-ASCII escaped, or plain UTF-8 elsewhere)
    topics_text = cast(post.topics, String)
    for topic in dict.fromkeys([*campaign.topics, *campaign.hashtags]):
        for form in sorted({json.dumps(topic), json.dumps(topic, ensure_ascii=False)}):
            conds.append(topics_text.contains(form, autoescape=True))
    groups = sorted({supertopic_containerid(s) for s in campaign.supertopics})
    if groups:
        conds.append(post.group_id.in_(groups))
    return or_(*conds) if conds else false()


def campaign_clause(campaign: Campaign) -> Any:
    """An SQL condition on ``Post`` selecting the campaign's posts (see the module docstring):
    a match itself, or a comment or repost of one (looked up by the unique platform key)."""
    post = columns(Post)
    parent = Post.__table__.alias("parent_post").c  # type: ignore[attr-defined]
    parent_matches = exists().where(
        parent.platform == post.platform,
        or_(parent.platform_id == post.parent_id, parent.platform_id == post.root_id),
        _matches(parent, campaign),
    )
    return or_(_matches(post, campaign), parent_matches)


def post_url(settings: Settings, platform: str, post_id: str) -> str:
    """A link a person can open: m.weibo.cn's detail page (or the sandbox's), a Mastodon
    status on the crawled instance."""
    if platform == "mastodon":
        return f"{settings.mastodon.base_url}/web/statuses/{post_id}"
    return f"{settings.crawl.base_url}/detail/{post_id}"
