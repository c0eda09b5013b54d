//! Prometheus metrics (`GET /_ossd/metrics`), kept with `prometheus-client`.
//!
//! Every request updates a handful of atomics behind a read-locked label map (no allocation once
//! a label pair has been seen). Totals kept elsewhere as plain atomics (the blob lifecycle's
//! sweep and reclaim counts, store errors) are read at scrape time by [`ExternalTotals`], so
//! those crates need no metrics library.

use ossd_callback::deliver::{Delivery, Outcome};
use ossd_store::BlobLifecycle;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Seconds; from 0.5 ms (a cached HEAD) to about 65 s (a large upload).
fn latency_buckets() -> Histogram {
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(0.0005, 2.0, 18))
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    operation: &'static str,
    status_class: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<OperationLabels, Histogram, fn() -> Histogram>,
    received_bytes: Counter,
    sent_bytes: Counter,
    in_flight: Gauge,
    callbacks: Family<OutcomeLabels, Counter>,
    callback_latency: Histogram,
    policy_refusals: Counter,
}

/// Decrements the in-flight gauge when the request's handler is done.
pub struct InFlight(Gauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl Metrics {
    pub fn new(blobs: BlobLifecycle) -> Metrics {
        let mut registry = Registry::with_prefix("ossd");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register("requests", "Requests answered, by operation and status class", requests.clone());
        let latency = Family::<OperationLabels, Histogram, fn() -> Histogram>::new_with_constructor(latency_buckets);
        registry.register(
            "request_duration_seconds",
            "Time from the request head to the response head, by operation",
            latency.clone(),
        );
        let received_bytes = Counter::default();
        registry.register(
            "received_bytes",
            "Request body bytes (as declared by Content-Length)",
            received_bytes.clone(),
        );
        let sent_bytes = Counter::default();
        registry.register("sent_bytes", "Response body bytes (as declared by the response)", sent_bytes.clone());
        let in_flight = Gauge::default();
        registry.register("in_flight_requests", "Requests being handled now", in_flight.clone());
        let callbacks = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "callback_deliveries",
            "Upload callbacks delivered (and replayed), by outcome: 200 (a receiver answered) or 203 (failed)",
            callbacks.clone(),
        );
        let callback_latency = latency_buckets();
        registry.register(
            "callback_delivery_duration_seconds",
            "Time spent delivering one callback, all URLs tried",
            callback_latency.clone(),
        );
        let policy_refusals = Counter::default();
        registry.register(
            "callback_destination_refusals",
            "Callback URLs refused by the destination policy",
            policy_refusals.clone(),
        );
        registry.register_collector(Box::new(ExternalTotals { blobs }));
        Metrics {
            registry,
            requests,
            latency,
            received_bytes,
            sent_bytes,
            in_flight,
            callbacks,
            callback_latency,
            policy_refusals,
        }
    }

    pub fn start_request(&self) -> InFlight {
        self.in_flight.inc();
        InFlight(self.in_flight.clone())
    }

    pub fn finish_request(&self, operation: &'static str, status: u16, received: u64, sent: u64, took: Duration) {
        let status_class = match status {
            100..=199 => "1xx",
            200..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            _ => "5xx",
        };
        self.requests.get_or_create(&RequestLabels { operation, status_class }).inc();
        self.latency.get_or_create(&OperationLabels { operation }).observe(took.as_secs_f64());
        self.received_bytes.inc_by(received);
        self.sent_bytes.inc_by(sent);
    }

    /// One callback delivery (upload or replay).
    pub fn callback_delivered(&self, delivery: &Delivery) {
        let outcome = match delivery.outcome {
            Outcome::Answered(_) => "200",
            Outcome::Failed { .. } => "203",
        };
        self.callbacks.get_or_create(&OutcomeLabels { outcome }).inc();
        let total_ms: u64 = delivery.attempts.iter().map(|a| a.latency_ms).sum();
        self.callback_latency.observe(total_ms as f64 / 1000.0);
        // The deliverer reports a refusal as the attempt's error message (the uploader sees the
        // same text); the metrics test pins this wording.
        let refused = delivery
            .attempts
            .iter()
            .filter(|a| a.error.as_deref().is_some_and(|e| e.contains("denied by the callback destination policy")))
            .count();
        self.policy_refusals.inc_by(refused as u64);
    }

    /// The Prometheus (OpenMetrics) text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::warn!(error = %e, "could not encode the metrics");
        }
        out
    }
}

/// Totals kept as plain atomics by other layers, read at scrape time.
struct ExternalTotals {
    blobs: BlobLifecycle,
}

impl std::fmt::Debug for ExternalTotals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExternalTotals").field("blobs", &self.blobs.stats()).finish()
    }
}

fn counter(encoder: &mut DescriptorEncoder, name: &str, help: &str, value: u64) -> Result<(), std::fmt::Error> {
    let c = ConstCounter::new(value);
    let m = encoder.encode_descriptor(name, help, None, c.metric_type())?;
    c.encode(m)
}

impl Collector for ExternalTotals {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let s = self.blobs.stats();
        counter(&mut encoder, "orphan_sweeps", "Orphan sweeps run (start-up and background)", s.sweeps)?;
        counter(&mut encoder, "orphan_blobs", "Orphaned blobs the sweeps found", s.orphans_found)?;
        counter(&mut encoder, "reclaimed_blobs", "Blobs whose bytes were removed", s.reclaimed)?;
        counter(
            &mut encoder,
            "reclaim_failures",
            "Blob deletions that failed (left for the sweep)",
            s.reclaim_failures,
        )?;
        let store_errors = crate::handlers::STORE_ERRORS.load(Ordering::Relaxed);
        counter(&mut encoder, "store_errors", "Metadata store failures answered as 500 or 507", store_errors)?;
        Ok(())
    }
}
