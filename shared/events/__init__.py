"""Wire models: one module per topic (`travellers`, `incidents`, `reports`, `crisis`, `notifications`,
`directory`, `deadlines`), the CloudEvents envelope and the type registry."""

from shared.events.envelope import CloudEvent, EventData, InvalidEvent, decode, encode, new_event
from shared.events.registry import MODELS_BY_TYPE, parse_data

__all__ = ["MODELS_BY_TYPE", "CloudEvent", "EventData", "InvalidEvent", "decode", "encode", "new_event", "parse_data"]
