"""A request's QuantConnect notification choices in the store, and the upgrade that added them (step 3)."""

from __future__ import annotations

from bot.store import Store, migrations
from tests.support.requests import NOW, new_request
from tests.support.schema import back_to_version_2


def test_notification_choices_round_trip(store: Store) -> None:
    created = store.create_request(
        new_request(notify_events=("orderEvent",), notify_targets=("ops-mail", "ops-hook")), now=NOW
    )
    read = store.get_request(created.id)
    assert read is not None
    assert read.notify_events == ("orderEvent",) and read.notify_targets == ("ops-mail", "ops-hook")
    plain = store.create_request(new_request(project_id=102), now=NOW)
    assert plain.notify_events == () and plain.notify_targets == ()


def test_a_version_2_database_is_upgraded_and_keeps_its_requests(store_url: str) -> None:
    store = Store(store_url)
    try:
        older = store.create_request(new_request(), now=NOW)
        # Back to the schema of step 2: no notification columns, no fill cursors, version 2 recorded.
        with store.engine.begin() as connection:
            back_to_version_2(connection)
        assert store.schema_current() is False
        assert store.migrate() == migrations.LATEST_VERSION
        assert store.migrate() == migrations.LATEST_VERSION
        assert store.schema_current() is True
        assert store.get_request(older.id) == older
        newer = store.create_request(
            new_request(project_id=103, notify_events=("insight",), notify_targets=("desk-sms",)), now=NOW
        )
        assert store.get_request(newer.id) == newer
    finally:
        store.dispose()
