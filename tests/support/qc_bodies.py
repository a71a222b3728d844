"""live/create bodies the QuantConnect client tests send: a compiled project, a free node, IB paper."""

from __future__ import annotations

from typing import Any

from bot.quantconnect import QuantConnectClient

IB_PASSWORD = "ib-pa55word-never-logged"


def compiled(client: QuantConnectClient, project_id: int) -> str:
    """A BuildSuccess compile id of the project."""
    return client.wait_for_compile(project_id, client.create_compile(project_id).compile_id).compile_id


def ib_body(project_id: int, compile_id: str, node_id: str) -> dict[str, Any]:
    """A valid live/create body for Interactive Brokers (paper)."""
    return {
        "projectId": project_id,
        "compileId": compile_id,
        "nodeId": node_id,
        "versionId": "-1",
        "brokerage": {
            "id": "InteractiveBrokersBrokerage",
            "ib-user-name": "trader1",
            "ib-account": "DU123456",
            "ib-password": IB_PASSWORD,
            "ib-trading-mode": "paper",
            "ib-weekly-restart-utc-time": "21:00:00",
        },
        "dataProviders": {"QuantConnectBrokerage": {"id": "QuantConnectBrokerage"}},
        "automaticRedeploy": False,
    }


def ready_body(client: QuantConnectClient, project_id: int) -> dict[str, Any]:
    return ib_body(project_id, compiled(client, project_id), client.choose_node(project_id, None).id)
