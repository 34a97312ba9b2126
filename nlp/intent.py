"""Rule-based intents: question, complaint, purchase_intent, praise.

Patterns run on normalized (simplified) text. A cue preceded by a negation or by 求 does not
count as praise (不推荐, 求推荐); 不推荐 and 不好吃-style phrases count as complaints instead.
"""

from __future__ import annotations

import re

_NOT = r"(?<![不没别])(?<!不太)(?<!不怎么)"

PATTERNS: dict[str, re.Pattern[str]] = {
    "question": re.compile(
        r"[？?]|[吗嘛呢](?=$|[\s，,。.！!~～]|\[)|怎么|怎样|如何|为什么|为啥|有没有|是不是|能不能|"
        r"可不可以|哪里|哪儿|哪家|哪个|求推荐|求问|请问|求助|有人知道|谁知道|多少钱"
    ),
    "complaint": re.compile(
        r"差评|投诉|退款|退货|太差|很差|真差|再也不[买来去用]|垃圾|坑人|被坑|避雷|踩雷|失望|骗子|"
        r"态度差|态度恶劣|售后|欺骗|维权|不推荐|别买|难吃|难喝|难用|不好[吃喝用]|智商税|翻车|"
        r"恶心|黑店|举报"
    ),
    "purchase_intent": re.compile(
        r"想买|想入|想要|求链接|求购|在哪买|哪里买|哪儿买|哪里有卖|怎么买|种草|被种草|已加购|"
        r"购物车|准备入|打算入|蹲一?个|求代购|多少钱|有链接吗|下单|剁手"
    ),
    "praise": re.compile(
        _NOT
        + r"(?<!求)(?<!求个)推荐|"
        + _NOT
        + r"好[喝吃用看](?![吗嘛么不])|爱了|回购|安利|强推|绝绝子|yyds|"
        r"真香|惊艳|" + _NOT + r"太棒|" + _NOT + r"好棒|必入|必买|宝藏|五星|满分|" + _NOT + r"值得",
        re.IGNORECASE,
    ),
}


def detect_intents(text: str) -> list[str]:
    """Intents found in ``text`` (already normalized), in the order of ``PATTERNS``."""
    return [name for name, pattern in PATTERNS.items() if pattern.search(text)]
