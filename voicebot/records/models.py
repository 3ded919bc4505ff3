"""What the help line keeps in SQL: the audit trail, not the conversation."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class OptOut(Base):
    """A number that texted STOP: nothing is sent to it until it texts START."""

    __tablename__ = "opt_outs"

    phone: Mapped[str] = mapped_column(String(16), primary_key=True)  # E.164
    opted_out_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
