"""Screen names, descriptions and verification reasons, made from parts (no name lists copied)."""

from __future__ import annotations

import random

from crawlers.sandbox.catalog import Interest

_LEAD = (
    "爱喝",
    "不吃",
    "今天也要",
    "想去",
    "只喝",
    "偷偷",
    "认真",
    "一只",
    "慢慢",
    "小",
    "大",
    "阿",
    "老",
    "是",
    "超爱",
    "早睡的",
    "不想上班的",
    "会飞的",
    "正在减肥的",
    "失眠的",
)
_CORE = (
    "拿铁",
    "橘子",
    "柚子",
    "猫",
    "星星",
    "月亮",
    "芋圆",
    "奶盖",
    "桃子",
    "山竹",
    "白开水",
    "布丁",
    "土豆",
    "饼干",
    "西瓜",
    "云朵",
    "鲸鱼",
    "兔子",
    "松鼠",
    "海盐",
    "青柠",
    "麻薯",
    "小熊",
    "汤圆",
    "蘑菇",
    "番茄",
    "椰子",
    "柠檬",
    "晚风",
    "栗子",
)
_TAIL = (
    "酱",
    "君",
    "同学",
    "本人",
    "呀",
    "_",
    "er",
    "小姐",
    "先生",
    "很忙",
    "不加班",
    "的日常",
    "日记",
    "啊",
    "吖",
    "本喵",
    "",
    "",
    "",
)
_SURNAMES = ("林", "陈", "王", "周", "苏", "许", "何", "叶", "沈", "唐", "顾", "江", "宋", "程")
_GIVEN = ("小", "阿", "大", "老")
_BRAND_TAIL = ("研究所", "日记", "实验室", "小分队", "指南", "频道", "说", "手记", "情报局")
_JOBS = ("设计师", "程序员", "学生", "上班族", "老师", "护士", "自由职业者", "产品经理", "打工人")
_DESCS = (
    "{tag}爱好者，坐标{city}",
    "热爱{tag}和{tag2}",
    "认真生活，{tag}使我快乐",
    "一个普通的{job}，喜欢{tag}",
    "{city}｜{job}｜{tag}",
    "在{city}努力生活的{job}",
    "随便记录，{tag}相关",
    "",
)


def nickname(rng: random.Random) -> str:
    """An everyday nickname: 爱喝拿铁的猫, 柚子同学, 不想上班的土豆_1998 ..."""
    form = rng.random()
    core = rng.choice(_CORE)
    if form < 0.35:
        name = rng.choice(_LEAD) + core + rng.choice(_TAIL)
    elif form < 0.6:
        name = core + rng.choice(_TAIL) + rng.choice(_CORE)
    elif form < 0.85:
        name = rng.choice(_LEAD) + core + "_" + str(rng.randint(1985, 2008))
    else:
        name = rng.choice(_SURNAMES) + rng.choice(_GIVEN) + core + rng.choice(_TAIL)
    return name


def influencer_name(rng: random.Random, it: Interest) -> str:
    """A creator's name: 咖啡师小林, 护肤研究所 ..."""
    if rng.random() < 0.5:
        return rng.choice(it.roles) + rng.choice(_GIVEN) + rng.choice(_SURNAMES)
    return rng.choice(it.tags) + rng.choice(_BRAND_TAIL)


def unique(name: str, taken: set[str], rng: random.Random) -> str:
    """Screen names are unique on Weibo (mentions use them): add a suffix on a clash."""
    while name in taken:
        name = f"{name}{rng.randint(0, 99)}"
    taken.add(name)
    return name


def description(rng: random.Random, tags: list[str], city: str) -> str:
    tag, tag2 = tags[0], tags[-1] if len(tags) > 1 else "生活"
    template = rng.choice(_DESCS)
    return template.format(tag=tag, tag2=tag2, city=city, job=rng.choice(_JOBS))


def influencer_profile(rng: random.Random, it: Interest) -> tuple[str, str]:
    """(description, verified_reason) of a creator."""
    tag, role = rng.choice(it.tags), rng.choice(it.roles)
    desc = f"{role}｜{tag}内容创作者｜合作请私信"
    reason = rng.choice((f"知名{tag}博主", f"{tag}领域优质作者", f"微博{tag}视频博主", role))
    return desc, reason
