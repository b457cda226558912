"""One table of figures with the targets beside them and the ratios to LiteLLM, the JSON
behind it, and the "latest figures" section of bench/README.md."""

import json
import re
from datetime import datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
README = BENCH / "README.md"
START, END = "<!-- latest-figures:start -->", "<!-- latest-figures:end -->"


def _fmt(value, unit: str = "") -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        text = (
            f"{value:.3f}"
            if abs(value) < 1
            else f"{value:.1f}"
            if abs(value) < 100
            else f"{value:.0f}"
        )
    else:
        text = str(value)
    return f"{text}{unit}"


def _ratio(pixdash, litellm) -> str:
    if pixdash is None or litellm in (None, 0):
        return "—"
    return f"{pixdash / litellm:.2f}×"


def _verdict(ok) -> str:
    return "" if ok is None else ("yes" if ok else "NO")


def _get(data: dict, *path, default=None):
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return default
        data = data[key]
    return data


class Table:
    """Rows of: measure | target | direct | LiteLLM | Pixdash | Pixdash ÷ LiteLLM | met."""

    def __init__(self):
        self.rows: list[list[str]] = []

    def add(
        self,
        label,
        target="",
        *,
        direct=None,
        litellm=None,
        pixdash=None,
        ok=None,
        unit="",
        ratio=True,
    ):
        self.rows.append(
            [
                label,
                target,
                _fmt(direct, unit),
                _fmt(litellm, unit),
                _fmt(pixdash, unit),
                _ratio(pixdash, litellm) if ratio else "—",
                _verdict(ok),
            ]
        )


def _pair(first, second, unit="") -> str:
    return f"{_fmt(first)} / {_fmt(second)}{unit}"


def _hot_path_one_client(t: Table, a: dict | None, b: dict | None) -> None:
    if a:
        lit, pix = a.get("litellm", {}), a["pixdash"]
        t.add(
            "(a) c=1 64 px: p50",
            direct=a["direct"].get("p50_ms"),
            litellm=lit.get("p50_ms"),
            pixdash=pix.get("p50_ms"),
            unit=" ms",
        )
        added, lit_added = pix.get("added_ms"), lit.get("added_ms")
        ok = None
        if added is not None:
            ok = added <= 5 and (lit_added is None or added <= lit_added / 2.5)
        t.add(
            "(a) added latency p50 over direct",
            "≤ 5 ms and ≤ LiteLLM ÷ 2.5",
            litellm=lit_added,
            pixdash=added,
            ok=ok,
            unit=" ms",
        )
        cpu = pix.get("cpu_ms")
        t.add(
            "(a) gateway CPU per request",
            "≤ 5 ms",
            litellm=lit.get("cpu_ms"),
            pixdash=cpu,
            ok=None if cpu is None else cpu <= 5,
            unit=" ms",
        )
        t.add(
            "(a) PostgreSQL CPU per request",
            "gateway + db ≈ 7 ms",
            pixdash=pix.get("postgres_cpu_ms"),
            unit=" ms",
            ratio=False,
        )
        t.add(
            "(a) errors",
            "0",
            direct=a["direct"]["errors"],
            litellm=lit.get("errors"),
            pixdash=pix["errors"],
            ok=pix["errors"] == 0,
            ratio=False,
        )
    if b:
        lit, pix = b.get("litellm", {}), b["pixdash"]
        t.add(
            "(b) c=1 1.5 MB image: p50",
            direct=b["direct"].get("p50_ms"),
            litellm=lit.get("p50_ms"),
            pixdash=pix.get("p50_ms"),
            unit=" ms",
        )
        cpu = pix.get("cpu_ms")
        t.add(
            "(b) gateway CPU per request",
            "≤ 20 ms",
            litellm=lit.get("cpu_ms"),
            pixdash=cpu,
            ok=None if cpu is None else cpu <= 20,
            unit=" ms",
        )


GOALS = {"500": 0.9, "1000": 0.8}


def _in_flight(t: Table, c: dict) -> None:
    for level, by in c["levels"].items():
        direct, lit, pix = by["direct"], by.get("litellm", {}), by["pixdash"]
        goal = GOALS.get(level)
        ok = None if goal is None else pix["fraction_of_ideal"] >= goal and pix["errors"] == 0
        name = f"(c) {level} in flight"
        t.add(
            f"{name}: fraction of ideal",
            f"≥ {goal}, 0 errors" if goal else "",
            direct=direct["fraction_of_ideal"],
            litellm=lit.get("fraction_of_ideal"),
            pixdash=pix["fraction_of_ideal"],
            ok=ok,
        )
        t.add(
            f"{name}: errors",
            "0",
            direct=direct["errors"],
            litellm=lit.get("errors"),
            pixdash=pix["errors"],
            ok=pix["errors"] == 0,
            ratio=False,
        )
        t.add(
            f"{name}: p50",
            direct=direct.get("p50_ms"),
            litellm=lit.get("p50_ms"),
            pixdash=pix.get("p50_ms"),
            unit=" ms",
        )
        t.add(
            f"{name}: CPU per request",
            litellm=lit.get("cpu_ms"),
            pixdash=pix.get("cpu_ms"),
            unit=" ms",
        )
        waiters = pix.get("lock_waiters_mean")
        t.add(
            f"{name}: PostgreSQL lock waiters mean / max",
            "near 0",
            pixdash=_pair(waiters, pix.get("lock_waiters_max")),
            ok=None if waiters is None else waiters < 1,
            ratio=False,
        )
        t.add(
            f"{name}: logged errors: pool / lost work / all",
            "0",
            pixdash=" / ".join(
                _fmt(pix.get(k)) for k in ("pool_errors", "executor_errors", "error_records")
            ),
            ok=pix.get("error_records") == 0,
            ratio=False,
        )
    memory = c.get("memory_large", {})
    if memory:
        direct, lit, pix = memory["direct"], memory.get("litellm", {}), memory["pixdash"]
        name = f"(c) {pix.get('in_flight')} × 1.5 MB in flight"
        t.add(
            f"{name}: peak RSS growth per request",
            litellm=lit.get("rss_growth_per_request_mb"),
            pixdash=pix.get("rss_growth_per_request_mb"),
            unit=" MB",
        )
        vs = pix.get("growth_per_request_vs_image")
        t.add(
            f"{name}: that ÷ image size",
            "≤ 2.5",
            litellm=lit.get("growth_per_request_vs_image"),
            pixdash=vs,
            ok=None if vs is None else vs <= 2.5,
        )
        t.add(
            f"{name}: fraction of ideal / errors",
            direct=_pair(direct.get("fraction_of_ideal"), direct.get("errors")),
            litellm=_pair(lit.get("fraction_of_ideal"), lit.get("errors")),
            pixdash=_pair(pix.get("fraction_of_ideal"), pix.get("errors")),
            ratio=False,
        )
    after = c.get("rss_after", {})
    if "pixdash" in after:
        lit, pix = after.get("litellm", {}), after["pixdash"]
        t.add(
            "(c) RSS after the clients left ÷ baseline",
            "≈ 1",
            litellm=lit.get("ratio"),
            pixdash=pix["ratio"],
            ok=pix["ratio"] <= 1.25,
        )
        t.add(
            "(c) RSS baseline → after (MB)",
            litellm=f"{lit.get('baseline_mb')} → {lit.get('after_mb')}" if lit else None,
            pixdash=f"{pix['baseline_mb']} → {pix['after_mb']}",
            ratio=False,
        )
    jobs = c.get("jobs_after", {})
    if jobs:
        open_jobs = sum(v["jobs"] for k, v in jobs.items() if k in ("submitted", "processing"))
        t.add(
            "(c) jobs left submitted/processing after the runs",
            "0",
            pixdash=open_jobs,
            ok=open_jobs == 0,
            ratio=False,
        )


def _async_path(t: Table, d: dict) -> None:
    p50 = d.get("submit_to_completed_p50_ms")
    t.add(
        "(d) async submit → completed p50, 0 ms upstream",
        "≤ 150 ms",
        pixdash=p50,
        ok=None if p50 is None else p50 <= 150,
        unit=" ms",
        ratio=False,
    )
    fraction = d.get("fraction_of_ideal")
    t.add(
        "(d) async, 100 tasks in flight, 1 s upstream: fraction of ideal",
        "≥ 0.8",
        pixdash=fraction,
        ok=None if fraction is None else fraction >= 0.8,
        ratio=False,
    )
    t.add(
        "(d) async: submit errors / failed tasks",
        "0",
        pixdash=_pair(d.get("errors"), d.get("failed")),
        ok=d.get("errors") == 0 and d.get("failed") == 0,
        ratio=False,
    )
    t.add(
        "(d) async: CPU per task, web / worker",
        pixdash=_pair(d.get("web_cpu_ms_per_task"), d.get("worker_cpu_ms_per_task"), " ms"),
        ratio=False,
    )


def rows(results: dict) -> list[list[str]]:
    t = Table()
    _hot_path_one_client(t, results.get("a"), results.get("b"))
    if results.get("c"):
        _in_flight(t, results["c"])
    if results.get("d"):
        _async_path(t, results["d"])
    for name, value in results.get("e", {}).get("per_request", {}).items():
        t.add(f"(e) per sync request: {name.replace('_', ' ')}", pixdash=value, ratio=False)
    for page, figures in results.get("f", {}).get("pages", {}).items():
        statements, p95 = figures.get("statements"), figures.get("p95_ms")
        ok = None
        if statements is not None and p95 is not None:
            ok = statements <= 10 and p95 <= 150
        t.add(
            f"(f) {page}: SQL statements / p50 / p95",
            "≤ 10 / — / ≤ 150 ms",
            pixdash=f"{_fmt(statements)} / {_fmt(figures.get('p50_ms'))} / {_fmt(p95)} ms",
            ok=ok,
            ratio=False,
        )
    return t.rows


HEADER = ["measure", "target", "direct", "LiteLLM", "Pixdash", "Pixdash ÷ LiteLLM", "met"]


def text_table(table: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in [HEADER, *table]) for i in range(len(HEADER))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(HEADER))]
    lines.append("  ".join("-" * w for w in widths))
    for row in table:
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)))
    return "\n".join(lines)


def markdown_table(table: list[list[str]]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + " --- |" * len(HEADER)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in table]
    return "\n".join(lines)


def write_json(results: dict) -> Path:
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.fromisoformat(results["machine"]["date"]).strftime("%Y%m%d-%H%M%S")
    path = RESULTS / f"bench-{stamp}.json"
    text = json.dumps(results, indent=1, default=str)
    path.write_text(text)
    (RESULTS / "latest.json").write_text(text)
    return path


def machine_lines(machine: dict) -> list[str]:
    return [
        f"- date: {machine['date']}",
        f"- CPU: {machine['cpu']}, {machine['cores']} cores; kernel {machine['kernel']}",
        f"- Python {machine['python']}, PostgreSQL {machine['postgres']}, "
        f"Redis {machine['redis']}, LiteLLM {machine.get('litellm') or '—'}",
        f"- Pixdash served by: `{machine.get('pixdash_command')}`",
        f"- load average before / after: {machine.get('load_before')} / "
        f"{machine.get('load_after')}; run took {machine.get('duration_s')} s "
        f"({'quick' if machine.get('quick') else 'full'}; scenarios {machine.get('scenarios')})",
    ]


def update_readme(results: dict, table: list[list[str]]) -> None:
    section = "\n".join(
        [
            START,
            "## Latest figures",
            "",
            *machine_lines(results["machine"]),
            "",
            markdown_table(table),
            END,
        ]
    )
    text = README.read_text() if README.exists() else ""
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text)
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    README.write_text(text)
