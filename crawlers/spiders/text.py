"""Pure parsers for the strings Weibo sends: counts, dates and HTML post text.

None of these raise on odd input: a value they cannot read comes back as ``None`` (or the
text as well as it can be cleaned), because a crawl must go on past one strange field.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime, timedelta, timezone

#: m.weibo.cn writes relative and short dates in Beijing time
CST = timezone(timedelta(hours=8))

_UNITS = {"万": 10_000, "亿": 100_000_000, "w": 10_000, "W": 10_000}
_COUNT_RE = re.compile(r"^\s*([+-]?\d+(?:\.\d+)?)\s*([万亿wW]?)\s*\+?\s*$")


def parse_count(value: object) -> int | None:
    """``12``, ``"12"``, ``"1.2万"``, ``"6335万"``, ``"1.2亿"``, ``"100万+"`` -> int; else None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value == value and abs(value) < 1e18 else None
    if not isinstance(value, str):
        return None
    m = _COUNT_RE.match(value.replace(",", ""))
    if not m:
        return None
    number = float(m.group(1)) * _UNITS.get(m.group(2), 1)
    return int(round(number)) if abs(number) < 1e18 else None


_ABS_FORMATS = ("%a %b %d %H:%M:%S %z %Y",)
_AGO_RE = re.compile(r"^(\d{1,5})\s*(秒|分钟|小时|天)前$")
_AGO_UNITS = {"秒": "seconds", "分钟": "minutes", "小时": "hours", "天": "days"}
_DAY_TIME_RE = re.compile(r"^(今天|昨天|前天)\s*(\d{1,2}):(\d{2})$")
_DAY_OFFSETS = {"今天": 0, "昨天": 1, "前天": 2}
_MD_RE = re.compile(r"^(\d{1,2})-(\d{1,2})(?:\s+(\d{1,2}):(\d{2}))?$")
_YMD_RE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?)?$")


def parse_created_at(value: object, now: datetime | None = None) -> datetime | None:
    """Weibo's ``created_at`` in any of its forms -> aware UTC datetime, or None.

    Relative forms (``刚刚``, ``5分钟前``, ``昨天 12:00``, ``06-14``) are read against ``now``
    (default: the current time) in Beijing time.
    """
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    now_cst = (now or datetime.now(UTC)).astimezone(CST)
    try:
        found = _absolute(text) or _relative(text, now_cst) or _calendar(text, now_cst)
        # year 1 in Beijing time is before year 1 in UTC: the conversion can overflow too
        return found.astimezone(UTC) if found else None
    except (ValueError, OverflowError):
        return None


def _absolute(text: str) -> datetime | None:
    for fmt in _ABS_FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None


def _relative(text: str, now: datetime) -> datetime | None:
    if text == "刚刚":
        return now
    m = _AGO_RE.match(text)
    if m:
        return now - timedelta(**{_AGO_UNITS[m.group(2)]: int(m.group(1))})
    m = _DAY_TIME_RE.match(text)
    if m:
        day = now.date() - timedelta(days=_DAY_OFFSETS[m.group(1)])
        return _at(day, int(m.group(2)), int(m.group(3)))
    return None


def _calendar(text: str, now: datetime) -> datetime | None:
    m = _YMD_RE.match(text)
    if m:
        y, mo, d, hh, mm, ss = (int(g) if g else 0 for g in m.groups())
        return _at(date(y, mo, d), hh, mm, ss)
    m = _MD_RE.match(text)
    if m:
        mo, d, hh, mm = (int(g) if g else 0 for g in m.groups())
        found = _at(date(now.year, mo, d), hh, mm)
        # "06-14" seen in January is last year's June
        return found if found <= now + timedelta(days=1) else found.replace(year=now.year - 1)
    return None


def _at(day: date, hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=CST)


_IMG_RE = re.compile(r"""<img\b[^>]*?\balt\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))[^>]*>""", re.I)
_BR_RE = re.compile(r"<br\s*/?>", re.I)
_TAG_RE = re.compile(r"<[^>]*>")
_TOPIC_RE = re.compile(r"#([^#\n]{1,64}?)#")
_MENTION_HREF_RE = re.compile(r"""href\s*=\s*["']/n/([^"'/?#]+)["']""", re.I)
_MENTION_TEXT_RE = re.compile(r"@([^\s@:：,，。.!！?？#<>/()（）]{1,30})")
_SUPERTOPIC_RE = re.compile(r"containerid=(100808[0-9a-fA-F]{32})")
_SUPERTOPIC_LINK_RE = re.compile(
    r"containerid=(100808[0-9a-fA-F]{32})[^>]*>\s*(?:<[^>]*>\s*)*([^<]+)<", re.I
)


def text_plain(text: object) -> str:
    """Readable text of a post's HTML: emoticons as ``[哈哈]``, ``<br />`` as newlines."""
    if not isinstance(text, str):
        return ""
    out = _IMG_RE.sub(lambda m: m.group(1) or m.group(2) or m.group(3) or "", text)
    out = _BR_RE.sub("\n", out)
    out = _TAG_RE.sub("", out)
    out = html.unescape(out)
    return "\n".join(line.strip() for line in out.splitlines()).strip()


def topics(plain: str) -> list[str]:
    """``#咖啡探店#`` topics of a post's plain text, without the hashes, in order, unique."""
    return _unique(t.strip() for t in _TOPIC_RE.findall(plain) if t.strip())


def mentions(text: str, plain: str) -> list[str]:
    """Screen names mentioned (``<a href='/n/NAME'>`` links, then ``@NAME`` in the text)."""
    names = [html.unescape(n) for n in _MENTION_HREF_RE.findall(text)]
    names += _MENTION_TEXT_RE.findall(plain)
    return _unique(n.strip() for n in names if n.strip())


def supertopic_links(text: str) -> list[tuple[str, str]]:
    """(containerid, name) of super-topic links in a post's HTML."""
    found = [(cid, html.unescape(name).strip()) for cid, name in _SUPERTOPIC_LINK_RE.findall(text)]
    seen = {cid for cid, _ in found}
    found += [(cid, "") for cid in _SUPERTOPIC_RE.findall(text) if cid not in seen]
    return list(dict(found).items())


def _unique(values: object) -> list[str]:
    return list(dict.fromkeys(values))  # type: ignore[call-overload]
