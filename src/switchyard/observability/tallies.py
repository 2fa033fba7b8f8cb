"""The metrics of a single server process as plain numbers, turned into Prometheus metric
families only when scraped (observability/metrics.py picks these unless several workers share
PROMETHEUS_MULTIPROC_DIR).

Why not prometheus-client's own Counter, Gauge and Histogram: each `labels(...).inc()` takes a
lock, checks and converts its label values, about 2 µs, and a turn records seven of them; and
importing prometheus-client costs every `switchyard serve` start about 15 ms. Here a value is
a dict lookup and an addition, and prometheus-client is imported by the first scrape. A
server's event loop is the only writer and its scrapes run in that loop too, so no lock is
needed. The classes take the constructor arguments of prometheus-client's (the subset
metrics.py uses), so the definitions read the same in both modes; the families they expose
are what prometheus-client's would (tests/unit/test_observability.py compares the texts).
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Any, Callable, Iterable, Sequence

# Every tally of this process, in the order made: one collector exposes them all (`Collector`).
_made: list[Any] = []


def _le(bound: float) -> str:
    from prometheus_client.utils import floatToGoString
    return floatToGoString(bound)


class _Value:
    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0.0

    def inc(self, amount: float = 1) -> None:
        self.value += amount

    def dec(self, amount: float = 1) -> None:
        self.value -= amount


class _CounterValue(_Value):
    __slots__ = ()

    def inc(self, amount: float = 1) -> None:
        if amount < 0:
            raise ValueError("Counters can only be incremented by non-negative amounts.")
        self.value += amount


class _Observations:
    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)   # the last: above every bound (+Inf)
        self.sum = 0.0

    def observe(self, amount: float) -> None:
        self.sum += amount
        self.counts[bisect_left(self.bounds, amount)] += 1   # a value on a bound counts in it (le)


class _Tally:
    family = ""

    def __init__(self, name: str, documentation: str, labelnames: Sequence[str] = (), *,
                 registry: list[Any] | None = _made, **_: Any) -> None:
        """`registry=None`: kept out of the process's collector, as prometheus-client's."""
        self.name, self.documentation, self.labelnames = name, documentation, tuple(labelnames)
        self._values: dict[tuple[str, ...], Any] = {}
        if registry is not None:
            registry.append(self)

    def labels(self, *values: str) -> Any:
        value = self._values.get(values)
        if value is None:
            if len(values) != len(self.labelnames):
                raise ValueError(f"{self.name}: expected {len(self.labelnames)} label values, got {len(values)}")
            value = self._values[values] = self._new()
        return value

    def _new(self) -> Any:
        raise NotImplementedError

    def collect(self) -> Any:
        from prometheus_client import core
        family = getattr(core, self.family)(self.name, self.documentation, labels=self.labelnames)
        for labels, value in list(self._values.items()):   # a snapshot: list() of a dict is atomic
            self._add(family, [str(label) for label in labels], value)
        return family

    def _add(self, family: Any, labels: list[str], value: Any) -> None:
        family.add_metric(labels, value.value)


class Counter(_Tally):
    family = "CounterMetricFamily"

    def _new(self) -> _CounterValue:
        return _CounterValue()


class Gauge(_Tally):
    family = "GaugeMetricFamily"   # multiprocess_mode (accepted, ignored): one process here

    def _new(self) -> _Value:
        return _Value()


class Histogram(_Tally):
    family = "HistogramMetricFamily"

    def __init__(self, name: str, documentation: str, labelnames: Sequence[str] = (), *,
                 buckets: Sequence[float], registry: list[Any] | None = _made) -> None:
        super().__init__(name, documentation, labelnames, registry=registry)
        self.bounds = tuple(float(b) for b in buckets if b != float("inf"))

    def _new(self) -> _Observations:
        return _Observations(self.bounds)

    def _add(self, family: Any, labels: list[str], value: Any) -> None:
        family.add_metric(labels, cumulative(self.bounds, value.counts), value.sum)


def cumulative(bounds: Sequence[float], counts: Iterable[int]) -> list[tuple[str, int]]:
    """Per-bucket counts as the exposition's cumulative `le` buckets, +Inf last."""
    total, buckets = 0, []
    for bound, count in zip((*bounds, float("inf")), counts):
        total += count
        buckets.append((_le(bound), total))
    return buckets


class HttpTallies:
    """The HTTP request counter and duration histogram (server/observability.py records one
    per request through a `recorder` it keeps per route, method and status): a collector of
    its own, registered by metrics.py after the other metrics."""

    def __init__(self, requests: tuple[str, str], durations: tuple[str, str], bounds: Sequence[float]) -> None:
        self.requests = Counter(*requests, ["route", "method", "status"], registry=None)
        self.durations = Histogram(*durations, ["route", "method"], buckets=bounds, registry=None)

    def recorder(self, route: str, method: str, status: int) -> Callable[[float], None]:
        count = self.requests.labels(route, method, str(status))
        observations = self.durations.labels(route, method)
        counts, bounds = observations.counts, observations.bounds

        def record(seconds: float) -> None:
            count.value += 1
            observations.sum += seconds
            counts[bisect_left(bounds, seconds)] += 1
        return record

    def collect(self) -> list[Any]:
        return [self.requests.collect(), self.durations.collect()]


class Collector:
    """What a registry collects: every tally made so far, in the order made (or `tallies`)."""

    def __init__(self, tallies: Iterable[_Tally] | None = None) -> None:
        self.tallies = _made if tallies is None else list(tallies)

    def collect(self) -> list[Any]:
        return [tally.collect() for tally in list(self.tallies)]
