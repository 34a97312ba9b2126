"""Benchmark dispatch: the guardrails over two simulated days, and sends per second.

Part 1 (guardrails): ``--follows`` approved follows and ``--replies`` approved replies (distinct
texts, to distinct users) on one platform account, dispatched to a real sandbox server over
HTTP by a run every 15 minutes of a simulated clock for 48 hours, with the default
``[dispatch]`` caps. It prints the most actions sent in any rolling hour and any rolling day
against the caps, and how many drafts were still waiting. Then it approves the default reply
template for two users and shows the near-duplicate check refusing the second (the dispatch
run in between also sends the next hour's share of the waiting drafts), and counts the
platform's calls against the drafts marked sent.

Part 2 (speed): the same number of approved replies sent with no caps, against a baseline
measured in the same run on the same server: bare ``urllib`` POSTs of the same bodies with
their keys. ``ratio`` = dispatch time / baseline time: what the claim, the hash check, the
audit events and the commits cost on top of the HTTP calls.

    python bench/dispatch.py [--follows 300] [--replies 300]

Ends with ``key=value`` lines.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlmodel import Session, col, select  # noqa: E402

from bot import dispatch, review  # noqa: E402
from bot.dispatch import SandboxAdapter  # noqa: E402
from crawlers.config import default_settings  # noqa: E402
from crawlers.errors import ReviewError  # noqa: E402
from crawlers.models import Draft, content_hash  # noqa: E402
from crawlers.sandbox.server import make_server  # noqa: E402
from crawlers.sandbox.world import build_world  # noqa: E402
from crawlers.store import make_engine, migrate  # noqa: E402

T0 = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)


def _draft(session: Session, i: int, kind: str, text: str = "") -> Draft:
    account = f"u{i}"
    post = None if kind == "follow" else f"p{i}"
    text = "" if kind == "follow" else text
    d = Draft(
        campaign="bench", kind=kind, platform="weibo", target_account=account,
        target_post=post, text=text, rule="bench",
        content_hash=content_hash(kind, "weibo", account, post, text),
        dedup_key=f"bench:{kind}:{account}:{post or ''}", created_at=T0, updated_at=T0,
    )  # fmt: skip
    session.add(d)
    session.commit()
    session.refresh(d)
    return d


def _reply_text(i: int) -> str:
    # distinct enough that the near-duplicate check lets each through
    return f"谢谢分享！第{i}号问题：{i * 7919 % 100003}的冷萃配方我们记下了，欢迎来店里聊聊{i}"


def _server() -> Any:
    server = make_server("127.0.0.1", 0, build_world(3, 40))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _max_in_window(times: list[datetime], window: timedelta) -> int:
    times = sorted(times)
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while times[lo] <= t - window:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def guardrails(follows: int, replies: int) -> dict[str, Any]:
    settings = default_settings()
    server = _server()
    adapters = {"weibo": SandboxAdapter(server.base_url, 5.0)}
    engine = make_engine("sqlite://")
    migrate(engine)
    with Session(engine) as session:
        for i in range(follows):
            review.approve(session, _draft(session, i, "follow").id, "alice", now=T0)  # type: ignore[arg-type]
        for i in range(replies):
            d = _draft(session, follows + i, "reply", _reply_text(i))
            review.approve(session, d.id, "alice", now=T0)  # type: ignore[arg-type]
        now = T0
        while now < T0 + timedelta(hours=48):
            dispatch.run(session, settings, adapters, now=now)
            now += timedelta(minutes=15)
        sent = session.exec(select(Draft).where(Draft.status == "sent")).all()
        waiting = len(session.exec(select(Draft.id).where(Draft.status == "approved")).all())
        by_kind: dict[str, list[datetime]] = {"follow": [], "reply": []}
        for d in sent:
            assert d.sent_at is not None
            when = d.sent_at if d.sent_at.tzinfo else d.sent_at.replace(tzinfo=UTC)
            by_kind[d.kind].append(when)
        # the near-duplicate check: the default template to two users
        template = settings.bot.reply_templates[0]
        a = _draft(session, 10_000, "reply", template.replace("{name}", "阿一"))
        b = _draft(session, 10_001, "reply", template.replace("{name}", "阿二"))
        review.approve(session, a.id, "alice", now=T0)  # type: ignore[arg-type]
        dispatch.run(session, settings, adapters, now=T0 + timedelta(hours=49))
        try:
            review.approve(session, b.id, "alice", now=T0 + timedelta(hours=49))  # type: ignore[arg-type]
            refused = 0
        except ReviewError:
            refused = 1
        sent_total = len(session.exec(select(Draft.id).where(Draft.status == "sent")).all())
    platform_calls = len(
        json.loads(urllib.request.urlopen(server.base_url + "/_sandbox/actions").read())["actions"]
    )
    server.shutdown()
    cfg = settings.dispatch
    return {
        "follows_sent": len(by_kind["follow"]),
        "replies_sent": len(by_kind["reply"]),
        "max_follows_hour": _max_in_window(by_kind["follow"], timedelta(hours=1)),
        "cap_follows_hour": cfg.follow_per_hour,
        "max_follows_day": _max_in_window(by_kind["follow"], timedelta(days=1)),
        "cap_follows_day": cfg.follow_per_day,
        "max_comments_hour": _max_in_window(by_kind["reply"], timedelta(hours=1)),
        "cap_comments_hour": cfg.comment_per_hour,
        "max_comments_day": _max_in_window(by_kind["reply"], timedelta(days=1)),
        "cap_comments_day": cfg.comment_per_day,
        "still_waiting": waiting,
        "platform_calls": platform_calls,
        "sent_total": sent_total,
        "duplicate_template_refused": refused,
    }


def speed(n: int) -> dict[str, Any]:
    settings = default_settings(
        dispatch={"comment_per_hour": 60, "comment_per_day": 300, "target_cooldown_hours": 0}
    )
    server = _server()
    adapter = SandboxAdapter(server.base_url, 5.0)
    engine = make_engine("sqlite://")
    migrate(engine)
    bodies = []
    with Session(engine) as session:
        ids = []
        for i in range(n):
            d = _draft(session, i, "reply", _reply_text(i))
            review.approve(session, d.id, "alice", now=T0)  # type: ignore[arg-type]
            ids.append(d.id)
            bodies.append({"kind": "reply", "target_account": d.target_account,
                           "target_post": d.target_post, "text": d.text})  # fmt: skip
        # baseline: bare POSTs of the same bodies (other keys: the sandbox dedupes by key)
        t = time.perf_counter()
        for i, body in enumerate(bodies):
            req = urllib.request.Request(
                server.base_url + "/api/actions", data=json.dumps(body).encode(),
                headers={"Content-Type": "application/json", "Idempotency-Key": f"bare{i}"},
                method="POST",
            )  # fmt: skip
            urllib.request.urlopen(req, timeout=5).read()
        baseline = time.perf_counter() - t
        t = time.perf_counter()
        sent = 0
        now = T0
        while sent < n:  # the per-hour cap still applies: step the clock by an hour
            sent += dispatch.run(session, settings, {"weibo": adapter}, now=now).sent
            now += timedelta(hours=1, minutes=1)
        took = time.perf_counter() - t
        assert session.exec(select(Draft.id).where(col(Draft.status) != "sent")).all() == []
    server.shutdown()
    return {"sent": n, "baseline_s": round(baseline, 3), "dispatch_s": round(took, 3),
            "per_second": round(n / took, 1), "ratio": round(took / baseline, 2)}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--follows", type=int, default=300)
    ap.add_argument("--replies", type=int, default=300)
    args = ap.parse_args()
    g = guardrails(args.follows, args.replies)
    print("guardrails over 48 simulated hours, a dispatch run every 15 minutes:")
    print(
        f"  follows sent {g['follows_sent']}: most in an hour {g['max_follows_hour']} "
        f"(cap {g['cap_follows_hour']}), in a day {g['max_follows_day']} (cap {g['cap_follows_day']})"
    )
    print(
        f"  replies sent {g['replies_sent']}: most in an hour {g['max_comments_hour']} "
        f"(cap {g['cap_comments_hour']}), in a day {g['max_comments_day']} (cap {g['cap_comments_day']})"
    )
    print(
        f"  still waiting for a later window: {g['still_waiting']}; platform calls "
        f"{g['platform_calls']} for {g['sent_total']} sent drafts"
    )
    print(
        f"  default reply template approved for a second user: refused={g['duplicate_template_refused']}"
    )
    s = speed(args.replies)
    print(
        f"speed: {s['sent']} replies: dispatch {s['dispatch_s']} s ({s['per_second']}/s), "
        f"bare POSTs {s['baseline_s']} s"
    )
    for k, v in {**{f"guard_{k}": v for k, v in g.items()}, **s}.items():
        print(f"{k}={v}")


if __name__ == "__main__":
    main()
