"""``python -m bench [--quick]``: run every measurement and print the tables (see bench/__init__)."""

from __future__ import annotations

import argparse
import io
import math
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import pulumi

from bench import cold_start, event_units, release, routes
from components.core.function import layer_archive, package
from tools.cost.model import BATCH_EVENTS, INGESTED_EVENT

# The budgets: a warm ingested event costs at most this much of the function's own CPU, and at
# most this many DynamoDB calls and no Secrets Manager call.
OWN_P99_BUDGET_MS = 0.3
INGEST_DYNAMODB_CALLS = 2
COLD_START_BUDGET_MS = 60.0
INGEST_ROUTES = ("POST /fp/ingest", "POST /internal/fp/ingest")
DYNAMODB = {"ConditionCheckItem", "GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query",
            "Scan", "TransactWriteItems", "BatchWriteItem"}  # fmt: skip
# Assumed DynamoDB round trips inside a region (moto's times are not DynamoDB's).
DYNAMODB_WAIT_MS = {"TransactWriteItems": 12.0, "Query": 5.0}
MEMORY_CHOICES = (128, 256, 512)
WARM_P99_TARGET_MS = 50.0


def archive_bytes(archive: pulumi.AssetArchive) -> tuple[int, int, int]:
    """(files, bytes, zipped bytes) of an archive of FileAssets (a function's package already
    holds lambdas/shared)."""
    buffer = io.BytesIO()
    files = raw = 0
    root = Path(__file__).resolve().parent.parent
    paths = [
        (name, Path(asset.path) if Path(asset.path).is_absolute() else root / asset.path)
        for name, asset in sorted(archive.assets.items())
        if isinstance(asset, pulumi.FileAsset)
    ]
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive_zip:
        for name, path in paths:
            data = path.read_bytes()
            archive_zip.writestr(name, data)
            files, raw = files + 1, raw + len(data)
    return files, raw, len(buffer.getvalue())


class Progress:
    """One line on stderr as each stage starts, with the time so far: a full run takes minutes,
    and stdout stays the table alone."""

    def __init__(
        self,
        stages: int,
        *,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.stages, self.started_stages = stages, 0
        self.stream = stream if stream is not None else sys.stderr
        self.clock = clock
        self.started = clock()

    def __call__(self, what: str) -> None:
        self.started_stages += 1
        elapsed = self.clock() - self.started
        print(
            f"bench [{self.started_stages}/{self.stages}, {elapsed:.0f} s]: {what}",
            file=self.stream,
            flush=True,
        )


def table(headers: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
        "  python -m bench            # every measurement (minutes); progress on stderr\n"
        "  python -m bench --quick    # fewer requests and runs, a smoke run",
    )
    parser.add_argument("--quick", action="store_true", help="fewer events and runs")
    parser.add_argument(
        "--source-layer",
        action="store_true",
        help="cold start with a layer that ships sources only (a deploy from another Python)",
    )
    args = parser.parse_args(argv)
    cold_start.SOURCE_LAYER = args.source_layer
    requests = 300 if args.quick else 2000
    runs = 3 if args.quick else 7
    sizes = (1000, 3000) if args.quick else (1000, 10_000)
    started = time.perf_counter()
    out: list[str] = []
    failures: list[str] = []
    progress = Progress(2 + len(sizes) + len(cold_start.FUNCTIONS))

    # --- every route, warm ------------------------------------------------------------------
    progress(f"every API route, {requests} warm requests each against moto")
    figures = routes.run(requests)
    out.append(
        "## API routes, warm, in-process (own work = CPU minus the CPU inside AWS calls, "
        "logging and metrics included)\n"
    )
    rows = []
    for f in figures:
        calls = ", ".join(f"{op} {n:g}" for op, n in f.calls_per_request.items()) or "none"
        rows.append(
            [
                f"`{f.route}`",
                f.requests,
                f"{f.own_p50_ms:.3f} / {f.own_p99_ms:.3f} ms",
                f"{f.interleaved_p50_ms:.3f} / {f.interleaved_p99_ms:.3f} ms",
                f"{f.botocore_p50_ms:.2f} ms",
                calls,
            ]
        )
        if f.route in INGEST_ROUTES:
            dynamodb = sum(n for op, n in f.calls_per_request.items() if op in DYNAMODB)
            if f.own_p99_ms > OWN_P99_BUDGET_MS:
                failures.append(f"{f.route}: own work p99 {f.own_p99_ms:.3f} ms > 0.3 ms")
            if dynamodb > INGEST_DYNAMODB_CALLS:
                failures.append(f"{f.route}: {dynamodb:g} DynamoDB calls per warm event")
            if f.calls_per_request.get("GetSecretValue") or f.calls_per_request.get("GenerateMac"):
                failures.append(f"{f.route}: Secrets Manager or KMS read on warm events")
        if set(f.statuses) - {200, 202}:
            failures.append(f"{f.route}: answered {f.statuses}")
    out.append(
        table(
            [
                "route",
                "warm requests",
                "own work p50 / p99 (DynamoDB answered from recordings)",
                "own work p50 / p99 (moto's server interleaved)",
                "botocore p50 (serialise, sign, parse)",
                "AWS calls per request",
            ],
            rows,
        )
    )
    out.append(
        f"\nBudget per ingested event: own work p99 <= {OWN_P99_BUDGET_MS} ms, at most "
        f"{INGEST_DYNAMODB_CALLS} DynamoDB calls, no Secrets Manager or KMS call (the salt is "
        "cached for saltCacheSeconds; KMS GenerateMac runs once per organisation per container, "
        "on its first event, which the warm-up sends)."
    )

    # --- the release job and the query ---------------------------------------------------------
    released = []
    for size in sizes:
        progress(f"the release job over {size:,} pending events")
        released.append(release.run(size))
    out.append("\n## Release job, one run over N pending events (200 organisations, 5 rules)\n")
    out.append(
        table(
            [
                "pending",
                "released / dropped (cap) / batches",
                "own CPU",
                "own CPU per 10,000",
                "AWS calls",
                "calls per 1,000 pending",
            ],
            [
                [
                    f"{r.pending:,}",
                    f"{r.released:,} / {r.dropped:,} / {r.batches}",
                    f"{r.own_ms:,.0f} ms",
                    f"{r.own_ms * 10_000 / r.pending:,.0f} ms",
                    ", ".join(f"{op} {n}" for op, n in r.calls.items()),
                    f"{sum(r.calls.values()) * 1000 / r.pending:.1f}",
                ]
                for r in released
            ],
        )
    )
    small, large = released[0], released[-1]
    ratio = (sum(large.calls.values()) / large.pending) / (
        sum(small.calls.values()) / small.pending
    )
    out.append(
        f"\nCalls per pending event at {large.pending:,} vs {small.pending:,}: x{ratio:.2f} "
        "(linear: one claim, one delete per event, batched 100 and 25 per call)."
    )
    if ratio > 1.25:
        failures.append(f"release calls per event grow x{ratio:.2f} with the pending events")
    out.append("\n## calibration-query, one rule, before and after each release\n")
    out.append(
        table(
            [
                "events published",
                "items read before / after",
                "Query calls",
                "read units",
                "own CPU",
            ],
            [
                [
                    f"+{r.released:,}",
                    f"{r.query_items_before} / {r.query_items_after}",
                    r.query_calls,
                    f"{r.query_rru:g}",
                    f"{r.query_own_ms:.2f} ms",
                ]
                for r in released
            ],
        )
    )
    if any(r.query_items_after != r.query_items_before for r in released):
        failures.append("the query reads more items after more events")

    # --- DynamoDB request units of one event ---------------------------------------------------
    progress("DynamoDB request units of one event, metered from ingestion to publication")
    metered = event_units.run(orgs=BATCH_EVENTS)
    declared = {(r.action, r.table): r for r in INGESTED_EVENT}
    rows = []
    for key in sorted(set(metered.write_units) | set(metered.read_units) | set(declared)):
        request = declared.get(key)
        wru, rru = metered.write_units.get(key, 0), metered.read_units.get(key, 0)
        rows.append([f"{key[0]} {key[1]}", f"{wru:g} / {rru:.3f}",
                     f"{request.write_units:g} / {request.read_units:.3f}" if request else "none",
                     metered.largest_item_bytes.get(key, 0)])  # fmt: skip
        if request is None or abs(request.write_units - wru) > 1e-9:
            failures.append(f"{key}: metered {wru:g} WRU, tools/cost declares otherwise")
    out.append(
        f"\n## DynamoDB request units of one event ({metered.events} events, batches of "
        f"{BATCH_EVENTS}; bench/event_units.py)\n"
    )
    out.append(table(["item", "metered WRU / RRU", "declared (tools/cost)", "largest item, bytes"],
                     rows))  # fmt: skip

    # --- cold start and packages ---------------------------------------------------------------
    layer_files, layer_raw, layer_zip = archive_bytes(layer_archive())
    rows, colds = [], {}
    for function in cold_start.FUNCTIONS:
        progress(f"{function} cold start, {runs} fresh interpreters")
        cold = cold_start.measure(function, runs)
        colds[function] = cold
        files, _, zipped = archive_bytes(package(function))
        rows.append(
            [
                function,
                f"{cold.extra_ms:+.0f} ms ({cold.handler_ms / cold.baseline_ms:.2f}x)",
                f"{cold.handler_ms:.0f} / {cold.baseline_ms:.0f} ms",
                f"{cold.rss_mb:.0f} MB ({cold.baseline_rss_mb:.0f})",
                f"{files} files, {zipped / 1024:.1f} KB zipped",
            ]
        )
        if cold.extra_ms > COLD_START_BUDGET_MS:
            failures.append(f"{function} cold start +{cold.extra_ms:.0f} ms over boto3 + clients")
    out.append(
        f"\n## Cold start (median of {runs} fresh interpreters) and packages (with lambdas/shared)\n\n"
        f"Powertools layer: {layer_files} files, {layer_raw / 1024:.0f} KB "
        f"({layer_zip / 1024:.0f} KB zipped).\n"
    )
    out.append(
        table(
            ["function", "init over boto3 + same clients", "init / baseline", "peak RSS",
             "package"],
            rows,
        )
    )  # fmt: skip

    # --- memory --------------------------------------------------------------------------------
    ingest = next(f for f in figures if f.route == "POST /fp/ingest")
    query = next(f for f in figures if f.route.startswith("GET /fp/calibrate"))
    candidates = {
        "fp_ingestion": (
            ingest.interleaved_p99_ms + ingest.botocore_p50_ms,
            DYNAMODB_WAIT_MS["TransactWriteItems"],
        ),
        "calibration_query": (
            query.interleaved_p99_ms + query.botocore_p50_ms,
            DYNAMODB_WAIT_MS["Query"],
        ),
    }
    rows = []
    for function, (cpu, wait) in candidates.items():
        for memory in MEMORY_CHOICES:
            p99 = cpu * max(1.0, 1769 / memory) + wait
            fits = p99 <= WARM_P99_TARGET_MS and colds[function].rss_mb <= memory / 2
            rows.append([function, memory, f"{p99:.1f} ms", "yes" if fits else "no"])
    out.append(
        "\n## Memory: modelled warm p99 = (own work, moto interleaved, + botocore's work) x "
        "the memory's CPU share + an assumed DynamoDB round trip\n"
    )
    out.append(table(["function", "MB", "warm p99", f"<= {WARM_P99_TARGET_MS:g} ms, RSS <= half"],
                     rows))  # fmt: skip

    print("\n".join(out))
    print(f"\n(bench took {math.ceil(time.perf_counter() - started)} s)")
    if failures:
        print("\nBUDGET MISSED:\n- " + "\n- ".join(failures))
        return 1
    print("\nBudget met.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
