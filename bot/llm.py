"""An optional drafter that asks any OpenAI-compatible chat endpoint for a reply or a repost
comment. What it writes is always a draft: it goes through the same text checks and the same
human approval as a template's text, and when the endpoint fails the template's text stays.

Settings: ``[bot] drafter = "llm"``, ``llm_url`` (the API base, e.g.
``http://127.0.0.1:8000/v1``; ``/chat/completions`` is appended), ``llm_model``,
``llm_timeout_seconds``, ``llm_max_chars``. The key comes only from the environment
(``TINGFENG_LLM_API_KEY``) and is sent as a bearer token; it never appears in logs or errors.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

SYSTEM_PROMPT = (
    "你是品牌「{brand}」的社交媒体运营。为一条微博写一段真诚、具体、有帮助的{what}，"
    "像真人一样说话：回应对方说的内容，不要营销套话，不要链接，不要联系方式，不要话题标签，"
    "不超过{max_chars}个字。只输出这段文字本身。"
)
WHAT = {"reply": "回复评论", "repost": "转发评语", "post": "超话帖子", "group_post": "超话帖子"}


class LLMError(Exception):
    """The endpoint could not give a usable text (the message never holds the key)."""


@dataclass(frozen=True)
class ChatDrafter:
    """Drafts texts through ``POST {url}/chat/completions``."""

    url: str
    model: str
    api_key: str | None = None
    timeout: float = 20.0
    max_chars: int = 140

    @property
    def label(self) -> str:
        return f"llm:{self.model}"

    def messages(self, kind: str, slots: dict[str, str]) -> list[dict[str, str]]:
        """The chat messages for one draft (the post and who wrote it, the brand)."""
        system = SYSTEM_PROMPT.format(
            brand=slots.get("brand", ""), what=WHAT.get(kind, "回复"), max_chars=self.max_chars
        )
        lines = [f"作者：{slots.get('name', '')}", f"微博：{slots.get('post_full', '')}"]
        if slots.get("topic"):
            lines.append(f"话题：{slots['topic']}")
        if slots.get("interest"):
            lines.append(f"领域：{slots['interest']}")
        return [
            {"role": "system", "content": system},
            {"role": "user", "content": "\n".join(lines)},
        ]

    def draft(self, kind: str, slots: dict[str, str]) -> str:
        """The model's text for one draft, stripped and cut to ``max_chars``; ``LLMError`` when
        the endpoint fails, times out or answers something unusable."""
        body = json.dumps(
            {
                "model": self.model,
                "messages": self.messages(kind, slots),
                "temperature": 0.7,
                "max_tokens": 2 * self.max_chars,
            }  # fmt: skip
        ).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        endpoint = self.url.rstrip("/") + "/chat/completions"
        req = urllib.request.Request(endpoint, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310
                payload: Any = json.loads(resp.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            raise LLMError(f"{endpoint} answered HTTP {exc.code}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise LLMError(f"{endpoint} unreachable: {type(reason).__name__}") from None
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise LLMError(f"{endpoint} answered something that is not JSON") from None
        try:
            text = payload["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise LLMError(f"{endpoint} answered JSON without choices[0].message.content") from None
        if not isinstance(text, str) or not text.strip():
            raise LLMError(f"{endpoint} answered an empty text")
        return text.strip().strip("\"'“”「」")[: self.max_chars].strip()
