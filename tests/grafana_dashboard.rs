//! The Grafana dashboard (`ops/grafana/zkmeter.json`) asks only for metrics the
//! prover daemon and the verifier service export: a renamed metric would
//! otherwise leave a panel silently empty.

use std::collections::BTreeSet;
use std::time::Duration;

const DASHBOARD: &str = include_str!("../ops/grafana/zkmeter.json");

/// The series names each metric family of `exposition` (Prometheus text) can
/// be queried by: a counter's `_total`, a histogram's `_bucket`, `_sum` and
/// `_count`, a gauge's own name.
fn series(exposition: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in exposition.lines() {
        let Some(rest) = line.strip_prefix("# TYPE ") else { continue };
        let (name, kind) = rest.split_once(' ').expect("a TYPE line names a metric and its type");
        let suffixes: &[&str] = match kind {
            "counter" => &["_total"],
            "histogram" => &["_bucket", "_sum", "_count"],
            "gauge" => &[""],
            other => panic!("metric {name} has type {other}, which this test does not know"),
        };
        out.extend(suffixes.iter().map(|s| format!("{name}{s}")));
    }
    out
}

/// Every `expr` in the dashboard's panels.
fn queries(dashboard: &serde_json::Value) -> Vec<String> {
    let panels = dashboard["panels"].as_array().expect("the dashboard has panels");
    let mut out = Vec::new();
    for panel in panels {
        let targets = panel["targets"].as_array().unwrap_or_else(|| panic!("panel {} has no targets", panel["title"]));
        for target in targets {
            out.push(target["expr"].as_str().unwrap_or_else(|| panic!("a target of panel {} has no expr", panel["title"])).to_owned());
        }
    }
    out
}

/// The metric names a PromQL expression reads: identifiers starting `zkmeter_`.
fn metric_names(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = expr;
    while let Some(at) = rest.find("zkmeter_") {
        let tail = &rest[at..];
        let end = tail.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(tail.len());
        names.push(tail[..end].to_owned());
        rest = &tail[end..];
    }
    names
}

#[test]
fn every_dashboard_query_names_an_exported_metric() {
    let dashboard: serde_json::Value = serde_json::from_str(DASHBOARD).expect("the dashboard is JSON");
    // A family with no samples yet is not rendered: record one of everything.
    let prover = zkmeter_prover::metrics::Metrics::new();
    prover.logged(1, 3, 1);
    prover.epoch(1, "proved");
    prover.proved(Duration::from_millis(20));
    prover.submission("accepted");
    prover.workload(1, "proved");
    prover.backlog(1, 3, 1);
    let verifier = zkmeter_service::metrics::Metrics::new();
    verifier.submission("verified");
    verifier.observe_batch(4, Duration::from_millis(3));
    verifier.settlement("settled", Some(300_000));
    verifier.work_submission("verified");
    verifier.work_settlement("settled", Some(200_000));
    let mut exported = series(&prover.render());
    exported.extend(series(&verifier.render()));
    assert!(exported.len() > 20, "both binaries' metrics were read: {exported:?}");

    let queries = queries(&dashboard);
    assert!(queries.len() >= 10, "the dashboard has its panels: {queries:?}");
    let mut read = BTreeSet::new();
    for expr in &queries {
        let names = metric_names(expr);
        assert!(!names.is_empty(), "query {expr:?} reads no zkmeter metric");
        for name in names {
            assert!(exported.contains(&name), "query {expr:?} reads {name}, which neither binary exports; exported: {exported:?}");
            read.insert(name);
        }
    }
    // What the dashboard promises to show.
    for needed in [
        "zkmeter_prover_epochs_total",
        "zkmeter_prover_prove_seconds_bucket",
        "zkmeter_prover_backlog_epochs",
        "zkmeter_prover_submissions_total",
        "zkmeter_verifier_submissions_total",
        "zkmeter_verifier_settlement_gas_sum",
    ] {
        assert!(read.contains(needed), "no panel shows {needed}");
    }
}

#[test]
fn metric_names_are_read_from_promql() {
    assert_eq!(
        metric_names(r#"sum(rate(zkmeter_a_total{step="x"}[5m])) / sum(rate(zkmeter_b_count[5m]))"#),
        vec!["zkmeter_a_total", "zkmeter_b_count"]
    );
    let exposition = "# HELP zkmeter_x X.\n# TYPE zkmeter_x counter\n# TYPE zkmeter_h histogram\n# TYPE zkmeter_g gauge\n";
    assert_eq!(
        series(exposition).into_iter().collect::<Vec<_>>(),
        ["zkmeter_g", "zkmeter_h_bucket", "zkmeter_h_count", "zkmeter_h_sum", "zkmeter_x_total"]
    );
}
