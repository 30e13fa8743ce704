"""Fixtures of the scenario tests: a session with the shipped bundles deployed, frozen clock."""
from __future__ import annotations

import pytest
from complaint_cases import deployed_cases
from repair_cases import deploy as deploy_repair


@pytest.fixture
def cases(session, frozen_clock):
    """The complaint and repair bundles deployed (version 1 each); modules may define their own."""
    return deployed_cases(session)


@pytest.fixture
def repair(session, frozen_clock):
    """The repair bundle deployed."""
    deploy_repair(session)
    return session
