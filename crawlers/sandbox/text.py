"""Chinese post, comment and repost text for the sandbox world.

Text is plain here: ``#topic#`` markers, ``@screen_name`` mentions (always followed by a space
or punctuation), ``[emoticon]`` codes and ``\\n`` line breaks. ``render.html`` turns it into
Weibo's HTML. Every template below was written for tingfeng.
"""

from __future__ import annotations

import random
from typing import Literal

from crawlers.sandbox.catalog import (
    CITIES,
    EMOJI,
    NEGATIVE_EMOTICONS,
    NEUTRAL_EMOTICONS,
    POSITIVE_EMOTICONS,
    Brand,
    Interest,
)

Sentiment = Literal["positive", "negative", "neutral"]
Intent = Literal["share", "question", "purchase"]

SHARE: dict[str, tuple[str, ...]] = {
    "positive": (
        "今天在{place}{verb}{item}，{good}{emo}",
        "安利一下{item}！{good}，真心推荐{emo}",
        "终于{verb}传说中的{item}，{good}，没有让我失望",
        "周末的快乐来自{item}：{good}{emo}",
        "{item}真的yyds，{good}{emo}",
        "被朋友种草的{item}，{good}，感谢安利{emo}",
        "说真的，{item}是我今年最满意的发现，{good}",
        "记录一下今天的好心情：{item}{good}{emo}",
        "谁懂啊！{item}{good}，开心一整天{emo}",
        "第{n}次{verb}{item}了，还是一样稳，{good}",
        "今日份快乐：{item}～{good}{emo}",
        "不是广告！{item}是真的好，{good}",
        "和朋友一起{verb}{item}，{good}，下次还来{emo}",
        "{city}的朋友冲！{place}的{item}{good}",
    ),
    "negative": (
        "踩雷了……{place}的{item}{bad}{emo}",
        "再也不会碰{item}了，{bad}",
        "有人跟我一样吗？{item}{bad}{emo}",
        "吐槽一下：{bad}。真的很无语{emo}",
        "花了{price}块{verb}{item}，结果{bad}，就这？",
        "心态崩了，{item}{bad}{emo}",
        "大家避雷{place}，{bad}",
        "本来很期待{item}的，结果{bad}，失望{emo}",
        "不吐不快：{place}这次真的让我很失望，{bad}",
        "已经是第二次遇到这种情况了，{item}{bad}{emo}",
        "求求了，{item}能不能上点心，{bad}",
    ),
    "neutral": (
        "今天{verb}{item}，{meh}",
        "打卡第{n}天，{item}，{meh}",
        "记录一下：{place}的{item}，{meh}{emo}",
        "{item}到底值不值？我的感受是{meh}",
        "随手记：{item}，{meh}",
        "{city}降温了，下班顺路{verb}{item}，{meh}",
        "和同事聊到{item}，大家都说{meh}",
        "周末宅家，顺便整理了一下最近{verb}的东西，{item}{meh}",
        "看评论区都在夸{item}，我自己觉得{meh}{emo}",
    ),
}
QUESTION = (
    "{ask}",
    "求助！{ask}{emo}",
    "{ask}在线等，挺急的",
    "想问问大家，{item}和{item2}哪个更好？",
    "{ask}评论区的朋友们帮帮忙🙏",
    "请教一下，大家觉得{item}值得吗？",
    "小白提问：{ask}",
    "{ask}预算{price}以内，谢谢大家{emo}",
    "{city}有没有懂的朋友？{ask}",
)
PURCHASE = (
    "想入手{want}，有用过的朋友说说吗？",
    "种草了{want}，等发工资就下单{emo}",
    "纠结要不要买{want}，预算{price}左右，求推荐",
    "购物车里的{want}躺了一个月了，要不要冲？",
    "准备入手{want}，之前的{item}已经用习惯了，想升级一下",
    "双十一想入手{want}，蹲一个优惠{emo}",
)
LONG_OPENERS = (
    "之前一直犹豫要不要写这篇，今天终于有空认真整理一下。",
    "最近被问了很多次，干脆写一篇长一点的分享。",
    "碎碎念预警，有点长，感兴趣的可以看完。",
)
LONG_CLOSERS = (
    "以上都是个人感受，不喜勿喷{emo}",
    "先写这么多，有问题评论区见～",
    "总结一下：适合自己的才是最好的{emo}",
)
LONG_STEPS = ("先说结论：", "第一，", "第二，", "另外，", "还有一点，", "最后，")
COMMENTS: dict[str, tuple[str, ...]] = {
    "positive": (
        "同款！真的不错{emo}",
        "说得太对了",
        "马住了，改天去试试",
        "看着就很棒{emo}",
        "求链接！",
        "收藏了，谢谢分享",
        "好羡慕{emo}",
        "博主好会",
        "支持支持{emo}",
        "我也觉得{item}{good}",
        "已种草{emo}",
    ),
    "negative": (
        "我也踩过雷{emo}",
        "确实不行，我也这么觉得",
        "这也太过分了吧",
        "建议直接投诉",
        "心疼你{emo}",
        "{item}我也试过，{bad}",
        "幸好没买{emo}",
    ),
    "neutral": (
        "在哪里买的？",
        "多少钱呀？",
        "是哪家店？求地址",
        "真的假的{emo}",
        "蹲一个后续",
        "第一次听说",
        "路过{emo}",
        "{item}我也试过，{meh}",
        "{ask}",
    ),
}
REPLIES = (
    "真的吗，我下次试试",
    "不客气～",
    "谢谢！",
    "哈哈是的{emo}",
    "在{city}",
    "私信你了",
    "好的好的",
    "同感{emo}",
    "我也想知道",
    "下次一起{emo}",
    "有道理",
    "哈哈哈哈哈",
)
REPOSTS = (
    "转发微博",
    "马住",
    "{emo}",
    "说得好",
    "码住慢慢看",
    "同感{emo}",
    "转给需要的朋友",
    "哈哈哈哈{emo}",
    "学到了",
    "mark一下",
)
EMOTICONS = {
    "positive": POSITIVE_EMOTICONS,
    "negative": NEGATIVE_EMOTICONS,
    "neutral": NEUTRAL_EMOTICONS,
}


def _emo(rng: random.Random, sentiment: str) -> str:
    roll = rng.random()
    if roll < 0.45:
        return rng.choice(EMOTICONS[sentiment])
    if roll < 0.55:
        return rng.choice(EMOJI)
    if roll < 0.62:
        return rng.choice(EMOTICONS[sentiment]) * 2
    return ""


class Slots(dict[str, object]):
    """The values a template asks for, drawn only when asked (``str.format_map``)."""

    def __init__(self, rng: random.Random, it: Interest, sentiment: str) -> None:
        super().__init__(verb=it.verb)
        self.rng, self.it, self.sentiment = rng, it, sentiment

    def __missing__(self, key: str) -> object:
        rng, it = self.rng, self.it
        draw = {
            "item": lambda: rng.choice(it.items),
            "item2": lambda: rng.choice([i for i in it.items if i != self.get("item")]),
            "place": lambda: rng.choice(it.places),
            "good": lambda: rng.choice(it.good),
            "bad": lambda: rng.choice(it.bad),
            "meh": lambda: rng.choice(it.meh),
            "ask": lambda: rng.choice(it.asks),
            "want": lambda: rng.choice(it.wants),
            "city": lambda: rng.choice(CITIES),
            "n": lambda: rng.randint(2, 120),
            "price": lambda: rng.choice((39, 88, 199, 299, 500, 1000, 2000, 3000)),
            "emo": lambda: _emo(rng, self.sentiment),
        }[key]
        self[key] = value = draw()
        return value


def fill(template: str, rng: random.Random, it: Interest, sentiment: str) -> str:
    return template.format_map(Slots(rng, it, sentiment))


def _core(rng: random.Random, it: Interest, sentiment: str, intent: str) -> str:
    if intent == "question":
        template = rng.choice(QUESTION)
    elif intent == "purchase":
        template = rng.choice(PURCHASE)
    else:
        template = rng.choice(SHARE[sentiment])
    return fill(template, rng, it, sentiment)


def brand_line(rng: random.Random, brand: Brand, sentiment: str, intent: str) -> str:
    """Praise, a complaint or a question about a brand."""
    if intent == "question":
        pool = brand.questions
    else:
        pool = brand.complaints if sentiment == "negative" else brand.praise
    text = rng.choice(pool).format(brand=brand.name, product=rng.choice(brand.products))
    return text + _emo(rng, sentiment)


def _long_body(rng: random.Random, it: Interest, sentiment: str) -> str:
    pool = {"positive": it.good, "negative": it.bad, "neutral": it.meh}[sentiment]
    lines = [rng.choice(LONG_OPENERS)]
    steps = LONG_STEPS[: rng.randint(5, len(LONG_STEPS))]
    said = rng.sample(pool + it.meh, len(steps))
    for step, item, said_ in zip(steps, rng.sample(it.items, len(steps)), said, strict=True):
        lines.append(f"{step}{item}{said_}。")
    lines.append(f"顺便问一句：{rng.choice(it.asks)}")
    lines.append(rng.choice(LONG_CLOSERS).format(emo=_emo(rng, sentiment)))
    return "\n".join(lines)


def _with_topics(rng: random.Random, text: str, topics: list[str], lead: bool = False) -> str:
    """Topics go first or last; long posts lead with them so the feed's cut keeps them."""
    marks = "".join(f"#{t}#" for t in topics)
    if not marks:
        return text
    return f"{marks}{text}" if lead or rng.random() < 0.6 else f"{text} {marks}"


def _with_mention(rng: random.Random, text: str, name: str | None) -> str:
    if name is None:
        return text
    forms = ("{t} @{n} ", "{t}@{n} 你也来试试", "和@{n} 一起，{t}", "{t} 抄送@{n} ")
    return rng.choice(forms).format(t=text, n=name).rstrip()


def compose_post(
    rng: random.Random,
    it: Interest,
    sentiment: Sentiment,
    intent: Intent,
    *,
    topics: list[str],
    mention: str | None = None,
    brand: Brand | None = None,
    long: bool = False,
) -> str:
    """One post: a core sentence by intent and sentiment, #topics#, maybe a mention."""
    if long:
        text = _long_body(rng, it, sentiment)
    elif brand is not None:
        text = brand_line(rng, brand, sentiment, intent)
    else:
        text = _core(rng, it, sentiment, intent)
    return _with_mention(rng, _with_topics(rng, text, topics, lead=long), mention)


def compose_comment(rng: random.Random, it: Interest, sentiment: Sentiment) -> str:
    return fill(rng.choice(COMMENTS[sentiment]), rng, it, sentiment)


def compose_reply(rng: random.Random, to_name: str) -> str:
    """A sub-comment, addressed the way Weibo shows it: ``回复@name:...``."""
    body = rng.choice(REPLIES).format(city=rng.choice(CITIES), emo=_emo(rng, "positive"))
    return f"回复@{to_name}:{body}"


def compose_repost(rng: random.Random) -> str:
    text = rng.choice(REPOSTS).format(emo=rng.choice(NEUTRAL_EMOTICONS + POSITIVE_EMOTICONS))
    return text or "转发微博"
