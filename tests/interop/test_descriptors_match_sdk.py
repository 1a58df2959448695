"""Our proto descriptors against the official Node SDK's (@depot/sdk-node, pinned in node/package.json).

Where the two disagree the official client wins. Compared: every service, message and enum
the SDK knows (it must exist in ours, identically), and everything of ours in the packages the
SDK ships (it must exist in the SDK, except the extensions below). Our depot.cli.* and
moby.buildkit.v1 packages are not in the SDK and are not compared.
"""

from __future__ import annotations

from typing import Any

import pytest
from proto_schema import Schema, describe_ours

pytestmark = pytest.mark.node

SDK_PACKAGES = ("depot.core.v1", "depot.build.v1", "depot.buildkit.v1")

# Fields and messages that SCHEMA.md lists as "not confirmed by every source": newer than the
# SDK build we pin. The provider may send or receive them; they must stay wire-compatible (a
# client without them skips them as unknown fields), which test_node_roundtrip checks.
KNOWN_EXTENSION_FIELDS = {
    "depot.core.v1.ListProjectsRequest": {1: "region_id", 2: "page_size", 3: "page_token"},
    "depot.core.v1.ListProjectsResponse": {2: "next_page_token"},
    "depot.core.v1.GetUsageResponse": {7: "compute_sandbox"},
}
KNOWN_EXTENSION_MESSAGES = {"depot.core.v1.ComputeSandboxUsage"}


def _in_sdk_packages(name: str) -> bool:
    return name.startswith(tuple(p + "." for p in SDK_PACKAGES))


def _show(field: dict[str, Any]) -> str:
    kind = field.get("type_name") or field["type"]
    if field["type"] == "map":
        kind = f"map<{field['map_key']}, {field['map_value'].get('type_name') or field['map_value']['type']}>"
    extras = [field["label"]] if field["label"] else []
    if field["oneof"]:
        extras.append(f"oneof {field['oneof']}")
    return f"{field['number']} {field['name']} ({' '.join([kind, *extras])}, json {field['json_name']})"


def _diff_keyed(
    what: str, sdk: dict[Any, Any], ours: dict[Any, Any], show: Any, allowed_extra: set[Any]
) -> list[str]:
    out = []
    for key in sorted(sdk.keys() - ours.keys(), key=str):
        out.append(f"{what}: SDK has {show(sdk[key])}, ours lacks it")
    for key in sorted(ours.keys() - sdk.keys() - allowed_extra, key=str):
        out.append(f"{what}: ours has {show(ours[key])}, the SDK lacks it")
    for key in sorted(sdk.keys() & ours.keys(), key=str):
        if sdk[key] != ours[key]:
            out.append(f"{what}: SDK says {show(sdk[key])}, ours says {show(ours[key])}")
    return out


def _show_method(method: dict[str, Any]) -> str:
    idem = f", idempotency {method['idempotency']}" if method["idempotency"] else ""
    return f"{method['kind']} {method['input']} -> {method['output']}{idem}"


def schema_differences(sdk: Schema, ours: Schema) -> list[str]:
    """Every disagreement, one readable line each."""
    diffs: list[str] = []
    for kind in ("services", "messages", "enums"):
        singular = kind[:-1]
        for name in sorted(sdk[kind].keys() - ours[kind].keys()):
            diffs.append(f"{singular} {name}: in the SDK, missing from our protos")
        ours_only = {n for n in ours[kind].keys() - sdk[kind].keys() if _in_sdk_packages(n)}
        for name in sorted(ours_only - KNOWN_EXTENSION_MESSAGES):
            diffs.append(f"{singular} {name}: in our protos, not in the SDK")
    for name in sorted(sdk["messages"].keys() & ours["messages"].keys()):
        by_number = [{f["number"]: f for f in s["messages"][name]["fields"]} for s in (sdk, ours)]
        allowed = set(KNOWN_EXTENSION_FIELDS.get(name, {}))
        diffs += _diff_keyed(f"message {name}", *by_number, _show, allowed)
    for name in sorted(sdk["enums"].keys() & ours["enums"].keys()):
        by_number = [{v["number"]: v["name"] for v in s["enums"][name]["values"]} for s in (sdk, ours)]
        diffs += _diff_keyed(f"enum {name}", *by_number, str, set())
    for name in sorted(sdk["services"].keys() & ours["services"].keys()):
        methods = [s["services"][name]["methods"] for s in (sdk, ours)]
        diffs += _diff_keyed(f"service {name}", *methods, _show_method, set())
    return diffs


def stale_extensions(sdk: Schema, ours: Schema) -> list[str]:
    """Allow-list entries that no longer describe an extension of ours over the SDK."""
    stale = [m for m in sorted(KNOWN_EXTENSION_MESSAGES) if m in sdk["messages"] or m not in ours["messages"]]
    for message, fields in KNOWN_EXTENSION_FIELDS.items():
        sdk_numbers = {f["number"] for f in sdk["messages"].get(message, {}).get("fields", [])}
        ours_names = {f["number"]: f["name"] for f in ours["messages"].get(message, {}).get("fields", [])}
        for number, name in fields.items():
            if number in sdk_numbers or ours_names.get(number) != name:
                stale.append(f"{message} field {number} {name}")
    return stale


def test_sdk_is_the_pinned_version(sdk_description: dict[str, Any]) -> None:
    assert sdk_description["sdk_version"] == "1.4.0"


def test_sdk_ships_the_public_services(sdk_schema: Schema) -> None:
    assert set(sdk_schema["services"]) == {
        "depot.build.v1.BuildService",
        "depot.build.v1.RegistryService",
        "depot.buildkit.v1.BuildKitService",
        "depot.core.v1.BuildService",
        "depot.core.v1.ProjectService",
        "depot.core.v1.UsageService",
        "depot.core.v1.OrganizationService",
    }


def test_our_descriptors_match_the_sdk(sdk_schema: Schema) -> None:
    diffs = schema_differences(sdk_schema, describe_ours())
    assert not diffs, "our protos disagree with @depot/sdk-node:\n  " + "\n  ".join(diffs)


def test_known_extensions_are_still_extensions(sdk_schema: Schema) -> None:
    stale = stale_extensions(sdk_schema, describe_ours())
    assert not stale, "KNOWN_EXTENSION_* entries to remove or fix:\n  " + "\n  ".join(stale)


def test_comparison_reports_each_kind_of_difference(sdk_schema: Schema) -> None:
    """The comparison itself: a doctored copy of our schema must produce the expected lines."""
    ours = describe_ours()
    project = ours["messages"]["depot.core.v1.Project"]["fields"]
    project[0] = {**project[0], "type": "bytes"}
    del project[1]
    project.append({"number": 99, "name": "x", "json_name": "x", "label": "", "oneof": None, "type": "bool"})
    del ours["messages"]["depot.core.v1.CachePolicy"]
    ours["enums"]["depot.core.v1.Hardware"]["values"].pop()
    ours["services"]["depot.core.v1.ProjectService"]["methods"]["GetProject"]["kind"] = "server_streaming"
    ours["messages"]["depot.build.v1.Invented"] = {"fields": []}
    diffs = "\n".join(schema_differences(sdk_schema, ours))
    msg = "message depot.core.v1.Project:"
    for expected in (
        f"{msg} SDK says 1 project_id (string, json projectId), ours says 1 project_id (bytes, json",
        f"{msg} SDK has 2 organization_id (string, json organizationId), ours lacks it",
        f"{msg} ours has 99 x (bool, json x), the SDK lacks it",
        "message depot.core.v1.CachePolicy: in the SDK, missing from our protos",
        "enum depot.core.v1.Hardware: SDK has HARDWARE_192X384, ours lacks it",
        "service depot.core.v1.ProjectService: SDK says unary depot.core.v1.GetProjectRequest",
        "message depot.build.v1.Invented: in our protos, not in the SDK",
    ):
        assert expected in diffs, diffs
