"""The latency histograms every server exports: counted in plain lists, exposed exactly as
prometheus_client's own ``Histogram`` exposes the same observations."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Histogram, generate_latest

from core.observe import Timings

# on a bound, between bounds, below the first, past the last finite one
OBSERVED = [("a", 0.005), ("a", 0.0051), ("a", 0.0), ("b", 10.0), ("b", 11.5), ("a", 0.3)]


def _exposed(registry: CollectorRegistry) -> list[str]:
    text = generate_latest(registry).decode()
    return [line for line in text.splitlines() if "_created" not in line]


def test_timings_are_exposed_as_prometheus_histograms_of_the_same_observations() -> None:
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    timings = Timings("demo_seconds", "Demo latency", ["stage"], ours)
    histogram = Histogram("demo_seconds", "Demo latency", ["stage"], registry=theirs)
    for stage, seconds in OBSERVED:
        timings.labels(stage).observe(seconds)
        histogram.labels(stage).observe(seconds)

    assert _exposed(ours) == _exposed(theirs)
    assert 'demo_seconds_bucket{le="0.005",stage="a"} 2.0' in _exposed(ours)
    assert 'demo_seconds_bucket{le="10.0",stage="b"} 1.0' in _exposed(ours)
    assert 'demo_seconds_count{stage="b"} 2.0' in _exposed(ours)


def test_a_label_never_observed_is_not_exposed() -> None:
    registry = CollectorRegistry()
    timings = Timings("demo_seconds", "Demo latency", ["stage"], registry)
    timings.labels("a").observe(0.1)

    assert not any('stage="b"' in line for line in _exposed(registry))
