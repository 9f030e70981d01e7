"""Activation modes (issue 22) at the level of the pure logic: rules, origins, the engine's decision point."""

from __future__ import annotations

from typing import Any

import pytest

from services.crisis_center.domain.activation import (
    DEFAULT_ACTIVATION_RULES,
    ActivationRules,
    incident_origin,
)
from services.crisis_center.domain.commands import IncidentClose, ProposalDecided, decode_command, encode_command
from services.crisis_center.domain.engine import (
    Activate,
    CountryEngine,
    Effect,
    ProposalSettled,
    Propose,
    Unwatched,
    Watched,
)
from tests.crisis_center.domain.test_engine import NOW, POLICY, engine, incident, traveller

DEFAULTS = ActivationRules.parse(DEFAULT_ACTIVATION_RULES)


def test_origin_comes_from_the_cloudevents_source_and_the_id_prefix() -> None:
    assert incident_origin("/services/feeds", "gdacs:EQ:1", "/services/feeds") == "gdacs"
    assert incident_origin("/services/feeds/", "usgs:us7000", "/services/feeds") == "usgs"
    assert incident_origin("/services/feeds", "other:1", "/services/feeds") == "feed"
    assert incident_origin("/systems/ocha", "gdacs:EQ:1", "/services/feeds") == "external"  # not from our feeds


@pytest.mark.parametrize(("origin", "severity", "mode"), [
    ("gdacs", "minor", "proposed"), ("gdacs", "severe", "proposed"), ("gdacs", "extreme", "automatic"),
    ("usgs", "moderate", "proposed"), ("feed", "severe", "proposed"), ("usgs", "extreme", "automatic"),
    ("external", "minor", "automatic"), ("external", "severe", "automatic"), (None, "minor", "automatic"),
])
def test_default_rules_propose_feed_incidents_below_red(origin: str | None, severity: str, mode: str) -> None:
    assert DEFAULTS.mode_for(origin, severity) == mode


def test_rules_match_in_order_with_wildcards_and_refuse_bad_entries() -> None:
    rules = ActivationRules.parse("gdacs:extreme=automatic, gdacs:*=proposed, *:minor=proposed")
    assert rules.mode_for("gdacs", "extreme") == "automatic"
    assert rules.mode_for("gdacs", "severe") == "proposed"
    assert rules.mode_for("external", "minor") == "proposed"
    assert rules.mode_for("usgs", "severe") == "automatic"
    assert ActivationRules.parse("").mode_for("gdacs", "minor") == "automatic"
    for bad in ("gdacs=proposed", "moon:minor=proposed", "gdacs:huge=proposed", "gdacs:minor=maybe"):
        with pytest.raises(ValueError, match="activation rule"):
            ActivationRules.parse(bad)


def feed_incident(severity: str = "severe") -> Any:
    return incident(severity=severity).model_copy(update={"origin": "gdacs", "link": "https://www.gdacs.org/x"})


def run(eng: CountryEngine, *commands: Any, rules: ActivationRules = DEFAULTS) -> list[Effect]:
    effects: list[Effect] = []
    for command in commands:
        effects += eng.handle(decode_command(encode_command(command)), now=NOW, policy=POLICY, partition=0,
                              rules=rules)
    return effects


def test_crossing_under_proposed_raises_one_proposal_and_nothing_is_sent() -> None:
    eng, _ = engine()
    effects = run(eng, feed_incident(), traveller(1), traveller(2))
    assert not any(isinstance(e, Propose | Activate) for e in effects)
    assert [e.count for e in effects if isinstance(e, Watched)][-1] == 2
    effects = run(eng, traveller(3))
    [propose] = [e for e in effects if isinstance(e, Propose)]
    assert (propose.round, propose.count, propose.incident.origin) == (1, 3, "gdacs")
    eng.proposed("inc-1", propose.round)
    effects = run(eng, traveller(4), traveller(5))  # more people while it waits: no second proposal, no alert
    assert not any(isinstance(e, Propose | Activate) for e in effects)
    assert not any(m["notified"] for m in eng.members.values())


def test_confirmation_activates_with_everyone_and_the_coordinator_as_actor() -> None:
    eng, _ = engine()
    [propose] = [e for e in run(eng, feed_incident(), traveller(1), traveller(2), traveller(3))
                 if isinstance(e, Propose)]
    eng.proposed("inc-1", propose.round)
    stale = run(eng, ProposalDecided(incident_id="inc-1", round=7, decision="confirmed", actor="anne"))
    assert stale == [ProposalSettled("inc-1", 7)]  # not this round: nothing activates
    [activate] = [e for e in run(eng, ProposalDecided(incident_id="inc-1", round=1, decision="confirmed",
                                                      actor="anne")) if isinstance(e, Activate)]
    assert activate.actor == "anne" and activate.proposal_round == 1 and len(activate.recipients) == 3
    assert activate.incident.link == "https://www.gdacs.org/x"
    eng.activated("inc-1", crisis_id="c-1", hotline_number="+3225018111", count=3)
    again = run(eng, ProposalDecided(incident_id="inc-1", round=1, decision="confirmed", actor="anne"))
    assert again == [ProposalSettled("inc-1", 1)]  # a repeated command activates nothing twice


def test_dismissal_holds_until_the_severity_changes_and_red_activates_at_once() -> None:
    eng, _ = engine()
    [propose] = [e for e in run(eng, feed_incident(), traveller(1), traveller(2), traveller(3))
                 if isinstance(e, Propose)]
    eng.proposed("inc-1", propose.round)
    assert run(eng, ProposalDecided(incident_id="inc-1", round=1, decision="dismissed", actor="anne")) == [
        ProposalSettled("inc-1", 1)]
    assert not any(isinstance(e, Propose | Activate) for e in run(eng, traveller(4), feed_incident()))
    effects = run(eng, feed_incident("extreme"))  # GDACS Red: automatic under the default rules
    [activate] = [e for e in effects if isinstance(e, Activate)]
    assert activate.actor == "system:threshold" and activate.proposal_round is None


def test_a_pending_proposal_is_superseded_when_the_rule_becomes_automatic_and_closing_unwatches() -> None:
    eng, _ = engine()
    [propose] = [e for e in run(eng, feed_incident("moderate"), traveller(1), traveller(2), traveller(3))
                 if isinstance(e, Propose)]
    eng.proposed("inc-1", propose.round)
    assert any(isinstance(e, Activate) for e in run(eng, feed_incident("extreme")))
    eng2, _ = engine()
    run(eng2, feed_incident(), traveller(1))
    assert Unwatched("inc-1") in run(eng2, IncidentClose(incident_id="inc-1"))


def test_automatic_rules_keep_todays_behaviour() -> None:
    eng, _ = engine()
    effects = run(eng, incident(), traveller(1), traveller(2), traveller(3))  # external system: automatic
    assert [type(e) for e in effects if isinstance(e, Activate | Propose)] == [Activate]
