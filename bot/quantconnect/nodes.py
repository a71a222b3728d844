"""Choosing the live node a deployment runs on."""

from __future__ import annotations

from collections.abc import Sequence

from bot.quantconnect.errors import NodeBusy, NoFreeNode, UnknownNode
from bot.quantconnect.models import Node


def describe_use(node: Node) -> str:
    """One phrase saying who keeps a node busy (or that it is free)."""
    if not node.busy:
        return f"{node.label} is free"
    who = node.used_by or "someone QuantConnect does not name"
    where = f" (project {node.project_name})" if node.project_name else ""
    return f"{node.label} is used by {who}{where}"


def pick_live_node(project_id: int, live_nodes: Sequence[Node], node_id: str | None) -> Node:
    """The named live node if it exists and is free; with no name, the first free live node without a GPU."""
    if node_id is not None:
        return _named(project_id, live_nodes, node_id)
    for node in live_nodes:
        if not node.busy and not node.has_gpu:
            return node
    if not live_nodes:
        raise NoFreeNode(
            f"Project {project_id} has no live nodes. Add a live node to the organization in QuantConnect.",
            project_id=project_id,
            nodes=live_nodes,
        )
    free_gpu = [node for node in live_nodes if not node.busy and node.has_gpu]
    uses = "; ".join(describe_use(node) for node in live_nodes)
    hint = (
        " Only GPU nodes are free: name one explicitly if the algorithm should use it."
        if free_gpu
        else " Stop one of these algorithms or add a live node, then try again."
    )
    raise NoFreeNode(
        f"No free live node for project {project_id}: {uses}.{hint}", project_id=project_id, nodes=live_nodes
    )


def _named(project_id: int, live_nodes: Sequence[Node], node_id: str) -> Node:
    """Match on the node id first, then on its display name."""
    match = next((n for n in live_nodes if n.id == node_id), None) or next(
        (n for n in live_nodes if n.name == node_id), None
    )
    if match is None:
        known = ", ".join(n.label for n in live_nodes) or "none"
        raise UnknownNode(
            f"Node '{node_id}' is not a live node of project {project_id}. Live nodes: {known}.",
            project_id=project_id,
            node_id=node_id,
        )
    if match.busy:
        raise NodeBusy(
            f"Node {describe_use(match)}, so project {project_id} cannot deploy on it. "
            "Pick another node or stop that algorithm first.",
            project_id=project_id,
            nodes=[match],
        )
    return match
