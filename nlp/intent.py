"""Rule-based intents: question, complaint, purchase_intent, praise.

Patterns run on normalized (simplified) text. Each intent is a set of cue phrases plus the
exceptions: phrases that contain a cue but mean something else. Exceptions are blanked out
before the cues are searched, so 求推荐 and 不推荐 are not praise, 零差评 and 不踩雷 are not
complaints, and 不想买 is no purchase intent.

Choices:

* A rhetorical clause (凭什么, 难道, 有没有搞错, 好意思, 什么鬼) is a complaint, not a question:
  its question words and question mark do not count, though another clause of the post can
  still ask a real question.
* ``praise`` covers advocacy: recommending to others (强烈推荐, 安利给, 闭眼入) and repurchase
  (已回购, 无限回购) are its strongest cues.
* ``purchase_intent`` is wanting or planning to buy (想买, 求链接, 在哪买, 蹲); a purchase already
  made (买了, 下单了) is no intent but an act (see ``nlp.stage5a``).
* 多少钱 is both a question and a purchase intent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Negations that turn a praise cue into its opposite (不推荐, 没那么好喝, 一点都不值得);
#: 不得不推荐 and 不能不推荐 stay praise.
_NEG = (
    r"(?<!不得)(?<!不能)"
    r"(?:不|没|别|不太|不怎么|并不|一点都不|一点也不|没那么|没有那么|没有)(?:是|很|太|怎么)?"
)
#: A clause and the marks that end it (linear: the two classes are complementary).
_CLAUSE = re.compile(r"[^。！!？?；;\n…]*[。！!？?；;\n…]*")

#: Rhetorical questions: the clause they stand in complains rather than asks. 不好意思 is polite.
RHETORICAL = (
    r"凭什么|难道|何必|有没有搞错|搞什么|搞毛|什么鬼|什么玩意|啥玩意|(?<!不)好意思|还有脸|有病吧|"
    r"是不是有病|是不是傻|脑子(?:进水|有坑|有病)|还让不让人|至于吗|有必要吗|怎么(?:可以|能)这样"
)
#: Exclamations shaped like questions: neither a question nor, by themselves, a complaint.
_EXCLAMATION = r"怎么(?:这么|那么|会这么)|多么|多好"


@dataclass(frozen=True)
class Rule:
    """Cue phrases of one intent, and what hides a cue from it: ``exceptions`` (phrases) and
    ``clause_exceptions`` (the whole clause, its closing marks included, of such a phrase)."""

    cues: re.Pattern[str]
    exceptions: re.Pattern[str] | None = None
    clause_exceptions: re.Pattern[str] | None = None

    def search(self, text: str) -> bool:
        if self.clause_exceptions is not None:
            hide = self.clause_exceptions.search
            text = "".join(" " if hide(c) else c for c in _CLAUSE.findall(text))
        if self.exceptions is not None:
            text = self.exceptions.sub(" ", text)
        return self.cues.search(text) is not None


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


QUESTION = Rule(
    cues=_rx(
        r"[？?]|吗|(?<![这那什怎多])么(?=$|[\s，,。.！!~～]|\[)|"
        r"怎么|怎样|如何|为什么|为啥|有没有|是不是|能不能|会不会|可不可以|好不好|值不值|贵不贵|"
        r"靠不靠谱|哪里|哪儿|哪家|哪个|哪款|哪种|哪位|求推荐|求安利|求问|请问|求助|请教|"
        r"有人知道|谁知道|有谁|求解|多少钱|什么价|啥价|咋样|咋办|真的假的"
    ),
    # a rhetorical clause with its question mark; exclamations; 吗 inside other words
    clause_exceptions=_rx(RHETORICAL),
    exceptions=_rx(rf"{_EXCLAMATION}|吗啡|喇嘛"),
)

COMPLAINT = Rule(
    cues=_rx(
        r"差评|投诉|退款|退货|退钱|太差|很差|真差|好差|超差|差劲|垃圾|坑人|坑爹|坑钱|被坑|太坑|好坑|"
        r"避雷|踩雷|排雷|劝退|失望|骗子|骗人|欺骗|上当|忽悠|态度差|态度恶劣|态度极差|售后|维权|"
        r"消协|12315|不推荐|别买|不要买|千万别|再也不(?:[买来去喝吃]|会|用了|回购)|"
        r"不会再[买来去用喝吃]|难吃|难喝|难用|不好[吃喝用]|智商税|割韭菜|翻车|恶心|黑店|举报|"
        r"假货|山寨|质量差|质量问题|出问题|用坏|就坏|又坏|坏掉|故障|卡顿|死机|掉色|褪色|起球|"
        r"过敏|烂脸|爆痘|拉肚子|过期|变质|异物|少发|漏发|发错|不发货|发货慢|物流慢|不理人|不回复|"
        r"敷衍|推诿|后悔|太贵|贵死|不值|乱收费|虚假宣传|霸王条款|吐槽|无语|气死|受不了|忍不了|"
        r"欺负人|不会再爱了|刚买就降|就降价|就降了|" + RHETORICAL
    ),
    exceptions=_rx(
        r"(?:不|没|没有|从不|从没|绝不|零|无)(?:会|再)?(?:踩雷|翻车|差评|失望|后悔|过敏|爆痘|卡顿|"
        r"掉色|起球)|没让我失望|不让人失望|后悔没早|相见恨晚|售后(?:很|超|特别|非常|也)?(?:好|棒|"
        r"给力|及时|贴心|负责|靠谱)|不难[吃喝用]|物超所值|超值|值不值|不太贵|没那么贵|"
        r"不得不推荐|不能不推荐"
    ),
)

PURCHASE_INTENT = Rule(
    cues=_rx(
        r"想买|想入|想囤|想下单|想剁手|想要(?:一款|一支|一瓶|一台|同款|这款|那款|入手)|"
        r"求链接|蹲链接|链接在哪|有链接|求购|求代购|在哪买|哪里买|哪儿买|哪里有卖|"
        r"哪里可以买|哪能买|怎么买|去哪买|种草|已加购|加购|购物车|准备入|打算入|准备买|"
        r"打算买|要入手|要下单|马上下单|蹲(?:一个|个)?(?:链接|补货|同款|上新|折扣|优惠)|等补货|"
        r"多少钱|什么价|啥价|价格多少|求同款|同款链接|有没有卖"
    ),
    # 给大家种草 recommends (praise); 拔草 is giving the wish up, or having bought
    exceptions=_rx(
        rf"{_NEG}(?:想|要|打算|准备)(?:买|入|要|囤)|给(?:大家|你们|姐妹们?|宝宝们)种草|种草给|拔草"
    ),
)

PRAISE = Rule(
    cues=_rx(
        r"推荐|安利|回购|强推|墙裂推荐|一生推|爱了|爱死|超爱|最爱|绝绝子|yyds|真香|惊艳|太棒|好棒|"
        r"超棒|必入|必买|闭眼入|闭眼买|宝藏|五星|满分|好评|值得|良心|性价比(?:超|很|真|太|挺)?高|"
        r"好[喝吃用看](?![吗嘛么不])|不踩雷|零差评|不后悔|没失望|没让我失望|后悔没早|相见恨晚|"
        r"吹爆|天花板(?![都也上下掉漏塌裂灯])|封神|入股不亏|谁用谁知道|冲就完事|快去买|赶紧买|"
        r"给(?:大家|你们|姐妹们?|宝宝们)种草|种草给"
    ),
    exceptions=_rx(
        rf"{_NEG}(?:推荐|安利|回购|值得|好[喝吃用看]|棒)|求推荐|求安利|"
        r"有没有(?:什么)?(?:好的)?推荐|有什么推荐|谁能推荐|能推荐|可以推荐|推荐一下[吗嘛么]|"
        r"推荐[吗嘛么]|值得[吗嘛么]|值不值得|值得(?:一提|注意|关注|警惕|深思|思考|反思)|"
        r"回购[吗嘛么]|回购是不可能|不会再爱了|不再爱了|好评返现|求好评|为你推荐|猜你喜欢|相关推荐|热门推荐|推荐阅读"
    ),
)

RULES: dict[str, Rule] = {
    "question": QUESTION,
    "complaint": COMPLAINT,
    "purchase_intent": PURCHASE_INTENT,
    "praise": PRAISE,
}

#: The intent names, in the order ``detect_intents`` returns them.
INTENTS: tuple[str, ...] = tuple(RULES)


def detect_intents(text: str) -> list[str]:
    """Intents found in ``text`` (already normalized), in the order of ``INTENTS``.

    >>> detect_intents("凭什么不给退款？")
    ['complaint']
    >>> detect_intents("已回购三次，强烈推荐")
    ['praise']
    """
    return [name for name, rule in RULES.items() if rule.search(text)]
