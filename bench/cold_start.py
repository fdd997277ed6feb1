"""Cold start: each handler's import and set-up in a fresh interpreter, beside boto3 alone.

A fresh subprocess per run (nothing cached in ``sys.modules``), the function's own folder first
on ``sys.path`` as in Lambda and ``lambdas/shared/`` beside it (both are the package's root), the environment the program gives it (placeholder values). The
handler's figure is ``import handler`` plus ``dependencies()`` (the clients it creates on the
first invocation); the baseline imports boto3 and creates the same clients, nothing else. The
peak resident memory of the handler's process is reported for memory sizing.

Bytecode as deployed: the runtime's standard library and boto3 come compiled, and so does the
Powertools layer (``components.core.function.layer_archive`` compiles it when the program runs on the
runtime's Python, as the deploy workflow does), while our own package ships sources only (on a
read-only file system Python compiles them at every cold start). Each run gets its own copy of a
bytecode cache (``-X pycache_prefix``) filled by one warm-up import, minus our code's entries.
``--source-layer`` measures a layer without bytecode (a deploy from another Python).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from components.observability.alarm_catalog import SERVICE_NAMESPACE

LAMBDAS = Path(__file__).resolve().parent.parent / "lambdas"
# Set by ``python -m bench --source-layer``: measure a layer that ships sources only.
SOURCE_LAYER = False
ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:/phase-mirror/bench/hmac-salt-AbCdEf"
KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ROLES = '["arn:aws:iam::123456789012:role/phase-mirror-smoke-test"]'
_COMMON = {"ENVIRONMENT": "staging", "POWERTOOLS_METRICS_NAMESPACE": SERVICE_NAMESPACE}
# Each function: the clients its dependencies() creates, and its environment (placeholders).
FUNCTIONS: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {
    "fp_ingestion": (
        ("secretsmanager", "dynamodb", "kms"),
        {**_COMMON, "POWERTOOLS_SERVICE_NAME": "fp-ingestion", "ADMISSION_TABLE_NAME": "a",
         "CONSENT_TABLE_NAME": "c", "PENDING_TABLE_NAME": "p", "DEDUP_TABLE_NAME": "d",
         "SALT_SECRET_ID": ARN, "SALT_CACHE_SECONDS": "300", "ORG_KEY_ID": KEY,
         "INTERNAL_PRINCIPAL_ARNS": ROLES},
    ),
    "consent": (
        ("secretsmanager", "dynamodb", "kms"),
        {**_COMMON, "POWERTOOLS_SERVICE_NAME": "fp-consent", "ADMISSION_TABLE_NAME": "a",
         "CONSENT_TABLE_NAME": "c", "PENDING_TABLE_NAME": "p", "SALT_SECRET_ID": ARN,
         "ORG_KEY_ID": KEY},
    ),
    "admission": (
        ("secretsmanager", "dynamodb", "kms"),
        {**_COMMON, "POWERTOOLS_SERVICE_NAME": "fp-admission", "ADMISSION_TABLE_NAME": "a",
         "PENDING_TABLE_NAME": "p", "SALT_SECRET_ID": ARN, "ORG_KEY_ID": KEY,
         "ADMIN_PRINCIPAL_ARNS": ROLES},
    ),
    "release": (
        ("dynamodb", "secretsmanager"),
        {**_COMMON, "POWERTOOLS_SERVICE_NAME": "fp-release", "PENDING_TABLE_NAME": "p",
         "PUBLISHED_TABLE_NAME": "q", "SALT_SECRET_ID": ARN, "K_ANONYMITY": "10",
         "MAX_EVENTS_PER_ORG": "10"},
    ),
    "calibration_query": (
        ("dynamodb",),
        {**_COMMON, "POWERTOOLS_SERVICE_NAME": "calibration-query", "PUBLISHED_TABLE_NAME": "q",
         "K_ANONYMITY": "10", "INTERNAL_PRINCIPAL_ARNS": ROLES},
    ),
    "salt_rotator": (
        ("secretsmanager",),
        {**_COMMON, "POWERTOOLS_SERVICE_NAME": "salt-rotator", "SALT_SECRET_ID": ARN},
    ),
}  # fmt: skip

# ru_maxrss survives exec (it would report the benchmark's own size): VmHWM is this process's.
_PEAK_RSS = """
def peak_rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
"""

_HANDLER = (
    _PEAK_RSS
    + """
import sys, time, json
sys.path.append({shared!r})  # lambdas/shared/ sits at the package's root, beside the function's
started = time.perf_counter()
import handler
handler.dependencies()
elapsed = time.perf_counter() - started
prefix = "aws_lambda_powertools"
used = sorted(m for m in sys.modules if m == prefix or m.startswith(prefix + "."))
print(json.dumps({"ms": elapsed * 1000, "rss_mb": peak_rss_mb(), "powertools_modules": used}))
"""
)

_BASELINE = (
    _PEAK_RSS
    + """
import time, json
started = time.perf_counter()
import boto3
for name in {clients!r}:
    boto3.client(name)
elapsed = time.perf_counter() - started
print(json.dumps({{"ms": elapsed * 1000, "rss_mb": peak_rss_mb()}}))
"""
)


HANDLER = _HANDLER.replace("{shared!r}", repr(str(LAMBDAS / "shared")))


@dataclass(frozen=True)
class ColdStart:
    function: str
    handler_ms: float
    baseline_ms: float
    rss_mb: float
    baseline_rss_mb: float
    powertools_modules: tuple[str, ...]
    compiled_ms: float  # the handler with our own code compiled beforehand too
    # Median of the paired differences (handler run i minus baseline run i, taken back to back):
    # a slow moment of the machine hits both halves of a pair, so this is far steadier than the
    # difference of the two medians.
    extra_ms: float
    compiled_extra_ms: float


def _run(code: str, function: str, env: dict[str, str], cache: Path | None = None) -> dict:
    full_env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        **env,
    }
    # -I would drop the function's folder from sys.path: -E -s keep the run isolated instead.
    out = subprocess.run(  # noqa: S603 - our own interpreter and code
        [
            sys.executable,
            "-E",
            "-s",
            *(["-X", f"pycache_prefix={cache}"] if cache else []),
            "-c",
            code,
        ],
        cwd=LAMBDAS / function,
        env=full_env,
        capture_output=True,
        text=True,
        check=True,
    )
    lines = out.stdout.strip().splitlines()
    return json.loads(lines[-1]) if lines else {}


def _runtime_cache(function: str, env: dict[str, str], cache: Path) -> None:
    """A bytecode cache as deployed: our code left uncompiled (and the layer, if asked)."""
    _run(HANDLER, function, env, cache)
    uncompiled = [LAMBDAS, *(Path(p).parent for p in _layer_origins() if SOURCE_LAYER)]
    for source in uncompiled:
        shutil.rmtree(cache / source.relative_to("/"), ignore_errors=True)
    if SOURCE_LAYER:
        for leftover in cache.rglob("typing_extensions*.pyc"):
            leftover.unlink()


def _layer_origins() -> list[str]:
    from components.core.function import LAYER_PACKAGES

    origins = []
    for name in LAYER_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec and spec.origin and spec.origin.endswith("__init__.py"):
            origins.append(spec.origin)
    return origins


def _fresh_cache(runtime: Path, work: Path) -> Path:
    cache = work / "cache"
    shutil.rmtree(cache, ignore_errors=True)
    shutil.copytree(runtime, cache)
    return cache


def measure(function: str, runs: int) -> ColdStart:
    clients, env = FUNCTIONS[function]
    handler_runs, baseline_runs, compiled_runs = [], [], []
    with tempfile.TemporaryDirectory(prefix="bench-pyc-") as tmp:
        runtime = Path(tmp) / "runtime"
        _runtime_cache(function, env, runtime)
        for _ in range(runs):  # interleaved, so a slow moment of the machine hits both alike
            cache = _fresh_cache(runtime, Path(tmp))
            handler_runs.append(_run(HANDLER, function, env, cache))
            compiled_runs.append(_run(HANDLER, function, env, cache))  # it compiled them
            cache = _fresh_cache(runtime, Path(tmp))
            baseline_runs.append(_run(_BASELINE.format(clients=clients), function, env, cache))
    return ColdStart(
        function=function,
        handler_ms=statistics.median(r["ms"] for r in handler_runs),
        baseline_ms=statistics.median(r["ms"] for r in baseline_runs),
        rss_mb=max(r["rss_mb"] for r in handler_runs),
        baseline_rss_mb=max(r["rss_mb"] for r in baseline_runs),
        powertools_modules=tuple(handler_runs[0]["powertools_modules"]),
        compiled_ms=statistics.median(r["ms"] for r in compiled_runs),
        extra_ms=statistics.median(
            h["ms"] - b["ms"] for h, b in zip(handler_runs, baseline_runs, strict=True)
        ),
        compiled_extra_ms=statistics.median(
            c["ms"] - b["ms"] for c, b in zip(compiled_runs, baseline_runs, strict=True)
        ),
    )
