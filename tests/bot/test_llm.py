"""The OpenAI-compatible drafter against a local fake chat server on 127.0.0.1."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from pydantic import ValidationError
from sqlmodel import Session, col, select

from bot import drafts
from bot.llm import ChatDrafter, LLMError
from crawlers.config import BotSettings, default_settings
from crawlers.models import Draft
from tests.bot.world import CAMPAIGN, T0, build_world

KEY = "sk-test-secret-4242"


class FakeChat:
    """Answers ``POST /v1/chat/completions`` as told; records each request."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.reply: Any = "阿一你好，手冲可以先从中浅烘的豆子试起，水温九十度左右。"
        self.status = 200
        self.delay = 0.0
        chat = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                chat.requests.append({"path": self.path, "auth": self.headers.get("Authorization"),
                                      "body": body})  # fmt: skip
                time.sleep(chat.delay)
                if isinstance(chat.reply, bytes):
                    out = chat.reply
                else:
                    out = json.dumps({"choices": [{"message": {"role": "assistant",
                                                               "content": chat.reply}}]}).encode()  # fmt: skip
                self.send_response(chat.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def chat() -> Iterator[FakeChat]:
    fake = FakeChat()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


def llm_settings(chat: FakeChat, monkeypatch: pytest.MonkeyPatch, **bot: Any) -> Any:
    monkeypatch.setenv("TINGFENG_LLM_API_KEY", KEY)
    return default_settings(
        campaigns={"cafe": CAMPAIGN},
        bot={"drafter": "llm", "llm_url": chat.url, "llm_model": "qwen-local", "follow_top_k": 0,
             "repost_top_k": 0, "llm_timeout_seconds": 2.0, **bot},
    )  # fmt: skip


def replies(session: Session) -> list[Draft]:
    return list(session.exec(select(Draft).where(Draft.kind == "reply").order_by(col(Draft.id))))


def test_the_endpoint_writes_the_reply_and_the_evidence_says_so(
    session: Session, chat: FakeChat, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_world(session)
    drafts.run(session, llm_settings(chat, monkeypatch), now=T0)
    (reply,) = replies(session)
    assert reply.text == chat.reply and reply.status == "pending"  # a draft, like any other
    assert reply.evidence["drafted_by"] == "llm:qwen-local"
    assert reply.evidence["template_text"].startswith("你好阿一～关于「手冲咖啡」")
    (req,) = chat.requests
    assert req["path"] == "/v1/chat/completions" and req["auth"] == f"Bearer {KEY}"
    body = req["body"]
    assert body["model"] == "qwen-local" and body["messages"][0]["role"] == "system"
    assert "拾光咖啡" in body["messages"][0]["content"]
    assert "手冲咖啡用什么豆子好？" in body["messages"][1]["content"]
    assert "作者：阿一" in body["messages"][1]["content"]


@pytest.mark.parametrize(
    ("status", "answer", "delay", "reason"),
    [
        (500, "x", 0.0, "answered HTTP 500"),
        (200, b"<html>not json</html>", 0.0, "not JSON"),
        (200, b'{"error": "quota"}', 0.0, "without choices[0].message.content"),
        (200, "   ", 0.0, "empty text"),
        (200, "ok", 3.0, "unreachable: TimeoutError"),
    ],
)
def test_a_failing_endpoint_keeps_the_template_text_and_never_logs_the_key(
    session: Session,
    chat: FakeChat,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    status: int,
    answer: Any,
    delay: float,
    reason: str,
) -> None:
    build_world(session)
    chat.status, chat.reply, chat.delay = status, answer, delay
    with caplog.at_level(logging.DEBUG):
        drafts.run(session, llm_settings(chat, monkeypatch, llm_timeout_seconds=1.0), now=T0)
    (reply,) = replies(session)
    assert reply.text.startswith("你好阿一～") and reply.evidence["drafted_by"] == "template:0"
    assert reason in caplog.text and "the template's text is kept" in caplog.text
    assert KEY not in caplog.text


def test_llm_text_passes_the_same_guardrails(
    session: Session, chat: FakeChat, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_world(session)
    chat.reply = "想要优惠的话加微信 abc123，私信领取"
    drafts.run(session, llm_settings(chat, monkeypatch), now=T0)
    assert replies(session) == []  # could never be approved: not drafted


def test_long_answers_are_cut_and_quotes_stripped(chat: FakeChat) -> None:
    chat.reply = "「" + "好" * 300 + "」"
    drafter = ChatDrafter(chat.url, "m", None, 2.0, 50)
    assert drafter.draft("reply", {"brand": "b"}) == "好" * 50
    assert chat.requests[0]["auth"] is None  # no key configured: no header
    with pytest.raises(LLMError, match="unreachable"):
        ChatDrafter("http://127.0.0.1:9/v1", "m", KEY, 1.0).draft("reply", {})


def test_settings_name_what_the_llm_drafter_needs() -> None:
    with pytest.raises(ValidationError, match=r"needs llm_url and llm_model"):
        BotSettings(drafter="llm")
    with pytest.raises(ValidationError, match="must start with http"):
        BotSettings(drafter="llm", llm_url="127.0.0.1:8000", llm_model="m")
    assert BotSettings(drafter="llm", llm_url="http://h/v1", llm_model="m").drafter == "llm"


def test_a_group_post_is_asked_for_as_a_super_topic_post() -> None:
    from bot.llm import ChatDrafter

    drafter = ChatDrafter(url="http://127.0.0.1:1/v1", model="m")
    system = drafter.messages("group_post", {"brand": "拾光咖啡"})[0]["content"]
    assert "超话帖子" in system and "回复评论" not in system
