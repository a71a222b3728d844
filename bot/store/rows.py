"""Rows of the store's tables turned into the values it hands out."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from bot.store.errors import RequestNotFound
from bot.store.models import Deployment, DeployRequest, OutboxMessage
from bot.store.tables import deployments, requests

# Built once (statements built per call cost more interpreter time than running them); `request_id` bound.
REQUEST_BY_ID = sa.select(requests).where(requests.c.id == sa.bindparam("request_id"))


def request_of(row: sa.Row[Any]) -> DeployRequest:
    """A requests row as a DeployRequest."""
    return DeployRequest.model_validate(row._asdict())


def deployment_of(row: sa.Row[Any]) -> Deployment:
    """A deployments row as a Deployment."""
    return Deployment.model_validate(row._asdict())


def message_of(row: sa.Row[Any]) -> OutboxMessage:
    """An outbox row as an OutboxMessage."""
    return OutboxMessage.model_validate(row._asdict())


def read_request(connection: sa.Connection, request_id: str) -> DeployRequest:
    """The request inside the caller's transaction; RequestNotFound when there is none."""
    row = connection.execute(REQUEST_BY_ID, {"request_id": request_id}).first()
    if row is None:
        raise RequestNotFound(request_id)
    return request_of(row)


def read_deployment(connection: sa.Connection, request_id: str) -> Deployment | None:
    """The deployment of a request inside the caller's transaction, or None."""
    row = connection.execute(sa.select(deployments).where(deployments.c.request_id == request_id)).first()
    return None if row is None else deployment_of(row)
