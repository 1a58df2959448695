"""The admin HTTP endpoints under ``/_emulator/`` (JSON in, JSON out; not Connect, not audited).

    GET    /_emulator/health                 {"ok": true}
    GET    /_emulator/audit?since=N          {"calls": [{seq, time, procedure, token_kind, code, ...}]}
    DELETE /_emulator/audit
    GET    /_emulator/faults                 {"rules": [...]}  (with matched/fired counters)
    POST   /_emulator/faults                 a rule, a list, or {"rules": [...]} -> {"ids": [...]}
    DELETE /_emulator/faults                 all rules;  DELETE /_emulator/faults/{id}: one
    GET    /_emulator/endpoints              {"live": [...], "leaked": [...], "released": [...]}
    GET    /_emulator/clock                  {"now": "...", "frozen": bool}
    POST   /_emulator/clock                  {"advance_seconds": 60}, {"set": "<RFC 3339>"}
                                             or {"freeze": bool}
    POST   /_emulator/reap                   {"expired": [build ids]}
    POST   /_emulator/builds/{id}/cancel
    GET    /_emulator/state                  the state document (credentials as digests)

Like the emulator itself, these have no authentication: bind to loopback (the default).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from ._snapshot import SnapshotError, parse_time
from .connect_server import Receive, Scope, Send
from .connect_server._asgi import BodyTooLarge, ClientDisconnected, read_body, send_response

if TYPE_CHECKING:
    from ._emulator import Emulator

PREFIX = "/_emulator/"
_MAX_BODY = 16 * 1024 * 1024


class _HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class AdminApp:
    def __init__(self, emulator: Emulator) -> None:
        self._emulator = emulator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        parts = [p for p in scope["path"][len(PREFIX) :].split("/") if p]
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        try:
            body = await read_body(receive, _MAX_BODY)
            status, payload = self._route(method, parts, query, body)
        except _HttpError as exc:
            status, payload = exc.status, {"error": str(exc)}
        except (ValueError, SnapshotError, KeyError) as exc:
            status, payload = 400, {"error": str(exc)}
        except BodyTooLarge:
            status, payload = 413, {"error": "body too large"}
        except ClientDisconnected:
            return
        data = json.dumps(payload, separators=(",", ":")).encode()
        await send_response(send, status, [(b"content-type", b"application/json")], data)

    def _route(
        self, method: str, parts: list[str], query: dict[str, list[str]], body: bytes
    ) -> tuple[int, Any]:
        admin = self._emulator.admin
        route = (method, parts[0] if parts else "")
        if route == ("GET", "health"):
            return 200, {"ok": True}
        if route == ("GET", "audit"):
            since = int(query.get("since", ["0"])[0])
            return 200, {"calls": admin.audit(since)}
        if route == ("DELETE", "audit"):
            admin.clear_audit()
            return 200, {}
        if route == ("GET", "faults"):
            return 200, {"rules": admin.faults()}
        if route == ("POST", "faults"):
            return 200, {"ids": admin.add_faults(_json(body))}
        if route == ("DELETE", "faults"):
            if len(parts) > 1:
                if not admin.remove_fault(parts[1]):
                    raise _HttpError(404, f"no fault rule {parts[1]!r}")
            else:
                admin.clear_faults()
            return 200, {}
        if route == ("GET", "endpoints"):
            return 200, admin.endpoints()
        if route == ("GET", "clock"):
            return 200, self._clock()
        if route == ("POST", "clock"):
            self._set_clock(_json(body))
            return 200, self._clock()
        if route == ("POST", "reap"):
            return 200, {"expired": admin.reap()}
        if method == "POST" and len(parts) == 3 and parts[0] == "builds" and parts[2] == "cancel":
            admin.cancel_build(parts[1])
            return 200, {}
        if route == ("GET", "state"):
            return 200, admin.snapshot()
        raise _HttpError(404, f"no admin endpoint {method} {PREFIX}{'/'.join(parts)}")

    def _clock(self) -> dict[str, Any]:
        clock = self._emulator.clock
        return {"now": clock.now().isoformat().replace("+00:00", "Z"), "frozen": clock.frozen}

    def _set_clock(self, data: Any) -> None:
        if not isinstance(data, dict) or not data:
            raise ValueError(
                'clock: send {"advance_seconds": N}, {"set": "<time>"} or {"freeze": true|false}'
            )
        clock = self._emulator.clock
        if "freeze" in data:
            if data["freeze"]:
                clock.freeze()
            else:
                clock.unfreeze()
        if "set" in data:
            clock.set(parse_time(data["set"], "set"))
        if "advance_seconds" in data:
            seconds = data["advance_seconds"]
            if not isinstance(seconds, (int, float)) or isinstance(seconds, bool):
                raise ValueError("advance_seconds must be a number")
            clock.advance(float(seconds))


def _json(body: bytes) -> Any:
    try:
        return json.loads(body or b"null")
    except ValueError as exc:
        raise _HttpError(400, f"the body is not JSON: {exc}") from None
