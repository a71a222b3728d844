"""Policy: approvers by id and by user group (cached, fail closed), requesters, approvals, self-approval."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from slack_sdk import WebClient

from bot.config import PolicySettings
from bot.policy import Policy
from tests.fakes.fake_slack import FakeSlack
from tests.support.clocks import ManualClock


@dataclass(frozen=True)
class Req:
    """The parts of a request the policy reads."""

    requester_id: str
    is_paper: bool = False


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def client(slack: FakeSlack) -> WebClient:
    # No retry handlers: a failure must reach the policy at once.
    return WebClient(token=slack.bot_token, base_url=slack.base_url, timeout=5)


def make_policy(client: WebClient, clock: ManualClock | None = None, **settings: object) -> Policy:
    return Policy(PolicySettings(**settings), client, clock or ManualClock())  # type: ignore[arg-type]


def test_listed_user_is_an_approver_and_others_are_told_why_not(client: WebClient) -> None:
    policy = make_policy(client, approver_user_ids=frozenset({"UAPPROVER1"}))
    assert policy.may_approve(Req("UREQ"), "UAPPROVER1")
    refused = policy.may_approve(Req("UREQ"), "USTRANGER")
    assert not refused
    assert refused.reason.startswith("Only approvers can approve: you are not in APPROVER_USER_IDS")


def test_group_members_are_approvers_and_the_refusal_names_the_groups(
    slack: FakeSlack, client: WebClient
) -> None:
    slack.set_usergroup("SGROUPA", ["UMEMBER"])
    policy = make_policy(client, approver_group_ids=frozenset({"SGROUPA"}))
    allowed = policy.may_approve(Req("UREQ"), "UMEMBER")
    assert allowed and "SGROUPA" in allowed.reason
    refused = policy.may_approve(Req("UREQ"), "UOTHER")
    assert not refused
    assert (
        "Only approvers can approve: you are not in APPROVER_USER_IDS or the groups SGROUPA" in refused.reason
    )


def test_group_membership_is_cached_for_group_cache_seconds(slack: FakeSlack, client: WebClient) -> None:
    slack.set_usergroup("SCACHE", ["UFIRST"])
    clock = ManualClock()
    policy = make_policy(client, clock, approver_group_ids=frozenset({"SCACHE"}), group_cache_seconds=60)
    paper = Req("UREQ", is_paper=True)
    before = len(slack.calls_to("usergroups.users.list"))
    assert policy.may_approve(paper, "UFIRST")
    slack.set_usergroup("SCACHE", ["USECOND"])
    assert policy.may_approve(paper, "UFIRST"), "still cached"
    assert not policy.is_approver("USECOND")
    assert len(slack.calls_to("usergroups.users.list")) == before + 1
    clock.now += timedelta(seconds=61)
    assert policy.may_approve(paper, "USECOND"), "cache expired, Slack asked again"
    assert not policy.is_approver("UFIRST")
    assert len(slack.calls_to("usergroups.users.list")) == before + 2


def test_real_money_approvals_stop_and_liquidate_read_membership_fresh(
    slack: FakeSlack, client: WebClient
) -> None:
    slack.set_usergroup("SFRESH", ["UREMOVED", "USTAYS"])
    policy = make_policy(client, approver_group_ids=frozenset({"SFRESH"}), group_cache_seconds=3600)
    assert policy.is_approver("UREMOVED"), "cached as an approver"
    slack.set_usergroup("SFRESH", ["USTAYS"])
    assert policy.may_approve(Req("UREQ", is_paper=True), "UREMOVED"), "paper approvals use the cache"
    for decision in (
        policy.may_approve(Req("UREQ", is_paper=False), "UREMOVED"),
        policy.may_stop("UREMOVED"),
        policy.may_liquidate("UREMOVED"),
    ):
        assert not decision and "SFRESH" in decision.reason
    assert policy.may_stop("USTAYS") and policy.may_approve(Req("UREQ"), "USTAYS")
    # A fresh read refreshes the cache too: the removal now shows everywhere.
    assert not policy.is_approver("UREMOVED")


def test_reads_answer_approvers_everything_and_requesters_their_own(
    slack: FakeSlack, client: WebClient
) -> None:
    slack.set_usergroup("SREADERS", ["UGROUPED"])
    policy = make_policy(
        client,
        approver_user_ids=frozenset({"UAPPROVER1"}),
        approver_group_ids=frozenset({"SREADERS"}),
        requester_user_ids=frozenset({"UREQ"}),
    )
    mine, theirs = Req("UREQ"), Req("UOTHER")
    assert policy.may_read_request(mine, "UREQ", what="the preview")
    refused = policy.may_read_request(theirs, "UREQ", what="the preview")
    assert not refused and "own requests" in refused.reason
    assert policy.may_read_request(theirs, "UGROUPED", what="the preview")
    everything = policy.read_scope("UAPPROVER1")
    assert everything.everything and everything.covers(theirs)
    own = policy.read_scope("UREQ")
    assert not own.everything and own.covers(mine) and not own.covers(theirs)
    assert "APPROVER_USER_IDS" in own.note
    assert policy.may_view_status("UREQ")
    assert policy.may_view_status("UAPPROVER1"), "approvers stop what runs, so they see it"
    outsider = policy.may_view_status("UOUTSIDER")
    assert not outsider and "see what runs" in outsider.reason


def test_reads_fail_closed_to_own_requests_when_slack_cannot_list_a_group(
    slack: FakeSlack, client: WebClient
) -> None:
    slack.set_usergroup("SDOWN", ["UGROUPED"])
    slack.fail("usergroups.users.list", "internal_error")
    scope = make_policy(client, approver_group_ids=frozenset({"SDOWN"})).read_scope("UGROUPED")
    assert not scope.everything and "internal_error" in scope.note


def test_slack_failure_fails_closed_with_a_clear_message(slack: FakeSlack, client: WebClient) -> None:
    slack.set_usergroup("SDOWN", ["UMEMBER"])
    slack.fail("usergroups.users.list", "internal_error")
    policy = make_policy(client, approver_group_ids=frozenset({"SDOWN"}))
    refused = policy.may_approve(Req("UREQ"), "UMEMBER")
    assert not refused
    assert "SDOWN" in refused.reason and "internal_error" in refused.reason
    assert "Nothing was changed" in refused.reason
    # Once Slack answers again, the member is recognised.
    assert policy.may_approve(Req("UREQ"), "UMEMBER")


def test_an_unknown_group_also_fails_closed(client: WebClient) -> None:
    policy = make_policy(client, approver_group_ids=frozenset({"SNOSUCH"}))
    refused = policy.may_liquidate("UANY")
    assert not refused and "no_such_subteam" in refused.reason


def test_listed_users_do_not_need_slack(slack: FakeSlack, client: WebClient) -> None:
    slack.fail("usergroups.users.list", "internal_error")
    policy = make_policy(
        client, approver_user_ids=frozenset({"UAPPROVER1"}), approver_group_ids=frozenset({"SOTHER"})
    )
    assert policy.may_approve(Req("UREQ"), "UAPPROVER1")


def test_empty_requester_lists_let_anyone_request(client: WebClient) -> None:
    assert make_policy(client).may_request("UANYONE")


def test_requester_lists_limit_who_may_request(slack: FakeSlack, client: WebClient) -> None:
    slack.set_usergroup("STRADERS", ["UTRADER2"])
    policy = make_policy(
        client, requester_user_ids=frozenset({"UTRADER1"}), requester_group_ids=frozenset({"STRADERS"})
    )
    assert policy.may_request("UTRADER1")
    assert policy.may_request("UTRADER2")
    refused = policy.may_request("UINTERN")
    assert not refused
    assert "REQUESTER_USER_IDS" in refused.reason and "STRADERS" in refused.reason


def test_approvals_needed_and_expiry_follow_the_settings(client: WebClient) -> None:
    default = make_policy(client)
    assert default.approvals_needed(is_paper=True) == 0
    assert default.approvals_needed(is_paper=False) == 1
    custom = make_policy(client, approvals_paper=1, approvals_live=2, request_ttl_minutes=15)
    assert custom.approvals_needed(is_paper=True) == 1
    assert custom.approvals_needed(is_paper=False) == 2
    start = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert custom.expires_at(start) == start + timedelta(minutes=15)
    assert default.expires_at(start) == start + timedelta(minutes=60)


def test_self_approval_is_off_by_default_and_can_be_allowed(client: WebClient) -> None:
    approvers = frozenset({"UAPPROVER1"})
    strict = make_policy(client, approver_user_ids=approvers)
    refused = strict.may_approve(Req("UAPPROVER1"), "UAPPROVER1")
    assert not refused and "your own request" in refused.reason
    relaxed = make_policy(client, approver_user_ids=approvers, allow_self_approval=True)
    assert relaxed.may_approve(Req("UAPPROVER1"), "UAPPROVER1")
    # Allowing self-approval does not make a requester an approver.
    assert not relaxed.may_approve(Req("UREQ"), "UREQ")


def test_cancel_is_for_the_requester_and_reject_for_approvers(client: WebClient) -> None:
    policy = make_policy(client, approver_user_ids=frozenset({"UAPPROVER1"}))
    request = Req("UREQ")
    assert policy.may_cancel(request, "UREQ")
    refused = policy.may_cancel(request, "UAPPROVER1")
    assert not refused and "<@UREQ>" in refused.reason
    assert policy.may_reject(request, "UAPPROVER1")
    own = policy.may_reject(request, "UREQ")
    assert not own and "Cancel" in own.reason


def test_stop_and_liquidate_are_for_approvers(client: WebClient) -> None:
    policy = make_policy(client, approver_user_ids=frozenset({"UAPPROVER1"}))
    assert policy.may_stop("UAPPROVER1") and policy.may_liquidate("UAPPROVER1")
    stop = policy.may_stop("UREQ")
    liquidate = policy.may_liquidate("UREQ")
    assert not stop and "stop live algorithms" in stop.reason
    assert not liquidate and "liquidate live algorithms" in liquidate.reason
