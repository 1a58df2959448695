"""The Connect protocol over httpx: unary, server-streaming and client-streaming calls.

No Airflow import lives below this package.
"""

from ._async import AsyncConnectTransport
from ._codes import Code
from ._errors import ConnectError, ErrorDetail
from ._method import MethodKind, MethodSpec, method_spec_from_descriptor
from ._options import TransportOptions
from ._sync import ConnectTransport

__all__ = [
    "AsyncConnectTransport",
    "Code",
    "ConnectError",
    "ConnectTransport",
    "ErrorDetail",
    "MethodKind",
    "MethodSpec",
    "TransportOptions",
    "method_spec_from_descriptor",
]
