"""`voicebot twilio configure`: point the district's Twilio number at the help line.

voicebot twilio configure --number +14045550100 --base-url https://help.example.org
voicebot twilio configure --dry-run ...     # prints what it would set; no credentials needed

Sets the number's five webhooks (all POST) through Twilio's REST API with
TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN: calls, texts, call status, and the two fallback
URLs Twilio tries when the first answer fails or takes longer than 15 s. The fallback routes
answer from the settings alone (no Redis, no database): an apology and a transfer to
support, or a text with support's number.

With TWILIO_MESSAGING_SERVICE_SID set (US A2P 10DLC: the number texts through the Messaging
Service of its registered campaign), the number keeps its three call webhooks, and the texting
ones are set on the Messaging Service instead: its inbound request URL, fallback URL and
status callback (/sms/status, where delivery outcomes arrive), with the number's own SMS URL
no longer used ("use inbound webhook on number" off). Twilio ignores a number's SMS URL when
the number belongs to a Messaging Service that has it off.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import click

# Twilio's name for each webhook, the path of ours it points at, and the base it uses.
WEBHOOKS = (
    ("VoiceUrl", "/voice", "base"),
    ("VoiceFallbackUrl", "/voice/fallback", "fallback"),
    ("StatusCallback", "/voice/status", "base"),
    ("SmsUrl", "/sms", "base"),
    ("SmsFallbackUrl", "/sms/fallback", "fallback"),
)
# With a Messaging Service, these go on the service instead of the number.
SERVICE_WEBHOOKS = (
    ("InboundRequestUrl", "/sms", "base"),
    ("FallbackUrl", "/sms/fallback", "fallback"),
    ("StatusCallback", "/sms/status", "base"),
)
NUMBER_TEXTING = ("SmsUrl", "SmsFallbackUrl")
# twilio-python's Messaging Service attribute for each, and its method's (None: no method).
SERVICE_ATTRIBUTES: dict[str, tuple[str, str | None]] = {
    "InboundRequestUrl": ("inbound_request_url", "inbound_method"),
    "FallbackUrl": ("fallback_url", "fallback_method"),
    "StatusCallback": ("status_callback", None),
}
# twilio-python's IncomingPhoneNumber attribute for each, and its method's.
ATTRIBUTES = {
    "VoiceUrl": ("voice_url", "voice_method"),
    "VoiceFallbackUrl": ("voice_fallback_url", "voice_fallback_method"),
    "StatusCallback": ("status_callback", "status_callback_method"),
    "SmsUrl": ("sms_url", "sms_method"),
    "SmsFallbackUrl": ("sms_fallback_url", "sms_fallback_method"),
}


def checked_base(url: str, option: str) -> str:
    """An https://host[:port] base, without its trailing slash: Twilio signs the exact URL,
    and the help line's links start at the root of its host."""
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise click.BadParameter(
            f"must look like https://host, got {_shown(url)!r}", param_hint=option
        )
    if parts.path or parts.query or parts.fragment or parts.username:
        raise click.BadParameter(
            "a host only (no path, query or user): the help line is served at the root of its host",
            param_hint=option,
        )
    return url


def webhook_urls(base: str, fallback_base: str | None = None) -> dict[str, str]:
    """Twilio's field name -> our URL; the fallbacks on ``fallback_base`` when given."""
    bases = {"base": base, "fallback": fallback_base or base}
    return {name: bases[which] + path for name, path, which in WEBHOOKS}


def service_urls(base: str, fallback_base: str | None = None) -> dict[str, str]:
    """The Messaging Service's field name -> our URL, as :func:`webhook_urls`."""
    bases = {"base": base, "fallback": fallback_base or base}
    return {name: bases[which] + path for name, path, which in SERVICE_WEBHOOKS}


def configure_service(
    client: Any, service_sid: str, urls: dict[str, str]
) -> tuple[Any, dict[str, Any]]:
    """Set ``urls`` (and POST) on the Messaging Service, and have it use them rather than
    its numbers' own SMS URLs; the service as Twilio now has it, and what each field was.
    LookupError when the account has no such service."""
    from twilio.base.exceptions import TwilioRestException

    try:
        found = client.messaging.v1.services(service_sid).fetch()
    except TwilioRestException as exc:
        if exc.status == 404:
            raise LookupError(service_sid) from None
        raise
    before = {name: getattr(found, SERVICE_ATTRIBUTES[name][0]) for name in urls}
    changes: dict[str, Any] = {"use_inbound_webhook_on_number": False}
    for name, url in urls.items():
        url_attribute, method_attribute = SERVICE_ATTRIBUTES[name]
        changes[url_attribute] = url
        if method_attribute:
            changes[method_attribute] = "POST"
    return found.update(**changes), before


def service_senders(client: Any, service_sid: str) -> list[str]:
    """The phone numbers in the Messaging Service's sender pool."""
    listed = client.messaging.v1.services(service_sid).phone_numbers.list()
    return [n.phone_number for n in listed]


def configure_number(client: Any, number: str, urls: dict[str, str]) -> tuple[Any, dict[str, Any]]:
    """Set ``urls`` (and POST) on the account's ``number``; the number as Twilio now has
    it, and what each field was before. LookupError when the account has no such number."""
    listed = client.incoming_phone_numbers.list(phone_number=number)
    found = [n for n in listed if n.phone_number == number]  # Twilio also matches partly
    if not found:
        raise LookupError(number)
    before = {name: getattr(found[0], ATTRIBUTES[name][0]) for name in urls}
    changes: dict[str, str] = {}
    for name, url in urls.items():
        url_attribute, method_attribute = ATTRIBUTES[name]
        changes[url_attribute] = url
        changes[method_attribute] = "POST"
    return found[0].update(**changes), before


def _shown(url: str | None) -> str:
    """A URL for the terminal, with any password in it hidden."""
    if not url:
        return "(none)"
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return url.replace(f":{parts.password}@", ":***@", 1)


def _client(settings: Any, ctx: click.Context) -> Any:
    """twilio-python's REST client, on the HTTP client given in ``ctx.obj`` if any (a
    proxy's, or a test's stand-in for Twilio's API)."""
    from twilio.rest import Client

    if not (settings.twilio_account_sid and settings.twilio_auth_token):
        raise click.ClickException(
            "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are needed to change the number "
            "(--dry-run shows what would be set without them)"
        )
    http_client = (ctx.obj or {}).get("twilio_http_client")
    return Client(settings.twilio_account_sid, settings.twilio_auth_token, http_client=http_client)


@click.group("twilio")
def twilio_group() -> None:
    """The Twilio number's settings."""


@twilio_group.command("configure")
@click.option("--number", help="The Twilio number (default: TWILIO_NUMBER).")
@click.option(
    "--base-url", help="Where Twilio reaches the help line (default: VOICEBOT_PUBLIC_URL)."
)
@click.option(
    "--fallback-base-url", help="Another host for the two fallback URLs (default: --base-url)."
)
@click.option("--dry-run", is_flag=True, help="Print what would be set; change nothing.")
@click.pass_context
def configure(
    ctx: click.Context,
    number: str | None,
    base_url: str | None,
    fallback_base_url: str | None,
    dry_run: bool,
) -> None:
    """Point the number's call, text, status and fallback webhooks at the help line."""
    from voicebot.cli.common import settings_or_exit

    settings = settings_or_exit()
    number = _number(number or settings.twilio_number)
    base = base_url_or_setting(base_url, settings.public_url)
    fallback = checked_base(fallback_base_url, "--fallback-base-url") if fallback_base_url else None
    service = settings.twilio_messaging_service_sid
    urls = webhook_urls(base, fallback)
    if service:  # the texting webhooks go on the Messaging Service
        urls = {name: url for name, url in urls.items() if name not in NUMBER_TEXTING}
    if settings.public_url and settings.public_url != base:
        click.echo(
            f"warning: VOICEBOT_PUBLIC_URL is {_shown(settings.public_url)}: the help line "
            f"checks Twilio's signatures against it, so requests to {_shown(base)} would be "
            "refused",
            err=True,
        )
    if dry_run:
        click.echo(f"{number}: would set (dry run, nothing sent to Twilio)")
        _print(urls, {})
        if service:
            click.echo(f"Messaging Service {service}: would set (dry run)")
            _print(service_urls(base, fallback), {}, service=True)
        return
    client = _client(settings, ctx)
    try:
        updated, before = configure_number(client, number, urls)
    except LookupError:
        raise click.ClickException(f"{number} is not a number of this Twilio account") from None
    except _failures() as exc:
        raise click.ClickException(_twilio_error(exc)) from exc
    click.echo(f"{number} ({updated.sid}): set")
    _print({name: getattr(updated, ATTRIBUTES[name][0]) or "" for name in urls}, before)
    _warn_overrides(updated, texting=not service)
    if service:
        _configure_service(client, service, number, service_urls(base, fallback))


def _configure_service(client: Any, service: str, number: str, urls: dict[str, str]) -> None:
    """Set the texting webhooks on the Messaging Service, and say so when the number is not
    one of its senders (its texts would then reach neither the service nor these URLs)."""
    try:
        updated, before = configure_service(client, service, urls)
        senders = service_senders(client, service)
    except LookupError:
        raise click.ClickException(
            f"Messaging Service {service} is not on this Twilio account "
            "(check TWILIO_MESSAGING_SERVICE_SID)"
        ) from None
    except _failures() as exc:
        raise click.ClickException(_twilio_error(exc)) from exc
    click.echo(f"Messaging Service {service}: set")
    now = {name: getattr(updated, SERVICE_ATTRIBUTES[name][0]) or "" for name in urls}
    _print(now, before, service=True)
    if number not in senders:
        click.echo(
            f"warning: {number} is not a sender of Messaging Service {service}: add it in the "
            "Twilio console (Messaging > Services > Sender Pool), or texts to it never reach "
            "the help line and texts from the help line do not go through the campaign",
            err=True,
        )


def base_url_or_setting(given: str | None, setting: str) -> str:
    if given:
        return checked_base(given, "--base-url")
    if setting:
        return setting
    raise click.UsageError("--base-url is needed (VOICEBOT_PUBLIC_URL is not set)")


def _number(value: str) -> str:
    from voicebot.phones import PhoneError, parse_phone

    if not value:
        raise click.UsageError("--number is needed (TWILIO_NUMBER is not set)")
    try:
        return parse_phone(value)
    except PhoneError as exc:
        raise click.BadParameter(str(exc), param_hint="--number") from exc


def _print(urls: dict[str, str], before: dict[str, Any], service: bool = False) -> None:
    width = max(len(name) for name in urls)
    for name, url in urls.items():
        was = before.get(name, url)
        note = "" if not before or was == url else f"  (was {_shown(was)})"
        click.echo(f"  {name:<{width}}  {_shown(url)}{note}")
    if service:
        click.echo("  (every one with method POST; the number's own SMS URL is not used)")
    else:
        click.echo("  (every one with method POST)")


def _warn_overrides(number: Any, texting: bool = True) -> None:
    """An application or a SIP trunk on the number takes its calls or texts instead of
    these URLs: say so rather than let the operator wonder why nothing changed. (With a
    Messaging Service, the service decides where texts go: ``texting`` False.)"""
    overrides = [
        ("voice_application_sid", "calls go to TwiML app"),
        ("trunk_sid", "calls go to SIP trunk"),
    ]
    if texting:
        overrides.append(("sms_application_sid", "texts go to TwiML app"))
    for attribute, what in overrides:
        sid = getattr(number, attribute, None)
        if sid:
            click.echo(
                f"warning: {what} {sid}, not to these URLs: remove it from the number in the "
                "Twilio console",
                err=True,
            )


def _failures() -> tuple[type[Exception], ...]:
    """What the REST call raises when Twilio refuses or cannot be reached."""
    from requests import RequestException
    from twilio.base.exceptions import TwilioException

    return (TwilioException, RequestException, OSError)


def _twilio_error(exc: Exception) -> str:
    """What went wrong, in Twilio's words where it gave some (never the credentials)."""
    from twilio.base.exceptions import TwilioRestException

    if isinstance(exc, TwilioRestException):
        status, said = exc.status, f"error {exc.code}: {exc.msg}"
    else:  # a failed list page: TwilioException("Unable to fetch page", response)
        response = exc.args[1] if len(exc.args) > 1 else None
        status = getattr(response, "status_code", None)
        if status is None:
            return f"could not reach Twilio's API ({type(exc).__name__})"
        said = _said(getattr(response, "text", ""))
    hint = " (check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN)" if status in (401, 403) else ""
    return f"Twilio refused: HTTP {status}, {said}{hint}"


def _said(body: str) -> str:
    import json

    try:
        answer = json.loads(body)
        return f"error {answer.get('code')}: {answer.get('message')}"
    except (ValueError, AttributeError):
        return "no details"
