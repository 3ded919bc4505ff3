"""A stand-in for Twilio's REST API under twilio-python's real client.

:class:`FakeTwilio` is a twilio.http.HttpClient that answers Twilio's IncomingPhoneNumbers
list and update requests, Messaging Service fetch, update and sender list, and Messages and
Calls create, from dicts, as Twilio's API would, and records every request.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any
from urllib.parse import urlsplit

from twilio.http import HttpClient
from twilio.http.response import Response as TwilioResponse

ACCOUNT = "AC" + "0" * 32
TOKEN = "fake-twilio-token-9f8e7d6c5b4a"
SERVICE = "MG" + "a1" * 16
LIST_PATH = f"/2010-04-01/Accounts/{ACCOUNT}/IncomingPhoneNumbers.json"
ONE_PATH = re.compile(rf"/2010-04-01/Accounts/{ACCOUNT}/IncomingPhoneNumbers/(PN\w+)\.json")
MESSAGES_PATH = f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
CALLS_PATH = f"/2010-04-01/Accounts/{ACCOUNT}/Calls.json"
SERVICE_PATH = re.compile(r"/v1/Services/(MG\w+)")
SENDERS_PATH = re.compile(r"/v1/Services/(MG\w+)/PhoneNumbers")


def snake(field: str) -> str:
    """Twilio's request field (VoiceFallbackUrl) as its JSON property (voice_fallback_url)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", field).lower()


def phone_number(sid: str, number: str, **fields: Any) -> dict[str, Any]:
    """An IncomingPhoneNumber as Twilio's API returns it (the properties used here)."""
    return {
        "sid": sid,
        "account_sid": ACCOUNT,
        "phone_number": number,
        "friendly_name": number,
        "voice_url": "https://old.example.net/answer",
        "voice_method": "GET",
        "voice_fallback_url": "",
        "voice_fallback_method": "POST",
        "status_callback": "",
        "status_callback_method": "POST",
        "sms_url": "https://user:hunter2secret@old.example.net/sms",
        "sms_method": "POST",
        "sms_fallback_url": "",
        "sms_fallback_method": "POST",
        "voice_application_sid": None,
        "sms_application_sid": None,
        "trunk_sid": None,
        "uri": f"/2010-04-01/Accounts/{ACCOUNT}/IncomingPhoneNumbers/{sid}.json",
    } | fields


def messaging_service(sid: str, *senders: str, **fields: Any) -> dict[str, Any]:
    """A Messaging Service as Twilio's API returns it (the properties used here), with the
    numbers in its sender pool under "senders" (Twilio lists those at PhoneNumbers)."""
    return {
        "sid": sid,
        "account_sid": ACCOUNT,
        "friendly_name": "Parent Portal help line",
        "inbound_request_url": "https://old.example.net/texts",
        "inbound_method": "GET",
        "fallback_url": None,
        "fallback_method": "POST",
        "status_callback": None,
        "use_inbound_webhook_on_number": True,
        "usecase": "notifications",
        "url": f"https://messaging.twilio.com/v1/Services/{sid}",
        "senders": list(senders),
    } | fields


def _value(text: Any) -> Any:
    """A form value as Twilio would store it: its booleans as JSON booleans."""
    return {"true": True, "false": False}.get(text, text) if isinstance(text, str) else text


class FakeTwilio(HttpClient):
    """Twilio's REST API for one account (numbers, Messaging Services, texts, calls), in
    memory."""

    def __init__(
        self,
        *numbers: dict[str, Any],
        services: tuple[dict[str, Any], ...] = (),
        refuse_callbacks: bool = False,
    ) -> None:
        super().__init__(logging.getLogger("tests.fake_twilio"), is_async=False)
        self.numbers = {n["sid"]: n for n in numbers}
        self.services = {s["sid"]: s for s in services}
        self.refuse_callbacks = refuse_callbacks  # as Twilio does one it cannot reach (21609)
        self.messages: list[dict[str, Any]] = []  # as created
        self.calls: list[dict[str, Any]] = []  # as created
        self.requests: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = []

    def request(  # type: ignore[override]
        self,
        method: str,
        uri: str,
        params: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> TwilioResponse:
        parts = urlsplit(uri)
        assert parts.scheme == "https", uri
        assert parts.netloc in ("api.twilio.com", "messaging.twilio.com"), uri
        self.requests.append((method, parts.path, dict(params or {}), dict(data or {})))
        if auth != (ACCOUNT, TOKEN):
            return self._answer(401, {"code": 20003, "message": "Authenticate", "status": 401})
        if parts.netloc == "messaging.twilio.com":
            return self._messaging(method, parts.path, data or {})
        if method == "POST" and parts.path == MESSAGES_PATH:
            if self.refuse_callbacks and "StatusCallback" in (data or {}):
                refused = {"code": 21609, "message": "Invalid 'StatusCallback'", "status": 400}
                return self._answer(400, refused)
            return self._answer(201, self._message(data or {}))
        if method == "POST" and parts.path == CALLS_PATH:
            self.calls.append(dict(data or {}))
            return self._answer(201, {"sid": f"CA{len(self.calls):032x}", "status": "queued"})
        if method == "GET" and parts.path == LIST_PATH:
            wanted = (params or {}).get("PhoneNumber", "")  # Twilio matches partial numbers
            found = [n for n in self.numbers.values() if wanted in n["phone_number"]]
            return self._answer(200, self._page(found, params or {}))
        matched = ONE_PATH.fullmatch(parts.path)
        if method == "POST" and matched and matched.group(1) in self.numbers:
            number = self.numbers[matched.group(1)]
            number.update({snake(field): value for field, value in (data or {}).items()})
            return self._answer(200, number)
        return self._answer(404, {"code": 20404, "message": "not found", "status": 404})

    def _messaging(self, method: str, path: str, data: dict[str, Any]) -> TwilioResponse:
        """Messaging Services: fetch, update, and the list of their phone numbers."""
        senders, one = SENDERS_PATH.fullmatch(path), SERVICE_PATH.fullmatch(path)
        if senders and method == "GET" and senders.group(1) in self.services:
            pool = self.services[senders.group(1)]["senders"]
            rows = [{"sid": f"PN{n:032x}", "phone_number": p} for n, p in enumerate(pool)]
            meta = {"key": "phone_numbers", "page": 0, "page_size": 50, "next_page_url": None}
            return self._answer(200, {"phone_numbers": rows, "meta": meta})
        if one and one.group(1) in self.services:
            service = self.services[one.group(1)]
            if method == "POST":
                service.update({snake(field): _value(v) for field, v in data.items()})
            return self._answer(200, {k: v for k, v in service.items() if k != "senders"})
        return self._answer(404, {"code": 20404, "message": "not found", "status": 404})

    def _message(self, data: dict[str, Any]) -> dict[str, Any]:
        """One text, as Twilio answers its creation: queued, with a new SID."""
        message = {
            "sid": f"SM{len(self.messages) + 1:032x}",
            "account_sid": ACCOUNT,
            "to": data.get("To"),
            "from": data.get("From"),
            "messaging_service_sid": data.get("MessagingServiceSid"),
            "body": data.get("Body"),
            "status": "accepted" if data.get("MessagingServiceSid") else "queued",
        }
        self.messages.append(dict(data))
        return message

    @staticmethod
    def _page(found: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
        size = int(params.get("PageSize", 50))
        return {
            "incoming_phone_numbers": found[:size],
            "start": 0,
            "end": max(len(found) - 1, 0),
            "page": 0,
            "page_size": size,
            "uri": LIST_PATH,
            "first_page_uri": LIST_PATH,
            "next_page_uri": None,
            "previous_page_uri": None,
        }

    @staticmethod
    def _answer(status: int, body: dict[str, Any]) -> TwilioResponse:
        return TwilioResponse(status, json.dumps(body))

    def posted(self) -> list[tuple[str, dict[str, Any]]]:
        return [(path, data) for method, path, _, data in self.requests if method == "POST"]
