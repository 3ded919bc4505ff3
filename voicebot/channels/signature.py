"""Every Twilio route proves the request came from Twilio: X-Twilio-Signature, or 403.

The signature covers the URL exactly as Twilio requested it, so behind a proxy or tunnel the
URL must be rebuilt: from VOICEBOT_PUBLIC_URL when set, otherwise from the X-Forwarded-*
headers that ProxyFix applies (see create_app).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

from flask import abort, request
from twilio.request_validator import RequestValidator, compare

from voicebot.services import services

log = logging.getLogger("voicebot.security")


def public_url() -> str:
    """The URL Twilio signed for this request."""
    base = services().settings.public_url
    if not base:
        return request.url
    query = request.query_string.decode("latin-1")
    return base + request.path + (f"?{query}" if query else "")


class _SignedFields:
    """The form as twilio's validator reads it first (``getall``), so it does not raise and
    catch an AttributeError for every field of Werkzeug's MultiDict (which has ``getlist``)."""

    __slots__ = ("form",)

    def __init__(self, form: Any) -> None:
        self.form = form

    def __len__(self) -> int:
        return len(self.form)

    def __iter__(self) -> Iterator[str]:
        return iter(self.form)

    def getall(self, name: str) -> list[str]:
        return self.form.getlist(name)


def _valid(validator: RequestValidator, url: str, signature: str) -> bool:
    """One HMAC for the URL as it came, which is what Twilio signs nearly always; the
    validator's full check (the URL with and without its port) only when that fails."""
    if compare(validator.compute_signature(url, _SignedFields(request.form)), signature):
        return True
    return bool(validator.validate(url, request.form, signature))


def _shown(url: str) -> str:
    """The URL checked, for the log: scheme, host, port and path; no query, and no user or
    password (a webhook URL may carry basic-auth credentials)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def twilio_only(view: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(view)
    def checked(*args: Any, **kwargs: Any) -> Any:
        token = services().settings.twilio_auth_token
        signature = request.headers.get("X-Twilio-Signature", "")
        if not token or not signature:
            log.warning("rejected %s: no signature", request.path)
            abort(403)
        url = public_url()
        if not _valid(RequestValidator(token), url, signature):
            # The URL checked (without its query) shows a proxy mismatch at a glance: Twilio
            # signed https://public-host/..., the app rebuilt http://internal-host:8000/...
            log.warning("rejected %s: bad signature for %s", request.path, _shown(url))
            abort(403)
        return view(*args, **kwargs)

    return checked
