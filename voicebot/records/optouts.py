"""Numbers that texted STOP. Carrier rules: after STOP we send nothing until START."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from voicebot.records.models import OptOut


class OptOuts:
    def __init__(self, sessions: sessionmaker) -> None:
        self.sessions = sessions

    def add(self, phone: str) -> None:
        try:
            with self.sessions.begin() as session:
                if session.get(OptOut, phone) is None:
                    session.add(OptOut(phone=phone))
        except IntegrityError:
            pass  # two STOPs at once: the other one recorded it

    def remove(self, phone: str) -> None:
        with self.sessions.begin() as session:
            session.execute(delete(OptOut).where(OptOut.phone == phone))

    def has(self, phone: str) -> bool:
        with self.sessions() as session:
            return session.scalar(select(OptOut.phone).where(OptOut.phone == phone)) is not None
