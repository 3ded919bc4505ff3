"""A Dialog built from the real flows/ and the district's facts, with fake collaborators."""

from __future__ import annotations

import pytest

from tests.dialog.fakes import FakeClassifier, FakeVerifier
from voicebot.config import REPO_ROOT, load_settings
from voicebot.config.facts import Facts, district_facts
from voicebot.dialog.engine import Dialog
from voicebot.dialog.flow import Flow, load_flow


@pytest.fixture(scope="session")
def flow() -> Flow:
    return load_flow(REPO_ROOT / "flows", ("en", "es"))


@pytest.fixture(scope="session")
def facts() -> Facts:
    # config/default.toml only: no environment, so no REDIS_URL or DATABASE_URL either
    return district_facts(load_settings({}, testing=True))


@pytest.fixture
def classifier() -> FakeClassifier:
    return FakeClassifier()


@pytest.fixture
def verifier() -> FakeVerifier:
    return FakeVerifier()


@pytest.fixture
def dialog(flow: Flow, facts: Facts, classifier: FakeClassifier, verifier: FakeVerifier) -> Dialog:
    return Dialog(flow=flow, classifier=classifier, facts=facts, max_retries=2, verifier=verifier)
