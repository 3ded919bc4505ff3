"""One turn of a conversation, the same for every channel.

Lock the conversation, answer a repeated webhook with the reply it already got, load the
state, run the pure dialog, save, carry out side effects, render, remember the reply.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from voicebot.dialog.engine import Dialog
from voicebot.dialog.model import End, Event, SendText, Turn
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
            if request_id:
                earlier = self.store.reply_for(request_id)
                if earlier is not None:
                    log.info("repeated webhook %s answered again", request_id)
                    return earlier
            state = self.store.load(conversation)
            turn = self.dialog.step(state, event)
            if any(isinstance(action, End) for action in turn.actions) and event.channel == "sms":
                self.store.clear(conversation)
            else:
                self.store.save(conversation, turn.state, ttl)
            for action in turn.actions:
                if isinstance(action, SendText) and event.caller:
                    self.outbound.send(event.caller, action.body)
            body = render(turn)
            if request_id:
                self.store.remember_reply(request_id, body)
        log.info(
            "turn channel=%s conversation=%s turn=%d step=%s intent=%s ms=%.1f",
            event.channel,
            conversation,
            turn.state.turn,
            turn.state.step,
            turn.intent,
            (time.perf_counter() - started) * 1000,
        )
        return body
