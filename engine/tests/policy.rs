//! T.38 and retry policy (issue #5 item 5): the pure `decide` and `learn` as tables, the
//! override parser, and persistence through a real SQLite store with explicit times.

use chrono::{DateTime, Duration, TimeZone, Utc};
use engine::call::{CallReport, FaxDirection, MediaPhase, Party, T38Event, T38Step};
use engine::outcome::{classify, AttemptFacts, NextAction, Outcome, OutcomeClass};
use engine::policy::overrides::{encode_bool, parse_bool};
use engine::policy::persist::{
    clear_fallback, list_fallbacks, load_history, load_overrides, override_namespace, save_history,
    set_fallback, FALLBACK_NAMESPACE, FLIP_FLOP_NAMESPACE,
};
use engine::policy::{
    decide, learn, Fallback, History, Identity, MediaUsed, Overrides, PairState, Parties, Settings,
    T38Mode, T38Source,
};
use store::{SqliteStore, Store};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0)
        .single()
        .expect("valid time")
}

fn mins(m: i64) -> DateTime<Utc> {
    t0() + Duration::minutes(m)
}

fn t38_settings() -> Settings {
    Settings {
        enable_t38: true,
        request_t38: true,
        softmodem_fallback: true,
        fallback_period: Duration::hours(24),
        ..Settings::default()
    }
}

fn outcome(class: OutcomeClass) -> Outcome {
    let next = match class {
        OutcomeClass::Success => NextAction::Done,
        OutcomeClass::NoCommonMedia => NextAction::RedialAudioOnly,
        OutcomeClass::Rejected | OutcomeClass::NotFound | OutcomeClass::DocumentError => {
            NextAction::GiveUp
        }
        OutcomeClass::Unreachable => NextAction::NextGateway,
        _ => NextAction::RetryLater,
    };
    Outcome {
        class,
        next,
        sip_status: None,
        q850: None,
        retry_after: None,
        t30_code: None,
        reason: String::new(),
    }
}

fn pair(allow_t38: bool, g711_only: bool, expires_min: i64) -> PairState {
    PairState {
        allow_t38,
        g711_only,
        media: MediaUsed::Audio,
        outcome: OutcomeClass::Success,
        at: t0(),
        expires_at: mins(expires_min),
    }
}

fn plan_t38(
    settings: &Settings,
    history: &History,
    ov: &Overrides,
    now: DateTime<Utc>,
) -> (T38Mode, T38Source) {
    let p = decide(settings, history, ov, &Identity::default(), 0, now);
    (p.t38, p.t38_source)
}

// ---------- decide: T.38 mode ----------

#[test]
fn base_settings_give_the_t38_mode() {
    let none = History::default();
    let ov = Overrides::default();
    for (enable, request, mode) in [
        (false, false, T38Mode::Off),
        (false, true, T38Mode::Off),
        (true, false, T38Mode::Accept),
        (true, true, T38Mode::Request),
    ] {
        let s = Settings {
            enable_t38: enable,
            request_t38: request,
            ..Settings::default()
        };
        assert_eq!(
            plan_t38(&s, &none, &ov, t0()),
            (mode, T38Source::Settings),
            "enable {enable} request {request}"
        );
    }
}

#[test]
fn decide_t38_table() {
    use T38Mode::*;
    use T38Source as Src;
    let s = t38_settings();
    let no_fb = Settings {
        softmodem_fallback: false,
        ..t38_settings()
    };
    let t38_off = Settings {
        enable_t38: false,
        request_t38: false,
        ..t38_settings()
    };
    // Pair states (allow T.38, G.711 only), all expiring 15 minutes after t0.
    let (allow, audio, g711) = (
        Some(pair(true, false, 15)),
        Some(pair(false, false, 15)),
        Some(pair(true, true, 15)),
    );
    // Fallbacks: until t0 + 60 min, and without an end.
    let hour = Some(Fallback {
        since: Some(t0()),
        until: Some(mins(60)),
    });
    let ever = Some(Fallback {
        since: None,
        until: None,
    });
    let (n, t, f) = (None, Some(true), Some(false));
    // (name, settings, pair, fallback, override (enable, request), seconds after t0, want)
    #[rustfmt::skip]
    #[allow(clippy::type_complexity)]
    let rows: Vec<(&str, &Settings, _, _, (_, _), i64, (T38Mode, T38Source))> = vec![
        ("nothing known", &s, None, None, (n, n), 0, (Request, Src::Settings)),
        ("pair allows T.38", &s, allow.clone(), None, (n, n), 300, (Request, Src::Settings)),
        ("pair says audio", &s, audio.clone(), None, (n, n), 300, (Off, Src::FlipFlop)),
        ("pair says audio, last second", &s, audio.clone(), None, (n, n), 899, (Off, Src::FlipFlop)),
        ("pair expired", &s, audio.clone(), None, (n, n), 900, (Request, Src::Settings)),
        ("G.711-only pair allowing T.38", &s, g711.clone(), None, (n, n), 60, (Request, Src::Settings)),
        ("fallback active", &s, None, hour.clone(), (n, n), 3599, (Off, Src::Fallback)),
        ("fallback beats the pair", &s, allow.clone(), hour.clone(), (n, n), 60, (Off, Src::Fallback)),
        ("fallback expired", &s, None, hour.clone(), (n, n), 3600, (Request, Src::Settings)),
        ("fallback without end", &s, None, ever.clone(), (n, n), 10_000_000, (Off, Src::Fallback)),
        ("fallback disabled", &no_fb, None, hour.clone(), (n, n), 60, (Request, Src::Settings)),
        ("history cannot enable T.38", &t38_off, allow.clone(), None, (n, n), 60, (Off, Src::Settings)),
        ("override off", &s, None, None, (f, n), 0, (Off, Src::Override)),
        ("override on beats fallback", &s, None, hour.clone(), (t, n), 60, (Accept, Src::Override)),
        ("override beats flip-flop", &s, audio.clone(), None, (t, t), 60, (Request, Src::Override)),
        ("override drops the request", &s, None, None, (n, f), 0, (Accept, Src::Override)),
        ("override on, settings off", &t38_off, None, None, (t, n), 0, (Accept, Src::Override)),
        ("override request alone", &t38_off, None, None, (n, t), 0, (Off, Src::Override)),
    ];
    for (name, settings, pair, fallback, (e, r), secs, want) in rows {
        let history = History { pair, fallback };
        let ov = Overrides {
            enable_t38: e,
            enable_t38_request: r,
            ..Overrides::default()
        };
        let now = t0() + Duration::seconds(secs);
        assert_eq!(plan_t38(settings, &history, &ov, now), want, "{name}");
    }
}

// ---------- decide: ECM, V.17, identity ----------

#[test]
fn v17_and_ecm_turn_off_after_n_fax_failures() {
    let none = History::default();
    let ov = Overrides::default();
    for n in 0..=3u32 {
        for failures in 0..=4u32 {
            let s = Settings {
                disable_v17_after_retry: n,
                disable_ecm_after_retry: n,
                ..Settings::default()
            };
            let p = decide(&s, &none, &ov, &Identity::default(), failures, t0());
            let reached = n > 0 && failures >= n;
            assert_eq!(p.disable_v17, reached, "v17 n={n} failures={failures}");
            // gofaxserver's ECM rule never fired (ECM started off); ours does.
            assert_eq!(p.ecm, !reached, "ecm n={n} failures={failures}");
        }
    }
    let no_ecm = Settings {
        use_ecm: false,
        ..Settings::default()
    };
    assert!(!decide(&no_ecm, &none, &ov, &Identity::default(), 0, t0()).ecm);
}

#[test]
fn overrides_win_for_ecm_v17_identity_and_verbose() {
    let s = Settings {
        disable_v17_after_retry: 1,
        disable_ecm_after_retry: 1,
        ..Settings::default()
    };
    let id = Identity {
        ident: "+1 212 555 0100".into(),
        header: "ACME Corp".into(),
    };
    let none = History::default();
    let plain = decide(&s, &none, &Overrides::default(), &id, 0, t0());
    assert_eq!(
        (plain.ident.as_str(), plain.header.as_str()),
        ("+1 212 555 0100", "ACME Corp")
    );
    assert!(!plain.verbose);
    let ov = Overrides::from_entries([
        ("fax_use_ecm", "true"),
        ("fax_disable_v17", "0"),
        ("fax_ident", "OVERRIDDEN"),
        ("fax_header", "Other header"),
        ("fax_verbose", "on"),
    ]);
    let p = decide(&s, &none, &ov, &id, 5, t0());
    assert!(p.ecm, "override keeps ECM despite 5 failures");
    assert!(!p.disable_v17, "override keeps V.17 despite 5 failures");
    assert_eq!(p.ident, "OVERRIDDEN");
    assert_eq!(p.header, "Other header");
    assert!(p.verbose);
}

// ---------- learn ----------

const ALL_CLASSES: [OutcomeClass; 11] = [
    OutcomeClass::Success,
    OutcomeClass::Partial { sent: 1, total: 3 },
    OutcomeClass::Busy,
    OutcomeClass::NoAnswer,
    OutcomeClass::Rejected,
    OutcomeClass::NotFound,
    OutcomeClass::Unreachable,
    OutcomeClass::NoCommonMedia,
    OutcomeClass::NotAFax,
    OutcomeClass::FaxFailed,
    OutcomeClass::DocumentError,
];
const ALL_MEDIA: [MediaUsed; 4] = [
    MediaUsed::None,
    MediaUsed::Audio,
    MediaUsed::T38,
    MediaUsed::AudioAfterT38,
];

/// Expected (allow T.38 next, g711 only, fallback set) from an empty history; None = no pair.
fn expected_from_empty(class: OutcomeClass, media: MediaUsed) -> (Option<(bool, bool)>, bool) {
    use MediaUsed as M;
    let media_failure = matches!(
        class,
        OutcomeClass::Partial { .. } | OutcomeClass::FaxFailed | OutcomeClass::NotAFax
    );
    match (class, media) {
        (OutcomeClass::Success, M::T38) => (Some((true, false)), false),
        (OutcomeClass::Success, M::AudioAfterT38) => (Some((false, false)), false),
        (OutcomeClass::Success, _) => (None, false),
        (_, M::T38 | M::AudioAfterT38) if media_failure => (Some((false, false)), true),
        (_, M::Audio) if media_failure => (Some((true, false)), false),
        (OutcomeClass::NoCommonMedia, _) => (Some((false, true)), false),
        _ => (None, false),
    }
}

#[test]
fn learn_from_empty_history_every_class_and_media() {
    let s = t38_settings();
    for class in ALL_CLASSES {
        for media in ALL_MEDIA {
            let h = learn(&History::default(), &outcome(class), media, &s, mins(3));
            let (pair_want, fb_want) = expected_from_empty(class, media);
            let got = h.pair.as_ref().map(|p| (p.allow_t38, p.g711_only));
            assert_eq!(got, pair_want, "{class} over {media:?}: pair");
            if let Some(p) = &h.pair {
                assert_eq!(p.at, mins(3));
                assert_eq!(
                    p.expires_at,
                    mins(18),
                    "15-minute window from the attempt's end"
                );
                assert_eq!((p.media, p.outcome), (media, class));
            }
            assert_eq!(
                h.fallback.is_some(),
                fb_want,
                "{class} over {media:?}: fallback"
            );
            if let Some(f) = &h.fallback {
                assert_eq!(f.since, Some(mins(3)));
                assert_eq!(f.until, Some(mins(3) + Duration::hours(24)));
            }
        }
    }
}

#[test]
fn learn_never_writes_a_fallback_when_disabled() {
    let s = Settings {
        softmodem_fallback: false,
        ..t38_settings()
    };
    for class in ALL_CLASSES {
        for media in ALL_MEDIA {
            let h = learn(&History::default(), &outcome(class), media, &s, t0());
            assert_eq!(h.fallback, None, "{class} over {media:?}");
        }
    }
}

#[test]
fn learn_keeps_the_pair_on_uninformative_outcomes() {
    let s = t38_settings();
    let prev = History {
        pair: Some(pair(false, true, 15)),
        fallback: None,
    };
    for class in [
        OutcomeClass::Busy,
        OutcomeClass::NoAnswer,
        OutcomeClass::Rejected,
        OutcomeClass::NotFound,
        OutcomeClass::Unreachable,
        OutcomeClass::DocumentError,
    ] {
        let h = learn(&prev, &outcome(class), MediaUsed::None, &s, mins(5));
        assert_eq!(h, prev, "{class} must not change or refresh the pair");
    }
}

#[test]
fn learn_flips_on_failures_and_keeps_on_successes() {
    let s = t38_settings();
    let audio_pair = History {
        pair: Some(pair(false, false, 15)),
        fallback: None,
    };
    // Audio forced and it worked: stay audio, window restarted.
    let h = learn(
        &audio_pair,
        &outcome(OutcomeClass::Success),
        MediaUsed::Audio,
        &s,
        mins(10),
    );
    let p = h.pair.expect("pair kept");
    assert!(!p.allow_t38);
    assert_eq!(p.expires_at, mins(25));
    // Audio forced and it failed: try T.38 again next time ("and vice versa").
    let h = learn(
        &audio_pair,
        &outcome(OutcomeClass::FaxFailed),
        MediaUsed::Audio,
        &s,
        mins(10),
    );
    assert!(h.pair.expect("pair").allow_t38);
    // The g711-only flag survives later learning inside the window...
    let g711 = History {
        pair: Some(pair(false, true, 15)),
        fallback: None,
    };
    let h = learn(
        &g711,
        &outcome(OutcomeClass::FaxFailed),
        MediaUsed::Audio,
        &s,
        mins(10),
    );
    assert_eq!(
        h.pair.map(|p| (p.allow_t38, p.g711_only)),
        Some((true, true))
    );
    // ...but not an expired pair.
    let h = learn(
        &g711,
        &outcome(OutcomeClass::FaxFailed),
        MediaUsed::Audio,
        &s,
        mins(16),
    );
    assert_eq!(
        h.pair.map(|p| (p.allow_t38, p.g711_only)),
        Some((true, false))
    );
    // An expired pair is forgotten when nothing new is learned.
    let h = learn(
        &g711,
        &outcome(OutcomeClass::Busy),
        MediaUsed::None,
        &s,
        mins(16),
    );
    assert_eq!(h.pair, None);
}

#[test]
fn learn_keeps_an_active_fallback_and_drops_an_expired_one() {
    let s = t38_settings();
    let prev = History {
        pair: None,
        fallback: Some(Fallback {
            since: Some(t0()),
            until: Some(mins(60)),
        }),
    };
    let kept = learn(
        &prev,
        &outcome(OutcomeClass::Success),
        MediaUsed::Audio,
        &s,
        mins(30),
    );
    assert_eq!(kept.fallback, prev.fallback);
    let dropped = learn(
        &prev,
        &outcome(OutcomeClass::Success),
        MediaUsed::Audio,
        &s,
        mins(60),
    );
    assert_eq!(dropped.fallback, None);
}

/// gofaxserver alternated T.38 on every call in the window, even after successes (§14.8).
#[test]
fn consecutive_t38_successes_keep_t38() {
    let s = Settings {
        softmodem_fallback: false,
        ..t38_settings()
    };
    let mut h = History::default();
    for call in 0..5 {
        let now = mins(call * 2);
        let plan = decide(&s, &h, &Overrides::default(), &Identity::default(), 0, now);
        assert_eq!(plan.t38, T38Mode::Request, "call {call}");
        h = learn(
            &h,
            &outcome(OutcomeClass::Success),
            MediaUsed::T38,
            &s,
            now + Duration::minutes(1),
        );
    }
}

#[test]
fn a_failed_t38_call_then_audio_then_back_after_the_window() {
    let s = Settings {
        softmodem_fallback: false,
        ..t38_settings()
    };
    let ov = Overrides::default();
    let id = Identity::default();
    let h0 = History::default();
    assert_eq!(decide(&s, &h0, &ov, &id, 0, t0()).t38, T38Mode::Request);
    let fail = classify(&AttemptFacts {
        answered: true,
        fax_detected: true,
        t30_code: Some(6),
        ..AttemptFacts::default()
    });
    let h1 = learn(&h0, &fail, MediaUsed::T38, &s, mins(2));
    let p = decide(&s, &h1, &ov, &id, 1, mins(3));
    assert_eq!((p.t38, p.t38_source), (T38Mode::Off, T38Source::FlipFlop));
    assert_eq!(decide(&s, &h1, &ov, &id, 1, mins(17)).t38, T38Mode::Request);
}

#[test]
fn a_488_leads_to_a_g711_only_redial() {
    let s = t38_settings();
    let o = classify(&AttemptFacts {
        sip_status: Some(488),
        ..AttemptFacts::default()
    });
    assert_eq!(o.next, NextAction::RedialAudioOnly);
    let h = learn(&History::default(), &o, MediaUsed::None, &s, t0());
    let p = decide(
        &s,
        &h,
        &Overrides::default(),
        &Identity::default(),
        0,
        mins(1),
    );
    assert!(p.g711_only);
    assert_eq!(p.t38, T38Mode::Off);
    // A 488 to an offer that was G.711 only already teaches nothing about this pair.
    let o = classify(&AttemptFacts {
        sip_status: Some(488),
        offered_only_g711: true,
        ..AttemptFacts::default()
    });
    assert_eq!(
        learn(&History::default(), &o, MediaUsed::None, &s, t0()),
        History::default()
    );
}

fn report(answered: bool, media: &[&str], t38: Vec<T38Step>) -> CallReport {
    let mut r = CallReport::new(FaxDirection::Send);
    r.call_id = "c1".into();
    r.answered = answered;
    r.sip_status = Some(200);
    r.fax_seen = answered;
    r.media = media
        .iter()
        .enumerate()
        .map(|(i, m)| MediaPhase {
            media: (*m).to_owned(),
            from_ms: i as u64 * 1000,
        })
        .collect();
    r.t38 = t38
        .into_iter()
        .map(|step| T38Event { at_ms: 0, step })
        .collect();
    r
}

#[test]
fn media_used_from_call_reports() {
    let offered = || T38Step::Offered { by: Party::Local };
    let rows = [
        (
            "never answered",
            report(false, &[], vec![]),
            MediaUsed::None,
        ),
        (
            "G.711 throughout",
            report(true, &["audio/PCMA"], vec![]),
            MediaUsed::Audio,
        ),
        (
            "switched to T.38",
            report(
                true,
                &["audio/PCMU", "t38/v0"],
                vec![offered(), T38Step::Accepted { by: Party::Remote }],
            ),
            MediaUsed::T38,
        ),
        (
            "T.38 from the first answer",
            report(true, &["t38/v0"], vec![offered()]),
            MediaUsed::T38,
        ),
        (
            "re-INVITE refused with 488",
            report(
                true,
                &["audio/PCMU"],
                vec![
                    offered(),
                    T38Step::Rejected {
                        by: Party::Remote,
                        status: 488,
                    },
                ],
            ),
            MediaUsed::AudioAfterT38,
        ),
        (
            "no UDPTL, back to audio",
            report(
                true,
                &["audio/PCMU", "t38/v0", "audio/PCMU"],
                vec![offered(), T38Step::NoMedia, T38Step::BackToAudio],
            ),
            MediaUsed::AudioAfterT38,
        ),
    ];
    for (name, r, want) in rows {
        assert_eq!(MediaUsed::from_report(&r), want, "{name}");
    }
}

// ---------- overrides ----------

#[test]
fn booleans_are_read_tolerantly() {
    for (s, want) in [
        ("true", Some(true)),
        ("TRUE", Some(true)),
        (" 1 ", Some(true)),
        ("yes", Some(true)),
        ("On", Some(true)),
        ("false", Some(false)),
        ("0", Some(false)),
        ("No", Some(false)),
        ("off", Some(false)),
        ("", None),
        ("2", None),
        ("truthy", None),
    ] {
        assert_eq!(parse_bool(s), want, "{s:?}");
    }
    assert_eq!(parse_bool(encode_bool(true)), Some(true));
    assert_eq!(parse_bool(encode_bool(false)), Some(false));
}

#[test]
fn overrides_parse_known_unknown_and_invalid_entries() {
    let o = Overrides::from_entries([
        ("fax_enable_t38", "false"),
        (" FAX_ENABLE_T38_REQUEST ", "1"),
        ("fax_use_ecm", "maybe"),
        ("fax_disable_v17", "yes"),
        ("fax_ident", "  +49 30 1234567  "),
        ("fax_header", "x".repeat(51).as_str()),
        ("fax_verbose", "0"),
        ("fax_t38_gateway", "self"),
    ]);
    assert_eq!(o.enable_t38, Some(false));
    assert_eq!(o.enable_t38_request, Some(true));
    assert_eq!(o.use_ecm, None);
    assert_eq!(o.disable_v17, Some(true));
    assert_eq!(o.ident.as_deref(), Some("+49 30 1234567"));
    assert_eq!(o.header, None);
    assert_eq!(o.verbose, Some(false));
    assert_eq!(
        o.other.get("fax_t38_gateway").map(String::as_str),
        Some("self")
    );
    let bad: Vec<(&str, &str)> = o
        .invalid
        .iter()
        .map(|i| (i.key.as_str(), i.problem))
        .collect();
    assert_eq!(
        bad,
        [
            (
                "fax_use_ecm",
                "not a boolean (true/false, 1/0, yes/no, on/off)"
            ),
            ("fax_header", "too long"),
        ]
    );
    assert!(!o.is_empty());
    assert!(Overrides::from_entries([("unknown", "1")]).is_empty());
    let limits = Overrides::from_entries([
        ("fax_ident", "12345678901234567890"),
        ("fax_header", "x".repeat(50).as_str()),
    ]);
    assert_eq!(limits.ident.map(|s| s.len()), Some(20));
    assert_eq!(limits.header.map(|s| s.len()), Some(50));
    let ctl = Overrides::from_entries([
        ("fax_ident", "123456789012345678901"),
        ("fax_header", "tab\there"),
    ]);
    assert_eq!((ctl.ident, ctl.header), (None, None));
    assert_eq!(ctl.invalid.len(), 2);
    assert_eq!(ctl.invalid[1].problem, "not printable ASCII");
}

// ---------- persistence (SQLite) ----------

async fn sqlite() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(&dir.path().join("fax.db"))
        .await
        .expect("open sqlite");
    (dir, store)
}

fn outbound() -> Parties {
    Parties {
        caller: "+12125550100".into(),
        callee: "+4930123456".into(),
        direction: FaxDirection::Send,
    }
}

#[tokio::test]
async fn history_round_trips_and_expires_in_sqlite() {
    let (_dir, store) = sqlite().await;
    let db: &dyn Store = &store;
    let s = t38_settings();
    let parties = outbound();
    let before = load_history(db, &parties, t0()).await.expect("load");
    assert_eq!(before, History::default());

    let failed = outcome(OutcomeClass::FaxFailed);
    let after = learn(&before, &failed, MediaUsed::T38, &s, t0());
    save_history(db, &parties, &before, &after)
        .await
        .expect("save");

    let entry = db
        .kv_get(FLIP_FLOP_NAMESPACE, "+12125550100_+4930123456", t0())
        .await
        .expect("kv_get")
        .expect("pair stored under <caller>_<callee>");
    assert_eq!(entry.expires_at, Some(mins(15)));
    let fb = db
        .kv_get(FALLBACK_NAMESPACE, "+4930123456", t0())
        .await
        .expect("kv_get")
        .expect("fallback keyed by the callee when sending");
    assert_eq!(
        fb.value,
        t0().timestamp().to_string(),
        "gofaxip's value: Unix seconds"
    );
    assert_eq!(fb.expires_at, Some(t0() + Duration::hours(24)));

    let loaded = load_history(db, &parties, mins(14)).await.expect("load");
    assert_eq!(loaded, after);
    let plan = decide(
        &s,
        &loaded,
        &Overrides::default(),
        &Identity::default(),
        1,
        mins(14),
    );
    assert_eq!(
        (plan.t38, plan.t38_source),
        (T38Mode::Off, T38Source::Fallback)
    );

    // The pair expires at 15 minutes, the fallback after 24 hours.
    let later = load_history(db, &parties, mins(15)).await.expect("load");
    assert_eq!(later.pair, None);
    assert!(later.fallback.is_some());
    let day = load_history(db, &parties, t0() + Duration::hours(24))
        .await
        .expect("load");
    assert_eq!(day, History::default());
    let plan = decide(
        &s,
        &day,
        &Overrides::default(),
        &Identity::default(),
        1,
        t0() + Duration::hours(24),
    );
    assert_eq!(plan.t38, T38Mode::Request);
}

#[tokio::test]
async fn save_writes_only_what_changed() {
    let (_dir, store) = sqlite().await;
    let db: &dyn Store = &store;
    let parties = outbound();
    let h = History {
        pair: Some(pair(true, false, 15)),
        fallback: None,
    };
    // Unchanged: nothing is written.
    save_history(db, &parties, &h, &h).await.expect("save");
    assert!(db
        .kv_list(FLIP_FLOP_NAMESPACE, "", t0())
        .await
        .expect("list")
        .is_empty());
    save_history(db, &parties, &History::default(), &h)
        .await
        .expect("save");
    assert_eq!(
        db.kv_list(FLIP_FLOP_NAMESPACE, "", t0())
            .await
            .expect("list")
            .len(),
        1
    );
    // Anonymous callers have no pair.
    let anon = Parties {
        caller: String::new(),
        ..outbound()
    };
    save_history(db, &anon, &History::default(), &h)
        .await
        .expect("save");
    assert_eq!(
        db.kv_list(FLIP_FLOP_NAMESPACE, "", t0())
            .await
            .expect("list")
            .len(),
        1
    );
    assert_eq!(
        load_history(db, &anon, t0()).await.expect("load").pair,
        None
    );
}

#[tokio::test]
async fn inbound_checks_caller_and_callee_and_learns_for_the_caller() {
    let (_dir, store) = sqlite().await;
    let db: &dyn Store = &store;
    let s = t38_settings();
    let inbound = Parties {
        caller: "+33123456789".into(),
        callee: "+12125550100".into(),
        direction: FaxDirection::Receive,
    };
    // A fallback set by hand on our own DID applies to calls to it.
    set_fallback(
        db,
        "+12125550100",
        &Fallback {
            since: None,
            until: None,
        },
    )
    .await
    .expect("set");
    let h = load_history(db, &inbound, t0()).await.expect("load");
    assert_eq!(
        h.fallback,
        Some(Fallback {
            since: None,
            until: None
        })
    );
    assert!(clear_fallback(db, "+12125550100").await.expect("clear"));
    assert!(!clear_fallback(db, "+12125550100")
        .await
        .expect("clear again"));

    let before = load_history(db, &inbound, t0()).await.expect("load");
    let after = learn(
        &before,
        &outcome(OutcomeClass::NotAFax),
        MediaUsed::AudioAfterT38,
        &s,
        t0(),
    );
    save_history(db, &inbound, &before, &after)
        .await
        .expect("save");
    let listed = list_fallbacks(db, mins(1)).await.expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].0, "+33123456789", "keyed by the remote caller");
    assert_eq!(listed[0].1.since, Some(t0()));
    assert!(list_fallbacks(db, t0() + Duration::hours(24))
        .await
        .expect("list")
        .is_empty());
}

#[tokio::test]
async fn overrides_load_from_their_key_space() {
    let (_dir, store) = sqlite().await;
    let db: &dyn Store = &store;
    let ns = override_namespace("+4930123456");
    assert_eq!(ns, "override-+4930123456");
    for (k, v) in [
        ("fax_enable_t38", "false"),
        ("fax_use_ecm", "1"),
        ("fax_ident", "BERLIN"),
    ] {
        db.kv_set(&ns, k, v, None).await.expect("set");
    }
    db.kv_set(&ns, "fax_verbose", "true", Some(mins(10)))
        .await
        .expect("set");
    db.kv_set("override-+49301", "fax_header", "other number", None)
        .await
        .expect("set");

    let o = load_overrides(db, "+4930123456", mins(5))
        .await
        .expect("load");
    assert_eq!(o.enable_t38, Some(false));
    assert_eq!(o.use_ecm, Some(true));
    assert_eq!(o.ident.as_deref(), Some("BERLIN"));
    assert_eq!(o.verbose, Some(true));
    assert_eq!(o.header, None, "another number's overrides do not leak in");
    let expired = load_overrides(db, "+4930123456", mins(10))
        .await
        .expect("load");
    assert_eq!(expired.verbose, None);
    assert!(load_overrides(db, "+1999", t0())
        .await
        .expect("load")
        .is_empty());

    let plan = decide(
        &t38_settings(),
        &History::default(),
        &o,
        &Identity::default(),
        0,
        t0(),
    );
    assert_eq!(
        (plan.t38, plan.t38_source),
        (T38Mode::Off, T38Source::Override)
    );
    assert_eq!(plan.ident, "BERLIN");
}

#[tokio::test]
async fn damaged_entries_are_treated_as_absent() {
    let (_dir, store) = sqlite().await;
    let db: &dyn Store = &store;
    let parties = outbound();
    db.kv_set(
        FLIP_FLOP_NAMESPACE,
        "+12125550100_+4930123456",
        "{not json",
        None,
    )
    .await
    .expect("set");
    db.kv_set(FALLBACK_NAMESPACE, "+4930123456", "true", None)
        .await
        .expect("set");
    let h = load_history(db, &parties, t0()).await.expect("load");
    assert_eq!(h.pair, None);
    assert_eq!(
        h.fallback,
        Some(Fallback {
            since: None,
            until: None
        }),
        "any value marks a fallback, as with gofaxip's `db exists`"
    );
}
