"""水军 and ad spam: a score from 0 to 1 and the reasons behind it, for posts and accounts.

Each cue found adds a weight, and the weights combine as independent pieces of evidence
(``1 - prod(1 - w)``): one weak cue stays low, two strong ones pass ``SPAM_THRESHOLD``. The
reasons are short stable codes the review UI shows:

post: ``ad_phrase`` (引流 and money phrases: 加微信, 兼职, 刷单, 日赚, 免费领), ``contact`` (a
phone number, QQ or WeChat id), ``many_mentions`` (5+ @names), ``many_topics`` (4+ #topics#),
``link_only`` (a link and next to no words), ``repeated_chars`` (a letter 15+ times in a
row), ``repetition`` (a phrase pasted 5+ times in a row), ``boilerplate`` (互粉, 求关注, 关注必回).

account: ``default_name`` (用户 + digits, or random letters and digits), ``follow_ratio``
(follows > 20x followers and > 500), ``empty_profile`` (no description, no followers),
``duplicates`` (its posts near-duplicate other accounts' posts, see ``nlp.simhash``),
``spam_posts`` (many of its posts score as spam), ``posting_rate`` (50+ posts a day). A
verified account's score is damped.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from nlp.normalize import normalize, own_words, sanitize, strip_emoticons, to_simplified
from nlp.simhash import near_duplicate_share, simhash64

__all__ = [
    "SPAM_THRESHOLD",
    "AccountFeatures",
    "SpamVerdict",
    "account_spam",
    "combine",
    "near_duplicate_share",  # from nlp.simhash: the input of ``duplicate_share``
    "post_spam",
    "simhash64",
]

#: Score at or above which a post or account is flagged as spam (``nlp.spam_threshold``).
SPAM_THRESHOLD = 0.6

AD_PHRASES = re.compile(
    r"加(?:我)?(?:微信|薇信|威信|vx|v信|wx|qq|扣扣)|[加+＋➕]\s*v(?:x|信)?(?![a-z])|微信号|vx号|"
    r"私信领取|私信了解|私信咨询|(?<![自无])私我|私聊|兼职|刷单|代购|点击链接|戳链接|点我头像|看我主页|"
    # not 早日结束 or 17日入院: money must follow
    r"(?<!\d)[日月][赚入][过上]?[\d一二三四五六七八九十百千万]|日赚|躺赚|网赚|副业赚钱|在家就能|"
    r"免费领|领取福利|返现|好评返|招代理|诚招|一件代发|一手货源|厂家货源|微商|刷粉|买粉|涨粉|"
    r"刷赞|低价出|高仿|a货|原单|网贷|秒批|下款|套现|博彩|赌场"
)
_PHONE = r"(?<!\d)1[3-9]\d[-\s]?\d{4}[-\s]?\d{4}(?!\d)"
_QQ = r"(?:qq|扣扣|企鹅)\s*(?:号|群)?\s*[:：]?\s*\d{5,11}"
_ID = r"(?:[a-z][-_a-z0-9]{5,19}|\d{6,11})"  # a WeChat id, or the QQ or phone number behind it
_WECHAT = rf"(?:微信|薇信|威信|vx|v信|wx|weixin)\s*(?:号)?\s*[:：]?\s*{_ID}"
_V_ID = rf"(?<![a-z0-9])v\s*[:：]\s*{_ID}"  # 加V：shop_2024
CONTACT = re.compile(f"{_PHONE}|{_QQ}|{_WECHAT}|{_V_ID}")
BOILERPLATE = re.compile(
    r"互粉|互关|互赞|回关|求关注|求互粉|关注必回|有关必回|必回关|秒回关|关注我|点赞关注|求转发"
)
_URL = re.compile(r"(?:https?://|www\.)\S+|\bt\.cn/\S+")
# letters only, emoticons out: ……………… and [眼泪][眼泪][眼泪] are how people write
_RUN = re.compile(r"([^\W_])\1{14,}")
# a phrase of 2-8 characters (not one character doubled) pasted 5+ times in a row
_REPEAT = re.compile(r"(([^\W_])(?!\2).{0,6}?)\1{4,}")

MANY_MENTIONS = 5
MANY_TOPICS = 4
#: Letters and digits a post with a link needs to be more than a link.
LINK_ONLY_CHARS = 4

POST_WEIGHTS: dict[str, float] = {
    "ad_phrase": 0.45,  # per distinct phrase
    "contact": 0.5,
    "many_mentions": 0.4,
    "many_topics": 0.3,
    "link_only": 0.35,
    "repeated_chars": 0.2,
    "repetition": 0.25,
    "boilerplate": 0.25,
}


@dataclass(frozen=True)
class SpamVerdict:
    score: float  # 0..1
    reasons: tuple[str, ...] = ()

    @property
    def is_spam(self) -> bool:
        return self.score >= SPAM_THRESHOLD


def combine(weights: Iterable[float]) -> float:
    """Independent evidence: ``1 - prod(1 - w)``, in [0, 1].

    >>> combine([0.5, 0.5])
    0.75
    """
    miss = 1.0
    for w in weights:
        miss *= 1.0 - min(max(w, 0.0), 1.0)
    return round(1.0 - miss, 4)


def post_spam(text: str) -> SpamVerdict:
    """Spam cues in a post's text (plain text, as in ``Post.text_plain``).

    >>> post_spam("兼职刷单，日赚300，加vx: abc12345").reasons
    ('ad_phrase', 'contact')
    >>> post_spam("今天的拿铁很好喝").score
    0.0
    """
    own = own_words(text or "")  # a repost's quoted chain is not the reposter's doing
    flat = _flat(own)
    norm = normalize(own)
    words = strip_emoticons(flat)
    found: list[tuple[str, float]] = []
    phrases = {m.group() for m in AD_PHRASES.finditer(flat)}
    found += [("ad_phrase", POST_WEIGHTS["ad_phrase"])] * len(phrases)
    checks = {
        "contact": CONTACT.search(flat) is not None,
        "many_mentions": len(norm.mentions) >= MANY_MENTIONS,
        "many_topics": len(set(norm.topics)) >= MANY_TOPICS,
        "link_only": _link_only(flat, norm.text),
        "repeated_chars": _RUN.search(words) is not None,
        "repetition": _REPEAT.search(words) is not None,
        "boilerplate": BOILERPLATE.search(flat) is not None,
    }
    found += [(code, POST_WEIGHTS[code]) for code, hit in checks.items() if hit]
    return _verdict(found)


def _flat(text: str) -> str:
    """Text for cue matching: simplified, lower-cased, NFKC (fullwidth and circled digits such
    as ①③⑧ become ASCII, the way spammers hide numbers from filters)."""
    return unicodedata.normalize("NFKC", to_simplified(sanitize(text or ""))).lower()


def _link_only(flat: str, norm_text: str) -> bool:
    if not _URL.search(flat):
        return False
    return sum(ch.isalnum() for ch in norm_text) < LINK_ONLY_CHARS


def _verdict(found: list[tuple[str, float]]) -> SpamVerdict:
    reasons = tuple(dict.fromkeys(code for code, _ in found))
    return SpamVerdict(score=combine(w for _, w in found), reasons=reasons)


# --- accounts ------------------------------------------------------------------------------

# Weibo's default 用户7261934455, digits only, or letters then a long number
_DEFAULT_NAME = re.compile(r"(?:用户|user|手机用户|微博用户)\d{5,}|\d{8,}|[a-z_]{1,12}\d{6,}")
_ALNUM = re.compile(r"[a-z0-9_]{8,}")
_SWITCH = re.compile(r"[a-z](?=\d)|\d(?=[a-z])")

ACCOUNT_WEIGHTS: dict[str, float] = {
    "default_name": 0.3,
    "follow_ratio": 0.35,
    "empty_profile": 0.2,
    "posting_rate": 0.35,  # 0.6 from 200 posts a day
}
FOLLOW_RATIO = 20
FOLLOW_MIN = 500
POSTS_PER_DAY = 50.0
POSTS_PER_DAY_HIGH = 200.0
#: Share of near-duplicate or spam posts from which the share is a cue (its weight is the share).
SHARE_MIN = 0.3
#: How many of an account's posts must be seen before the shares count.
MIN_POSTS = 2
#: A verified account's score is multiplied by this.
VERIFIED_DAMPING = 0.4


@dataclass(frozen=True)
class AccountFeatures:
    name: str = ""
    description: str = ""
    followers: int | None = None  # None: unknown (not crawled), the cue is skipped
    follows: int | None = None
    posts: int | None = None
    verified: bool = False
    posts_seen: int = 0  # posts of the account in the store
    duplicate_share: float = 0.0  # of those, near-duplicates of other accounts' posts
    spam_post_share: float = 0.0  # of those, scoring >= SPAM_THRESHOLD in ``post_spam``
    posts_per_day: float = 0.0

    @classmethod
    def from_account(cls, account: Any, **stats: Any) -> AccountFeatures:
        """Features of a ``crawlers.models.Account`` plus the post statistics in ``stats``."""
        return cls(
            name=account.name or "",
            description=account.description or "",
            followers=account.followers_count,
            follows=account.follows_count,
            posts=account.posts_count,
            verified=bool(account.verified),
            **stats,
        )


def account_spam(f: AccountFeatures) -> SpamVerdict:
    """Spam (水军, bot) cues of an account.

    >>> account_spam(AccountFeatures(name="用户7261934455", followers=3, follows=1800)).reasons
    ('default_name', 'follow_ratio')
    """
    found = [(code, ACCOUNT_WEIGHTS[code]) for code in _profile_cues(f)]
    if f.posts_seen >= MIN_POSTS:
        if f.duplicate_share >= SHARE_MIN:
            found.append(("duplicates", min(f.duplicate_share, 0.9)))
        if f.spam_post_share >= SHARE_MIN:
            found.append(("spam_posts", min(f.spam_post_share, 0.9)))
    if f.posts_per_day >= POSTS_PER_DAY:
        high = f.posts_per_day >= POSTS_PER_DAY_HIGH
        found.append(("posting_rate", 0.6 if high else ACCOUNT_WEIGHTS["posting_rate"]))
    verdict = _verdict(found)
    if f.verified:
        return SpamVerdict(round(verdict.score * VERIFIED_DAMPING, 4), verdict.reasons)
    return verdict


def _profile_cues(f: AccountFeatures) -> list[str]:
    cues = []
    name = unicodedata.normalize("NFKC", sanitize(f.name)).strip().lower()
    if _looks_default(name):
        cues.append("default_name")
    follows, followers = f.follows or 0, f.followers
    if followers is not None and follows > FOLLOW_MIN and follows > FOLLOW_RATIO * followers:
        cues.append("follow_ratio")
    if not f.description.strip() and f.followers == 0:
        cues.append("empty_profile")
    return cues


def _looks_default(name: str) -> bool:
    """用户 + digits, or random letters and digits (``a8f3k2j9x1``: 3+ letter/digit switches)."""
    if _DEFAULT_NAME.fullmatch(name):
        return True
    return bool(_ALNUM.fullmatch(name)) and len(_SWITCH.findall(name)) >= 3
