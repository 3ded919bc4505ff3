"""Fixtures: a fresh app per test (as in Flask's tutorial), and callers who talk to it.

Set REDIS_URL to run every test against a real Redis (CI does); without it the in-process
stand-in is used. The constants and helper classes are in tests/helpers.py.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from flask import Flask

from tests.helpers import AUTH_TOKEN, ROSTER, Call, Outbox, Thread, settings_in
from voicebot.app import create_app
from voicebot.cli.simulator import SignedClient
from voicebot.config import REPO_ROOT, Settings
from voicebot.records.roster import import_roster
from voicebot.services import services


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return settings_in(tmp_path)


@pytest.fixture
def app(settings: Settings) -> Flask:
    return create_app(settings, upgrade_db=True)


@pytest.fixture
def roster(app: Flask, tmp_path: Path) -> None:
    """Two students; Maria's guardian's phone is on file as GUARDIAN_PHONE."""
    path = tmp_path / "roster.csv"
    path.write_text(ROSTER)
    result = import_roster(services(app).engine, path)
    assert result.committed


@pytest.fixture
def twilio(app: Flask) -> SignedClient:
    return SignedClient(app, AUTH_TOKEN)


@pytest.fixture
def outbox(settings: Settings) -> Outbox:
    return Outbox(settings.outbox)


@pytest.fixture
def call(twilio: SignedClient) -> Call:
    return Call(twilio)


@pytest.fixture
def thread(twilio: SignedClient) -> Thread:
    return Thread(twilio)


@pytest.fixture
def flows_copy(tmp_path: Path) -> Path:
    """A copy of flows/ to break on purpose."""
    target = tmp_path / "flows"
    shutil.copytree(REPO_ROOT / "flows", target)
    return target
