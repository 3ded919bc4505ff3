"""One turn of a conversation, the same for every channel.

Lock the conversation, answer a repeated webhook with the reply it already got, load the
state, run the pure dialog, save, carry out side effects, render, remember the reply.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from voicebot import metrics
from voicebot.dialog.engine import Dialog
from voicebot.dialog.model import End, Event, SendText, Transfer, Turn
from voicebot.outbound import Outbound
from voicebot.sessions.store import SessionStore

log = logging.getLogger("voicebot.turn")


@dataclass
class Conversations:
    dialog: Dialog
    store: SessionStore
    outbound: Outbound

    def run(
        self,
        conversation: str,
        request_id: str,
        event: Event,
        ttl: int,
        render: Callable[[Turn], str],
    ) -> str:
        started = time.perf_counter()
        with self.store.lock(conversation):
            state, earlier = self.store.load_turn(conversation, request_id)
            if earlier is not None:
                log.info(
                    "turn replayed",
                    extra={
                        "channel": event.channel,
                        "conversation": conversation,
                        "request": request_id,
                        "replayed": True,
                    },
                )
                return earlier
            turn = self.dialog.step(state, event)
            ended = event.channel == "sms" and any(isinstance(a, End) for a in turn.actions)
            for action in turn.actions:
                if isinstance(action, SendText) and event.caller:
                    self.outbound.send(event.caller, action.body)
            body = render(turn)
            self.store.save_turn(conversation, None if ended else turn.state, ttl, request_id, body)
        elapsed = time.perf_counter() - started
        metrics.observe_turn(event.channel, elapsed)
        transfer = next((a.reason for a in turn.actions if isinstance(a, Transfer)), "")
        if transfer:
            metrics.count_transfer(transfer)
        log.info(
            "turn",
            extra={
                "channel": event.channel,
                "conversation": conversation,
                "request": request_id,
                "turn": turn.state.turn,
                "state": turn.state.step,
                "intent": turn.intent,
                "lang": turn.state.lang,
                "transfer": transfer or None,
                "latency_ms": round(elapsed * 1000, 1),
            },
        )
        return body
