"""One loader per settings section, each checking what its section must hold.

load_settings calls them in a fixed order, so a file with several mistakes always
names the same one first.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

from voicebot.config.hours import HoursError, SupportHours, parse_hours
from voicebot.config.model import District, Retention
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
                "VOICEBOT_PUBLIC_URL / [twilio] public_url: must look like "
                "https://host[:port]"  # (not repeated: a URL may carry a password)
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


MESSAGING_SERVICE_SID = re.compile(r"MG[0-9a-f]{32}")


def messaging_service(raw: Raw, account_sid: str) -> str:
    """The Messaging Service SID texts go out through ("" when unset: from the number).
    Checked here: a mistyped one would fail every text (one-time codes included) at send."""
    sid = value(raw, "twilio", "messaging_service_sid", str, "").strip()
    if not sid:
        return ""
    if not MESSAGING_SERVICE_SID.fullmatch(sid):
        raise ConfigError(
            "TWILIO_MESSAGING_SERVICE_SID / [twilio] messaging_service_sid: a Messaging "
            "Service SID is MG followed by 32 hexadecimal digits (Twilio console, Messaging > "
            "Services)"
        )
    if not account_sid:
        raise ConfigError(
            "TWILIO_MESSAGING_SERVICE_SID / [twilio] messaging_service_sid: set, but texts go "
            "out through Twilio only with TWILIO_ACCOUNT_SID and TWILIO_NUMBER; set them too, "
            "or remove it"
        )
    return sid


SHIPPED_TIMEZONE = "America/New_York"  # config/default.toml's [district] timezone


def timezone(raw: Raw) -> str:
    """[district] timezone: the district's IANA time zone, for support's hours and the
    statistics' days. Older settings files named it [support] timezone: still read, when
    [district] timezone is left as shipped."""
    zone = raw.get("district", {}).get("timezone", SHIPPED_TIMEZONE)
    key = "[district] timezone"
    older = raw.get("support", {}).get("timezone")
    if older is not None and older != zone:
        if zone != SHIPPED_TIMEZONE:
            raise ConfigError(
                f"[support] timezone: {older!r} differs from [district] timezone {zone!r}; "
                "set only [district] timezone (support's hours use it too)"
            )
        zone, key = older, "[support] timezone"
    if not isinstance(zone, str) or not zone.strip():
        raise ConfigError(f"{key}: an IANA time zone name such as America/New_York")
    try:
        ZoneInfo(zone.strip())
    except (KeyError, ValueError):
        raise ConfigError(
            f"{key}: unknown time zone {zone!r} (an IANA name such as America/New_York)"
        ) from None
    return zone.strip()


def support_hours(
    raw: Raw, enabled: tuple[str, ...], zone: str = SHIPPED_TIMEZONE
) -> tuple[SupportHours, dict[str, str]]:
    """[support]: the hours (in the district's time zone), and how to tell callers them in
    every language when set."""
    support = raw.get("support", {})
    try:
        hours = parse_hours(
            zone,
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
        **_gather_timeouts(raw),
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


def _gather_timeouts(raw: Raw) -> dict[str, int]:
    """[voice] gather_timeout and patient_timeout: Twilio's <Gather timeout> is whole seconds
    of silence. Relay (TTY) callers type what others say, so a deployment may need 15 s;
    more than a minute would leave a dead line waiting, and the wait after "take your
    time" must be the longer one."""
    gather = value(raw, "voice", "gather_timeout", int)
    if gather > 60:
        raise ConfigError(f"[voice] gather_timeout: at most 60 seconds, got {gather}")
    patient = value(raw, "voice", "patient_timeout", int, 30)
    if not gather <= patient <= 120:
        raise ConfigError(
            f"[voice] patient_timeout: from gather_timeout ({gather}) to 120 seconds, got {patient}"
        )
    return {"gather_timeout": gather, "patient_timeout": patient}


def _dial_timeout(raw: Raw) -> int:
    """Twilio's <Dial timeout> runs from 5 to 600 seconds; outside, Twilio would not ring
    support as configured."""
    seconds = value(raw, "voice", "dial_timeout", int)
    if not 5 <= seconds <= 600:
        raise ConfigError(f"[voice] dial_timeout: Twilio allows 5 to 600 seconds, got {seconds}")
    return seconds


def limits(raw: Raw) -> dict[str, Any]:
    """[limits]: how many texts one phone number may get, per hour and per day, and how
    many of those may be calls that say a code (calls ring a family's phone: fewer)."""
    per_hour = value(raw, "limits", "texts_per_hour", int, 3)
    per_day = value(raw, "limits", "texts_per_day", int, 10)
    if per_day < per_hour:
        raise ConfigError(
            f"[limits] texts_per_day: {per_day} is less than texts_per_hour ({per_hour})"
        )
    # Calls count against texts_per_day too, so more than that could never be placed.
    calls = min(value(raw, "limits", "code_calls_per_day", int, 3), per_day)
    return dict(texts_per_hour=per_hour, texts_per_day=per_day, code_calls_per_day=calls)


def server(raw: Raw) -> dict[str, Any]:
    """[server], as the Settings fields it fills: which forwarded headers to believe, how
    large a request may be, and the key that signs sessions and keys SMS threads."""
    return dict(
        trusted_proxies=_trusted_proxies(raw),
        max_request_bytes=_at_least(raw, "max_request_bytes", 16 * 1024, _WHY_BYTES),
        max_form_fields=_at_least(raw, "max_form_fields", 50, _WHY_FIELDS),
        secret_key=secret(raw, "server", "secret_key", "VOICEBOT_SECRET_KEY"),
    )


def secret(raw: Raw, section: str, key: str, variable: str) -> str:
    """A secret as text ("" when unset); a wrong one is named, never repeated."""
    found = raw.get(section, {}).get(key, "")
    if not isinstance(found, str):
        raise ConfigError(f"{variable} / [{section}] {key}: must be text (value not shown)")
    return found.strip()


_WHY_BYTES = "a 1,600-character text with its fields takes up to about 16 KB"
_WHY_FIELDS = "Twilio sends about 40 fields with a text carrying pictures"


def _trusted_proxies(raw: Raw) -> int:
    """How many proxies in front of the help line add X-Forwarded-* headers: 0 (none are
    believed) to 5. Trusting one that is not there lets any client choose its address."""
    found = raw.get("server", {}).get("trusted_proxies", 0)
    if isinstance(found, str) and found.strip().isdigit():
        found = int(found)
    if not isinstance(found, int) or isinstance(found, bool) or not 0 <= found <= 5:
        raise ConfigError(
            f"VOICEBOT_TRUSTED_PROXIES / [server] trusted_proxies: a whole number from 0 to 5 "
            f"(the proxies in front of the help line), got {found!r}"
        )
    return found


def _at_least(raw: Raw, key: str, least: int, why: str) -> int:
    """A limit that must not refuse Twilio's own requests."""
    found = value(raw, "server", key, int)
    if found < least:
        raise ConfigError(f"[server] {key}: at least {least} ({why}), got {found}")
    return found


def conversation(raw: Raw) -> dict[str, Any]:
    """[sms] and [dialog], as the Settings fields they fill: how long a texted conversation
    lasts, how long a reply may be, how often a question is asked again."""
    return dict(
        sms_session_ttl=value(raw, "sms", "session_idle_minutes", int) * 60,
        sms_max_segments=value(raw, "sms", "max_segments", int),
        max_retries=value(raw, "dialog", "max_retries", int),
    )


# The disclosure audit is the record of disclosures FERPA asks a district to keep as long as
# the education records themselves: fewer days than this is far more likely a slip (months
# written for days) than a policy, and what it deletes cannot be recovered.
MIN_DISCLOSURE_DAYS = 365


def retention(raw: Raw) -> Retention:
    """[retention]: whole numbers of days, 0 for "never purged"."""
    days = {}
    for kind in Retention.__dataclass_fields__:
        key = f"{kind}_days"
        found = raw.get("retention", {}).get(key, getattr(Retention, kind))
        if isinstance(found, str) and found.strip().isdigit():
            found = int(found)
        if not isinstance(found, int) or isinstance(found, bool) or found < 0:
            raise ConfigError(
                f"[retention] {key}: a whole number of days, 0 to keep for good, got {found!r}"
            )
        days[kind] = found
    if 0 < days["disclosures"] < MIN_DISCLOSURE_DAYS:
        raise ConfigError(
            f"[retention] disclosures_days: at least {MIN_DISCLOSURE_DAYS} (or 0, never "
            f"purged): the disclosure audit is a FERPA record, got {days['disclosures']}"
        )
    return Retention(**days)
