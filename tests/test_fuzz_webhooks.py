"""Property-based fuzzing of every Twilio route, through the signed webhook path.

Whatever Twilio (or anyone holding a valid signature) sends — huge, binary, unicode,
markup, missing, repeated fields, values of the wrong kind, a body that is not a form at
all, events in an order no real call produces — a signed request is answered 200 with TwiML
whose root is <Response>. Unsigned or wrongly signed requests get 403. Never a 5xx.
"""

from __future__ import annotations

import os
import string
from urllib.parse import urlencode
from xml.etree import ElementTree

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from tests.helpers import AUTH_TOKEN, settings_in
from voicebot.app import create_app
from voicebot.cli.simulator import BASE_URL, SignedClient

FUZZ = settings(
    max_examples=int(os.environ.get("VOICEBOT_FUZZ_EXAMPLES", "120")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FORM = "application/x-www-form-urlencoded"
MAX_BODY = 32 * 1024  # [server] max_request_bytes: larger bodies are refused with 413

FIELD_NAMES = [
    "CallSid",
    "AccountSid",
    "From",
    "To",
    "CallStatus",
    "Direction",
    "CallerName",
    "StirVerstat",
    "SpeechResult",
    "Confidence",
    "Digits",
    "DialCallStatus",
    "DialCallDuration",
    "CallDuration",
    "MessageSid",
    "Body",
    "NumMedia",
    "NumSegments",
    "OptOutType",
    "MediaUrl0",
    "ApiVersion",
]

# ---- hostile values ----------------------------------------------------------------------

unicode_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=60)
plausible = st.sampled_from(
    [
        "",
        " ",
        "0",
        "-1",
        "1e309",
        "NaN",
        "inf",
        "-0.0",
        "0.5",
        "1.0000001",
        "true",
        "null",
        "[]",
        "{}",
        "None",
        "undefined",
        "CA" + "0" * 32,
        "SM" + "f" * 32,
        "+14045550123",
        "+14048021000",
        "anonymous",
        "+" + "9" * 40,
        "404-555-0123",
        "completed",
        "busy",
        "no-answer",
        "failed",
        "canceled",
        "ringing",
        "in-progress",
        "STOP",
        "START",
        "HELP",
        "YES",
        "stop.",
        "*",
        "#",
        "0",
        "1234567890*#",
        "١٢٣",
        "１２３",
        "AGENT",
        "menu",
        "TN-Validation-Passed-A",
        "<Say>hi</Say>",
        "]]><Dial>+19005550000</Dial>",
        "&amp;&lt;",
        "<?xml version='1.0'?>",
        "' OR 1=1 --",
        "%s%s%s%n",
        "{placeholder}",
        "\x00\x01\x1b[31m",
        "\u202e\u200b\ufeff",
        "🙂" * 50,
        "ß" * 100,
        "\r\n\r\nX-Injected: 1",
    ]
)
huge = st.builds(
    lambda chunk, times: chunk * times,
    st.sampled_from(["a", "9", "ü", "🙂", "<", "1 2 3 ", "forgot my password "]),
    st.integers(1_000, 120_000),
)
values = st.one_of(plausible, unicode_text, huge, st.text(string.digits, max_size=30))
names = st.one_of(st.sampled_from(FIELD_NAMES), unicode_text.filter(bool))
# What an HTTP header can carry at all (no CR/LF, Latin-1), including a real-looking one.
header_text = st.one_of(
    st.just(""),
    st.just("RSOYDt4T1cUTdK1PDd93/VVr8B8="),
    st.text(
        st.characters(min_codepoint=32, max_codepoint=255, blacklist_characters="\x7f"), max_size=60
    ),
)
fields = st.lists(st.tuples(names, values), max_size=14)  # repeats allowed: duplicated fields

ROUTES = ["/voice", "/voice/gather", "/voice/dial", "/sms", "/voice/status"]
turn_query = st.one_of(
    st.just(""),
    st.integers(-5, 1_000_000).map(lambda n: f"?turn={n}"),
    st.sampled_from(["?turn=", "?turn=abc", "?turn=1&turn=2", "?turn=%00", "?x=1", "?turn=1e9"]),
)


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    return create_app(
        settings_in(tmp_path_factory.mktemp("fuzz"), flush_redis=False), upgrade_db=True
    )


@pytest.fixture(scope="module")
def signed(fuzz_app: Flask) -> SignedClient:
    return SignedClient(fuzz_app, AUTH_TOKEN)


def post_form(twilio: SignedClient, url: str, form: list[tuple[str, str]]):  # type: ignore[no-untyped-def]
    data = MultiDict(form)
    signature = twilio.validator.compute_signature(BASE_URL + url, data)
    return twilio.client.post(
        url, data=data, headers={"X-Twilio-Signature": signature}, base_url=BASE_URL
    )


def post_raw(twilio: SignedClient, url: str, body: bytes, content_type: str):  # type: ignore[no-untyped-def]
    """Any body at all, signed over the fields the server will parse out of it."""
    parsed = Request(
        EnvironBuilder(url, method="POST", data=body, content_type=content_type).get_environ()
    ).form
    signature = twilio.validator.compute_signature(BASE_URL + url, parsed)
    return twilio.client.post(
        url,
        data=body,
        content_type=content_type,
        headers={"X-Twilio-Signature": signature},
        base_url=BASE_URL,
    )


def assert_twiml(response, what: object) -> ElementTree.Element | None:  # type: ignore[no-untyped-def]
    """The TwiML root; None for a body too large to be Twilio's, refused (413) unread."""
    body = response.get_data()
    if response.status_code == 413 and (response.request.content_length or 0) > MAX_BODY:
        return None
    assert response.status_code == 200, (response.status_code, body[:300], what)
    assert response.mimetype in ("text/xml", "application/xml"), (response.mimetype, what)
    root = ElementTree.fromstring(body)
    assert root.tag == "Response", (body[:300], what)
    return root


# ---- properties --------------------------------------------------------------------------


@FUZZ
@given(route=st.sampled_from(ROUTES), query=turn_query, form=fields)
def test_any_signed_form_gets_twiml(signed: SignedClient, route: str, query: str, form) -> None:  # type: ignore[no-untyped-def]
    assert_twiml(post_form(signed, route + query, form), (route, query, form))


@FUZZ
@given(
    route=st.sampled_from(ROUTES),
    body=st.one_of(
        st.binary(max_size=2_000),
        st.lists(st.tuples(st.sampled_from(FIELD_NAMES), st.binary(max_size=80)), max_size=8).map(
            lambda pairs: b"&".join(
                name.encode() + b"=" + b"".join(b"%%%02X" % byte for byte in raw)
                for name, raw in pairs
            )
        ),
    ),
    content_type=st.sampled_from(
        [FORM, "application/json", "text/plain", "multipart/form-data; boundary=x", "", "a/b;;"]
    ),
)
def test_any_signed_body_gets_twiml(
    signed: SignedClient, route: str, body: bytes, content_type: str
) -> None:
    assert_twiml(post_raw(signed, route, body, content_type), (route, body[:200], content_type))


def test_a_body_over_the_size_limit_is_refused_not_answered(signed: SignedClient) -> None:
    """Too large to be Twilio's: 413, not the fault answer (no apology, no transfer)."""
    for route in ROUTES:
        form = [("CallSid", "CA" + "7" * 32), ("Body", "x" * (2 * 1024 * 1024))]
        assert post_form(signed, route, form).status_code == 413, route


def test_a_file_upload_gets_twiml(signed: SignedClient) -> None:
    import io

    for route in ROUTES:
        response = signed.client.post(
            route,
            data={"CallSid": "CA" + "8" * 32, "Body": (io.BytesIO(b"\x00\xff" * 100), "x.bin")},
            headers={
                "X-Twilio-Signature": signed.validator.compute_signature(BASE_URL + route, {})
            },
            base_url=BASE_URL,
        )
        assert response.status_code < 500
        if response.status_code == 200:
            assert_twiml(response, route)


@FUZZ
@given(route=st.sampled_from(ROUTES), form=fields, signature=header_text)
def test_unsigned_or_wrongly_signed_is_refused(
    signed: SignedClient, route: str, form, signature: str
) -> None:  # type: ignore[no-untyped-def]
    headers = {"X-Twilio-Signature": signature} if signature else {}
    body = urlencode(form).encode()
    response = signed.client.post(
        route, data=body, content_type=FORM, headers=headers, base_url=BASE_URL
    )
    # Too large to be Twilio's: refused (413) before it is read, when it carries a signature.
    refusals = (403, 413) if len(body) > MAX_BODY else (403,)
    assert response.status_code in refusals, response.get_data()[:300]


# ---- events in any order -----------------------------------------------------------------

EVENT = st.one_of(
    st.tuples(st.just("start"), st.just(0), st.sampled_from(["ringing", "in-progress", ""])),
    st.tuples(
        st.just("gather"),
        st.integers(-1, 12),
        st.one_of(st.sampled_from(["1", "2", "3", "0", "*", "9", "#"]), values),
    ),
    st.tuples(
        st.just("speech"),
        st.integers(-1, 12),
        st.sampled_from(["I forgot my password", "agent", "repeat", "yes", "no", "goodbye", ""]),
    ),
    st.tuples(
        st.just("dial"),
        st.integers(-1, 12),
        st.sampled_from(["completed", "answered", "busy", "no-answer", "failed", "canceled", "x"]),
    ),
    st.tuples(
        st.just("status"),
        st.just(0),
        st.sampled_from(["completed", "busy", "no-answer", "failed", "canceled", "ringing"]),
    ),
    st.tuples(st.just("follow"), st.just(0), st.sampled_from(["1", "2", "3", "4", "0", "*"])),
)


@FUZZ
@given(events=st.lists(EVENT, min_size=1, max_size=14), call_number=st.integers(0, 2**64))
def test_events_in_any_order_always_get_twiml(
    signed: SignedClient, events, call_number: int
) -> None:  # type: ignore[no-untyped-def]
    """Answer after hang-up, a dial result without a dial, turns out of order, repeats."""
    base = [("CallSid", f"CA{call_number:032x}"), ("From", "+14045550123"), ("To", "+14045550100")]
    next_action = "/voice/gather?turn=1"
    for kind, turn, value in events:
        if kind == "start":
            url, extra = "/voice", [("CallStatus", value), ("Direction", "inbound")]
        elif kind == "gather":
            url, extra = f"/voice/gather?turn={turn}", [("Digits", value)]
        elif kind == "speech":
            url, extra = (
                f"/voice/gather?turn={turn}",
                [("SpeechResult", value), ("Confidence", "0.9")],
            )
        elif kind == "dial":
            url, extra = f"/voice/dial?turn={turn}", [("DialCallStatus", value)]
        elif kind == "status":
            url, extra = "/voice/status", [("CallStatus", value), ("CallDuration", "12")]
        else:
            url, extra = next_action, [("Digits", value)]
        root = assert_twiml(post_form(signed, url, base + extra), (kind, turn, value))
        if root is None:
            continue  # too large to be Twilio's: refused unread, the call goes on
        action = next(
            (verb.get("action") for verb in root.iter() if verb.tag in ("Gather", "Dial")), None
        )
        if action:
            next_action = action


@FUZZ
@given(texts=st.lists(st.one_of(plausible, unicode_text, huge), min_size=1, max_size=8))
def test_texts_in_any_order_always_get_twiml(signed: SignedClient, texts: list[str]) -> None:
    for n, body in enumerate(texts):
        form = [
            ("MessageSid", f"SM{n:032x}{len(body)}"[:34]),
            ("From", "+14045550177"),
            ("To", "+14045550100"),
            ("Body", body),
        ]
        root = assert_twiml(post_form(signed, "/sms", form), body[:100])
        assert root is None or len(list(root)) <= 1, "at most one reply message per text"
