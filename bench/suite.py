"""Run every measurement and collect the results as one JSON-able dict."""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import cedarpy
import moto

from iamd.policy import PolicySet, Request, Tracer, evaluate

from .abac import build_w2
from .costs import compile_cost, memory_per_policy
from .peers import CedarW1, MotoW1, compare_w1
from .timing import Stats, harness_overhead_ns, time_batches, time_each
from .workloads import build_w1, extra_policies

__all__ = ["Settings", "run"]

W1_TARGET_US = 5.0
W2_TARGET_US = 20.0


@dataclass(frozen=True, slots=True)
class Settings:
    requests: int = 1000
    iamd_rounds: int = 40
    w2_rounds: int = 20
    peer_rounds: int = 4
    tracer_rounds: int = 4
    scaling_rounds: int = 20
    scaling_extra: tuple[int, int] = (10, 1000)
    compile_repeat: int = 100
    memory_policies: int = 200
    cedar_batch: int = 50

    @classmethod
    def quick(cls) -> Settings:
        return cls(iamd_rounds=8, w2_rounds=5, peer_rounds=1, tracer_rounds=1, scaling_rounds=5,
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
        "moto": moto.__version__,
        "cedarpy": _version("cedarpy"),
    }


def _version(dist: str) -> str:
    from importlib.metadata import version

    return version(dist)


def _iamd(ps: PolicySet) -> Callable[[Request], object]:
    return lambda r: evaluate(r, ps)


def _iamd_traced(ps: PolicySet) -> Callable[[Request], object]:
    return lambda r: evaluate(r, ps, Tracer())


def _eval_pair(item: tuple[Request, PolicySet]) -> object:
    return evaluate(item[0], item[1])


def _eval_pair_traced(item: tuple[Request, PolicySet]) -> object:
    return evaluate(item[0], item[1], Tracer())


def _ratio(peer: Stats, base: Stats) -> float:
    return peer.p50 / base.p50 if base.p50 else float("inf")


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
        "clock": "time.perf_counter_ns per decision; harness overhead (no-op call) subtracted; gc disabled",
    }

    _log(quiet, "verifying that iamd, moto and Cedar agree on every W1 request")
    decisions, mismatches = compare_w1(w1, lambda i: evaluate(w1.requests[i], w1.policy_set).allowed, moto_w1, cedar_w1)
    allowed = sum(decisions)
    cedar_core = [int(cedar_w1.is_authorized(r).metrics.get("authz_duration_micros", 0)) for r in cedar_w1.requests]

    _log(quiet, "timing W1: iamd")
    iamd_w1 = time_each(_iamd(w1.policy_set), w1.requests, settings.iamd_rounds, overhead)
    _log(quiet, "timing W1: moto")
    moto_stats = time_each(moto_w1.decide, w1.pairs, settings.peer_rounds, overhead)
    _log(quiet, "timing W1: cedarpy")
    cedar_stats = time_each(cedar_w1.is_authorized, cedar_w1.requests, settings.peer_rounds, overhead)
    cedar_batch = time_batches(
        lambda b: cedarpy.is_authorized_batch(list(b), cedar_w1.policy_set, cedar_w1.entities),
        cedar_w1.requests, settings.cedar_batch, settings.peer_rounds,
    )  # fmt: skip
    _log(quiet, "timing W1: iamd with a Tracer")
    iamd_w1_traced = time_each(_iamd_traced(w1.policy_set), w1.requests, settings.tracer_rounds, overhead)
    out["w1"] = {
        "policies": len(w1.documents),
        "statements": len(w1.policy_set.statements),
        "requests": len(w1.requests),
        "allowed": allowed,
        "allowed_fraction": allowed / len(w1.requests),
        "agreement": {"checked": len(w1.requests), "mismatches": [asdict(m) for m in mismatches]},
        "iamd": iamd_w1.to_json(),
        "iamd_traced": iamd_w1_traced.to_json(),
        "moto": moto_stats.to_json(),
        "cedarpy": cedar_stats.to_json(),
        "cedarpy_batch": {**cedar_batch.to_json(), "batch": settings.cedar_batch},
        "cedar_core_p50_us": float(statistics.median(cedar_core)),
        "ratios": {
            "moto/iamd": _ratio(moto_stats, iamd_w1),
            "cedarpy/iamd": _ratio(cedar_stats, iamd_w1),
            "cedarpy_batch/iamd": _ratio(cedar_batch, iamd_w1),
        },
        "target_p50_us": W1_TARGET_US,
        "target_met": iamd_w1.p50 / 1000 <= W1_TARGET_US,
    }

    # -- W2 --------------------------------------------------------------------------------
    _log(quiet, "building and timing W2")
    w2 = build_w2(settings.requests)
    verdicts = [evaluate(r, ps).verdict.value for r, ps in w2.items]
    iamd_w2 = time_each(_eval_pair, w2.items, settings.w2_rounds, overhead)
    iamd_w2_traced = time_each(_eval_pair_traced, w2.items, settings.tracer_rounds, overhead)
    out["w2"] = {
        "requests": len(w2.items),
        "verdicts": {v: verdicts.count(v) for v in ("allowed", "explicitDeny", "implicitDeny")},
        "allowed_fraction": verdicts.count("allowed") / len(verdicts),
        "statements": {f"{'session' if k[0] else 'user'}{'+bucket' if k[1] else ''}": len(ps.statements)
                       for k, ps in w2.sets.items()},  # fmt: skip
        "iamd": iamd_w2.to_json(),
        "iamd_traced": iamd_w2_traced.to_json(),
        "target_p50_us": W2_TARGET_US,
        "target_met": iamd_w2.p50 / 1000 <= W2_TARGET_US,
    }
    out["tracer"] = {"w1_on/off": _ratio(iamd_w1_traced, iamd_w1), "w2_on/off": _ratio(iamd_w2_traced, iamd_w2)}

    # -- scaling ---------------------------------------------------------------------------
    _log(quiet, "scaling: W1 with extra policies that cannot apply")
    few, many = settings.scaling_extra
    extras = extra_policies(many)
    sets = {few: w1.with_extra(extras[:few]), many: w1.with_extra(extras)}
    samples: dict[int, list[Stats]] = {few: [], many: []}
    for chunk in range(4):  # interleaved, so that drift in the machine affects both alike
        for n, ps in sets.items():
            samples[n].append(time_each(_iamd(ps), w1.requests, max(1, settings.scaling_rounds // 4), overhead,
                                        seed=chunk))  # fmt: skip
    p50 = {n: statistics.median(s.p50 for s in ss) for n, ss in samples.items()}
    out["scaling"] = {
        "extra_policies": [few, many],
        "statements": {str(n): len(ps.statements) for n, ps in sets.items()},
        "p50_us": {str(n): p50[n] / 1000 for n in sets},
        "ratio": p50[many] / p50[few],
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
