//! Per-gateway figures (issue #8 item 7): answer-seizure ratio, fax success rate, the T.30
//! completion codes, the T.38 fallback rate and whether the gateway is up, for the API as
//! JSON and for `/metrics`.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::tally::GatewayTally;

/// One gateway's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GatewayFigures {
    /// The gateway's name.
    pub gateway: String,
    /// Up (answering OPTIONS), down, or `None` when not probed.
    pub up: Option<bool>,
    /// Calls that ended (seizures).
    pub calls: u64,
    /// Of those, answered.
    pub answered: u64,
    /// Of those, every page confirmed.
    pub faxes_succeeded: u64,
    /// Calls that used T.38.
    pub t38_calls: u64,
    /// Of those, calls that went back to audio.
    pub t38_fallbacks: u64,
    /// `answered / calls`; `None` before the first call.
    pub answer_seizure_ratio: Option<f64>,
    /// `faxes_succeeded / answered`; `None` before the first answered call.
    pub fax_success_ratio: Option<f64>,
    /// `t38_fallbacks / t38_calls`; `None` before the first T.38 call.
    pub t38_fallback_ratio: Option<f64>,
    /// Calls by T.30 completion code (0 = success), where T.30 ran.
    pub t30_codes: BTreeMap<i32, u64>,
}

fn ratio(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

impl GatewayFigures {
    /// Figures from the tally of gateway `name` and its state.
    pub fn new(name: &str, t: &GatewayTally, up: Option<bool>) -> Self {
        GatewayFigures {
            gateway: name.to_owned(),
            up,
            calls: t.calls,
            answered: t.answered,
            faxes_succeeded: t.succeeded,
            t38_calls: t.t38_calls,
            t38_fallbacks: t.t38_fallbacks,
            answer_seizure_ratio: ratio(t.answered, t.calls),
            fax_success_ratio: ratio(t.succeeded, t.answered),
            t38_fallback_ratio: ratio(t.t38_fallbacks, t.t38_calls),
            t30_codes: t.t30_codes.clone(),
        }
    }
}

/// Figures of every gateway that is configured (`known`) or has carried a call, by name.
pub fn figures(
    tallies: &BTreeMap<String, GatewayTally>,
    known: &[String],
    up: &dyn Fn(&str) -> Option<bool>,
) -> Vec<GatewayFigures> {
    let names: BTreeSet<&str> = known
        .iter()
        .map(String::as_str)
        .chain(tallies.keys().map(String::as_str))
        .collect();
    let empty = GatewayTally::default();
    names
        .into_iter()
        .map(|n| GatewayFigures::new(n, tallies.get(n).unwrap_or(&empty), up(n)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_are_absent_without_a_denominator_and_names_merge() {
        let mut tallies = BTreeMap::new();
        tallies.insert(
            "b".to_owned(),
            GatewayTally {
                calls: 4,
                answered: 2,
                succeeded: 1,
                t38_calls: 0,
                t38_fallbacks: 0,
                t30_codes: BTreeMap::from([(0, 1), (48, 1)]),
            },
        );
        let up = |n: &str| (n == "a").then_some(false);
        let f = figures(&tallies, &["a".to_owned()], &up);
        assert_eq!(f.len(), 2);
        assert_eq!(
            (f[0].gateway.as_str(), f[0].up, f[0].answer_seizure_ratio),
            ("a", Some(false), None)
        );
        assert_eq!(f[1].answer_seizure_ratio, Some(0.5));
        assert_eq!(f[1].fax_success_ratio, Some(0.5));
        assert_eq!(f[1].t38_fallback_ratio, None);
    }
}
