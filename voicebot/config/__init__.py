"""Settings: config/default.toml, then the file in VOICEBOT_CONFIG, then the environment.

Everything is validated once, at start-up, so a bad value stops the service with a
message naming the key instead of surfacing as a confusing fault in the middle of a call.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any

from voicebot.config import sections, values
from voicebot.config.model import District, Retention, Settings
from voicebot.config.values import ConfigError

__all__ = [
    "DEFAULT_CONFIG",
    "ENVIRONMENT",
    "REPO_ROOT",
    "ConfigError",
    "District",
    "Retention",
    "Settings",
    "load_raw",
    "load_settings",
    "project_root",
    "require_for_serving",
]


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
    "TWILIO_AUTH_TOKEN_PREVIOUS": ("twilio", "previous_auth_token"),
    "TWILIO_ACCOUNT_SID": ("twilio", "account_sid"),
    "TWILIO_NUMBER": ("twilio", "number"),
    "TWILIO_MESSAGING_SERVICE_SID": ("twilio", "messaging_service_sid"),
    "VOICEBOT_PUBLIC_URL": ("twilio", "public_url"),
    "VOICEBOT_TRUSTED_PROXIES": ("server", "trusted_proxies"),
    "VOICEBOT_SECRET_KEY": ("server", "secret_key"),
    "DATABASE_URL": ("storage", "database_url"),
    "REDIS_URL": ("storage", "redis_url"),
    "VOICEBOT_OUTBOX": ("storage", "outbox"),
}


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
    "support.timezone",  # the older name of [district] timezone
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


def load_settings(environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
    """Read, merge and validate every setting; raise ConfigError on the first bad one."""
    raw = load_raw(environ)
    district = sections.district(raw)
    languages = sections.languages(raw)
    district = replace(district, spoken=sections.spoken(raw, languages))
    default_language = sections.default_language(raw, languages)
    public_url = sections.public_url(raw)
    redis_url = sections.redis_url(raw)
    instance_dir, flows_dir = sections.folders(raw, REPO_ROOT)
    database_url, outbox = sections.storage(raw, instance_dir)
    account_sid = sections.twilio_account(raw)
    zone = sections.timezone(raw)
    hours, hours_text = sections.support_hours(raw, languages, zone)
    voice = sections.voice(raw, languages)
    conversation = sections.conversation(raw)
    limits = sections.limits(raw)
    server = sections.server(raw)
    settings = Settings(
        support_hours=hours,
        support_hours_text=hours_text,
        timezone=zone,
        district=district,
        languages=languages,
        default_language=default_language,
        **voice,
        **conversation,
        **limits,
        **server,
        retention=sections.retention(raw),
        redis_url=redis_url,
        database_url=database_url,
        outbox=outbox,
        twilio_auth_token=values.value(raw, "twilio", "auth_token", str, ""),
        twilio_previous_auth_token=sections.secret(
            raw, "twilio", "previous_auth_token", "TWILIO_AUTH_TOKEN_PREVIOUS"
        ),
        twilio_account_sid=account_sid,
        twilio_number=values.phone(raw, "twilio", "number", required=False),
        twilio_messaging_service_sid=sections.messaging_service(raw, account_sid),
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
