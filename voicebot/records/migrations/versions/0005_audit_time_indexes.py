"""the audit's times indexed: disclosures.disclosed_at, verification_attempts.attempted_at

`voicebot purge` deletes the rows older than their retention and `voicebot audit export`
reads a range of days: both find those rows by time instead of reading the whole table.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_disclosures_disclosed_at", "disclosures", ["disclosed_at"])
    op.create_index(
        "ix_verification_attempts_attempted_at", "verification_attempts", ["attempted_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_verification_attempts_attempted_at", table_name="verification_attempts")
    op.drop_index("ix_disclosures_disclosed_at", table_name="disclosures")
