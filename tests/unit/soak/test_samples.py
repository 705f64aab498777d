"""Reading samples: errors in Prometheus text, RSS series after warm-up."""

from __future__ import annotations

from iotpipe.soak.samples import Sample, counter_sum, ingest_non_2xx, series_after

INGEST = {
    'iotpipe_ingest_requests_total{method="POST",route="/v1/readings/batch",status="202"}': 900.0,
    'iotpipe_ingest_requests_total{method="POST",route="/v1/readings/batch",status="503"}': 3.0,
    'iotpipe_ingest_requests_total{method="GET",route="/metrics",status="200"}': 40.0,
    'iotpipe_ingest_requests_total{method="POST",route="/v1/readings",status="422"}': 2.0,
    'iotpipe_ingest_requests_created{method="POST",route="/v1/readings",status="422"}': 1.7e9,
    'iotpipe_ingest_records_total{outcome="accepted",reason="",record_type="r"}': 9000.0,
}
SINK = {
    'iotpipe_sink_dead_letters_total{reason="poison"}': 2.0,
    'iotpipe_sink_dead_letters_total{reason="refused"}': 1.0,
    'iotpipe_sink_dead_letters_created{reason="refused"}': 1.7e9,
    "iotpipe_sink_consumed_total": 50.0,
}


def test_ingest_non_2xx_counts_every_route_and_only_totals() -> None:
    assert ingest_non_2xx(INGEST) == 5


def test_ingest_without_requests_has_no_errors() -> None:
    assert ingest_non_2xx({}) == 0


def test_counter_sum_adds_every_label_set_of_one_counter() -> None:
    assert counter_sum(SINK, "iotpipe_sink_dead_letters") == 3.0
    assert counter_sum(SINK, "iotpipe_sink_consumed") == 50.0
    assert counter_sum(SINK, "iotpipe_sink_written") == 0.0


def sample(t: float, **rss: float | None) -> Sample:
    return Sample(t_s=t, rss_mb=dict(rss), lag=0, sent=0, load_errors=0, ingest_non_2xx=0)


def test_series_after_warm_up_skips_early_samples_and_absent_processes() -> None:
    samples = [
        sample(0, ingest=90.0, sink=80.0),
        sample(30, ingest=100.0, sink=85.0),
        sample(60, ingest=101.0, sink=None),
        sample(90, ingest=102.0, sink=86.0),
    ]
    assert series_after(samples, "ingest", 30) == ([30, 60, 90], [100.0, 101.0, 102.0])
    assert series_after(samples, "sink", 30) == ([30, 90], [85.0, 86.0])
    assert series_after(samples, "kafka", 0) == ([], [])
