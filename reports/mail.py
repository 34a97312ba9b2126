"""E-mail through SMTP for alerts and the daily report: ``[alerts] smtp_*`` settings, the login
from TINGFENG_SMTP_USER / TINGFENG_SMTP_PASSWORD (never logged, never in the file).

Messages are ``email.message.EmailMessage`` with the default (RFC 6532) policy: the subject is
UTF-8 encoded-word, the body a ``multipart/alternative`` of a plain-text and an HTML part, both
UTF-8, so Chinese text arrives intact; attachments follow as their own parts.
"""

from __future__ import annotations

import html as htmllib
import logging
import mimetypes
import re
import smtplib
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from crawlers.config import Settings
from crawlers.errors import ConfigError, TingfengError

logger = logging.getLogger(__name__)

#: an attachment: a file, or (file name, content, MIME type such as "text/csv")
Attachment = Path | tuple[str, bytes, str]


class DeliveryError(TingfengError):
    """A webhook or an e-mail could not be delivered (it is retried on the next run)."""

    exit_code = 1


def smtp_configured(settings: Settings) -> bool:
    return bool(settings.alerts.smtp_host.strip())


def require_smtp(settings: Settings) -> None:
    """A ``ConfigError`` naming the missing ``[alerts]`` key when e-mail cannot be sent."""
    cfg = settings.alerts
    missing = [k for k in ("smtp_host", "smtp_from") if not getattr(cfg, k).strip()]
    if not cfg.smtp_to:
        missing.append("smtp_to")
    if missing:
        raise ConfigError(
            [f"[alerts] {k}: required to send e-mail; set it in settings.toml" for k in missing],
            str(settings.path or "settings"),
        )


def html_to_text(html: str) -> str:
    """A readable plain-text rendering of simple HTML (for the text/plain alternative)."""
    text = re.sub(r"(?is)<(script|style)\b.*?</\1>", "", html)
    text = re.sub(r"(?i)<br\s*/?>|</(p|div|h[1-6]|li|tr|table|ul|ol)>", "\n", text)
    text = re.sub(r"(?i)<li\b[^>]*>", "- ", text)
    text = re.sub(r"(?i)</t[dh]>", "\t", text)
    text = htmllib.unescape(re.sub(r"<[^>]+>", "", text))
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"


def build_message(
    settings: Settings,
    subject: str,
    text: str,
    html: str,
    attachments: Sequence[Attachment] = (),
) -> EmailMessage:
    """A UTF-8 message from ``[alerts] smtp_from`` to ``smtp_to``: plain text, HTML, files."""
    cfg = settings.alerts
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = cfg.smtp_from
    msg["To"] = ", ".join(cfg.smtp_to)
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    domain = cfg.smtp_from.rpartition("@")[2] or None
    msg["Message-ID"] = make_msgid("tingfeng", domain=domain)
    msg.set_content(text, subtype="plain", charset="utf-8")
    msg.add_alternative(html, subtype="html", charset="utf-8")
    for item in attachments:
        if isinstance(item, Path):
            name, data = item.name, item.read_bytes()
            mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
        else:
            name, data, mime = item
        maintype, _, subtype = mime.partition("/")
        # tingfeng's text files (CSV exports, HTML reports) are UTF-8: say so to the reader
        params = {"charset": "utf-8"} if maintype == "text" else {}
        msg.add_attachment(
            data, maintype=maintype, subtype=subtype or "octet-stream", filename=name, params=params
        )
    return msg


def send_message(settings: Settings, msg: EmailMessage) -> None:
    """Hand ``msg`` to the SMTP server (STARTTLS on ``smtp_starttls``, implicit TLS on port
    465, a login when TINGFENG_SMTP_USER is set). Raises ``DeliveryError`` with the reason."""
    require_smtp(settings)
    cfg = settings.alerts
    secrets = settings.secrets
    context = ssl.create_default_context()
    try:
        smtp: smtplib.SMTP
        if cfg.smtp_port == 465:
            smtp = smtplib.SMTP_SSL(
                cfg.smtp_host, cfg.smtp_port, timeout=cfg.smtp_timeout_seconds, context=context
            )
        else:
            smtp = smtplib.SMTP(cfg.smtp_host, cfg.smtp_port, timeout=cfg.smtp_timeout_seconds)
        with smtp:
            smtp.ehlo()
            if cfg.smtp_starttls and cfg.smtp_port != 465:
                smtp.starttls(context=context)
                smtp.ehlo()
            if secrets.smtp_user is not None:
                password = secrets.smtp_password.get_secret_value() if secrets.smtp_password else ""
                smtp.login(secrets.smtp_user.get_secret_value(), password)
            refused = smtp.send_message(msg)
    except (TimeoutError, smtplib.SMTPException, OSError) as exc:
        # the exception text never holds the password: smtplib does not echo credentials
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        raise DeliveryError(
            f"e-mail via {cfg.smtp_host}:{cfg.smtp_port} failed ({reason}); check [alerts] "
            "smtp_host, smtp_port, smtp_starttls and TINGFENG_SMTP_USER/PASSWORD"
        ) from exc
    if refused:
        logger.warning("the SMTP server refused some recipients: %s", ", ".join(refused))
    logger.info("e-mail %r sent to %d recipient(s)", msg["Subject"], len(cfg.smtp_to))


def send_report(
    settings: Settings,
    subject: str,
    html: str,
    attachments: Sequence[Attachment] = (),
) -> str:
    """E-mail a report (the daily HTML report) to ``[alerts] smtp_to``: the HTML as the body,
    a plain-text rendering beside it, ``attachments`` as files. Returns the Message-ID.
    Raises ``ConfigError`` when SMTP is not configured, ``DeliveryError`` when sending fails."""
    require_smtp(settings)
    msg = build_message(settings, subject, html_to_text(html), html, attachments)
    send_message(settings, msg)
    return str(msg["Message-ID"])
