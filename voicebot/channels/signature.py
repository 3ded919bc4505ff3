"""Every Twilio route proves the request came from Twilio: X-Twilio-Signature, or 403.

The signature covers the URL exactly as Twilio requested it, so behind a proxy or tunnel the
URL must be rebuilt: from VOICEBOT_PUBLIC_URL when set, otherwise from the X-Forwarded-*
headers that ProxyFix applies (see create_app).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from flask import abort, current_app, request
from twilio.request_validator import RequestValidator

log = logging.getLogger("voicebot.security")


def public_url() -> str:
    """The URL Twilio signed for this request."""
    base = current_app.extensions["voicebot"].settings.public_url
    if not base:
        return request.url
    query = request.query_string.decode("latin-1")
    return base + request.path + (f"?{query}" if query else "")


def twilio_only(view: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(view)
    def checked(*args: Any, **kwargs: Any) -> Any:
        token = current_app.extensions["voicebot"].settings.twilio_auth_token
        signature = request.headers.get("X-Twilio-Signature", "")
        if not token or not signature:
            log.warning("rejected %s: no signature", request.path)
            abort(403)
        if not RequestValidator(token).validate(public_url(), request.form, signature):
            log.warning("rejected %s: bad signature", request.path)
            abort(403)
        return view(*args, **kwargs)

    return checked
