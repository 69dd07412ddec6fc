"""The tables: scenarios under load, the cold configuration read, the hung Parameter Store waits."""

from __future__ import annotations

from .results import Result

HEADERS = [
    "scenario",
    "ops",
    "failed (lambda/server)",
    "convergence per flip: lambda | server",
    "PS calls/refresh",
]


def fmt_conv(values: list[float | None]) -> str:
    if not values:
        return "-"
    return " / ".join("never" if v is None else f"{v:.2f}s" for v in values)


def _row(r: Result) -> list[str]:
    per_refresh = "-" if not r.ps_refreshes or r.ps_calls is None else f"{r.ps_calls / r.ps_refreshes:.2f}"
    return [
        r.name,
        str(len(r.ops())),
        f"{r.failures()} ({r.failures('lambda')}/{r.failures('server')})",
        f"{fmt_conv(r.convergence('lambda'))} | {fmt_conv(r.convergence('server'))}",
        per_refresh,
    ]


def print_table(results: list[Result], cold: dict[str, float] | None, delay_ms: float) -> None:
    rows = [_row(r) for r in results]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(HEADERS)]
    line = "  ".join(h.ljust(widths[i]) for i, h in enumerate(HEADERS))
    print()
    print(line)
    print("-" * len(line))
    for row in rows:
        print("  ".join(c.ljust(widths[i]) for i, c in enumerate(row)))
    print()
    for r in results:
        if r.note:
            print(f"  {r.name}: {r.note}")
    print_cold(cold, delay_ms)


def print_cold(cold: dict[str, float] | None, delay_ms: float) -> None:
    if cold is None:
        return
    print(
        f"\ncold-start configuration read, {delay_ms:.0f} ms injected per AWS call (median of "
        f"{int(cold['n'])}): layer 1 call {cold['layer'] * 1000:.1f} ms, seed 3 calls "
        f"{cold['seed'] * 1000:.1f} ms, ratio seed/layer {cold['seed'] / cold['layer']:.2f}x"
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def print_hung(waits: dict[str, list[float]]) -> None:
    """The waits of each consumer; with both, the ratio of the baseline's p99 to the layer's."""
    print("\nhung Parameter Store (accepts, never answers), callers holding a just-expired snapshot:")
    for name, values in waits.items():
        print(
            f"  {name}: {len(values)} calls, wait p50 {percentile(values, 0.5) * 1000:.2f} ms, "
            f"p99 {percentile(values, 0.99) * 1000:.1f} ms, max {max(values) * 1000:.0f} ms"
        )
    if len(waits) == 2:
        (layer_name, layer), (baseline_name, baseline) = waits.items()
        print(
            f"  ratio of p99 waits, {baseline_name}/{layer_name}: "
            f"{percentile(baseline, 0.99) / percentile(layer, 0.99):.0f}x"
        )
