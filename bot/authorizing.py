"""Authorization through QuantConnect for OAuth brokerages (Alpaca, TradeStation, Tastytrade, Charles Schwab).

A credential profile with `auth=quantconnect` holds no tokens: before compiling, the deployer asks
`live/auth0/read` whether QuantConnect holds the brokerage's authorization. If it does, the request compiles
at once. If not, the request moves `approved -> authorizing` (owned and fenced like every in-flight status)
and, in the same transaction, the requester is sent QuantConnect's authorization link by DM (exactly once:
the outbox delivers it) while the card says whose authorization it waits for. The recovery loop resumes the
request when its next check is due (backoff, at most a minute apart) on whichever replica owns it then:
`authorizing -> compiling` once QuantConnect holds the token, `authorizing -> expired` (the project lock
released, the reason on the card) when the request's time to live passes first.

Tokens are read again just before live/create (never stored): the body is built from the profile plus what
QuantConnect holds at that moment, each token registered with the mask as it is read (quantconnect/auth0.py).
Without the token the builder refuses the body, so live/create is never sent without it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from pydantic import SecretStr

from bot.blocks.common import escape, mention
from bot.brokerages.base import BrokerageSettings
from bot.brokerages.oauth_brokers import QUANTCONNECT_AUTH, OAuthBrokerageSettings, oauth_model
from bot.deploy_stages import ACTOR, DeployAborted, DeployStages, Failure, qc_failure
from bot.live_create import Credentials
from bot.notices import card_notice, dm_notice, thread_notice
from bot.quantconnect.auth0 import ExternalAuthorization
from bot.quantconnect.errors import QuantConnectError
from bot.statuses import RequestStatus

if TYPE_CHECKING:
    from bot.secrets.profiles import CredentialProfiles
    from bot.store.models import DeployRequest

log = logging.getLogger("bot.deployer")

S = RequestStatus
FIRST_CHECK_SECONDS = 5.0
MAX_CHECK_SECONDS = 60.0


def next_check_delay(waited: timedelta) -> float:
    """Seconds until the next look: soon at first (people click quickly), then less often."""
    return min(MAX_CHECK_SECONDS, max(FIRST_CHECK_SECONDS, waited.total_seconds() / 4))


class Authorizer:
    """The `authorizing` stage of the deploy stages, and the tokens for the body just before live/create."""

    def __init__(self, stages: DeployStages) -> None:
        self.stages = stages
        self.store = stages.store
        self.qc = stages.qc
        self.profiles = stages.profiles
        self.clock = stages.clock
        self.ttl = timedelta(minutes=stages.settings.policy.request_ttl_minutes)

    def model_for(self, request: DeployRequest) -> type[OAuthBrokerageSettings] | None:
        """The OAuth model when this request's profile says `auth=quantconnect`, else None."""
        model = oauth_model(request.model_key)
        if model is None or self.profiles.auth_mode(request.profile) != QUANTCONNECT_AUTH:
            return None
        return model

    # -- the stage -----------------------------------------------------------------------------------

    def advance(self, request: DeployRequest) -> DeployRequest | None:
        """Carry an approved or authorizing request to where compiling starts; None while it waits or ended.

        Returns the request unchanged when it needs no authorization (or QuantConnect already holds it), and
        the `compiling` request when an authorization it waited for has arrived.
        """
        if request.status not in (S.APPROVED, S.AUTHORIZING):
            return request
        model = self.model_for(request)
        if model is None:
            if request.status is S.AUTHORIZING:  # the profile changed meanwhile: still, never skip the check
                model = oauth_model(request.model_key)
            if model is None:
                return request
        if request.status is S.APPROVED:
            return self._first_look(request, model)
        return self._look_again(request, model)

    def _first_look(
        self, request: DeployRequest, model: type[OAuthBrokerageSettings]
    ) -> DeployRequest | None:
        try:
            held = self.qc.read_authorization(model.quantconnect_auth)
            if held.has(model.authorized_fields):
                self.stages.event("authorization_found", request, {"brokerage": model.quantconnect_auth})
                return request
            link = self.qc.authorization_link(model.quantconnect_auth)
        except QuantConnectError as exc:
            self.stages.fail(
                request.id,
                S.APPROVED,
                qc_failure(f"Could not ask QuantConnect for the {model.display_name} authorization", exc),
                "authorize",
            )
            return None
        now = self.clock()
        deadline = now + self.ttl
        self.store.transition(
            request.id,
            from_statuses={S.APPROVED},
            to=S.AUTHORIZING,
            actor=ACTOR,
            action="authorization_requested",
            detail={"brokerage": model.quantconnect_auth},
            now=now,
            owned=True,
            notices=[
                card_notice(),
                thread_notice(
                    f"🔐 QuantConnect holds no {escape(model.display_name)} authorization for this "
                    f"deployment. I sent {mention(request.requester_id)} the authorization link; the "
                    f"deployment continues once it is done, or the request expires at {deadline:%H:%M} UTC."
                ),
                dm_notice(self._dm_text(request, model, link, deadline)),
            ],
            settle_deadline=deadline,
            next_check_at=now + timedelta(seconds=FIRST_CHECK_SECONDS),
            settle_note=f"waiting for {model.display_name} authorization",
        )
        return None

    def _look_again(
        self, request: DeployRequest, model: type[OAuthBrokerageSettings]
    ) -> DeployRequest | None:
        now = self.clock()
        deadline = request.settle_deadline or request.updated_at + self.ttl
        try:
            held = self.qc.read_authorization(model.quantconnect_auth)
        except QuantConnectError as exc:
            # QuantConnect unreachable: the wait goes on (bounded by the deadline), nothing is decided.
            log.warning(
                "could not read the brokerage authorization",
                extra={"request_id": request.id, "error": type(exc).__name__},
            )
            held = ExternalAuthorization(errors=(f"QuantConnect could not be asked ({type(exc).__name__})",))
        if held.has(model.authorized_fields):
            return self.store.transition(
                request.id,
                from_statuses={S.AUTHORIZING},
                to=S.COMPILING,
                actor=ACTOR,
                action="authorized",
                detail={"brokerage": model.quantconnect_auth},
                now=now,
                owned=True,
                notices=[
                    card_notice(),
                    thread_notice(
                        f"🔓 {escape(model.display_name)} is authorized on QuantConnect; compiling."
                    ),
                ],
                settle_deadline=None,
                next_check_at=None,
                settle_note=None,
            )
        if now >= deadline:
            reason = (
                f"{model.display_name} was not authorized on QuantConnect before the request's time to live "
                f"ran out ({deadline:%Y-%m-%d %H:%M} UTC); nothing was deployed. Authorize it, then request "
                "the deployment again."
            )
            self.store.transition(
                request.id,
                from_statuses={S.AUTHORIZING},
                to=S.EXPIRED,
                actor=ACTOR,
                action="authorization_expired",
                detail={"brokerage": model.quantconnect_auth},
                now=now,
                owned=True,
                notices=[card_notice(), thread_notice(f"⌛ {escape(reason)}")],
                errors=[reason],
            )
            return None
        waited = now - (deadline - self.ttl)
        self.store.schedule_check(
            request.id,
            RequestStatus.AUTHORIZING,
            now + timedelta(seconds=next_check_delay(waited)),
            f"waiting for {model.display_name} authorization",
            now=now,
        )
        return None

    @staticmethod
    def _dm_text(
        request: DeployRequest, model: type[OAuthBrokerageSettings], link: str, deadline: datetime
    ) -> str:
        # The link is QuantConnect's redirect to the brokerage's own page: plain text, which Slack links.
        return (
            f"🔐 To deploy *{escape(request.project_name)}* (request `{escape(request.id)}`) on "
            f"{escape(model.display_name)}, authorize QuantConnect at {escape(model.display_name)} here:\n"
            f"{escape(link)}\n"
            f"The deployment continues by itself once you are done; the request expires at "
            f"{deadline:%H:%M} UTC otherwise."
        )

    # -- tokens for the body ---------------------------------------------------------------------------

    def credentials(self, request: DeployRequest) -> Credentials:
        """The credentials the body is built from: the profile's, plus QuantConnect's tokens when it holds
        them for an `auth=quantconnect` profile (read now, never stored)."""
        model = self.model_for(request)
        if model is None:
            return lambda wanted: self.profiles.resolve(request.profile, wanted)
        try:
            held = self.qc.read_authorization(model.quantconnect_auth)
        except QuantConnectError as exc:
            raise DeployAborted(
                qc_failure(f"Could not read the {model.display_name} authorization", exc)
            ) from None
        if not held.has(model.authorized_fields):
            raise DeployAborted(
                Failure(
                    f"{model.display_name} authorization is gone",
                    [
                        f"QuantConnect no longer holds the {model.display_name} authorization, so nothing "
                        "was sent. Authorize it again, then request the deployment again."
                    ],
                )
            )
        return _with_tokens(self.profiles, request.profile, model, held.tokens)


def _with_tokens(
    profiles: CredentialProfiles,
    profile: str,
    model: type[OAuthBrokerageSettings],
    tokens: Mapping[str, SecretStr],
) -> Credentials:
    def credentials(wanted: type[BrokerageSettings]) -> dict[str, SecretStr]:
        if wanted is not model:
            return profiles.resolve(profile, wanted)
        resolved = profiles.resolve(profile, wanted, supplied=model.authorized_fields)
        # QuantConnect's tokens win over stale copies in the profile.
        resolved.update({name: tokens[name] for name in model.authorized_fields})
        return resolved

    return credentials
