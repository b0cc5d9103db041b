"""Run every measurement and collect the results as one JSON-able dict."""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from importlib.metadata import version
from typing import Any

import cedarpy

from iamd.policy import PolicySet, Request, Tracer, evaluate

from .abac import build_w2, decide_with_context, decision_digest
from .costs import compile_cost, memory_per_policy
from .peers import CedarW1, MotoW1, compare_w1
from .timing import Measured, Task, harness_overhead_ns, interleaved, no_gc
from .workloads import build_w1, extra_policies

__all__ = ["Settings", "run"]

W1_TARGET_US = 5.0
W2_TARGET_US = 20.0
W2_CONTEXT_TARGET_US = 8.0  # W2 with build_context inside the timed call (issue 17)


@dataclass(frozen=True, slots=True)
class Settings:
    """How much to measure. Rounds are per chunk; every timed series runs in ``chunks`` chunks."""

    requests: int = 1000
    chunks: int = 10
    iamd_rounds: int = 10
    w2_rounds: int = 5
    peer_rounds: int = 1
    tracer_rounds: int = 1
    scaling_rounds: int = 4
    scaling_extra: tuple[int, int] = (10, 1000)
    compile_repeat: int = 100
    memory_policies: int = 200
    cedar_batch: int = 50

    @classmethod
    def quick(cls) -> Settings:
        return cls(chunks=4, iamd_rounds=3, w2_rounds=2, peer_rounds=1, tracer_rounds=1, scaling_rounds=3,
                   compile_repeat=20, memory_policies=100)  # fmt: skip


def environment() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), cpu)
    except OSError:
        pass
    return {
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "load_average_1m": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "moto": version("moto"),
        "cedarpy": version("cedarpy"),
    }


def _iamd(ps: PolicySet) -> Callable[[Request], object]:
    return lambda r: evaluate(r, ps)


def _iamd_traced(ps: PolicySet) -> Callable[[Request], object]:
    return lambda r: evaluate(r, ps, Tracer())


def _eval_pair(item: tuple[Request, PolicySet]) -> object:
    return evaluate(item[0], item[1])


def _eval_pair_traced(item: tuple[Request, PolicySet]) -> object:
    return evaluate(item[0], item[1], Tracer())


def _ratio(peer: Measured, base: Measured) -> float:
    """Median over chunks of peer p50 / base p50 in the same chunk: robust to a burst of load."""
    return statistics.median(p / b if b else float("inf") for p, b in zip(peer.chunk_p50, base.chunk_p50, strict=True))


def _cedar_core_share(cedar: CedarW1) -> float:
    """Median share of a cedarpy call that Cedar's own metrics attribute to its authorizer."""
    clock = time.perf_counter_ns
    shares: list[float] = []
    with no_gc():
        for r in cedar.requests:
            t0 = clock()
            result = cedar.is_authorized(r)
            wall = clock() - t0
            shares.append(float(result.metrics.get("authz_duration_micros", 0)) * 1000 / wall)
    return statistics.median(shares)


def _spread(m: Measured) -> float:
    return max(m.chunk_p50) / min(m.chunk_p50) if min(m.chunk_p50) else float("inf")


def _log(quiet: bool, msg: str) -> None:
    if not quiet:
        print(f"  .. {msg}", file=sys.stderr, flush=True)


def run(settings: Settings, quiet: bool = False) -> dict[str, Any]:
    started = time.perf_counter()
    out: dict[str, Any] = {"environment": environment()}

    # -- W1 and its peers ----------------------------------------------------------------
    _log(quiet, "building W1 and its moto and Cedar encodings")
    w1 = build_w1(settings.requests)
    moto_w1 = MotoW1(w1)
    cedar_w1 = CedarW1(w1)
    overhead = harness_overhead_ns(w1.requests)
    out["method"] = {
        "harness_overhead_ns": overhead,
        "chunks": settings.chunks,
        "clock": "time.perf_counter_ns per decision; harness overhead (no-op call) subtracted; gc disabled; "
        "series timed in interleaved chunks",
    }

    _log(quiet, "verifying that iamd, moto and Cedar agree on every W1 request")
    decisions, mismatches = compare_w1(w1, lambda i: evaluate(w1.requests[i], w1.policy_set).allowed, moto_w1, cedar_w1)
    allowed = sum(decisions)
    cedar_core = _cedar_core_share(cedar_w1)

    _log(quiet, "timing W1: iamd, moto, cedarpy and iamd with a Tracer, in turns")
    w1_time = interleaved(
        {
            "iamd": Task(_iamd(w1.policy_set), w1.requests, settings.iamd_rounds),
            "moto": Task(moto_w1.decide, w1.pairs, settings.peer_rounds),
            "cedarpy": Task(cedar_w1.is_authorized, cedar_w1.requests, settings.peer_rounds),
            "cedarpy_batch": Task(
                lambda b: cedarpy.is_authorized_batch(b, cedar_w1.policy_set, cedar_w1.entities),
                cedar_w1.requests, settings.peer_rounds, batch=settings.cedar_batch,
            ),
            "iamd_traced": Task(_iamd_traced(w1.policy_set), w1.requests, settings.tracer_rounds),
        },
        settings.chunks, overhead,
    )  # fmt: skip
    iamd_w1 = w1_time["iamd"].stats
    out["w1"] = {
        "policies": len(w1.documents),
        "statements": len(w1.policy_set.statements),
        "requests": len(w1.requests),
        "allowed": allowed,
        "allowed_fraction": allowed / len(w1.requests),
        "agreement": {"checked": len(w1.requests), "mismatches": [asdict(m) for m in mismatches]},
        **{name: m.to_json() for name, m in w1_time.items()},
        "cedarpy_batch_size": settings.cedar_batch,
        "cedar_authorizer_share": cedar_core,
        "ratios": {
            f"{name}/iamd": _ratio(w1_time[name], w1_time["iamd"]) for name in ("moto", "cedarpy", "cedarpy_batch")
        },
        "chunk_spread": _spread(w1_time["iamd"]),
        "target_p50_us": W1_TARGET_US,
        "target_met": iamd_w1.p50 / 1000 <= W1_TARGET_US,
    }

    # -- W2 --------------------------------------------------------------------------------
    _log(quiet, "building and timing W2")
    w2 = build_w2(settings.requests)
    decided = [evaluate(r, ps) for r, ps in w2.items]
    verdicts = [d.verdict.value for d in decided]
    digest = decision_digest(decided)
    digest_with_context = decision_digest(decide_with_context(i) for i in w2.inputs)
    w2_time = interleaved(
        {"iamd": Task(_eval_pair, w2.items, settings.w2_rounds),
         "iamd_context": Task(decide_with_context, w2.inputs, settings.w2_rounds),
         "iamd_traced": Task(_eval_pair_traced, w2.items, settings.tracer_rounds),
         # Cedar on W1's questions again, in the same chunks: the ratio below pairs like with like in time
         "cedarpy_w1": Task(cedar_w1.is_authorized, cedar_w1.requests, settings.peer_rounds)},
        settings.chunks, overhead,
    )  # fmt: skip
    iamd_w2 = w2_time["iamd"].stats
    iamd_w2_context = w2_time["iamd_context"].stats
    out["w2"] = {
        "requests": len(w2.items),
        "verdicts": {v: verdicts.count(v) for v in ("allowed", "explicitDeny", "implicitDeny")},
        "allowed_fraction": verdicts.count("allowed") / len(verdicts),
        "statements": {
            f"{'session' if k[0] else 'user'}{'+bucket' if k[1] else ''}": len(ps.statements)
            for k, ps in w2.sets.items()
        },
        **{name: m.to_json() for name, m in w2_time.items()},
        "chunk_spread": _spread(w2_time["iamd"]),
        "target_p50_us": W2_TARGET_US,
        "target_met": iamd_w2.p50 / 1000 <= W2_TARGET_US,
        # every decision's verdict, deciding statements, blocking types, missing keys and errors, hashed
        "decisions_sha256": digest,
        "context_path_agrees": digest_with_context == digest,
        "context_target_p50_us": W2_CONTEXT_TARGET_US,
        "context_target_met": iamd_w2_context.p50 / 1000 <= W2_CONTEXT_TARGET_US,
        "ratios": {
            "cedarpy_w1/iamd": _ratio(w2_time["cedarpy_w1"], w2_time["iamd"]),
            "cedarpy_w1/iamd_context": _ratio(w2_time["cedarpy_w1"], w2_time["iamd_context"]),
        },
    }
    out["tracer"] = {
        "w1_on/off": _ratio(w1_time["iamd_traced"], w1_time["iamd"]),
        "w2_on/off": _ratio(w2_time["iamd_traced"], w2_time["iamd"]),
    }

    # -- scaling ---------------------------------------------------------------------------
    _log(quiet, "scaling: W1 with extra policies that cannot apply")
    few, many = settings.scaling_extra
    extras = extra_policies(many)
    sets = {few: w1.with_extra(extras[:few]), many: w1.with_extra(extras)}
    scaled = interleaved(
        {str(n): Task(_iamd(ps), w1.requests, settings.scaling_rounds) for n, ps in sets.items()},
        settings.chunks, overhead,
    )  # fmt: skip
    p50 = {n: scaled[str(n)].stats.p50 for n in sets}
    out["scaling"] = {
        "extra_policies": [few, many],
        "statements": {str(n): len(ps.statements) for n, ps in sets.items()},
        "p50_us": {str(n): p50[n] / 1000 for n in sets},
        "chunk_p50_us": {name: m.to_json()["chunk_p50_us"] for name, m in scaled.items()},
        "ratio": _ratio(scaled[str(many)], scaled[str(few)]),
    }

    # -- compile and memory ----------------------------------------------------------------
    _log(quiet, "compile time of a 6,144-character managed policy")
    cc = compile_cost(settings.compile_repeat)
    out["compile"] = {"size": cc.size, "statements": cc.statements, "parse": cc.parse.to_json(),
                      "parse_and_compile": cc.total.to_json()}  # fmt: skip
    _log(quiet, "memory per compiled policy")
    mem = memory_per_policy(settings.memory_policies)
    out["memory"] = {"policies": mem.policies, "source_chars": mem.source_chars,
                     "document_bytes": round(mem.document_bytes), "compiled_bytes": round(mem.compiled_bytes),
                     "total_bytes": round(mem.total_bytes)}  # fmt: skip
    out["elapsed_s"] = round(time.perf_counter() - started, 1)
    return out
