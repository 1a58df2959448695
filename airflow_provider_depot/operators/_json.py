"""Generated protobuf messages as plain JSON values, the only form operators push to XCom.

Unlike ``google.protobuf.json_format`` this keeps the proto field names, gives 64-bit integers
as numbers (JSON mapping turns them into strings), timestamps as ISO-8601 strings with an
explicit ``+00:00`` offset, and enums as their names (``"HARDWARE_4X4"``). Every field of the
message appears: a field with presence that is unset (an ``optional`` scalar, a sub-message,
a member of a oneof) is ``None``, so the shape of a dict never depends on the data.

Nothing here imports protobuf or the client at module import; it works on the descriptors of
the messages it is handed.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from google.protobuf.message import Message

# types-protobuf gives descriptors as a union of the pure-Python and the upb classes, with
# optional message types; the code below only follows what the descriptor says.
FieldDescriptor = Any

_TIMESTAMP = "google.protobuf.Timestamp"


def message_to_json(message: Message) -> dict[str, Any]:
    """All fields of ``message`` as a dict of JSON-serialisable values."""
    out: dict[str, Any] = {}
    field: FieldDescriptor
    for field in message.DESCRIPTOR.fields:
        value = getattr(message, field.name)
        if field.is_repeated:
            if _is_map(field):
                value_field = field.message_type.fields_by_name["value"]
                out[field.name] = {key: _single(value_field, item) for key, item in value.items()}
            else:
                out[field.name] = [_single(field, item) for item in value]
        elif field.has_presence and not message.HasField(field.name):
            out[field.name] = None
        else:
            out[field.name] = _single(field, value)
    return out


def _is_map(field: FieldDescriptor) -> bool:
    return field.message_type is not None and field.message_type.GetOptions().map_entry


def _single(field: FieldDescriptor, value: Any) -> Any:
    if field.message_type is not None:
        if field.message_type.full_name == _TIMESTAMP:
            from airflow_provider_depot.client import to_datetime

            return to_datetime(value).isoformat()
        return message_to_json(value)
    if field.enum_type is not None:
        known = field.enum_type.values_by_number.get(value)
        return known.name if known is not None else value
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return value
