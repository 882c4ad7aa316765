"""Logging goes to whatever ``sys.stderr`` is when a line is written."""

from __future__ import annotations

import io
import sys

import pytest
import structlog

from optscan.logs import configure_logging, get_logger


@pytest.fixture(autouse=True)
def _fresh_structlog():
    structlog.reset_defaults()
    yield
    structlog.reset_defaults()


def test_a_closed_stream_from_configure_time_does_not_break_later_logging(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Configured while stderr was a temporary stream (as under click's CliRunner),
    then that stream closed: the next line goes to the real stderr, nothing raises."""
    temporary = io.StringIO()
    with monkeypatch.context() as patch:
        patch.setattr(sys, "stderr", temporary)
        configure_logging("info", "json")
        get_logger().info("during", step=1)
    assert '"event": "during"' in temporary.getvalue()
    temporary.close()
    get_logger().warning("after", step=2)
    assert '"event": "after"' in capsys.readouterr().err


def test_an_unwritable_stderr_costs_the_line_not_the_caller(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    configure_logging("info", "json")
    closed = io.StringIO()
    closed.close()
    monkeypatch.setattr(sys, "stderr", closed)
    get_logger().error("nobody_listens")  # must not raise
    monkeypatch.setattr(sys, "stderr", None)
    get_logger().error("no_stderr_at_all")


def test_secrets_are_masked_on_the_way_out(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("info", "json")
    get_logger().info("connecting", url="redis://u:hunter2@db:6379/0", api_key="abc123")
    err = capsys.readouterr().err
    assert "hunter2" not in err and "abc123" not in err
    assert "redis://u:***@db:6379/0" in err
