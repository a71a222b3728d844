"""Rows of the store's tables turned into the values it hands out."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from bot.store.models import Deployment, DeployRequest, OutboxMessage


def request_of(row: sa.Row[Any]) -> DeployRequest:
    """A requests row as a DeployRequest."""
    return DeployRequest.model_validate(row._asdict())


def deployment_of(row: sa.Row[Any]) -> Deployment:
    """A deployments row as a Deployment."""
    return Deployment.model_validate(row._asdict())


def message_of(row: sa.Row[Any]) -> OutboxMessage:
    """An outbox row as an OutboxMessage."""
    return OutboxMessage.model_validate(row._asdict())
