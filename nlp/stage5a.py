"""Where a post stands on Kotler's 5A customer path toward a brand.

The stages, in order: **aware** (names the brand without an opinion: saw an ad, read the news),
**appeal** (is attracted: 种草, 想试, 好看, 心动), **ask** (asks about it: price, where to buy,
whether it is good), **act** (bought, used or visited it: 买了, 下单, 喝了, 打卡, 去了) and
**advocate** (recommends it, buys it again, defends it: 推荐, 安利, 回购, @friends 快去买).

Choices:

* A post gets a stage only when it names the brand: a brand term in the normalized,
  simplified, lower-cased text or in one of its @names (the brand's own account).
* When several cues occur, the furthest stage wins: advocate > act > ask > appeal > aware.
* A complaint is an act: whoever complains of a brand has (nearly always) used it, and a
  complaint caps the stage at act, so 回购三次，这次翻车了 is an act, not advocacy. The stage
  says how far along the path a writer is; the sentiment says which way they lean.
* Taste verdicts (好喝, 难吃, 好用) mean the writer tried it (act); hedged ones (看起来好好喝,
  听说好吃) only attract (appeal).
* Tagging other accounts in a positive post about the brand recommends it (advocate).
* Cues are read in the writer's own words: a repost's quoted chain (``//@name:...``) can name
  the brand, but what the reposter did is in what they wrote (买了！//@A:拾光咖啡新品 is an act;
  a bare repost of praise is appeal through the ``praise`` intent of the whole text).
* Without a cue, a positive post is appeal and a neutral or negative one is aware.
* The whole post is read: a post comparing two brands gets the same stage for both.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache

from nlp.intent import PRAISE, Rule
from nlp.normalize import normalize, own_words, sanitize, to_simplified

STAGES: tuple[str, ...] = ("aware", "appeal", "ask", "act", "advocate")
_RANK = {stage: i for i, stage in enumerate(STAGES)}

_HEDGE = r"(?:看起来|看上去|看着|感觉会|听说|据说|应该|估计|一定)(?:很|超|好|会|也|就)*"


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


ADVOCATE = Rule(
    cues=_rx(
        r"推荐|安利|回购|强推|一生推|必入|必买|闭眼入|闭眼买|入股不亏|谁用谁知道|冲就完事|冲鸭|"
        r"(?:快|赶紧|一定要)(?:去|来)?(?:买|试|喝|吃|冲|囤|抢|入)|姐妹们冲|大家冲|"
        r"(?:推荐|分享|种草)给|给(?:大家|你们|姐妹们?|宝宝们)种草|又买了|再次购买|"
        r"第[二三四五六七八九十几\d]+次(?:买|来|去|喝|吃|回购)|铁粉|死忠|一直支持|永远支持|"
        r"别黑了|不许黑|不要黑"
    ),
    exceptions=PRAISE.exceptions,  # 求推荐, 不推荐, 回购吗
)

ACT = Rule(
    cues=_rx(
        r"(?<!收)买了|买过|买的|购入|已购|刚买|下单|下了单|入手|入了|到手|收到|拆箱|开箱|拔草|"
        r"喝了|喝过|喝到|吃了|吃过|吃到|用了|用过|用完|试了|试过|体验了|打卡|逛了|去过|"
        r"(?<![过失死下上出回进离])去了|点了(?:一|两|三|几|杯|份|个)|"
        r"第一次(?:喝|吃|用|去|买|来)|第一口|空瓶|[好难][喝吃用]"
    ),
    exceptions=_rx(
        # not done, or not yet: 没买过, 想喝, 不去了
        r"(?:没|没有|从没|从来没|还没|还没有|未)(?:[买喝吃用试去]过|[买喝吃用试去]了?)|"
        r"(?:想|要|准备|打算|马上|立刻|赶紧|等我|不想|不要|别|不会)(?:去)?"
        r"(?:买|下单|入手|喝|吃|用|试|去|打卡)|不买了|别买了|不用了|不去了|"
        # asking someone else: 有人喝过吗, 哪里买的, 好喝吗, 哪款好喝
        r"有(?:没有)?人[买喝吃用试去]过|谁[买喝吃用试去]过|[买喝吃用试去][过了](?=[吗嘛么没])|"
        r"哪(?:里|儿)?买的|谁买的|哪[款个种家样]?(?:比较|最)?[好难][喝吃用]|"
        r"[好难][喝吃用](?=[吗嘛么不])|好不好[喝吃用]|" + _HEDGE + r"[好难][喝吃用]"
        # hedged: 看起来好好喝
    ),
)

ASK = Rule(
    cues=_rx(
        r"求链接|蹲链接|链接在哪|有链接|在哪买|哪里买|哪儿买|哪里有卖|怎么买|去哪买|多少钱|什么价|"
        r"啥价|价格多少|有人(?:买|喝|吃|用|试|去)过|求测评|求评价|求反馈|求真实|求推荐|求安利"
    )
)

APPEAL = Rule(
    cues=_rx(
        r"种草|长草|想试|想尝|想喝|想吃|想买|想入|想要|想去|好想|心动|心水|馋|好看|颜值|好美|"
        r"美哭|可爱|喜欢|爱了|期待|等不及|圈粉|上头|路转粉|入坑|" + _HEDGE + r"[好难][喝吃用]"
    ),
    exceptions=_rx(r"(?:不|没|没有|不太|不怎么)(?:想|喜欢|心动|期待|好看)"),
)


def brand_stage(
    text: str, brands: Sequence[str], intents: Sequence[str], sentiment: str
) -> str | None:
    """The 5A stage of a post toward a brand, or None when the post does not name it.

    ``brands`` are the terms that name the brand (its name and ``brand_terms``), ``intents``
    the post's intents (``nlp.intent.detect_intents``) and ``sentiment`` its label
    (positive, negative or neutral).

    >>> brand_stage("拾光咖啡真的好喝，已经回购三次了", ["拾光咖啡"], ["praise"], "positive")
    'advocate'
    >>> brand_stage("在地铁上看到了拾光咖啡的广告", ["拾光咖啡"], [], "neutral")
    'aware'
    >>> brand_stage("今天天气不错", ["拾光咖啡"], [], "positive") is None
    True
    """
    terms = _terms(tuple(brands))
    norm = normalize(text)
    if not _names_brand(norm.text.lower(), terms) and not any(
        _names_brand(m.lower(), terms) for m in norm.mentions
    ):
        return None
    own_text = own_words(text)
    own = norm if own_text == text else normalize(own_text)
    tags_others = any(not _names_brand(m.lower(), terms) for m in own.mentions)
    return _stage(own.text.lower(), tags_others, intents, sentiment)


def _stage(body: str, tags_others: bool, intents: Sequence[str], sentiment: str) -> str:
    complaint = "complaint" in intents
    positive = sentiment == "positive" or "praise" in intents
    if not complaint and (ADVOCATE.search(body) or (positive and tags_others)):
        return "advocate"
    if complaint or ACT.search(body):
        return "act"
    if "question" in intents or ASK.search(body):
        return "ask"
    if positive or "purchase_intent" in intents or APPEAL.search(body):
        return "appeal"
    return "aware"


def furthest_stage(stages: Iterable[str | None]) -> str | None:
    """The furthest stage among ``stages`` (an account's posts), None when none has one.

    >>> furthest_stage(["aware", None, "act", "appeal"])
    'act'
    """
    known = [s for s in stages if s in _RANK]
    return max(known, key=_RANK.__getitem__) if known else None


def furthest_stages(per_post: Iterable[Mapping[str, str]]) -> dict[str, str]:
    """Brand -> furthest stage over the ``{brand: stage}`` maps of an account's posts."""
    seen: dict[str, list[str]] = {}
    for stages in per_post:
        for brand, stage in stages.items():
            seen.setdefault(brand, []).append(stage)
    out = {brand: furthest_stage(stages) for brand, stages in sorted(seen.items())}
    return {brand: stage for brand, stage in out.items() if stage is not None}


@lru_cache(maxsize=256)
def _terms(brands: tuple[str, ...]) -> tuple[re.Pattern[str] | str, ...]:
    """Brand terms as the post text is matched: simplified, lower-cased; a Latin term must
    stand as a word of its own (``ONE`` is not in ``someone``)."""
    out: list[re.Pattern[str] | str] = []
    for raw in brands:
        term = to_simplified(sanitize(raw)).strip().lower()
        if not term:
            continue
        if term.isascii():
            out.append(re.compile(rf"(?<![a-z0-9]){re.escape(term)}(?![a-z0-9])"))
        else:
            out.append(term)
    return tuple(out)


def _names_brand(text: str, terms: Sequence[re.Pattern[str] | str]) -> bool:
    return any(t in text if isinstance(t, str) else t.search(text) for t in terms)
