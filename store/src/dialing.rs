//! The toll-fraud guard: which destinations a tenant may dial, and how much per day.
//!
//! [`check`] is a pure decision over a tenant's [`DialingRules`] and a normalised number, so
//! every submit path (the REST API, the Event Socket emulation, the queue) can call it and
//! they all refuse the same numbers. A stolen credential is the usual way in; the defaults
//! therefore block international and premium-rate destinations and cap the daily volume
//! until the administrator allows more for that tenant.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::numbers::E164;

/// Premium-rate and satellite/international-network prefixes blocked by default: NANP
/// premium services (+1 900, +1 976), the Inmarsat/Iridium/international networks
/// (+881, +882, +883) and international premium-rate (+979).
pub const DEFAULT_PREMIUM_PREFIXES: &[&str] = &["+1900", "+1976", "+881", "+882", "+883", "+979"];

/// Jobs a tenant may submit per UTC day unless the administrator says otherwise.
pub const DEFAULT_DAILY_JOBS: i64 = 500;
/// Pages a tenant may submit per UTC day unless the administrator says otherwise.
pub const DEFAULT_DAILY_PAGES: i64 = 5_000;

/// A tenant's dialing settings as stored (`tenant_dialing`, migration 0004).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DialingSettings {
    /// Country calling code of the tenant's home, digits only (`"1"` for NANP).
    pub home_country_code: String,
    /// Prefixes (`+` and digits) the tenant may dial although they are blocked by default:
    /// `+44` allows the UK, `+1900` the NANP premium range, `+` every international number
    /// (but no premium-rate range, which must be named).
    pub allowed_prefixes: Vec<String>,
    /// Jobs per UTC day; `None` is unlimited.
    pub daily_jobs: Option<i64>,
    /// Pages per UTC day; `None` is unlimited.
    pub daily_pages: Option<i64>,
}

impl Default for DialingSettings {
    fn default() -> Self {
        DialingSettings {
            home_country_code: "1".into(),
            allowed_prefixes: Vec::new(),
            daily_jobs: Some(DEFAULT_DAILY_JOBS),
            daily_pages: Some(DEFAULT_DAILY_PAGES),
        }
    }
}

impl DialingSettings {
    /// Checks the values an administrator sends; the message names the bad field.
    pub fn validate(&self) -> Result<(), String> {
        let cc = &self.home_country_code;
        if cc.is_empty() || cc.len() > 3 || !cc.bytes().all(|b| b.is_ascii_digit()) || cc == "0" {
            return Err(format!(
                "home_country_code {cc:?} must be 1 to 3 digits (\"1\" for NANP)"
            ));
        }
        for p in &self.allowed_prefixes {
            let digits = p.strip_prefix('+').unwrap_or("x");
            if digits.len() > 15 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!(
                    "allowed prefix {p:?} must be `+` followed by up to 15 digits"
                ));
            }
        }
        for (name, cap) in [
            ("daily_jobs", self.daily_jobs),
            ("daily_pages", self.daily_pages),
        ] {
            if cap.is_some_and(|c| c < 0) {
                return Err(format!("{name} must be 0 or more (null for unlimited)"));
            }
        }
        Ok(())
    }

    /// The destination rules these settings make, with the default premium list.
    pub fn rules(&self) -> DialingRules {
        DialingRules {
            home: format!("+{}", self.home_country_code),
            premium: DEFAULT_PREMIUM_PREFIXES
                .iter()
                .map(|p| (*p).to_owned())
                .collect(),
            allowed: self.allowed_prefixes.clone(),
        }
    }
}

/// The destination part of the guard, ready to check numbers against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialingRules {
    /// `+` and the home country code.
    pub home: String,
    /// Premium-rate prefixes, blocked unless an allowed prefix names them.
    pub premium: Vec<String>,
    /// Explicitly allowed prefixes.
    pub allowed: Vec<String>,
}

/// Why a destination is refused; the `Display` text is safe to show the tenant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Outside the home country, and no allowed prefix covers it.
    #[error("international destination {number} is not allowed for this tenant (home +{home_cc}); ask the administrator to allow its prefix")]
    International {
        /// The refused number.
        number: String,
        /// The tenant's home country code, digits only.
        home_cc: String,
    },
    /// A premium-rate or satellite prefix that no allowed prefix names.
    #[error("premium-rate destination {number} (prefix {prefix}) is not allowed for this tenant")]
    PremiumRate {
        /// The refused number.
        number: String,
        /// The blocked prefix it matched.
        prefix: String,
    },
}

/// Decides whether a tenant may dial `number`.
///
/// A premium prefix is lifted only by an allowed prefix inside it (`+1900` or longer), so
/// that allowing a whole country (`+1`) or everything (`+`) never opens premium ranges.
pub fn check(rules: &DialingRules, number: &E164) -> Result<(), Refusal> {
    let n = number.as_str();
    let allowed = |inside: &str| {
        rules
            .allowed
            .iter()
            .any(|a| n.starts_with(a.as_str()) && a.starts_with(inside))
    };
    if let Some(p) = rules.premium.iter().find(|p| n.starts_with(p.as_str())) {
        return if allowed(p) {
            Ok(())
        } else {
            Err(Refusal::PremiumRate {
                number: n.to_owned(),
                prefix: p.clone(),
            })
        };
    }
    if n.starts_with(&rules.home) || allowed("+") {
        return Ok(());
    }
    Err(Refusal::International {
        number: n.to_owned(),
        home_cc: rules.home.trim_start_matches('+').to_owned(),
    })
}

/// What a tenant has submitted since the start of the UTC day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct DailyUsage {
    /// Outbound jobs created.
    pub jobs: i64,
    /// Pages of their documents.
    pub pages: i64,
}

/// Which daily cap a submission would exceed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CapExceeded {
    /// The number of jobs.
    #[error("daily limit of {0} faxes reached")]
    Jobs(i64),
    /// The number of pages.
    #[error("daily limit of {0} pages reached")]
    Pages(i64),
}

/// Checks that `usage` plus one more job of `pages` pages stays within the caps.
pub fn check_caps(
    settings: &DialingSettings,
    usage: DailyUsage,
    pages: i64,
) -> Result<(), CapExceeded> {
    if let Some(cap) = settings.daily_jobs {
        if usage.jobs.saturating_add(1) > cap {
            return Err(CapExceeded::Jobs(cap));
        }
    }
    if let Some(cap) = settings.daily_pages {
        if usage.pages.saturating_add(pages) > cap {
            return Err(CapExceeded::Pages(cap));
        }
    }
    Ok(())
}

/// Midnight UTC at the start of `now`'s day: where the daily counts start.
pub fn day_start(now: DateTime<Utc>) -> DateTime<Utc> {
    now.date_naive().and_time(chrono::NaiveTime::MIN).and_utc()
}

/// Time until the next UTC midnight, when the daily counts start again.
pub fn until_next_day(now: DateTime<Utc>) -> TimeDelta {
    day_start(now) + TimeDelta::days(1) - now
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NumberRules;

    fn e164(s: &str) -> E164 {
        NumberRules::nanp().normalize(s).expect("valid")
    }

    fn rules(allowed: &[&str]) -> DialingRules {
        DialingSettings {
            allowed_prefixes: allowed.iter().map(|s| (*s).to_owned()).collect(),
            ..DialingSettings::default()
        }
        .rules()
    }

    #[test]
    fn defaults_allow_home_and_block_international_and_premium() {
        let r = rules(&[]);
        assert_eq!(check(&r, &e164("+12125550100")), Ok(()));
        assert!(matches!(
            check(&r, &e164("+442071838750")),
            Err(Refusal::International { .. })
        ));
        for n in [
            "+19005550100",
            "+19765550100",
            "+8816555123",
            "+882345678901",
        ] {
            assert!(
                matches!(check(&r, &e164(n)), Err(Refusal::PremiumRate { .. })),
                "{n}"
            );
        }
    }

    #[test]
    fn allowed_prefixes_lift_only_what_they_name() {
        let r = rules(&["+44", "+"]);
        assert_eq!(check(&r, &e164("+442071838750")), Ok(()));
        assert_eq!(check(&r, &e164("+33142685300")), Ok(()));
        // `+` and `+1` do not open premium ranges; `+1900` does, and only that one.
        let r = rules(&["+", "+1", "+1900"]);
        assert!(matches!(
            check(&r, &e164("+8816555123")),
            Err(Refusal::PremiumRate { .. })
        ));
        assert_eq!(check(&r, &e164("+19005550100")), Ok(()));
        assert!(check(&r, &e164("+19765550100")).is_err());
    }

    #[test]
    fn home_country_is_configurable() {
        let s = DialingSettings {
            home_country_code: "44".into(),
            ..DialingSettings::default()
        };
        assert_eq!(check(&s.rules(), &e164("+442071838750")), Ok(()));
        assert!(check(&s.rules(), &e164("+12125550100")).is_err());
    }

    #[test]
    fn caps_count_the_next_job_and_its_pages() {
        let s = DialingSettings {
            daily_jobs: Some(2),
            daily_pages: Some(10),
            ..DialingSettings::default()
        };
        let used = DailyUsage { jobs: 1, pages: 8 };
        assert_eq!(check_caps(&s, used, 2), Ok(()));
        assert_eq!(check_caps(&s, used, 3), Err(CapExceeded::Pages(10)));
        let full = DailyUsage { jobs: 2, pages: 0 };
        assert_eq!(check_caps(&s, full, 1), Err(CapExceeded::Jobs(2)));
        let open = DialingSettings {
            daily_jobs: None,
            daily_pages: None,
            ..s
        };
        assert_eq!(check_caps(&open, full, 1_000_000), Ok(()));
    }

    #[test]
    fn validation_names_the_field() {
        let bad = DialingSettings {
            allowed_prefixes: vec!["44".into()],
            ..DialingSettings::default()
        };
        assert!(bad.validate().unwrap_err().contains("44"));
        let bad = DialingSettings {
            home_country_code: "x".into(),
            ..DialingSettings::default()
        };
        assert!(bad.validate().unwrap_err().contains("home_country_code"));
        assert!(DialingSettings::default().validate().is_ok());
    }

    #[test]
    fn day_boundaries_are_utc_midnight() {
        use chrono::TimeZone;
        let now = Utc.with_ymd_and_hms(2026, 3, 4, 22, 0, 0).unwrap();
        assert_eq!(
            day_start(now),
            Utc.with_ymd_and_hms(2026, 3, 4, 0, 0, 0).unwrap()
        );
        assert_eq!(until_next_day(now), TimeDelta::hours(2));
    }
}
