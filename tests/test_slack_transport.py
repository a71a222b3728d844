"""The pooled Slack Web API client: kept-alive connections, and slack_sdk's retry handling unchanged."""

from __future__ import annotations

import socket
import threading
import time
from http.client import RemoteDisconnected
from urllib.error import URLError

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator

from bot.slack_transport import PooledWebClient
from tests.fakes.fake_slack import FakeSlack


def test_calls_reuse_kept_alive_connections() -> None:
    with FakeSlack() as slack:
        pooled = PooledWebClient(token=slack.bot_token, base_url=slack.base_url)
        try:
            for index in range(20):
                assert pooled.chat_postMessage(channel="C1", text=f"message {index}")["ok"]
        finally:
            pooled.close()
        assert slack.connections == 1
        plain_before = slack.connections
        plain = WebClient(token=slack.bot_token, base_url=slack.base_url)
        for index in range(5):
            plain.chat_postMessage(channel="C1", text=f"plain {index}")
        # slack_sdk's own urllib transport: one new connection per call, what the pool avoids.
        assert slack.connections - plain_before == 5
        assert len(slack.messages("C1")) == 25


def test_slack_errors_and_rate_limits_behave_as_with_slack_sdk() -> None:
    with FakeSlack() as slack:
        client = PooledWebClient(token=slack.bot_token, base_url=slack.base_url)
        try:
            slack.rate_limit("chat.postMessage", times=1, retry_after=1)
            with pytest.raises(SlackApiError) as refused:
                client.chat_postMessage(channel="C1", text="no retry handler")
            assert refused.value.response.status_code == 429
            assert refused.value.response.headers["retry-after"] == "1"

            client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=2))
            slack.rate_limit("chat.postMessage", times=1, retry_after=0)
            assert client.chat_postMessage(channel="C1", text="retried")["ok"]
            attempts = [c.status for c in slack.calls if c.method == "chat.postMessage"]
            assert attempts[-2:] == [429, 200]

            slack.fail("chat.update", "message_not_found")
            with pytest.raises(SlackApiError) as failed:
                client.chat_update(channel="C1", ts="1.0", text="x")
            assert failed.value.response["error"] == "message_not_found"
        finally:
            client.close()


def test_wrong_token_is_reported_like_slack_sdk() -> None:
    with FakeSlack() as slack:
        client = PooledWebClient(token="xoxb-wrong", base_url=slack.base_url)
        try:
            with pytest.raises(SlackApiError) as caught:
                client.auth_test()
            assert caught.value.response["error"] == "invalid_auth"
        finally:
            client.close()


def test_dropped_connections_are_retried_like_slack_sdk() -> None:
    with FakeSlack() as slack:
        client = PooledWebClient(token=slack.bot_token, base_url=slack.base_url, retry_handlers=[])
        try:
            slack.drop("chat.postMessage", times=1)
            with pytest.raises(RemoteDisconnected):
                client.chat_postMessage(channel="C1", text="no retry handler")

            client.retry_handlers.append(ConnectionErrorRetryHandler(max_retry_count=1))
            slack.drop("chat.postMessage", times=1)
            assert client.chat_postMessage(channel="C1", text="retried")["ok"]
            attempts = [c.status for c in slack.calls if c.method == "chat.postMessage"]
            assert attempts == [0, 0, 200]
            assert [m["text"] for m in slack.messages("C1")] == ["retried"]
        finally:
            client.close()


def test_unreachable_slack_is_the_urllib_error_slack_sdk_knows() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    client = PooledWebClient(
        token="xoxb-test", base_url=f"http://127.0.0.1:{closed_port}/api/", retry_handlers=[]
    )
    retries = ConnectionErrorRetryHandler(
        max_retry_count=2, interval_calculator=FixedValueRetryIntervalCalculator(0)
    )
    client.retry_handlers.append(retries)
    try:
        with pytest.raises(URLError) as caught:
            client.auth_test()
        assert "xoxb-test" not in str(caught.value)
    finally:
        client.close()


def test_a_connection_slack_closed_while_idle_is_replaced_without_an_error() -> None:
    with FakeSlack() as slack:
        client = PooledWebClient(token=slack.bot_token, base_url=slack.base_url, retry_handlers=[])
        try:
            assert client.chat_postMessage(channel="C1", text="first")["ok"]
            slack.close_idle_connections()
            time.sleep(0.1)  # the server side is gone before the pooled connection is used again
            assert client.chat_postMessage(channel="C1", text="second")["ok"]
        finally:
            client.close()
        assert slack.connections == 2
        assert [m["text"] for m in slack.messages("C1")] == ["first", "second"]


def test_a_call_that_finishes_after_close_does_not_refill_the_pool() -> None:
    with FakeSlack() as slack:
        client = PooledWebClient(token=slack.bot_token, base_url=slack.base_url)
        slack.delay("chat.postMessage", 0.3)
        in_flight = threading.Thread(target=client.chat_postMessage, kwargs={"channel": "C1", "text": "late"})
        in_flight.start()
        time.sleep(0.1)  # the call is now waiting for the fake's answer
        client.close()
        in_flight.join(timeout=5)
        assert [m["text"] for m in slack.messages("C1")] == ["late"]
        before = slack.connections
        client.chat_postMessage(channel="C1", text="after close")
        assert slack.connections == before + 1, "the late call's connection went back into a closed pool"
