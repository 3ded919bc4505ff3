"""Reading one setting from the merged raw settings, checked for its kind.

Every reader raises ConfigError naming the section and key, so a bad value stops start-up
with a message an operator can act on.
"""

from __future__ import annotations

from typing import Any

from voicebot.phones import PhoneError, parse_phone

Raw = dict[str, Any]  # the merged settings, section -> key -> value, before validation


class ConfigError(ValueError):
    """A setting is missing or wrong; the message names the key and the reason."""


def value(raw: Raw, section: str, key: str, kind: type, default: Any = None) -> Any:
    """The setting as ``kind``; whole numbers must be greater than 0, strings are stripped."""
    found = raw.get(section, {}).get(key, default)
    if found is None:
        raise ConfigError(f"[{section}] {key}: missing")
    if kind is int:
        if isinstance(found, str) and found.strip().isdigit():
            found = int(found)
        if not isinstance(found, int) or isinstance(found, bool):
            raise ConfigError(f"[{section}] {key}: must be a whole number, got {found!r}")
        if found <= 0:
            raise ConfigError(f"[{section}] {key}: must be greater than 0, got {found}")
        return found
    if not isinstance(found, kind):
        raise ConfigError(f"[{section}] {key}: must be {kind.__name__}, got {found!r}")
    return found.strip() if isinstance(found, str) else found


def text(raw: Raw, section: str, key: str, default: Any = None) -> str:
    """A string the help line says or texts: empty would leave a gap in every answer."""
    found = value(raw, section, key, str, default)
    if not found:
        raise ConfigError(f"[{section}] {key}: empty; it is said and texted to callers")
    return found


def phone(raw: Raw, section: str, key: str, required: bool) -> str:
    """A phone number in E.164, or "" when it may be left out."""
    found = value(raw, section, key, str, "")
    if not found:
        if required:
            raise ConfigError(f"[{section}] {key}: missing")
        return ""
    try:
        return parse_phone(found)
    except PhoneError as exc:
        raise ConfigError(f"[{section}] {key}: {exc}") from exc
