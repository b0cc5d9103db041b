"""Render the results of :func:`bench.suite.run` as a table for people."""

from __future__ import annotations

from typing import Any

__all__ = ["render"]

X = "\u00d7"  # the multiplication sign, for ratios
NOISY = 1.25  # max/min of iamd's chunk p50s above which the table says the machine was busy


def _row(name: str, s: dict[str, Any], note: str = "") -> str:
    chunks = s["chunk_p50_us"]
    spread = f"{min(chunks):.2f}-{max(chunks):.2f}"
    return (f"  {name:<38} {s['samples']:>8,} {s['p50_us']:>8.2f} {s['p90_us']:>8.2f} {s['p99_us']:>8.2f} "
            f"{s['mean_us']:>8.2f} {spread:>14}  {note}").rstrip()  # fmt: skip


_HEAD = (f"  {'engine':<38} {'samples':>8} {'p50 µs':>8} {'p90 µs':>8} {'p99 µs':>8} {'mean µs':>8} "
         f"{'chunk p50s µs':>14}")  # fmt: skip


def _target(met: bool, p50: float, target: float) -> str:
    return f"{'MET' if met else 'MISSED'}: p50 {p50:.2f} µs {'≤' if met else '>'} {target:g} µs"


def _noisy(w: dict[str, Any]) -> list[str]:
    if w["chunk_spread"] <= NOISY:
        return []
    chunks = w["iamd"]["chunk_p50_us"]
    return [f"    NOTE: the machine was busy: iamd's p50 ranged {min(chunks):.2f}-{max(chunks):.2f} µs between chunks; "
            "rerun for steadier numbers"]  # fmt: skip


def render(r: dict[str, Any]) -> str:
    env, w1, w2 = r["environment"], r["w1"], r["w2"]
    lines: list[str] = []
    add = lines.append
    add("iamd policy engine benchmark")
    add(f"  {env['python']} on {env['platform']} ({env['machine']}), {env['cpu_count']} CPUs: {env['cpu']}")
    load = env.get("load_average_1m")
    add(
        f"  peers: moto {env['moto']}, cedarpy {env['cedarpy']}"
        + (f"; load average at start {load:.2f}" if load is not None else "")
    )
    add(
        f"  timing: each decision timed alone with perf_counter_ns, gc disabled, shuffled rounds, "
        f"{r['method']['chunks']} interleaved chunks per table; harness overhead "
        f"{r['method']['harness_overhead_ns']:.0f} ns subtracted"
    )
    add("")

    ag = w1["agreement"]
    add(
        f"W1  one IAM user, {w1['policies']} managed policies {X} 5 statements ({w1['statements']} statements), "
        f"no conditions, {w1['requests']:,} distinct requests"
    )
    add(
        f"    allowed {w1['allowed']:,}/{w1['requests']:,} = {w1['allowed_fraction']:.1%}; "
        f"iamd / moto / Cedar agree on {ag['checked'] - len(ag['mismatches']):,}/{ag['checked']:,} decisions"
        + ("" if not ag["mismatches"] else "  <-- MISMATCHES, see below")
    )
    add(_HEAD)
    ratios = w1["ratios"]
    add(_row("iamd evaluate()", w1["iamd"], f"1.0{X}"))
    add(_row("moto IAMPolicy.is_action_permitted", w1["moto"], f"moto / iamd = {ratios['moto/iamd']:.1f}{X}"))
    add(_row("cedarpy is_authorized (pre-parsed)", w1["cedarpy"], f"cedarpy / iamd = {ratios['cedarpy/iamd']:.1f}{X}"))
    add(_row(f"cedarpy is_authorized_batch ({w1['cedarpy_batch_size']}/call)", w1["cedarpy_batch"],
             f"cedarpy batch / iamd = {ratios['cedarpy_batch/iamd']:.1f}{X}"))  # fmt: skip
    add(_row("iamd evaluate(tracer=Tracer())", w1["iamd_traced"]))
    add(
        f"    Cedar's own metrics (authz_duration_micros) attribute {w1['cedar_authorizer_share']:.0%} of each "
        "is_authorized call to its authorizer; the rest is the Python binding"
    )
    add("    ratios: median over chunks of (peer p50 / iamd p50 in the same chunk)")
    add(f"    target W1 {_target(w1['target_met'], w1['iamd']['p50_us'], w1['target_p50_us'])}")
    lines.extend(_noisy(w1))
    for m in ag["mismatches"][:20]:
        add(f"    MISMATCH #{m['index']} {m['action']} {m['resource']}: iamd={m['iamd']} moto={m['moto']} "
            f"cedar={m['cedar']}")  # fmt: skip
    add("")

    v = w2["verdicts"]
    add(
        f"W2  ABAC: users and role sessions with tags, identity + boundary + session + bucket policy + 2 SCP levels, "
        f"{w2['requests']:,} distinct requests"
    )
    add(
        f"    allowed {v['allowed']:,} ({w2['allowed_fraction']:.1%}), explicit deny {v['explicitDeny']:,}, "
        f"implicit deny {v['implicitDeny']:,}; statements per set: "
        + ", ".join(f"{k} {n}" for k, n in w2["statements"].items())
    )
    add(_HEAD)
    add(_row("iamd evaluate()", w2["iamd"]))
    add(_row("iamd build_context() + evaluate()", w2["iamd_context"]))
    add(_row("iamd evaluate(tracer=Tracer())", w2["iamd_traced"]))
    add(_row("cedarpy is_authorized, W1's requests", w2["cedarpy_w1"]))
    add(
        f"    decisions sha256 {w2['decisions_sha256'][:16]}…; the build_context path decides "
        + ("identically" if w2["context_path_agrees"] else "DIFFERENTLY  <-- MISMATCH")
    )
    add(f"    target W2 {_target(w2['target_met'], w2['iamd']['p50_us'], w2['target_p50_us'])}")
    ctx_target = _target(w2["context_target_met"], w2["iamd_context"]["p50_us"], w2["context_target_p50_us"])
    add(f"    target W2 with context {ctx_target}")
    wr = w2["ratios"]
    add(
        f"    cedarpy (W1's requests, no conditions) / iamd W2: {wr['cedarpy_w1/iamd']:.1f}{X} evaluate(), "
        f"{wr['cedarpy_w1/iamd_context']:.1f}{X} with build_context (median of per-chunk ratios, same chunks)"
    )
    lines.extend(_noisy(w2))
    add("")

    add("Tracer cost (p50 with a Tracer / p50 without)")
    add(f"  W1 {r['tracer']['w1_on/off']:.1f}{X}   W2 {r['tracer']['w2_on/off']:.1f}{X}")
    add("")

    sc = r["scaling"]
    few, many = sc["extra_policies"]
    add("Scaling: W1 p50 with extra managed policies for services no request uses (timed in turns)")
    add(
        f"  +{few:,} policies ({sc['statements'][str(few)]:,} statements): {sc['p50_us'][str(few)]:.2f} µs   "
        f"+{many:,} policies ({sc['statements'][str(many)]:,} statements): {sc['p50_us'][str(many)]:.2f} µs   "
        f"ratio {sc['ratio']:.2f}{X} (median of per-chunk ratios)"
    )
    add("")

    c, m = r["compile"], r["memory"]
    add(
        f"Compile: one {c['size']:,}-character managed policy ({c['statements']} statements), "
        f"{c['parse_and_compile']['samples']} distinct policies"
    )
    add(
        f"  parse_policy            p50 {c['parse']['p50_us'] / 1000:.2f} ms   p90 {c['parse']['p90_us'] / 1000:.2f} ms"
    )
    add(
        f"  parse_policy + PolicySet p50 {c['parse_and_compile']['p50_us'] / 1000:.2f} ms   "
        f"p90 {c['parse_and_compile']['p90_us'] / 1000:.2f} ms"
    )
    add(
        f"Memory per compiled W1-style policy (5 statements, ~{m['source_chars']} source chars; tracemalloc over "
        f"{m['policies']})"
    )
    add(
        f"  {m['total_bytes']:,} bytes = parsed document {m['document_bytes']:,} + compiled statements "
        f"{m['compiled_bytes']:,} (source text not counted)"
    )
    add("")
    add(f"elapsed {r['elapsed_s']} s")
    return "\n".join(lines)
