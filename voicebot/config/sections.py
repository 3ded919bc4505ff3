"""One loader per settings section, each checking what its section must hold.

load_settings calls them in a fixed order, so a file with several mistakes always
names the same one first.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from voicebot.config.hours import HoursError, SupportHours, parse_hours
from voicebot.config.model import District
from voicebot.config.values import ConfigError, Raw, phone, text, value


def district(raw: Raw) -> District:
    """[district], but for how the voice reads its addresses (see spoken)."""
    return District(
        name=text(raw, "district", "name"),
        short_name=text(raw, "district", "short_name", raw.get("district", {}).get("name")),
        portal_name=text(raw, "district", "portal_name"),
        portal_login_url=text(raw, "district", "portal_login_url"),
        activation_lookup_url=text(raw, "district", "activation_lookup_url"),
        activation_lookup_page=text(raw, "district", "activation_lookup_page"),
        spoken={},
        support_number=phone(raw, "district", "support_number", required=True),
        helpline_number=phone(raw, "district", "helpline_number", required=False),
    )


def languages(raw: Raw) -> tuple[str, ...]:
    """[languages] enabled: every other per-language setting is checked against it."""
    enabled = tuple(value(raw, "languages", "enabled", list))
    if not enabled or not all(isinstance(x, str) and len(x) == 2 for x in enabled):
        raise ConfigError(f"[languages] enabled: a list of two-letter codes, got {enabled!r}")
    return enabled


def spoken(raw: Raw, enabled: tuple[str, ...]) -> dict[str, dict[str, str]]:
    """[district.spoken]: each language needs its own reading of the addresses."""
    table = value(raw, "district", "spoken", dict, {})
    for lang in enabled:
        for key in ("portal_login_url", "activation_lookup_url"):
            if not isinstance(table.get(lang, {}).get(key), str) or not table[lang][key]:
                raise ConfigError(
                    f"[district.spoken.{lang}] {key}: missing (how the voice reads the address)"
                )
    return {lang: dict(table[lang]) for lang in enabled}


def default_language(raw: Raw, enabled: tuple[str, ...]) -> str:
    default = value(raw, "languages", "default", str)
    if default not in enabled:
        raise ConfigError(f"[languages] default: {default!r} is not in enabled")
    return default


def public_url(raw: Raw) -> str:
    """Where Twilio reaches the help line, without its trailing slash ("" when unset)."""
    url = value(raw, "twilio", "public_url", str, "").rstrip("/")
    if url:
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ConfigError(
                f"VOICEBOT_PUBLIC_URL / [twilio] public_url: must look like "
                f"https://host[:port], got {url!r}"
            )
        if parsed.path or parsed.query:
            # The TwiML's links start at the host's root (/voice/gather): under a prefix
            # Twilio would drop it and the call would fail at its first answer.
            raise ConfigError(
                f"VOICEBOT_PUBLIC_URL / [twilio] public_url: no path ({parsed.path or '?'}); "
                "serve the help line at the root of its host name"
            )
    return url


def redis_url(raw: Raw) -> str:
    url = value(raw, "storage", "redis_url", str, "")
    if url and urlparse(url).scheme not in ("redis", "rediss", "unix"):
        # (its value is not repeated: a Redis URL may carry a password)
        raise ConfigError(
            "REDIS_URL / [storage] redis_url: not a redis://, rediss:// or unix:// URL"
        )
    return url


def folders(raw: Raw, root: Path) -> tuple[Path, Path]:
    """The instance and flows folders: [paths], else those of the checkout at ``root``."""
    paths = raw.get("paths", {})
    instance_dir = Path(paths.get("instance") or root / "instance")
    flows_dir = Path(paths.get("flows") or root / "flows")
    return instance_dir, flows_dir


def storage(raw: Raw, instance_dir: Path) -> tuple[str, Path]:
    """The database URL and the outbox file; by default both in the instance folder."""
    database_url = value(raw, "storage", "database_url", str, "") or (
        f"sqlite:///{instance_dir / 'voicebot.sqlite3'}"
    )
    _check_database_url(database_url)
    outbox = value(raw, "storage", "outbox", str, "") or str(instance_dir / "outbox.jsonl")
    return database_url, Path(outbox)


def _check_database_url(url: str) -> None:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        backend = make_url(url).get_backend_name()
    except ArgumentError:
        raise ConfigError(
            "DATABASE_URL / [storage] database_url: not a database URL "
            "(sqlite:///path or postgresql://user:password@host/name)"
        ) from None
    if backend == "postgres":  # Heroku's spelling; records.db.normalise_url maps it
        backend = "postgresql"
    if backend not in ("sqlite", "postgresql"):
        raise ConfigError(
            f"DATABASE_URL / [storage] database_url: {backend} is not supported "
            "(SQLite or PostgreSQL)"
        )
    if backend == "postgresql" and importlib.util.find_spec("psycopg") is None:
        raise ConfigError(
            "DATABASE_URL / [storage] database_url: PostgreSQL needs its driver: "
            "pip install -e '.[postgres]'"
        )


def twilio_account(raw: Raw) -> str:
    """The account SID ("" when unset): texts go out through Twilio only with both it and
    the number."""
    account_sid = value(raw, "twilio", "account_sid", str, "")
    if account_sid and not account_sid.startswith("AC"):
        raise ConfigError("TWILIO_ACCOUNT_SID: an account SID starts with AC")
    sender = value(raw, "twilio", "number", str, "")
    if bool(account_sid) != bool(sender):
        missing = "TWILIO_NUMBER" if account_sid else "TWILIO_ACCOUNT_SID"
        raise ConfigError(
            f"{missing}: missing; texts go out through Twilio only with both "
            "TWILIO_ACCOUNT_SID and TWILIO_NUMBER (with neither, they are written to the outbox "
            "file, for trials)"
        )
    return account_sid


def support_hours(raw: Raw, enabled: tuple[str, ...]) -> tuple[SupportHours, dict[str, str]]:
    """[support]: the hours, and how to tell callers them in every language when set."""
    support = raw.get("support", {})
    try:
        hours = parse_hours(
            str(support.get("timezone", "America/New_York")),
            dict(support.get("hours", {})),
            list(support.get("holidays", [])),
        )
    except HoursError as exc:
        raise ConfigError(str(exc)) from exc
    hours_text = {k: str(v) for k, v in dict(support.get("hours_text", {})).items()}
    if hours.configured:
        missing = [lang for lang in enabled if not hours_text.get(lang)]
        if missing:
            raise ConfigError(
                f"[support.hours_text] {missing[0]}: missing (how to tell callers the hours)"
            )
    return hours, hours_text


def voice(raw: Raw, enabled: tuple[str, ...]) -> dict[str, Any]:
    """[voice], as the Settings fields it fills."""
    return dict(
        say_voice=_per_language(raw, "say_voice", enabled),
        speech_language=_per_language(raw, "speech_language", enabled),
        gather_timeout=value(raw, "voice", "gather_timeout", int),
        speech_timeout=value(raw, "voice", "speech_timeout", int),
        speech_model=value(raw, "voice", "speech_model", str, ""),
        dial_timeout=_dial_timeout(raw),
        voice_session_ttl=value(raw, "voice", "session_ttl_seconds", int),
    )


def _per_language(raw: Raw, key: str, enabled: tuple[str, ...]) -> dict[str, str]:
    table = value(raw, "voice", key, dict)
    missing = [lang for lang in enabled if not table.get(lang)]
    if missing:
        raise ConfigError(f"[voice] {key}: no value for language(s) {', '.join(missing)}")
    return {lang: str(table[lang]) for lang in enabled}


def _dial_timeout(raw: Raw) -> int:
    """Twilio's <Dial timeout> runs from 5 to 600 seconds; outside, Twilio would not ring
    support as configured."""
    seconds = value(raw, "voice", "dial_timeout", int)
    if not 5 <= seconds <= 600:
        raise ConfigError(f"[voice] dial_timeout: Twilio allows 5 to 600 seconds, got {seconds}")
    return seconds


def conversation(raw: Raw) -> dict[str, Any]:
    """[sms] and [dialog], as the Settings fields they fill: how long a texted conversation
    lasts, how long a reply may be, how often a question is asked again."""
    return dict(
        sms_session_ttl=value(raw, "sms", "session_idle_minutes", int) * 60,
        sms_max_segments=value(raw, "sms", "max_segments", int),
        max_retries=value(raw, "dialog", "max_retries", int),
    )
