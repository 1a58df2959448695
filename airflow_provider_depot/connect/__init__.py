"""The Connect protocol over httpx: unary, server-streaming and client-streaming calls.

No Airflow import lives below this package.
"""

from ._codes import Code
from ._errors import ConnectError, ErrorDetail

__all__ = ["Code", "ConnectError", "ErrorDetail"]
