"""Settings: config/default.toml, then the file in VOICEBOT_CONFIG, then the environment.

Everything is validated once, at start-up, so a bad value stops the service with a
message naming the key instead of surfacing as a confusing fault in the middle of a call.
"""

from __future__ import annotations

import difflib
import importlib.util
import os
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from voicebot.config.hours import HoursError, SupportHours, parse_hours
from voicebot.phones import PhoneError, parse_phone


def project_root(package_parent: Path | None = None, cwd: Path | None = None) -> Path:
    """The folder with config/ and flows/: the checkout the package runs from (`pip install
    -e .`), else the current folder (a container that copied the checkout, ran `pip install
    .` and works in it). Where neither has them, the package's parent, so the error names
    config/default.toml there."""
    here = package_parent or Path(__file__).resolve().parents[2]
    for folder in (here, cwd or Path.cwd()):
        if (folder / "config" / "default.toml").is_file() and (folder / "flows").is_dir():
            return folder
    return here


REPO_ROOT = project_root()
DEFAULT_CONFIG = REPO_ROOT / "config" / "default.toml"

# Environment variable -> (section, key). The 12-factor overrides operators expect.
ENVIRONMENT = {
    "TWILIO_AUTH_TOKEN": ("twilio", "auth_token"),
    "TWILIO_ACCOUNT_SID": ("twilio", "account_sid"),
    "TWILIO_NUMBER": ("twilio", "number"),
    "VOICEBOT_PUBLIC_URL": ("twilio", "public_url"),
    "DATABASE_URL": ("storage", "database_url"),
    "REDIS_URL": ("storage", "redis_url"),
    "VOICEBOT_OUTBOX": ("storage", "outbox"),
}


class ConfigError(ValueError):
    """A setting is missing or wrong; the message names the key and the reason."""


@dataclass(frozen=True)
class District:
    name: str
    short_name: str
    portal_name: str
    portal_login_url: str
    activation_lookup_url: str
    activation_lookup_page: str
    spoken: dict[str, dict[str, str]]  # language -> portal_login_url / activation_lookup_url
    support_number: str  # E.164
    helpline_number: str  # E.164 or ""


@dataclass(frozen=True)
class Settings:
    district: District
    languages: tuple[str, ...]
    default_language: str
    say_voice: dict[str, str]
    speech_language: dict[str, str]
    gather_timeout: int
    speech_timeout: int
    speech_model: str
    dial_timeout: int
    voice_session_ttl: int
    sms_session_ttl: int
    sms_max_segments: int
    max_retries: int
    redis_url: str
    database_url: str
    outbox: Path
    twilio_auth_token: str
    twilio_account_sid: str
    twilio_number: str
    public_url: str
    flows_dir: Path
    instance_dir: Path
    support_hours: SupportHours = field(default_factory=SupportHours)
    support_hours_text: dict[str, str] = field(default_factory=dict)
    testing: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **changes)


def _merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError as exc:
        hint = (
            "; run the help line from a checkout of its repository (pip install -e .), or "
            "from the folder that holds its config/ and flows/"
            if path == DEFAULT_CONFIG
            else ""
        )
        raise ConfigError(f"config file {path}: not found{hint}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path}: not valid TOML ({exc})") from exc


# Tables whose keys are the operator's own (days, languages), and keys default.toml only
# mentions in comments: everything else in a settings file must be a key default.toml has.
_OPEN_TABLES = {
    "support.hours",
    "support.hours_text",
    "district.spoken",
    "voice.say_voice",
    "voice.speech_language",
}
_OPTIONAL_KEYS = {f"{section}.{key}" for section, key in ENVIRONMENT.values()} | {
    "paths.flows",
    "paths.instance",
}


def _check_known(table: dict[str, Any], known: dict[str, Any], path: str, file: Path) -> None:
    """A misspelt key ("[suport.hours]", "dial_timout") would be ignored without a word and
    its default used: name it instead, with the key it probably meant."""
    for key, value in table.items():
        where = f"{path}.{key}" if path else key
        if any(where.startswith(t + ".") for t in _OPEN_TABLES):
            continue
        optional = where in _OPTIONAL_KEYS or any(k.startswith(where + ".") for k in _OPTIONAL_KEYS)
        if key not in known and not optional:
            close = difflib.get_close_matches(key, list(known), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            section = f"[{path}] " if path else ""
            raise ConfigError(f"config file {file}: {section}{key}: not a setting{hint}")
        if isinstance(value, dict):
            inner = known.get(key)
            _check_known(value, inner if isinstance(inner, dict) else {}, where, file)


def load_raw(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """The merged settings as plain data, before validation."""
    environ = dict(os.environ if environ is None else environ)
    raw = _read_toml(DEFAULT_CONFIG)
    extra_file = environ.get("VOICEBOT_CONFIG", "").strip()
    if extra_file:
        extra = _read_toml(Path(extra_file))
        _check_known(extra, raw, "", Path(extra_file))
        raw = _merge(raw, extra)
    for variable, (section, key) in ENVIRONMENT.items():
        if variable in environ:
            raw.setdefault(section, {})[key] = environ[variable]
    raw.setdefault("paths", {})
    if environ.get("VOICEBOT_FLOWS_DIR"):
        raw["paths"]["flows"] = environ["VOICEBOT_FLOWS_DIR"]
    if environ.get("VOICEBOT_INSTANCE_DIR"):
        raw["paths"]["instance"] = environ["VOICEBOT_INSTANCE_DIR"]
    return raw


def _get(raw: dict[str, Any], section: str, key: str, kind: type, default: Any = None) -> Any:
    value = raw.get(section, {}).get(key, default)
    if value is None:
        raise ConfigError(f"[{section}] {key}: missing")
    if kind is int:
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise ConfigError(f"[{section}] {key}: must be a whole number, got {value!r}")
        if value <= 0:
            raise ConfigError(f"[{section}] {key}: must be greater than 0, got {value}")
        return value
    if not isinstance(value, kind):
        raise ConfigError(f"[{section}] {key}: must be {kind.__name__}, got {value!r}")
    return value.strip() if isinstance(value, str) else value


def _text(raw: dict[str, Any], section: str, key: str, default: Any = None) -> str:
    """A string the help line says or texts: empty would leave a gap in every answer."""
    value = _get(raw, section, key, str, default)
    if not value:
        raise ConfigError(f"[{section}] {key}: empty; it is said and texted to callers")
    return value


def _phone(raw: dict[str, Any], section: str, key: str, required: bool) -> str:
    value = _get(raw, section, key, str, "")
    if not value:
        if required:
            raise ConfigError(f"[{section}] {key}: missing")
        return ""
    try:
        return parse_phone(value)
    except PhoneError as exc:
        raise ConfigError(f"[{section}] {key}: {exc}") from exc


def _per_language(raw: dict[str, Any], key: str, languages: tuple[str, ...]) -> dict[str, str]:
    table = _get(raw, "voice", key, dict)
    missing = [lang for lang in languages if not table.get(lang)]
    if missing:
        raise ConfigError(f"[voice] {key}: no value for language(s) {', '.join(missing)}")
    return {lang: str(table[lang]) for lang in languages}


def _dial_timeout(raw: dict[str, Any]) -> int:
    """Twilio's <Dial timeout> runs from 5 to 600 seconds; outside, Twilio would not ring
    support as configured."""
    seconds = _get(raw, "voice", "dial_timeout", int)
    if not 5 <= seconds <= 600:
        raise ConfigError(f"[voice] dial_timeout: Twilio allows 5 to 600 seconds, got {seconds}")
    return seconds


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


def load_settings(environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
    """Read, merge and validate every setting; raise ConfigError on the first bad one."""
    raw = load_raw(environ)
    d = raw.get("district", {})
    district = District(
        name=_text(raw, "district", "name"),
        short_name=_text(raw, "district", "short_name", d.get("name")),
        portal_name=_text(raw, "district", "portal_name"),
        portal_login_url=_text(raw, "district", "portal_login_url"),
        activation_lookup_url=_text(raw, "district", "activation_lookup_url"),
        activation_lookup_page=_text(raw, "district", "activation_lookup_page"),
        spoken={},
        support_number=_phone(raw, "district", "support_number", required=True),
        helpline_number=_phone(raw, "district", "helpline_number", required=False),
    )
    languages = tuple(_get(raw, "languages", "enabled", list))
    if not languages or not all(isinstance(x, str) and len(x) == 2 for x in languages):
        raise ConfigError(f"[languages] enabled: a list of two-letter codes, got {languages!r}")
    spoken = _get(raw, "district", "spoken", dict, {})
    for lang in languages:
        for key in ("portal_login_url", "activation_lookup_url"):
            if not isinstance(spoken.get(lang, {}).get(key), str) or not spoken[lang][key]:
                raise ConfigError(
                    f"[district.spoken.{lang}] {key}: missing (how the voice reads the address)"
                )
    district = replace(district, spoken={lang: dict(spoken[lang]) for lang in languages})
    default_language = _get(raw, "languages", "default", str)
    if default_language not in languages:
        raise ConfigError(f"[languages] default: {default_language!r} is not in enabled")
    public_url = _get(raw, "twilio", "public_url", str, "").rstrip("/")
    if public_url:
        parsed = urlparse(public_url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ConfigError(
                f"VOICEBOT_PUBLIC_URL / [twilio] public_url: must look like "
                f"https://host[:port], got {public_url!r}"
            )
        if parsed.path or parsed.query:
            # The TwiML's links start at the host's root (/voice/gather): under a prefix
            # Twilio would drop it and the call would fail at its first answer.
            raise ConfigError(
                f"VOICEBOT_PUBLIC_URL / [twilio] public_url: no path ({parsed.path or '?'}); "
                "serve the help line at the root of its host name"
            )
    redis_url = _get(raw, "storage", "redis_url", str, "")
    if redis_url and urlparse(redis_url).scheme not in ("redis", "rediss", "unix"):
        # (its value is not repeated: a Redis URL may carry a password)
        raise ConfigError(
            "REDIS_URL / [storage] redis_url: not a redis://, rediss:// or unix:// URL"
        )
    paths = raw.get("paths", {})
    instance_dir = Path(paths.get("instance") or REPO_ROOT / "instance")
    flows_dir = Path(paths.get("flows") or REPO_ROOT / "flows")
    database_url = _get(raw, "storage", "database_url", str, "") or (
        f"sqlite:///{instance_dir / 'voicebot.sqlite3'}"
    )
    _check_database_url(database_url)
    outbox = _get(raw, "storage", "outbox", str, "") or str(instance_dir / "outbox.jsonl")
    account_sid = _get(raw, "twilio", "account_sid", str, "")
    if account_sid and not account_sid.startswith("AC"):
        raise ConfigError("TWILIO_ACCOUNT_SID: an account SID starts with AC")
    sender = _get(raw, "twilio", "number", str, "")
    if bool(account_sid) != bool(sender):
        missing = "TWILIO_NUMBER" if account_sid else "TWILIO_ACCOUNT_SID"
        raise ConfigError(
            f"{missing}: missing; texts go out through Twilio only with both "
            "TWILIO_ACCOUNT_SID and TWILIO_NUMBER (with neither, they are written to the outbox "
            "file, for trials)"
        )
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
        missing = [lang for lang in languages if not hours_text.get(lang)]
        if missing:
            raise ConfigError(
                f"[support.hours_text] {missing[0]}: missing (how to tell callers the hours)"
            )
    settings = Settings(
        support_hours=hours,
        support_hours_text=hours_text,
        district=district,
        languages=languages,
        default_language=default_language,
        say_voice=_per_language(raw, "say_voice", languages),
        speech_language=_per_language(raw, "speech_language", languages),
        gather_timeout=_get(raw, "voice", "gather_timeout", int),
        speech_timeout=_get(raw, "voice", "speech_timeout", int),
        speech_model=_get(raw, "voice", "speech_model", str, ""),
        dial_timeout=_dial_timeout(raw),
        voice_session_ttl=_get(raw, "voice", "session_ttl_seconds", int),
        sms_session_ttl=_get(raw, "sms", "session_idle_minutes", int) * 60,
        sms_max_segments=_get(raw, "sms", "max_segments", int),
        max_retries=_get(raw, "dialog", "max_retries", int),
        redis_url=redis_url,
        database_url=database_url,
        outbox=Path(outbox),
        twilio_auth_token=_get(raw, "twilio", "auth_token", str, ""),
        twilio_account_sid=account_sid,
        twilio_number=_phone(raw, "twilio", "number", required=False),
        public_url=public_url,
        flows_dir=flows_dir,
        instance_dir=instance_dir,
    )
    return settings.with_overrides(**overrides) if overrides else settings


def require_for_serving(settings: Settings, environ: dict[str, str] | None = None) -> None:
    """Serving real webhooks without the auth token would accept forged requests; without
    Twilio's sending settings, every "I've texted you" (one-time codes included) would be a
    line in a file on the server, unless the operator chose that file for a trial."""
    if not settings.twilio_auth_token:
        raise ConfigError(
            "TWILIO_AUTH_TOKEN: missing; the service cannot check Twilio's signatures "
            "without it (find it in the Twilio console, Account > API keys & tokens)"
        )
    if not settings.twilio_account_sid and not load_raw(environ)["storage"].get("outbox"):
        raise ConfigError(
            "TWILIO_ACCOUNT_SID and TWILIO_NUMBER: missing; without them no text reaches a "
            "parent (one-time codes included). For a trial that sends nothing, set "
            "VOICEBOT_OUTBOX to the file the texts should be written to instead"
        )
