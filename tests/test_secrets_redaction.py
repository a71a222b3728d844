"""Log redaction: secrets in messages, arguments and tracebacks are masked for every handler."""

from __future__ import annotations

import io
import logging
import threading

import pytest

from bot.secrets import DEFAULT_REGISTRY, EnvSecretStore, SecretRegistry, install_redaction, redact
from bot.secrets.redaction import RedactingFilter

LOGGER = "tests.secrets.redaction"


def _fail_with(secret: str) -> None:
    raise RuntimeError(f"brokerage refused password {secret}")


@pytest.fixture
def registry() -> SecretRegistry:
    registry = SecretRegistry()
    install_redaction(registry)
    return registry


def test_registry_masks_longest_first_and_ignores_short_values() -> None:
    registry = SecretRegistry()
    registry.register_many(["abc", "pass-1234", "pass-1234-extended", None])
    assert len(registry) == 2
    assert registry.redact("abc pass-1234-extended pass-1234") == "abc ***secret*** ***secret***"
    assert "pass" not in repr(registry)


def test_registry_is_safe_under_concurrent_registration() -> None:
    registry = SecretRegistry()
    threads = [
        threading.Thread(target=lambda n=n: [registry.register(f"value-{n}-{i}") for i in range(200)])
        for n in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(registry) == 800
    assert registry.redact("x value-3-199 y") == "x ***secret*** y"


def test_caplog_sees_masked_message_args_and_traceback(
    registry: SecretRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    registry.register("tb-secret-value-1")
    logger = logging.getLogger(LOGGER)
    with caplog.at_level(logging.INFO, logger=LOGGER):
        logger.info("login as %s with %s", "joe", "tb-secret-value-1")
        logger.warning("inline tb-secret-value-1 in the message")
        try:
            _fail_with("tb-secret-value-1")
        except RuntimeError:
            logger.exception("deployment failed")
    assert "tb-secret-value-1" not in caplog.text
    assert "login as joe with ***secret***" in caplog.text
    assert "inline ***secret*** in the message" in caplog.text
    assert "RuntimeError: brokerage refused password ***secret***" in caplog.text
    assert "_fail_with" in caplog.text  # the traceback itself is kept, only the value is masked
    assert [record.getMessage() for record in caplog.records][:2] == [
        "login as joe with ***secret***",
        "inline ***secret*** in the message",
    ]


def test_stream_handler_added_after_start_up(registry: SecretRegistry) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = logging.getLogger(LOGGER + ".stream")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        # Registered after installation: the registry is consulted when each record is made.
        registry.register("late-secret-xyz")
        logger.error("token=%s", "late-secret-xyz")
        try:
            _fail_with("late-secret-xyz")
        except RuntimeError:
            logger.exception("wrapped")
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    output = stream.getvalue()
    assert "late-secret-xyz" not in output
    assert "ERROR token=***secret***" in output
    assert "RuntimeError: brokerage refused password ***secret***" in output


def test_values_loaded_by_a_backend_are_masked_in_logs(caplog: pytest.LogCaptureFixture) -> None:
    install_redaction()
    store = EnvSecretStore(environ={"QCBOT_PROFILES__IB_MAIN__IB_PASSWORD": "loaded-by-env-77"})
    value = store.get("profiles/ib-main/ib-password")
    with caplog.at_level(logging.INFO, logger=LOGGER):
        logging.getLogger(LOGGER).info("resolved %s", value)
    assert "loaded-by-env-77" not in caplog.text
    assert redact("x loaded-by-env-77") == "x ***ib-password***"
    assert len(DEFAULT_REGISTRY) >= 1


def test_filter_masks_records_that_bypass_the_factory(registry: SecretRegistry) -> None:
    registry.register("bypass-secret-1")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    record = logging.makeLogRecord({"msg": "value %s", "args": ("bypass-secret-1",), "levelno": logging.INFO})
    handler.handle(record)
    assert stream.getvalue().strip() == "value ***secret***"


def test_installation_is_idempotent(registry: SecretRegistry) -> None:
    factory = logging.getLogRecordFactory()
    install_redaction(registry)
    install_redaction()
    assert logging.getLogRecordFactory() is factory


def test_broken_format_arguments_are_masked_without_raising(registry: SecretRegistry) -> None:
    registry.register("fmt-secret-1")
    record = logging.getLogRecordFactory()(
        LOGGER, logging.INFO, __file__, 1, "%d %s", ("x", "fmt-secret-1"), None
    )
    assert record.args == ("x", "***secret***")
