"""The validated settings: what the rest of the help line reads, never the raw files."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from voicebot.config.hours import SupportHours


@dataclass(frozen=True)
class District:
    name: str
    short_name: str
    portal_name: str
    portal_login_url: str
    activation_lookup_url: str
    activation_lookup_page: str
    spoken: dict[str, dict[str, str]]  # language -> portal_login_url / activation_lookup_url
    support_number: str  # E.164
    helpline_number: str  # E.164 or ""


@dataclass(frozen=True)
class Retention:
    """[retention]: days each kind of record is kept before `voicebot purge` deletes it;
    0 keeps it for good. The reasons for each default are in config/default.toml."""

    verification_attempts: int = 365
    disclosures: int = 2557  # seven years: FERPA's record of disclosures
    transfers: int = 365
    transcripts: int = 90
    callbacks: int = 180
    unrecognised_questions: int = 180


@dataclass(frozen=True)
class Settings:
    district: District
    languages: tuple[str, ...]
    default_language: str
    say_voice: dict[str, str]
    speech_language: dict[str, str]
    gather_timeout: int
    speech_timeout: int
    speech_model: str
    dial_timeout: int
    voice_session_ttl: int
    sms_session_ttl: int
    sms_max_segments: int
    max_retries: int
    redis_url: str
    database_url: str
    outbox: Path
    twilio_auth_token: str
    twilio_account_sid: str
    twilio_number: str
    public_url: str
    flows_dir: Path
    instance_dir: Path
    support_hours: SupportHours = field(default_factory=SupportHours)
    # [district] timezone: support's hours and the statistics' days are the district's
    timezone: str = "America/New_York"
    support_hours_text: dict[str, str] = field(default_factory=dict)
    texts_per_hour: int = 3  # [limits]: texts one phone number may get
    texts_per_day: int = 10
    code_calls_per_day: int = 3  # of those, calls that say a one-time code
    # [voice] patient_timeout: seconds a call waits for an answer after "take your time"
    patient_timeout: int = 30
    # [twilio] previous_auth_token: the token before a rotation, still accepted ("": none)
    twilio_previous_auth_token: str = ""
    # [twilio] messaging_service_sid: texts go out through this Messaging Service ("": from
    # the number); in the US, the service that holds the A2P 10DLC campaign
    twilio_messaging_service_sid: str = ""
    # [server]: VOICEBOT_SECRET_KEY ("": create_app makes one), proxies trusted, request limits
    secret_key: str = ""
    trusted_proxies: int = 0
    max_request_bytes: int = 32 * 1024
    max_form_fields: int = 200
    retention: Retention = field(default_factory=Retention)  # [retention]: `voicebot purge`
    testing: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **changes)
