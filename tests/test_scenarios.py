"""Opening requests as parents make them, through the real webhooks (calls and texts).

Each opening is a new call (the menu, then the request) or a new text thread. The first
reply must give the expected answer, after at most one "yes" to a confirmation question;
what was answered is read from the conversation's saved state, as the agent's console
would. Measured on the shared dev set (skipped without it) and on this project's own
held-out openings, which were never used to tune flows/intents/.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask

from tests.helpers import CALLER, HELPLINE, Call, Reply, Thread
from voicebot.channels.sms import conversation_id
from voicebot.cli.simulator import SignedClient
from voicebot.dialog.evaluation import Scenario, load_scenarios
from voicebot.dialog.model import State
from voicebot.services import services

OWN = Path(__file__).resolve().parent / "data" / "openings-heldout.tsv"
# The topics a reply gives, by the catalogue name an opening expects.
STATE_OF = {"support": "no_answer", "agent": "transfer"}


def _dev_scenarios() -> Path:
    shared = os.environ.get("VOICEBOT_SHARED_DIR")
    base = Path(shared) if shared else Path(__file__).resolve().parents[2] / "shared"
    return base / "data" / "scenarios-dev.tsv"


@dataclass(frozen=True)
class Heard:
    scenario: Scenario
    topics: tuple[str, ...]  # every topic the first reply (and a confirmed one) answered
    transferred: bool
    confirmed: bool  # a "Did you want help with ...?" came first

    @property
    def right(self) -> bool:
        if self.scenario.expect == "agent":
            return self.transferred
        return STATE_OF.get(self.scenario.expect, self.scenario.expect) in self.topics


def _state(app: Flask, conversation: str) -> State:
    state = services(app).store.load(conversation)
    assert state is not None, f"no conversation saved for {conversation}"
    return state


def _yes(lang: str) -> str:
    return "sí" if lang == "es" else "yes"


def _by_call(app: Flask, twilio: SignedClient, scenario: Scenario) -> Heard:
    call = Call(twilio)
    call.start()
    reply = call.say(scenario.utterance)
    conversation = "call:" + call.base["CallSid"]
    confirmed = _state(app, conversation).step == "confirm"
    if confirmed:
        reply = call.say(_yes(_state(app, conversation).lang))
    state = _state(app, conversation)
    return Heard(scenario, tuple(state.topics), reply.transfers_to is not None, confirmed)


def _by_text(app: Flask, twilio: SignedClient, scenario: Scenario) -> Heard:
    thread = Thread(twilio)
    reply: Reply = thread.text(scenario.utterance)
    token = services(app).settings.secret_key
    conversation = conversation_id(CALLER, HELPLINE, token)
    confirmed = _state(app, conversation).step == "confirm"
    if confirmed:
        reply = thread.text(_yes(_state(app, conversation).lang))
    state = _state(app, conversation)
    transferred = "404-802-1000" in reply.text and state.step.startswith("transfer")
    return Heard(scenario, tuple(state.topics), transferred, confirmed)


def _hear_all(app: Flask, path: Path) -> list[Heard]:
    twilio = SignedClient(app, services(app).settings.twilio_auth_token)
    heard = []
    for scenario in load_scenarios(path):
        run = _by_call if scenario.channel == "voice" else _by_text
        heard.append(run(app, twilio, scenario))
        services(app).store.redis.flushdb()  # the next opening is a new caller
    return heard


def _report(heard: list[Heard]) -> str:
    return "\n".join(
        f"{h.scenario.channel} {h.scenario.expect}: got {list(h.topics)} "
        f"{'(after a confirmation) ' if h.confirmed else ''}| {h.scenario.utterance}"
        for h in heard
        if not h.right
    )


def _check_openings(heard: list[Heard]) -> None:
    right = [h for h in heard if h.right]
    assert len(right) >= 0.95 * len(heard), _report(heard)
    assert sum(h.confirmed for h in right) <= 0.1 * len(right), "too many confirmations"
    # A question the help page does not answer gets the honest answer or none: never a
    # neighbouring topic given as if it were the answer.
    support = [h for h in heard if h.scenario.expect == "support"]
    other = [h for h in support if set(h.topics) - {"no_answer"}]
    assert not other, _report(other)


def test_the_shared_openings_get_the_answer_that_unblocks_the_parent(app: Flask) -> None:
    path = _dev_scenarios()
    if not path.exists():
        pytest.skip(f"{path} not found (set VOICEBOT_SHARED_DIR to the shared folder)")
    _check_openings(_hear_all(app, path))


def test_our_own_held_out_openings_get_the_answer_that_unblocks_the_parent(app: Flask) -> None:
    _check_openings(_hear_all(app, OWN))


def test_the_held_out_openings_cover_every_kind_of_opening() -> None:
    rows = load_scenarios(OWN)
    expected = {row.expect for row in rows}
    assert {"support", "out_of_scope", "agent", "forgot_password"} <= expected
    assert {(row.channel, row.lang) for row in rows} >= {
        ("voice", "en"),
        ("sms", "en"),
        ("voice", "es"),
        ("sms", "es"),
    }
    assert len(rows) >= 50
