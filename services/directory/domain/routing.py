"""Which service a consular report needs, for routing the case to the responsible post."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RoutingRule:
    label: str  # what the routing event names as the service
    service: str  # whose resolution rules apply


#: Report kinds (contract: intake) to the directory's services. Information requests and complaints need the
#: Belgian post with consular competence for the place and never another member state's, which are the rules
#: of the document services: they resolve as `passport` does, under their own label.
RULES: dict[str, RoutingRule] = {
    "lost_document": RoutingRule("emergency_travel_document", "emergency_travel_document"),
    "detention": RoutingRule("detention_assistance", "detention_assistance"),
    "missing_person": RoutingRule("missing_person", "missing_person"),
    "serious_difficulty": RoutingRule("crisis_assistance", "crisis_assistance"),
    "information_request": RoutingRule("consular_information", "passport"),
    "complaint": RoutingRule("consular_information", "passport"),
}


def rule_for(kind: str) -> RoutingRule:
    try:
        return RULES[kind]
    except KeyError:
        raise ValueError(f"no routing rule for report kind {kind!r}") from None
