"""Shared fixtures: ocisim on free ports with the real SDK in front of it."""

from __future__ import annotations

import pytest

from ocisim.testing import ocisim_running


@pytest.fixture
def ocisim(tmp_path):
    """A fresh ocisim with the default seeded tenancy, time scaled 600x (a 10-minute operation takes 1 s)."""
    with ocisim_running(tmp_path / "ocisim", time_scale=600.0) as handle:
        yield handle


@pytest.fixture
def ocisim_guest(tmp_path):
    """As `ocisim`, with Run Command executing scripts on this machine."""
    with ocisim_running(tmp_path / "ocisim", time_scale=600.0, guest_exec=True) as handle:
        yield handle
