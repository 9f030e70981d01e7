"""From a send command to what the notifier stores: template parameters, status events' ids."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Names the senders may use for the same thing; the templates use the first.
_ALIASES = {
    "crisis_title": ("title",),
    "hotline_number": ("hotline", "hotline_phone"),
    "message": ("body", "text"),
    "reply_due_by": ("due", "reply_due", "due_by"),
    "instructions": ("what_to_do",),
}


def template_params(
    params: Mapping[str, Any],
    *,
    officer: Mapping[str, Any] | None,
    case_reference: str | None,
    crisis_id: str | None,
) -> dict[str, Any]:
    """The command's params, with the officer card, the case reference and the usual aliases filled in."""
    out = dict(params)
    for name, aliases in _ALIASES.items():
        if name not in out:
            for alias in aliases:
                if alias in out:
                    out[name] = out[alias]
                    break
    if officer is not None and "officer" not in out:
        out["officer"] = dict(officer)
    if case_reference is not None:
        out.setdefault("reference", case_reference)
    if crisis_id is not None:
        out.setdefault("crisis_id", crisis_id)
    return out


def is_own_case(template: str, case_reference: str | None) -> bool:
    """A message about the recipient's own case (acknowledgement, message about it) rather than an alert."""
    return case_reference is not None and template.startswith("case_")


def status_event_id(notification_id: str, status: str) -> str:
    """One status event per notification and state (states never repeat): a replay publishes nothing new."""
    return f"{notification_id}:{status}"
