"""Typed settings: ``settings.toml`` (one table per stage) + environment, loaded once.

``load_settings(path)`` is the only function in tingfeng that reads the settings file or the
environment. Everything else receives the ``Settings`` object it returns. Secrets (cookies,
tokens) come only from environment variables and are held as ``SecretStr`` so they never
print; a ``[secrets]`` table or a secret-looking key in the file is refused.
"""

from __future__ import annotations

import difflib
import hashlib
import tomllib
from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from crawlers.errors import ConfigError

DEFAULT_SETTINGS_FILE = "settings.toml"
_TOML_PATH: ContextVar[Path | None] = ContextVar("_TOML_PATH", default=None)


class Section(BaseModel):
    """A settings table: unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid", validate_default=True)


class StoreSettings(Section):
    url: str = "sqlite:///var/tingfeng.db"
    echo: bool = False


class SandboxSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8765, ge=1, le=65535)
    seed: int = 42
    users: int = Field(default=400, ge=10, le=200_000)


def http_url(v: str) -> str:
    """A platform's root URL: http(s) only, no trailing slash."""
    if not v.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https://")
    return v.rstrip("/")


#: a platform's root URL setting
HttpRoot = Annotated[str, AfterValidator(http_url)]

SearchType = Literal["all", "realtime", "hot"]
DEFAULT_SEARCH_TYPES: tuple[SearchType, ...] = ("realtime", "hot")


class CrawlSettings(Section):
    platform: Literal["weibo"] = "weibo"
    base_url: HttpRoot = "http://127.0.0.1:8765"
    obey_robots: bool = True
    user_agent: str = (
        "tingfeng/0.1 (+https://github.com/tingfeng-project/tingfeng; polite research crawler)"
    )
    download_delay: float = Field(default=2.0, ge=0)
    autothrottle: bool = True
    autothrottle_target_concurrency: float = Field(default=1.0, gt=0)
    concurrent_requests_per_domain: int = Field(default=1, ge=1, le=16)
    download_timeout: float = Field(default=20.0, gt=0)
    retry_times: int = Field(default=2, ge=0, le=10)
    max_pages: int = Field(default=3, ge=1)
    timeline_pages: int = Field(default=1, ge=0)
    comment_pages: int = Field(default=1, ge=0)
    repost_pages: int = Field(default=1, ge=0)
    fan_pages: int = Field(default=1, ge=0)
    follow_pages: int = Field(default=1, ge=0)
    fetch_profiles: bool = True
    search_types: list[SearchType] = Field(
        default_factory=lambda: list(DEFAULT_SEARCH_TYPES), min_length=1
    )
    incremental: bool = True
    login_check: bool = True
    ban_pause_minutes: float = Field(default=360.0, gt=0)
    retry_after_max_seconds: float = Field(default=3600.0, gt=0)
    budget_per_ip_per_hour: int = Field(default=900, ge=0)
    budget_per_account_per_hour: int = Field(default=600, ge=0)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class MastodonSettings(Section):
    enabled: bool = False
    base_url: HttpRoot = "https://mastodon.social"
    obey_robots: bool = True
    download_delay: float = Field(default=1.0, ge=0)
    page_limit: int = Field(default=40, ge=1, le=80)
    max_pages: int = Field(default=3, ge=1)
    status_pages: int = Field(default=1, ge=0)
    follower_pages: int = Field(default=1, ge=0)
    fetch_context: bool = True
    fetch_reblogged_by: bool = True


class DistributedSettings(Section):
    enabled: bool = False
    redis_url: str = "redis://127.0.0.1:6379/0"
    key_prefix: str = "tingfeng"
    idle_close_seconds: float = Field(default=30.0, gt=0)


DEFAULT_INTERESTS: dict[str, list[str]] = {
    "coffee": ["咖啡", "拿铁", "美式", "手冲", "咖啡豆", "烘焙", "浓缩", "冷萃", "咖啡馆", "拉花"],
    "beauty": ["口红", "粉底", "护肤", "精华", "面膜", "化妆", "眼影", "防晒", "美妆", "香水"],
    "tech": ["手机", "电脑", "芯片", "相机", "耳机", "数码", "系统", "续航", "屏幕", "处理器"],
    "fitness": ["健身", "跑步", "马拉松", "瑜伽", "减脂", "增肌", "运动", "撸铁", "骑行", "训练"],
    "food": ["美食", "火锅", "甜品", "餐厅", "探店", "好吃", "烧烤", "奶茶", "面包", "小吃"],
    "travel": ["旅行", "旅游", "酒店", "机票", "景点", "自驾", "民宿", "攻略", "出行", "度假"],
    "gaming": ["游戏", "手游", "主机", "电竞", "开黑", "副本", "抽卡", "通关", "玩家", "steam"],
    "parenting": ["宝宝", "育儿", "奶粉", "辅食", "早教", "孕期", "母婴", "带娃", "幼儿园", "亲子"],
}


HeadName = Literal["sentiment", "emotion", "topic"]
DEFAULT_HEADS: tuple[HeadName, ...] = ("sentiment", "emotion", "topic")


class NlpSettings(Section):
    model: Literal["lexicon", "linear", "transformer", "onnx", "ensemble"] = "linear"
    model_dir: str = ""
    heads: list[HeadName] = Field(default_factory=lambda: list(DEFAULT_HEADS))
    device: Literal["auto", "cpu", "cuda"] = "auto"
    threads: int = Field(default=1, ge=1, le=64)
    max_len: int = Field(default=128, ge=8, le=512)
    topic_min_score: float = Field(default=0.7, ge=0, le=1)
    lexicon_blend: float = Field(default=0.5, ge=0, le=10)
    ensemble_weight: float = Field(default=0.5, ge=0, le=1)
    spam_threshold: float = Field(default=0.6, ge=0, le=1)
    interest_examples: dict[str, list[str]] = Field(default_factory=dict)
    data_dir: str = ""
    batch_size: int = Field(default=500, ge=1)
    keywords_top_k: int = Field(default=5, ge=0, le=50)
    user_dict: list[str] = Field(default_factory=list)
    neutral_band: float = Field(default=0.15, ge=0, lt=1)
    interests: dict[str, list[str]] = Field(default_factory=lambda: dict(DEFAULT_INTERESTS))


class EdgeWeights(Section):
    repost: float = Field(default=3.0, ge=0)
    comment: float = Field(default=2.0, ge=0)
    mention: float = Field(default=1.0, ge=0)
    follow: float = Field(default=1.0, ge=0)


class GraphSettings(Section):
    damping: float = Field(default=0.85, gt=0, lt=1)
    tol: float = Field(default=1e-10, gt=0)
    max_iter: int = Field(default=1000, ge=1)
    half_life_days: float = Field(default=0.0, ge=0)
    explain_top: int = Field(default=3, ge=1, le=20)
    reach_hops: int = Field(default=3, ge=1, le=10)
    reach_beta: float = Field(default=0.0, ge=0, le=1)
    interest_prior: float = Field(default=2.0, ge=0)
    interest_top: int = Field(default=1000, ge=1)
    community_resolution: float = Field(default=1.0, gt=0)
    community_seed: int = 7
    weights: EdgeWeights = Field(default_factory=EdgeWeights)


#: words that get marketing accounts limited on Weibo (traffic diversion, rebates, paid
#: orders); a draft holding one cannot be approved
DEFAULT_SENSITIVE_WORDS = (
    "加微信", "加vx", "加v信", "私信领取", "免费领取", "返现", "刷单", "代购", "兼职", "日赚",
    "稳赚", "点击链接",
)  # fmt: skip


class BotSettings(Section):
    follow_top_k: int = Field(default=10, ge=0)
    follow_min_interest_share: float = Field(default=0.3, ge=0, le=1)
    follow_pick: Literal["reach", "rank"] = "reach"
    follow_shortlist: int = Field(default=50, ge=1)
    lookalike_top_k: int = Field(default=5, ge=0)
    dormant_days: int = Field(default=30, ge=1)
    dormant_min_interactions: int = Field(default=2, ge=1)
    dormant_top_k: int = Field(default=5, ge=0)
    dormant_templates: list[str] = Field(
        default_factory=lambda: [
            "好久不见{name}～看到你在聊「{topic}」，{brand}一直记得你，最近怎么样？"
        ]
    )
    drafter: Literal["template", "llm"] = "template"
    llm_url: str = ""
    llm_model: str = ""
    llm_timeout_seconds: float = Field(default=20.0, gt=0)
    llm_max_chars: int = Field(default=140, ge=10, le=2000)
    reviewers: list[str] = Field(default_factory=list)
    approvals_required: int = Field(default=1, ge=1, le=3)
    sensitive_words: list[str] = Field(default_factory=lambda: list(DEFAULT_SENSITIVE_WORDS))
    allowed_link_domains: list[str] = Field(default_factory=list)
    duplicate_similarity: float = Field(default=0.8, gt=0, le=1)
    duplicate_window_days: int = Field(default=30, ge=1)
    reply_to_questions: bool = True
    repost_top_k: int = Field(default=5, ge=0)
    repost_min_sentiment: float = Field(default=0.6, ge=0, le=1)
    max_drafts_per_run: int = Field(default=50, ge=0)
    draft_ttl_hours: int = Field(default=72, ge=1)
    reply_templates: list[str] = Field(
        default_factory=lambda: [
            "你好{name}～关于「{topic}」这个问题，我们整理了一些经验，希望对你有帮助。",
        ]
    )
    repost_templates: list[str] = Field(default_factory=lambda: ["说得太好了，{brand}也很认同！"])
    # replies to complaints about the brand (campaigns whose [campaigns.NAME.rules] ask for them)
    complaint_templates: list[str] = Field(
        default_factory=lambda: [
            "{{ name }}你好，非常抱歉给你带来了不好的体验。你说的问题我们很重视，"
            "方便的话请私信我们具体情况，{{ brand }}会尽快帮你处理。"
        ]
    )
    # a super-topic post answering its most-asked recent questions (rules kinds "group_post")
    group_post_templates: list[str] = Field(
        default_factory=lambda: [
            "最近{{ topic }}超话里好多朋友在问「{{ keywords }}」，{{ brand }}整理了几点经验，"
            "欢迎大家在评论区补充交流～"
        ]
    )
    group_post_days: int = Field(default=7, ge=1, le=365)
    # days after sending that a reply's or repost's post is crawled again for its outcomes
    outcome_days: int = Field(default=14, ge=0, le=365)

    @model_validator(mode="after")
    def _enough_reviewers(self) -> BotSettings:
        need, have = self.approvals_required, len(set(self.reviewers))
        if need > 1 and have < need:
            raise ValueError(
                f"[bot] approvals_required = {need} needs at least {need} distinct names in "
                f"[bot] reviewers (it has {have}): add reviewers, or lower approvals_required"
            )
        return self

    @model_validator(mode="after")
    def _llm_needs_an_endpoint(self) -> BotSettings:
        if self.drafter == "llm":
            missing = [k for k in ("llm_url", "llm_model") if not getattr(self, k).strip()]
            if missing:
                raise ValueError(
                    f'[bot] drafter = "llm" needs {" and ".join(missing)}: set the API base '
                    '(e.g. llm_url = "http://127.0.0.1:8000/v1") and the model name, or set '
                    'drafter = "template"'
                )
            if not self.llm_url.startswith(("http://", "https://")):
                raise ValueError(
                    f"[bot] llm_url {self.llm_url!r} must start with http:// or https://"
                )
        return self


class DispatchSettings(Section):
    """Caps per platform account: at most a third of the platform's limits (Weibo's API allowed
    60 follows an hour, 200 a day and 60 comments an hour)."""

    follow_per_hour: int = Field(default=20, ge=0, le=60)
    follow_per_day: int = Field(default=66, ge=0, le=200)
    comment_per_hour: int = Field(default=20, ge=0, le=60)
    comment_per_day: int = Field(default=100, ge=0, le=300)
    target_cooldown_hours: float = Field(default=24.0, ge=0)
    timeout_seconds: float = Field(default=10.0, gt=0)
    # where approved drafts go: Weibo's write API is closed, so a person posts them (hand-off)
    weibo: Literal["handoff", "sandbox"] = "handoff"
    mastodon: Literal["api", "off"] = "api"
    mastodon_visibility: Literal["public", "unlisted", "private", "direct"] = "public"
    mastodon_repost: Literal["reply", "quote"] = "reply"
    refollow_days: int = Field(default=90, ge=0)


class ScheduleSettings(Section):
    timezone: str = "Asia/Shanghai"
    crawl: str = "0 */2 * * *"
    label: str = "10 */2 * * *"
    rank: str = "20 */6 * * *"
    draft: str = "30 */6 * * *"
    dispatch: str = "*/15 * * * *"
    alerts: str = "5 * * * *"
    report: str = "0 9 * * *"
    lock_ttl_seconds: int = Field(default=120, ge=10)
    misfire_grace_seconds: int = Field(default=900, ge=1)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("not a known IANA timezone such as Asia/Shanghai") from exc
        return v

    @field_validator("crawl", "label", "rank", "draft", "dispatch", "alerts", "report")
    @classmethod
    def _crontab(cls, v: str) -> str:
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger.from_crontab(v)
        except ValueError as exc:
            raise ValueError(
                f"not a crontab expression 'min hour day month weekday' ({exc})"
            ) from exc
        return v


class ReportsSettings(Section):
    """The scheduler's daily report (``[schedule] report``)."""

    dir: str = Field(default="var/reports", min_length=1)
    period_days: int = Field(default=1, ge=1, le=366)
    email: bool = True


class WebSettings(Section):
    """The review web UI (``tingfeng serve``)."""

    host: str = Field(default="127.0.0.1", min_length=1)
    port: int = Field(default=8750, ge=1, le=65535)
    https_only: bool = True  # the Secure cookie flag ("cookie" in a key name reads as a secret)
    session_hours: float = Field(default=12.0, gt=0, le=720)


class AlertsSettings(Section):
    """Negative-spike alerts per campaign (``tingfeng alerts check``, the scheduler's job) and
    where they go: a webhook and/or e-mail. Secrets only from the environment:
    TINGFENG_ALERT_WEBHOOK_SECRET, TINGFENG_SMTP_USER, TINGFENG_SMTP_PASSWORD."""

    baseline_days: int = Field(default=28, ge=1, le=366)
    min_history_days: int = Field(default=7, ge=1, le=366)
    z: float = Field(default=3.5, gt=0)
    min_count: int = Field(default=10, ge=1)
    nsr_drop: float = Field(default=0.5, ge=0, le=2)
    check_hours: int = Field(default=3, ge=1, le=168)
    reopen_after_hours: int = Field(default=6, ge=1)
    top_posts: int = Field(default=10, ge=1, le=100)
    webhook_url: str = ""
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    webhook_retries: int = Field(default=3, ge=0, le=10)
    webhook_backoff_seconds: float = Field(default=1.0, ge=0)
    smtp_host: str = ""
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_starttls: bool = True
    smtp_from: str = ""
    smtp_to: list[str] = Field(default_factory=list)
    smtp_timeout_seconds: float = Field(default=20.0, gt=0)

    @field_validator("webhook_url")
    @classmethod
    def _webhook_is_http(cls, v: str) -> str:
        if v.strip() and not v.strip().startswith(("http://", "https://")):
            raise ValueError('must start with http:// or https:// (or be "" for no webhook)')
        return v.strip()

    @model_validator(mode="after")
    def _smtp_complete(self) -> AlertsSettings:
        if self.smtp_host.strip():
            if not self.smtp_to:
                raise ValueError(
                    "[alerts] smtp_to is empty but smtp_host is set: add the recipients, "
                    'e.g. smtp_to = ["brand-team@example.com"], or set smtp_host = ""'
                )
            if not self.smtp_from.strip():
                raise ValueError(
                    "[alerts] smtp_from is empty but smtp_host is set: add the sender, "
                    'e.g. smtp_from = "tingfeng@example.com"'
                )
        bad = [a for a in [self.smtp_from, *self.smtp_to] if a.strip() and "@" not in a]
        if bad:
            raise ValueError(
                f"[alerts] smtp_from/smtp_to: {', '.join(map(repr, bad))} is not an e-mail address"
            )
        return self


class Competitor(Section):
    """A competitor for share of voice: its name and the terms that mention it."""

    name: str = Field(min_length=1)
    terms: list[str] = Field(default_factory=list)  # empty: the name itself

    def match_terms(self) -> list[str]:
        """The terms whose mention counts for this competitor (its name when none are set)."""
        return [t for t in dict.fromkeys(self.terms or [self.name]) if t.strip()]


#: what ``[campaigns.NAME.rules] kinds`` may name: the drafting rules
RULE_KINDS = ("follow", "lookalike", "reply", "repost", "dormant", "group_post")
#: the intents a reply may answer (``nlp.intent`` names; ``praise`` is for reposts, not replies)
RULE_INTENTS = ("question", "complaint", "purchase_intent")
RULE_STAGES = ("aware", "appeal", "ask", "act", "advocate")  # nlp.stage5a.STAGES
RULE_SENTIMENTS = ("positive", "negative", "neutral")


def _allowed(what: str, allowed: tuple[str, ...]) -> Any:
    def check(v: list[str]) -> list[str]:
        bad = [x for x in v if x not in allowed]
        if bad:
            raise ValueError(
                f"unknown {what} {', '.join(map(repr, bad))}; allowed values: {', '.join(allowed)}"
            )
        return list(dict.fromkeys(v))

    return AfterValidator(check)


class CampaignRules(Section):
    """``[campaigns.NAME.rules]``: which users and posts the campaign's drafting rules act on.
    Without the table a campaign drafts as ``[bot]`` says (every rule but group_post)."""

    kinds: Annotated[list[str], _allowed("kind", RULE_KINDS)] = Field(
        default_factory=lambda: list(RULE_KINDS[:-1])
    )
    interests: list[str] | None = None  # None: the campaign's interests
    communities: list[int] = Field(default_factory=list)  # [] = any community
    max_rank: int = Field(default=0, ge=0)  # 0 = any rank
    min_score: float = Field(default=0.0, ge=0)
    sentiments: Annotated[list[str], _allowed("sentiment", RULE_SENTIMENTS)] = Field(
        default_factory=list
    )
    intents: Annotated[list[str], _allowed("intent", RULE_INTENTS)] = Field(
        default_factory=lambda: ["question"]
    )
    stages: Annotated[list[str], _allowed("stage", RULE_STAGES)] = Field(default_factory=list)
    reply_templates: list[str] | None = None  # None: [bot]'s
    complaint_templates: list[str] | None = None
    repost_templates: list[str] | None = None
    group_post_templates: list[str] | None = None


class Campaign(Section):
    brand: str
    interests: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    topics: list[str] = Field(default_factory=list)
    supertopics: list[str] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)
    accounts: list[str] = Field(default_factory=list)
    brand_terms: list[str] = Field(default_factory=list)
    hashtags: list[str] = Field(default_factory=list)
    hashtags_all: list[str] = Field(default_factory=list)
    hashtags_none: list[str] = Field(default_factory=list)
    mastodon_accounts: list[str] = Field(default_factory=list)
    seed_accounts: list[str] = Field(default_factory=list)
    own_accounts: list[str] = Field(default_factory=list)
    competitors: list[Competitor] = Field(default_factory=list)
    # set only when the table is in the settings: ``"rules" in campaign.model_fields_set``
    rules: CampaignRules = Field(default_factory=CampaignRules)

    @field_validator("competitors", mode="before")
    @classmethod
    def _competitor_names(cls, v: Any) -> Any:
        # "瑞幸" is short for {name = "瑞幸"} (its name is its only term)
        if isinstance(v, list):
            return [{"name": c} if isinstance(c, str) else c for c in v]
        return v

    @field_validator("topics")
    @classmethod
    def _strip_hashes(cls, v: list[str]) -> list[str]:
        return [t.strip().strip("#") for t in v if t.strip().strip("#")]


def supertopic_containerid(name_or_id: str) -> str:
    """Weibo's super-topic container id: ``100808`` + md5 of the name (an id passes through)."""
    if name_or_id.startswith("100808") and len(name_or_id) == 38:
        return name_or_id
    return "100808" + hashlib.md5(name_or_id.encode("utf-8")).hexdigest()


class Secrets(BaseSettings):
    """Only from the environment: TINGFENG_WEIBO_COOKIE, TINGFENG_MASTODON_TOKEN,
    TINGFENG_PROXIES (comma-separated proxy URLs, which may carry credentials),
    TINGFENG_LLM_API_KEY (the drafter's chat endpoint)."""

    model_config = SettingsConfigDict(env_prefix="TINGFENG_", extra="ignore")
    weibo_cookie: SecretStr | None = None
    mastodon_token: SecretStr | None = None
    llm_api_key: SecretStr | None = None
    alert_webhook_secret: SecretStr | None = None  # HMAC key of alert webhooks
    smtp_user: SecretStr | None = None
    smtp_password: SecretStr | None = None
    proxies: SecretStr | None = None


class Settings(BaseSettings):
    """Every tunable of tingfeng. Built by ``load_settings``; read-only afterwards by convention."""

    model_config = SettingsConfigDict(
        extra="forbid", env_prefix="TINGFENG_", env_nested_delimiter="__", validate_default=True
    )
    store: StoreSettings = Field(default_factory=StoreSettings)
    sandbox: SandboxSettings = Field(default_factory=SandboxSettings)
    crawl: CrawlSettings = Field(default_factory=CrawlSettings)
    mastodon: MastodonSettings = Field(default_factory=MastodonSettings)
    distributed: DistributedSettings = Field(default_factory=DistributedSettings)
    nlp: NlpSettings = Field(default_factory=NlpSettings)
    graph: GraphSettings = Field(default_factory=GraphSettings)
    bot: BotSettings = Field(default_factory=BotSettings)
    dispatch: DispatchSettings = Field(default_factory=DispatchSettings)
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    alerts: AlertsSettings = Field(default_factory=AlertsSettings)
    reports: ReportsSettings = Field(default_factory=ReportsSettings)
    campaigns: dict[str, Campaign] = Field(default_factory=dict)

    _base_dir: Path = PrivateAttr(default_factory=Path.cwd)
    _path: Path | None = PrivateAttr(default=None)
    _secrets: Secrets | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _campaign_interests_known(self) -> Settings:
        known = set(self.nlp.interests)
        for name, camp in self.campaigns.items():
            for interest in camp.interests:
                if interest not in known:
                    raise ValueError(
                        f"campaigns.{name}.interests: unknown interest {interest!r}; "
                        f"known: {', '.join(sorted(known))} (add it under [nlp.interests])"
                    )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        path = _TOML_PATH.get()
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    @property
    def base_dir(self) -> Path:
        """Directory of the settings file: relative paths in settings are resolved from here."""
        return self._base_dir

    @property
    def path(self) -> Path | None:
        return self._path

    @property
    def secrets(self) -> Secrets:
        if self._secrets is None:
            self._secrets = Secrets()
        return self._secrets

    def resolve(self, path: str | Path) -> Path:
        p = Path(path)
        return p if p.is_absolute() else self._base_dir / p


_SECRET_WORDS = ("cookie", "token", "password", "secret", "api_key")


def _find_secret_keys(data: Any, prefix: str = "") -> list[str]:
    found: list[str] = []
    if isinstance(data, dict):
        for key, value in data.items():
            dotted = f"{prefix}.{key}" if prefix else str(key)
            if any(w in str(key).lower() for w in _SECRET_WORDS):
                found.append(dotted)
            found.extend(_find_secret_keys(value, dotted))
    return found


def _model_for(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The settings model that owns the key at ``loc`` (for listing the keys it knows)."""
    model: type[BaseModel] = Settings
    parts = list(loc[:-1])
    while parts:
        part = str(parts.pop(0))
        if model is Settings and part == "campaigns":
            if not parts:
                return None
            parts.pop(0)  # the campaign's name
            model = Campaign
            continue
        field = model.model_fields.get(part)
        ann = field.annotation if field else None
        if get_origin(ann) is list and parts and isinstance(parts[0], int):
            parts.pop(0)  # an item of a list of tables, e.g. campaigns.NAME.competitors.0
            ann = get_args(ann)[0]
        if not (isinstance(ann, type) and issubclass(ann, BaseModel)):
            return None
        model = ann
    return model


def _key_name(loc: tuple[Any, ...]) -> str:
    if not loc:
        return "(top level)"
    table, key = ".".join(str(p) for p in loc[:-1]), str(loc[-1])
    return f"[{table}] {key}" if table else key


def _describe(err: Mapping[str, Any]) -> str:
    loc = tuple(err.get("loc", ()))
    key = _key_name(loc)
    kind = err.get("type", "")
    if kind == "extra_forbidden":
        model = _model_for(loc)
        known = sorted(model.model_fields) if model else []
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        return f"{key}: unknown key.{hint} Known keys here: {', '.join(known) or 'none'}."
    if kind == "missing":
        return f"{key}: required but missing. Add `{loc[-1]} = ...` to that table."
    value = err.get("input")
    return f"{key} = {value!r}: {err.get('msg', 'invalid')}. Fix the value in the settings file."


def load_settings(path: str | Path | None = None) -> Settings:
    """Load ``settings.toml`` (or ``path``) and the environment into one ``Settings``.

    Raises ``ConfigError`` naming each bad key, its value and what is expected.
    """
    toml_path = Path(path) if path is not None else Path(DEFAULT_SETTINGS_FILE)
    if not toml_path.is_file():
        raise ConfigError(
            [
                f"file not found: {toml_path}. Pass --settings PATH or copy settings.toml from the repository."
            ],
            str(toml_path),
        )
    try:
        raw = tomllib.loads(toml_path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError([f"not valid TOML: {exc}"], str(toml_path)) from exc
    secret_keys = _find_secret_keys(raw)
    if secret_keys:
        raise ConfigError(
            [
                f"{k}: secrets are never read from files. Remove it and set the environment "
                "variable TINGFENG_WEIBO_COOKIE or TINGFENG_MASTODON_TOKEN instead."
                for k in secret_keys
            ],
            str(toml_path),
        )
    token = _TOML_PATH.set(toml_path)
    try:
        settings = Settings()
    except ValidationError as exc:
        raise ConfigError([_describe(e) for e in exc.errors()], str(toml_path)) from exc
    finally:
        _TOML_PATH.reset(token)
    settings._base_dir = toml_path.resolve().parent
    settings._path = toml_path.resolve()
    return settings


def default_settings(base_dir: Path | None = None, **overrides: Any) -> Settings:
    """Settings with every default (no file read), for tests and library use."""
    settings = Settings.model_validate(overrides)
    if base_dir is not None:
        settings._base_dir = base_dir
    return settings
