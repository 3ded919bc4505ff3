"""handoffs, callback requests, agents, and the statistics' daily counts

Nothing secret has a column here: transcripts are scrubbed summaries, unrecognised questions
are kept only when they hold no digits, agents' passwords only as hashes.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "handoffs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("conversation", sa.String(100), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("topic", sa.String(64), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("verified", sa.Boolean, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("transcript", sa.Text, nullable=False),
    )
    op.create_index("ix_handoffs_created_at", "handoffs", ["created_at"])

    op.create_table(
        "callbacks",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("phone", sa.String(16), nullable=False),
        sa.Column("topic", sa.String(64), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column(
            "handoff_id",
            sa.Integer,
            sa.ForeignKey("handoffs.id", ondelete="SET NULL", name="fk_callbacks_handoff"),
            nullable=True,
        ),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_by", sa.String(64), nullable=True),
    )
    op.create_index("ix_callbacks_created_at", "callbacks", ["created_at"])

    op.create_table(
        "agents",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.String(256), nullable=False),
        sa.Column("failed_logins", sa.Integer, nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("name", name="uq_agents_name"),
    )

    op.create_table(
        "conversation_days",
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("channel", sa.String(8), primary_key=True),
        sa.Column("count", sa.Integer, nullable=False),
    )

    op.create_table(
        "unrecognised_questions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("text", sa.String(100), nullable=False),
    )
    op.create_index(
        "ix_unrecognised_questions_created_at", "unrecognised_questions", ["created_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_unrecognised_questions_created_at", table_name="unrecognised_questions")
    op.drop_table("unrecognised_questions")
    op.drop_table("conversation_days")
    op.drop_table("agents")
    op.drop_index("ix_callbacks_created_at", table_name="callbacks")
    op.drop_table("callbacks")
    op.drop_index("ix_handoffs_created_at", table_name="handoffs")
    op.drop_table("handoffs")
