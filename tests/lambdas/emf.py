"""Read the CloudWatch Embedded Metric Format lines a handler printed.

Powertools prints one EMF JSON document per flush to stdout; capture it with ``capsys`` and ask
for the points::

    points = metric_points(capsys.readouterr().out)
    assert values(points, "ConsentMissing", Environment="staging") == [1.0]

A point is one (metric, dimension set) pair as CloudWatch would store it, so a metric published
with dimensions ``[["Environment", "RuleId"]]`` is found with both dimensions and only them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class MetricPoint:
    namespace: str
    name: str
    unit: str
    value: float
    dimensions: dict[str, str]


def emf_documents(output: str) -> list[dict[str, Any]]:
    """Every EMF document in ``output`` (other lines, e.g. logs, are skipped)."""
    documents = []
    for line in output.splitlines():
        try:
            document = json.loads(line)
        except ValueError:
            continue
        if isinstance(document, dict) and "CloudWatchMetrics" in document.get("_aws", {}):
            documents.append(document)
    return documents


def metric_points(output: str) -> list[MetricPoint]:
    points = []
    for document in emf_documents(output):
        for directive in document["_aws"]["CloudWatchMetrics"]:
            for dimension_set in directive["Dimensions"]:
                dimensions = {name: str(document[name]) for name in dimension_set}
                for metric in directive["Metrics"]:
                    raw = document[metric["Name"]]
                    for value in raw if isinstance(raw, list) else [raw]:
                        points.append(
                            MetricPoint(
                                namespace=directive["Namespace"],
                                name=metric["Name"],
                                unit=metric.get("Unit", "None"),
                                value=float(value),
                                dimensions=dimensions,
                            )
                        )
    return points


def values(points: list[MetricPoint], name: str, **dimensions: str) -> list[float]:
    """Values of ``name`` published with exactly ``dimensions``."""
    return [p.value for p in points if p.name == name and p.dimensions == dimensions]


def names(points: list[MetricPoint]) -> set[str]:
    return {p.name for p in points}
