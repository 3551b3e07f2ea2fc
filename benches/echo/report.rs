//! Medians per scenario and server, ratios against the baselines, and the
//! markdown table.

use super::client::Measured;
use super::sys::{median, quartiles};
use std::fmt::Write;

type Scenario = (usize, usize);

/// Every run of the benchmark.
#[derive(Default)]
pub struct Results {
    runs: Vec<(Scenario, String, usize, Measured)>,
}

impl Results {
    pub fn add(&mut self, scenario: Scenario, kind: &str, round: usize, m: Measured) {
        self.runs.push((scenario, kind.to_string(), round, m));
    }

    /// The kinds measured in `sc`: the known ones in table order, then any
    /// other (`base:KIND`) in the order they ran.
    fn kinds(&self, sc: Scenario) -> Vec<String> {
        let ran: Vec<&str> = self
            .runs
            .iter()
            .filter(|r| r.0 == sc)
            .map(|r| r.1.as_str())
            .collect();
        let mut kinds: Vec<String> = super::KINDS
            .iter()
            .chain(&super::EXTRA_KINDS)
            .filter(|k| ran.contains(k))
            .map(|k| k.to_string())
            .collect();
        for k in ran {
            if !kinds.iter().any(|known| known == k) {
                kinds.push(k.to_string());
            }
        }
        kinds
    }

    fn scenarios(&self) -> Vec<Scenario> {
        let mut s: Vec<Scenario> = self.runs.iter().map(|r| r.0).collect();
        s.dedup();
        s
    }

    fn median_of(&self, sc: Scenario, kind: &str, f: impl Fn(&Measured) -> f64) -> f64 {
        let mut v: Vec<f64> = self
            .runs
            .iter()
            .filter(|r| r.0 == sc && r.1 == kind)
            .map(|r| f(&r.3))
            .collect();
        median(&mut v)
    }

    /// Median, smallest and largest over rounds of `f(kind) / f(baseline)`
    /// within each round.
    fn ratio(
        &self,
        sc: Scenario,
        kind: &str,
        baseline: &str,
        f: impl Fn(&Measured) -> f64,
    ) -> Ratio {
        let find = |kind: &str, round: usize| {
            self.runs
                .iter()
                .find(|r| r.0 == sc && r.1 == kind && r.2 == round)
                .map(|r| f(&r.3))
        };
        let mut v: Vec<f64> = self
            .runs
            .iter()
            .filter(|r| r.0 == sc && r.1 == kind)
            .filter_map(|r| Some(f(&r.3) / find(baseline, r.2)?))
            .collect();
        let (q1, q3) = quartiles(&mut v);
        Ratio {
            min: v.iter().copied().fold(f64::NAN, f64::min),
            max: v.iter().copied().fold(f64::NAN, f64::max),
            q1,
            q3,
            median: median(&mut v),
        }
    }

    pub fn markdown(&self, caption: &str) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "Echo round trips ({caption})\n");
        let _ = writeln!(
            out,
            "| conns x size | server | round trips/s | server CPU us/rt | p50 us | p99 us | noise |"
        );
        let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---:|");
        for sc in self.scenarios() {
            for kind in self.kinds(sc) {
                let kind = kind.as_str();
                let _ = writeln!(
                    out,
                    "| {} x {} B | {kind} | {:.0} | {:.2} | {:.0} | {:.0} | {:.0}% |",
                    sc.0,
                    sc.1,
                    self.median_of(sc, kind, Measured::round_trips_per_sec),
                    self.median_of(sc, kind, Measured::cpu_us_per_round_trip),
                    self.median_of(sc, kind, |m| m.p50.as_micros() as f64),
                    self.median_of(sc, kind, |m| m.p99.as_micros() as f64),
                    self.median_of(sc, kind, |m| m.interference * 100.0),
                );
            }
        }
        let _ = writeln!(
            out,
            "\nRatios, ringloop / baseline: median of per-round ratios [quartiles; smallest-largest]; targets: \
             CPU <= 1.00 x tokio and <= 1.10 x uring, round trips/s >= 1.00 x tokio and monoio\n"
        );
        let _ = writeln!(
            out,
            "| conns x size | CPU/rt vs tokio | CPU/rt vs uring | rt/s vs tokio | rt/s vs monoio |"
        );
        let _ = writeln!(out, "|---|---:|---:|---:|---:|");
        let cpu = Measured::cpu_us_per_round_trip;
        let rate = Measured::round_trips_per_sec;
        for sc in self.scenarios() {
            let _ = writeln!(
                out,
                "| {} x {} B | {} | {} | {} | {} |",
                sc.0,
                sc.1,
                verdict(self.ratio(sc, "ringloop", "tokio", cpu), |r| r <= 1.0),
                verdict(self.ratio(sc, "ringloop", "uring", cpu), |r| r <= 1.10),
                verdict(self.ratio(sc, "ringloop", "tokio", rate), |r| r >= 1.0),
                verdict(self.ratio(sc, "ringloop", "monoio", rate), |r| r >= 1.0),
            );
        }
        // Every A/B kind (an extra kind or `base:KIND`) in every scenario it ran.
        let ab_rows: Vec<(Scenario, String)> = self
            .scenarios()
            .into_iter()
            .flat_map(|sc| {
                self.kinds(sc)
                    .into_iter()
                    .filter(|k| !super::KINDS.contains(&k.as_str()))
                    .map(move |k| (sc, k))
            })
            .collect();
        if !ab_rows.is_empty() {
            let _ = writeln!(
                out,
                "\nA/B kinds, server CPU per round trip / tokio and / ringloop (median of \
                 per-round ratios [quartiles; smallest-largest])\n"
            );
            let _ = writeln!(
                out,
                "| conns x size | server | CPU/rt vs tokio | CPU/rt vs ringloop |"
            );
            let _ = writeln!(out, "|---|---|---:|---:|");
            for (sc, kind) in &ab_rows {
                let _ = writeln!(
                    out,
                    "| {} x {} B | {kind} | {} | {} |",
                    sc.0,
                    sc.1,
                    verdict(self.ratio(*sc, kind, "tokio", cpu), |r| r <= 1.0),
                    verdict(self.ratio(*sc, kind, "ringloop", cpu), |r| r <= 1.0),
                );
            }
        }
        if self.runs.iter().any(|r| r.1 == "ringloop-epoll") {
            let _ = writeln!(
                out,
                "\nThe epoll driver, ringloop-epoll / baseline; targets: CPU <= 1.05 x mio and \
                 <= 1.00 x tokio\n"
            );
            let _ = writeln!(
                out,
                "| conns x size | CPU/rt vs mio | CPU/rt vs tokio | rt/s vs tokio |"
            );
            let _ = writeln!(out, "|---|---:|---:|---:|");
            for sc in self.scenarios() {
                let _ = writeln!(
                    out,
                    "| {} x {} B | {} | {} | {} |",
                    sc.0,
                    sc.1,
                    verdict(self.ratio(sc, "ringloop-epoll", "mio", cpu), |r| r <= 1.05),
                    verdict(self.ratio(sc, "ringloop-epoll", "tokio", cpu), |r| r <= 1.0),
                    verdict(self.ratio(sc, "ringloop-epoll", "tokio", rate), |r| r
                        >= 1.0),
                );
            }
        }
        out
    }
}

/// A ratio over the rounds of one scenario.
struct Ratio {
    median: f64,
    min: f64,
    max: f64,
    /// Lower and upper quartile.
    q1: f64,
    q3: f64,
}

/// The median has three decimals, so one that misses a target by less than
/// 0.005 does not print as the target itself.
fn verdict(ratio: Ratio, met: impl Fn(f64) -> bool) -> String {
    let Ratio {
        median,
        min,
        max,
        q1,
        q3,
    } = ratio;
    if median.is_nan() {
        return "n/a".to_string();
    }
    let verdict = if met(median) { "met" } else { "missed" };
    format!("{median:.3} [{q1:.2}-{q3:.2}; {min:.2}-{max:.2}] ({verdict})")
}
