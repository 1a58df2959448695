"""The benchmark scripts work: tiny runs, checked for what they print and store, never for speed.

``bench/run_all.py`` is run on scripts written here (each kind of outcome a benchmark can
have) and on the real ``bench_client_vs_node.py`` with tiny call counts, against a temporary
results file and README.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from required_tools import require_tool

REPO = Path(__file__).resolve().parents[2]
RUN_ALL = REPO / "bench" / "run_all.py"
CLIENT_VS_NODE = REPO / "bench" / "bench_client_vs_node.py"
README = """# A project

Intro, kept as it is.

<!-- bench:start -->
an old table
<!-- bench:end -->

## Later, kept as it is
"""
FAKE_BENCHES = {
    "bench_alpha.py": """
        import json
        print("some human-readable lines first")
        print(json.dumps({"bench": "alpha", "goals_met": True, "figures": {"n": 1},
                          "headline": [{"metric": "alpha ratio", "value": 0.5, "goal": "<= 1.0",
                                        "met": True, "detail": "5 ms vs 10 ms"},
                                       {"metric": "alpha info | piped", "value": 12345.0,
                                        "goal": None, "met": None}]}))
    """,
    "bench_beta.py": """
        import json, sys
        print(json.dumps({"bench": "beta", "headline": [{"metric": "beta ratio", "value": 2.0,
                                                          "goal": ">= 3.0", "met": False}]}))
        print("a trailing summary line after the result")
        sys.exit(1)
    """,
    "bench_gamma.py": """
        import sys
        print("half-way there")
        print("boom: the database is not running", file=sys.stderr)
        sys.exit(3)
    """,
    "bench_delta.py": """
        import json, os, sys
        print(json.dumps({"figures": {"where": os.getcwd() + "/bench/out.txt", "argv": sys.argv[1:]}}))
    """,
}


def _run_all(*args: str | Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(RUN_ALL), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def fake_benches(tmp_path: Path) -> Path:
    bench_dir = tmp_path / "bench"
    bench_dir.mkdir()
    for name, source in FAKE_BENCHES.items():
        (bench_dir / name).write_text(textwrap.dedent(source))
    (bench_dir / "helper_not_a_bench.py").write_text("raise SystemExit('never run')\n")
    return bench_dir


def _results(path: Path) -> dict[str, Any]:
    results: dict[str, Any] = json.loads(path.read_text())
    return results


def _table(readme: Path) -> str:
    text = readme.read_text()
    head, rest = text.split("<!-- bench:start -->\n")
    table, tail = rest.split("<!-- bench:end -->")
    assert head == README.split("<!-- bench:start -->")[0]
    assert tail == README.split("<!-- bench:end -->")[1]
    return table


def test_run_all_collects_every_outcome_and_rewrites_only_the_readme_section(
    fake_benches: Path, tmp_path: Path
) -> None:
    results_file, readme = tmp_path / "results" / "latest.json", tmp_path / "README.md"
    readme.write_text(README)

    proc = _run_all(
        *("--bench-dir", fake_benches, "--results", results_file, "--readme", readme),
        *("--args", "delta=--flag 'two words'"),
    )

    assert proc.returncode == 1, proc.stdout + proc.stderr  # gamma failed
    benches = _results(results_file)["benches"]
    assert set(benches) == {"alpha", "beta", "gamma", "delta"}
    assert {name: entry["status"] for name, entry in benches.items()} == {
        "alpha": "goals met",
        "beta": "goal missed",
        "gamma": "failed",
        "delta": "no goals",
    }
    assert benches["alpha"]["result"]["figures"] == {"n": 1}
    assert benches["beta"]["exit_code"] == 1
    assert benches["gamma"]["error"] == "exit 3, no result line"
    assert benches["gamma"]["stderr_tail"] == ["boom: the database is not running"]
    delta = benches["delta"]["result"]["figures"]
    assert delta == {"where": "./bench/out.txt", "argv": ["--flag", "two words"]}
    assert benches["delta"]["script"] == "bench/bench_delta.py"
    assert "half-way there" in proc.stdout  # output is shown as it comes

    table = _table(readme)
    assert "| alpha | alpha ratio | 0.50 (5 ms vs 10 ms) | <= 1.0 | met |" in table
    assert "| alpha | alpha info \\| piped | 12,345 |  | informative |" in table
    assert "| beta | beta ratio | 2.00 | >= 3.0 | **missed** |" in table
    assert "| gamma | exit 3, no result line | | | **failed** |" in table
    assert "| delta | (no headline figures: see latest.json) | | | no goals |" in table
    assert table.strip() in proc.stdout  # the table is printed too
    assert str(REPO) not in results_file.read_text()


def test_run_all_merges_a_partial_run_and_drops_removed_benchmarks(
    fake_benches: Path, tmp_path: Path
) -> None:
    results_file = tmp_path / "latest.json"
    common = ("--bench-dir", fake_benches, "--results", results_file, "--no-readme")
    first = _run_all(*common)
    assert first.returncode == 1, first.stderr
    ran_before = _results(results_file)["benches"]

    (fake_benches / "bench_delta.py").unlink()
    second = _run_all(*common, "--only", "alpha")

    assert second.returncode == 0, second.stderr
    benches = _results(results_file)["benches"]
    assert set(benches) == {"alpha", "beta", "gamma"}
    assert benches["beta"] == ran_before["beta"]
    assert benches["alpha"]["status"] == "goals met"
    assert "beta ratio" in second.stdout  # the table shows earlier entries too


def test_run_all_stops_a_benchmark_at_its_timeout(tmp_path: Path) -> None:
    bench_dir = tmp_path / "bench"
    bench_dir.mkdir()
    (bench_dir / "bench_sleepy.py").write_text("import time\nprint('started', flush=True)\ntime.sleep(600)\n")
    results_file = tmp_path / "latest.json"

    proc = _run_all("--bench-dir", bench_dir, "--results", results_file, "--no-readme", "--timeout", "3")

    assert proc.returncode == 1
    (entry,) = _results(results_file)["benches"].values()
    assert entry["status"] == "failed"
    assert entry["error"] == "timed out after 3 s"


def test_run_all_leaves_a_readme_without_markers_alone(fake_benches: Path, tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# No bench section here\n")

    proc = _run_all(
        *("--bench-dir", fake_benches, "--results", tmp_path / "latest.json", "--readme", readme),
        *("--only", "alpha"),
    )

    assert proc.returncode == 0, proc.stderr
    assert readme.read_text() == "# No bench section here\n"
    assert "has no <!-- bench:start --> ... <!-- bench:end --> section" in proc.stderr


def test_run_all_refuses_malformed_arguments() -> None:
    proc = _run_all("--args", "no-equals-sign", "--no-readme")
    assert proc.returncode == 2
    assert "--args must look like NAME=ARGS" in proc.stderr


@pytest.mark.parametrize("flag", ["--calls", "--rounds", "--concurrency", "--concurrent-calls", "--warmup"])
def test_client_vs_node_refuses_counts_below_one(flag: str) -> None:
    command = [sys.executable, str(CLIENT_VS_NODE), flag, "0"]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 2
    assert f"argument {flag}: must be an integer >= 1, got '0'" in proc.stderr


@pytest.mark.node
def test_client_vs_node_through_run_all(tmp_path: Path) -> None:
    require_tool(
        shutil.which("node") is not None and shutil.which("npm") is not None,
        "node and npm are needed to run the official Depot Node SDK",
    )
    results_file, readme = tmp_path / "latest.json", tmp_path / "README.md"
    readme.write_text(README)
    tiny = "--rounds 2 --calls 15 --concurrent-calls 40 --concurrency 8 --warmup 10"

    proc = _run_all(
        *("--only", "client_vs_node", "--args", f"client_vs_node={tiny}"),
        *("--results", results_file, "--readme", readme),
    )

    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    entry = _results(results_file)["benches"]["client_vs_node"]
    result = entry["result"]
    assert entry["status"] == ("goals met" if result["goals_met"] else "goal missed")
    assert entry["exit_code"] == (0 if result["goals_met"] else 1)
    assert result["bench"] == "client_vs_node"
    figures = result["figures"]
    assert (figures["rounds"], figures["calls"], figures["concurrent_calls"]) == (2, 15, 40)
    assert figures["concurrency"] == 8
    assert set(figures["ratios"]) == {
        "sequential_median_http1_vs_node",
        "sequential_median_h2c_vs_node",
        "concurrent_throughput_http1_vs_node",
        "concurrent_throughput_h2c_vs_node",
    }
    assert set(figures["sides"]) == {"node_sdk_h2c", "python_http1", "python_h2c"}
    for side in figures["sides"].values():
        assert side["sequential"]["calls_per_round"] == 15
        assert side["concurrent"]["calls_per_round"] == 40
        assert side["concurrent"]["in_flight"] == 8
        assert len(side["sequential"]["median_us_per_round"]) == 2
        assert len(side["concurrent"]["throughput_rps_per_round"]) == 2
        assert side["server_cpu_us_per_call"] > 0
    assert "HTTP/1.1" in figures["sides"]["python_http1"]["client"]
    assert "h2c" in figures["sides"]["python_h2c"]["client"]
    assert figures["node_sdk_version"] == "1.4.0"

    headline = result["headline"]
    assert [line["goal"] for line in headline] == ["<= 1.0", ">= 1.0", None, None]
    assert result["goals_met"] == (headline[0]["met"] and headline[1]["met"])
    assert all(set(line) == {"metric", "value", "goal", "met", "detail"} for line in headline)
    table = _table(readme)
    assert all(f"| client_vs_node | {line['metric']} |" in table for line in headline)


def test_dag_parse_times_every_dag_file_in_every_setting() -> None:
    script = REPO / "bench" / "bench_dag_parse.py"
    done = subprocess.run(
        [sys.executable, str(script), "--runs", "1"], capture_output=True, text=True, timeout=600
    )
    assert done.returncode in (0, 1), done.stderr  # 1: a goal was missed
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["bench"] == "dag_parse"
    assert result["goals_met"] == (done.returncode == 0)
    figures = result["figures"]
    assert figures["runs"] == 1
    assert any(m.endswith(".triggers.build") for m in figures["modules"])
    sdk_files = {"baseline", "provider", "provider_no_triggers", "airflow_bases", "trigger_base", "dbt_cloud"}
    pair = {"baseline", "provider"}
    expected = {"sdk": sdk_files, "airflow-bases": pair, "dag-processor": pair}
    assert {setting: set(times) for setting, times in figures["median_ms"].items()} == expected
    assert all(times["baseline"] > 0 for times in figures["median_ms"].values())
    headline = result["headline"]
    assert [line["goal"] for line in headline] == ["<= 15"] * 3 + [None] * 4
    assert result["goals_met"] == all(line["met"] for line in headline[:3])
    sdk = figures["median_ms"]["sdk"]
    assert headline[0]["value"] == round(sdk["provider"], 1)  # the goal: every module, sdk only
