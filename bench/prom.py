"""Reading a service's /metrics: counter sums and histogram quantiles from bucket differences."""

from __future__ import annotations

import math

import httpx
from prometheus_client.parser import text_string_to_metric_families


def scrape(base: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Every sample of every family, by sample name (``…_total``, ``…_bucket`` keep their suffix)."""
    text = httpx.get(f"{base}/metrics", timeout=10).text
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((dict(sample.labels), float(sample.value)))
    return samples


def total(samples: dict[str, list[tuple[dict[str, str], float]]], name: str) -> float:
    return sum(value for _labels, value in samples.get(name, []))


def buckets(samples: dict[str, list[tuple[dict[str, str], float]]], histogram: str) -> dict[float, float]:
    """Cumulative bucket counts by upper bound (``le``), summed over label sets."""
    out: dict[float, float] = {}
    for labels, value in samples.get(f"{histogram}_bucket", []):
        bound = math.inf if labels["le"] in ("+Inf", "inf") else float(labels["le"])
        out[bound] = out.get(bound, 0.0) + value
    return dict(sorted(out.items()))


def bucket_quantile(before: dict[float, float], after: dict[float, float], q: float) -> float | None:
    """Quantile q of the observations made between two scrapes, interpolated linearly in its bucket
    (as Prometheus's histogram_quantile does); None when nothing was observed."""
    diff = [(bound, after.get(bound, 0.0) - before.get(bound, 0.0)) for bound in after]
    count = diff[-1][1] if diff else 0.0
    if count <= 0:
        return None
    rank = q * count
    lower_bound, lower_count = 0.0, 0.0
    for bound, cumulative in diff:
        if cumulative >= rank:
            if math.isinf(bound):
                return lower_bound
            inside = cumulative - lower_count
            return lower_bound + (bound - lower_bound) * ((rank - lower_count) / inside if inside else 1.0)
        lower_bound, lower_count = bound, cumulative
    return None
