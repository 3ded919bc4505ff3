"""Every Twilio route proves the request came from Twilio: X-Twilio-Signature, or 403.

The cheap refusals come first, so a flood of forged requests costs next to nothing and real
calls are not kept waiting behind it (Twilio gives up after 15 s):

1. no X-Twilio-Signature header (or no auth token configured): 403, before the body is read;
2. a Content-Length over ``[server] max_request_bytes``: 413, before the body is read (a
   body sent without a length is cut off at the same size, by Flask's MAX_CONTENT_LENGTH);
3. more form fields than ``[server] max_form_fields``: 413, counted in the raw body before
   it is parsed (Werkzeug's MAX_FORM_PARTS counts multipart bodies only);
4. then the form is parsed once and the string Twilio signed is built once: each candidate
   (URL as it came, then with and without its port as twilio's validator also tries; the
   previous auth token only during a rotation) costs one HMAC of it.

The signature covers the URL exactly as Twilio requested it. With VOICEBOT_PUBLIC_URL set,
that URL is the only one checked. Without it, the URL the server sees: rebuilt from
X-Forwarded-* headers only when ``[server] trusted_proxies`` says a proxy adds them
(ProxyFix, see create_app), since anyone can send those headers.
"""

from __future__ import annotations

import functools
import hmac
import logging
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlparse, urlsplit

from flask import abort, request
from twilio.request_validator import RequestValidator, add_port, remove_port
from werkzeug.datastructures import MultiDict

from voicebot.config import Settings
from voicebot.services import services

log = logging.getLogger("voicebot.security")

FORM = "application/x-www-form-urlencoded"  # what Twilio sends


def public_url() -> str:
    """The URL Twilio signed for this request."""
    base = services().settings.public_url
    if not base:
        return request.url
    query = request.query_string.decode("latin-1")
    return base + request.path + (f"?{query}" if query else "")


def _refuse_oversized(settings: Settings) -> None:
    """413 for a body larger than any Twilio webhook, or with more fields than one: decided
    from the Content-Length and a count of separators, so the form is never parsed."""
    length = request.content_length
    if length is not None and length > settings.max_request_bytes:
        log.warning("refused %s: body over max_request_bytes", request.path)
        abort(413)
    if request.mimetype != FORM:
        return  # multipart bodies are capped by MAX_FORM_PARTS as Werkzeug parses them
    body = request.get_data(cache=True)  # kept: request.form parses these same bytes
    if length is None and len(body) >= settings.max_request_bytes:
        # sent without a length (chunked): Werkzeug stops reading at MAX_CONTENT_LENGTH and
        # hands over what it read, so a body that reached the limit is refused here
        log.warning("refused %s: body over max_request_bytes", request.path)
        abort(413)
    if body.count(b"&") >= settings.max_form_fields:
        log.warning("refused %s: more form fields than max_form_fields", request.path)
        abort(413)


def signed_string(form: MultiDict[str, str]) -> str:
    """What twilio's RequestValidator.compute_signature appends to the URL before its HMAC:
    each field name with each of its values, names and values sorted, repeats once."""
    return "".join(
        name + value for name in sorted(set(form)) for value in sorted(set(form.getlist(name)))
    )


def _urls(url: str) -> Iterator[str]:
    """The URL as it came (what Twilio signs nearly always), then, only when that one did not
    match, the same without and with its port, as RequestValidator.validate tries them."""
    yield url
    parsed = urlparse(url)
    for other in dict.fromkeys((remove_port(parsed), add_port(parsed))):
        if other != url:
            yield other


def matching_token(
    tokens: list[tuple[str, str]], url: str, fields: str, signature: str
) -> str | None:
    """The name of the token ("current", "previous") whose signature of ``url`` + ``fields``
    is ``signature``, compared in constant time; None when none is."""
    expected = signature.encode("utf-8", "replace")
    for candidate in _urls(url):
        for name, token in tokens:
            # compute_signature with no fields is exactly one HMAC of the string given
            computed = RequestValidator(token).compute_signature(candidate + fields, None)
            if hmac.compare_digest(computed.encode(), expected):
                return name
    return None


def _tokens(settings: Settings) -> list[tuple[str, str]]:
    tokens = [("current", settings.twilio_auth_token)]
    previous = settings.twilio_previous_auth_token
    if previous and previous != settings.twilio_auth_token:
        tokens.append(("previous", previous))
    return tokens


def _shown(url: str) -> str:
    """The URL checked, for the log: scheme, host, port and path; no query, and no user or
    password (a webhook URL may carry basic-auth credentials)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def twilio_only(view: Callable[..., Any]) -> Callable[..., Any]:
    """403 unless Twilio signed this request (413 when it is too large to be Twilio's)."""

    @functools.wraps(view)
    def checked(*args: Any, **kwargs: Any) -> Any:
        settings = services().settings
        signature = request.headers.get("X-Twilio-Signature", "")
        if not settings.twilio_auth_token or not signature:
            log.warning("rejected %s: no signature", request.path)
            abort(403)
        _refuse_oversized(settings)
        url = public_url()
        tokens = _tokens(settings)
        matched = matching_token(tokens, url, signed_string(request.form), signature)
        if matched is None:
            # The URL checked (without its query) shows a proxy mismatch at a glance: Twilio
            # signed https://public-host/..., the app rebuilt http://internal-host:8000/...
            log.warning("rejected %s: bad signature for %s", request.path, _shown(url))
            abort(403)
        if len(tokens) > 1:  # during a rotation: when "previous" stops showing, remove it
            log.info("signature of %s matched the %s auth token", request.path, matched)
        return view(*args, **kwargs)

    return checked
