//! The playout buffer in simulated time: reordering, duplicates, late and lost packets, 10–40
//! ms packets, SSRC changes, timeline jumps, and sender clock skew over a 10-minute call.

use std::time::{Duration, Instant};

use media::g711::Law;
use media::playout::{Frame, PlayoutBuffer, PlayoutConfig, PushOutcome, FRAME_SAMPLES};
use media::rtp::AudioPacket;
use test_support::{LinkProfile, Loss, LossyLink, ManualClock};

const MS: Duration = Duration::from_millis(1);
const TICK: Duration = Duration::from_millis(20);

/// A recognisable, never-silent test signal: the value says where it came from.
fn signal(t: u64) -> i16 {
    (1000 + (t * 37) % 4000) as i16
}

fn samples(start: u64, len: usize) -> Vec<i16> {
    (start..start + len as u64).map(signal).collect()
}

/// Pops one frame and returns its samples, or `None` for a gap.
fn pop(buffer: &mut PlayoutBuffer, now: Instant) -> Option<Vec<i16>> {
    match buffer.pop_frame(now) {
        Frame::Audio(s) => {
            assert_eq!(s.len(), FRAME_SAMPLES);
            Some(s.to_vec())
        }
        Frame::Gap => None,
    }
}

/// Sends 20 ms packets 0..n at one per tick; `deliver(i)` says at which ticks packet `i`
/// arrives (none: lost; several: duplicated). Returns every frame popped, one per tick.
fn run_20ms(
    n: u64,
    ticks: u64,
    deliver: impl Fn(u64) -> Vec<u64>,
) -> (Vec<Option<Vec<i16>>>, PlayoutBuffer) {
    let clock = ManualClock::new();
    let mut buffer = PlayoutBuffer::new(PlayoutConfig::default());
    let mut schedule: Vec<(u64, u64)> = (0..n)
        .flat_map(|i| deliver(i).into_iter().map(move |t| (t, i)))
        .collect();
    schedule.sort_by_key(|&(t, _)| t);
    let mut frames = Vec::new();
    for tick in 0..ticks {
        let now = clock.now() + TICK * tick as u32;
        for &(_, i) in schedule.iter().filter(|&&(t, _)| t == tick) {
            buffer.push_samples(
                now,
                7,
                100 + i,
                5000 + 160 * i,
                &samples(5000 + 160 * i, 160),
            );
        }
        frames.push(pop(&mut buffer, now));
    }
    (frames, buffer)
}

fn expected_frame(i: u64) -> Option<Vec<i16>> {
    Some(samples(5000 + 160 * i, 160))
}

#[test]
fn playout_starts_after_the_depth_and_keeps_the_order() {
    let (frames, buffer) = run_20ms(20, 25, |i| vec![i]);
    // Default depth 60 ms: the first packet (tick 0) plays at tick 3.
    assert_eq!(&frames[..3], &[None, None, None]);
    for i in 0..20 {
        assert_eq!(frames[3 + i as usize], expected_frame(i), "frame {i}");
    }
    let s = buffer.stats();
    assert_eq!(
        (
            s.received,
            s.played,
            s.late,
            s.lost,
            s.duplicate,
            s.reordered
        ),
        (20, 20, 0, 0, 0, 0)
    );
}

#[test]
fn reordered_packets_are_put_back_in_timestamp_order() {
    // Packets 4 and 5 swap places, 9 arrives two ticks after 10 and 11.
    let (frames, buffer) = run_20ms(20, 25, |i| match i {
        4 => vec![5],
        5 => vec![4],
        9 => vec![11],
        _ => vec![i],
    });
    for i in 0..20 {
        assert_eq!(frames[3 + i as usize], expected_frame(i), "frame {i}");
    }
    assert_eq!(buffer.stats().reordered, 2);
    assert_eq!(buffer.stats().late, 0);
}

#[test]
fn a_packet_overtaken_before_playout_starts_still_plays_first() {
    // Packet 0 arrives a tick after packet 1, before anything has played; playout starts
    // 60 ms after the first arrival (tick 1).
    let (frames, buffer) = run_20ms(6, 10, |i| if i == 0 { vec![2] } else { vec![i] });
    assert_eq!(&frames[..4], &[None, None, None, None]);
    assert_eq!(frames[4], expected_frame(0));
    assert_eq!(frames[5], expected_frame(1));
    assert_eq!(buffer.stats().late, 0);
}

#[test]
fn duplicates_are_dropped_even_after_their_audio_has_played() {
    let (frames, buffer) = run_20ms(10, 15, |i| match i {
        2 => vec![2, 2, 3],
        6 => vec![6, 12], // the copy comes long after packet 6 played
        _ => vec![i],
    });
    for i in 0..10 {
        assert_eq!(frames[3 + i as usize], expected_frame(i));
    }
    let s = buffer.stats();
    assert_eq!((s.duplicate, s.late, s.received), (3, 0, 13));
}

#[test]
fn a_late_packet_is_dropped_and_its_frame_is_a_gap() {
    // Packet 5 plays at tick 8; it arrives at tick 9.
    let (frames, buffer) = run_20ms(10, 15, |i| if i == 5 { vec![9] } else { vec![i] });
    assert_eq!(frames[8], None, "nothing to play: a gap for rx_fillin");
    assert_eq!(frames[9], expected_frame(6), "later audio keeps its place");
    let s = buffer.stats();
    assert_eq!((s.late, s.lost), (1, 0), "late is not lost: it arrived");
}

#[test]
fn lost_packets_leave_gaps_without_shifting_later_audio() {
    let (frames, buffer) = run_20ms(12, 16, |i| {
        if i == 3 || i == 4 || i == 8 {
            vec![]
        } else {
            vec![i]
        }
    });
    for i in 0..12 {
        let want = if [3, 4, 8].contains(&i) {
            None
        } else {
            expected_frame(i)
        };
        assert_eq!(frames[3 + i as usize], want, "frame {i}");
    }
    let s = buffer.stats();
    assert_eq!((s.lost, s.played), (3, 9));
    assert_eq!(
        s.gaps,
        3 + 3 + 1,
        "three before the start, three lost, one after the end"
    );
}

/// Sends packets of `len` samples at their own pace (len / 8 ms apart), arriving 5 ms later,
/// and pops 20 ms frames; returns the concatenated output after the depth.
fn run_sized(len: usize, total: usize, drop: &[u64]) -> (Vec<i16>, PlayoutBuffer) {
    let mut clock = ManualClock::new();
    let mut buffer = PlayoutBuffer::new(PlayoutConfig::default());
    let mut out = Vec::new();
    let packet_time = MS * (len / 8) as u32;
    let (mut next_packet, mut next_pop) = (packet_time + 5 * MS, Duration::ZERO);
    let mut n = 0u64;
    while out.len() < total {
        if next_packet <= next_pop {
            clock.advance(next_packet - clock.elapsed());
            let ts = n * len as u64;
            if !drop.contains(&n) {
                let outcome = buffer.push_samples(clock.now(), 3, n, ts, &samples(ts, len));
                assert_eq!(outcome, PushOutcome::Stored);
            }
            n += 1;
            next_packet += packet_time;
        } else {
            clock.advance(next_pop - clock.elapsed());
            match buffer.pop_frame(clock.now()) {
                Frame::Audio(s) => out.extend_from_slice(s),
                Frame::Gap => assert!(out.is_empty(), "no gap once started"),
            }
            next_pop += TICK;
        }
    }
    (out, buffer)
}

#[test]
fn packets_of_10_30_and_40_ms_are_sliced_into_20_ms_frames() {
    for len in [80, 160, 240, 320] {
        let (out, buffer) = run_sized(len, 8000, &[]);
        assert_eq!(out, samples(0, out.len()), "{len}-sample packets");
        assert_eq!(buffer.stats().late, 0);
    }
}

#[test]
fn a_lost_10_ms_packet_leaves_half_a_frame_of_zeros() {
    let (out, buffer) = run_sized(80, 1600, &[5]);
    let mut want = samples(0, 1600);
    want[400..480].fill(0);
    assert_eq!(out, want);
    let s = buffer.stats();
    assert_eq!((s.lost, s.missing_samples), (1, 80));
}

#[test]
fn each_packet_is_decoded_with_its_own_law() {
    let clock = ManualClock::new();
    let mut buffer = PlayoutBuffer::new(PlayoutConfig {
        depth: Duration::ZERO,
        ..PlayoutConfig::default()
    });
    let tone = samples(0, 320);
    for (i, law) in [Law::Ulaw, Law::Alaw].into_iter().enumerate() {
        let chunk = &tone[160 * i..160 * (i + 1)];
        let payload = media::g711::encode_to_vec(law, chunk);
        let packet = AudioPacket {
            ssrc: 1,
            seq: i as u64,
            timestamp: 160 * i as u64,
            marker: i == 0,
            law,
            payload: &payload,
        };
        buffer.push(clock.now(), &packet);
    }
    for (i, law) in [Law::Ulaw, Law::Alaw].into_iter().enumerate() {
        let want: Vec<i16> = tone[160 * i..160 * (i + 1)]
            .iter()
            .map(|&s| law.decode(law.encode(s)))
            .collect();
        assert_eq!(pop(&mut buffer, clock.now()), Some(want));
    }
}

#[test]
fn a_new_ssrc_restarts_the_buffer() {
    let mut clock = ManualClock::new();
    let mut buffer = PlayoutBuffer::new(PlayoutConfig::default());
    for i in 0..10u64 {
        buffer.push_samples(clock.now(), 1, i, 160 * i, &samples(160 * i, 160));
        pop(&mut buffer, clock.now());
        clock.advance(TICK);
    }
    // Another source, with its own random timestamp origin.
    let mut got = Vec::new();
    for i in 0..10u64 {
        let ts = 9_000_000 + 160 * i;
        assert_eq!(
            buffer.push_samples(clock.now(), 2, 50_000 + i, ts, &samples(ts, 160)),
            PushOutcome::Stored
        );
        got.push(pop(&mut buffer, clock.now()));
        clock.advance(TICK);
    }
    assert_eq!(&got[..3], &[None, None, None], "the depth again");
    assert_eq!(got[3], Some(samples(9_000_000, 160)));
    assert_eq!(buffer.stats().stream_restarts, 1);
    assert_eq!(buffer.stats().lost, 0);
}

#[test]
fn a_timestamp_jump_resyncs_after_a_few_packets() {
    let mut clock = ManualClock::new();
    let mut buffer = PlayoutBuffer::new(PlayoutConfig::default());
    let mut outcomes = Vec::new();
    for i in 0..20u64 {
        // The sender restarts its timeline 10 s ahead at packet 8.
        let ts = if i < 8 { 160 * i } else { 80_000 + 160 * i };
        outcomes.push(buffer.push_samples(clock.now(), 1, i, ts, &samples(ts, 160)));
        pop(&mut buffer, clock.now());
        clock.advance(TICK);
    }
    assert_eq!(outcomes[8], PushOutcome::OutOfRange);
    assert_eq!(outcomes[9], PushOutcome::OutOfRange);
    assert_eq!(outcomes[10], PushOutcome::Resynced);
    assert_eq!(outcomes[11], PushOutcome::Stored);
    assert_eq!(buffer.stats().resyncs, 1);
    // Playout restarted 60 ms after packet 10 (tick 13); ticks 13–19 played packets 10–16.
    assert_eq!(
        pop(&mut buffer, clock.now()),
        Some(samples(80_000 + 160 * 17, 160))
    );
}

// ---- clock skew ----

/// A test signal for skew: bursts of tone (as a modem would send) separated by silence.
struct Bursts {
    tone: u64,
    silence: u64,
}

impl Bursts {
    fn sample(&self, t: u64) -> i16 {
        let period = self.tone + self.silence;
        let (burst, at) = (t / period, t % period);
        if at >= self.tone {
            return 0;
        }
        let f = 1700.0 + 50.0 * (burst % 5) as f64;
        (6000.0 * (2.0 * std::f64::consts::PI * f * at as f64 / 8000.0).sin()).round() as i16 | 1
    }
}

/// Splits audio into its non-silent bursts (silence: 8 or more zeros in a row).
fn bursts(audio: &[i16]) -> Vec<&[i16]> {
    let mut out = Vec::new();
    let (mut start, mut zeros) = (None, 0);
    for (i, &s) in audio.iter().enumerate() {
        if s == 0 {
            zeros += 1;
            if zeros == 8 {
                if let Some(b) = start.take() {
                    out.push(&audio[b..i + 1 - 8]);
                }
            }
        } else {
            zeros = 0;
            start.get_or_insert(i);
        }
    }
    out
}

struct SkewRun {
    output: Vec<i16>,
    input: Vec<i16>,
    levels: (i64, i64),
    buffer: PlayoutBuffer,
}

/// A 10-minute call: the sender's 20 ms frames come every `sender_period` of receiver time,
/// over a link with 30 ms of jitter; the receiver pops every 20 ms exactly.
fn skew_run(sender_period: Duration, signal: &Bursts) -> SkewRun {
    let mut clock = ManualClock::new();
    let profile = LinkProfile {
        loss: Loss::None,
        jitter: 30 * MS,
        delay: 20 * MS,
        ..LinkProfile::default()
    };
    let mut link: LossyLink<(u64, Vec<i16>)> = LossyLink::new(profile, 100);
    let mut buffer = PlayoutBuffer::new(PlayoutConfig::default());
    let (mut next_send, mut next_pop) = (Duration::ZERO, Duration::ZERO);
    let (mut seq, mut output, mut input) = (0u64, Vec::new(), Vec::new());
    let (mut low, mut high) = (i64::MAX, i64::MIN);
    let end = Duration::from_secs(600);
    while next_pop < end {
        if next_send <= next_pop {
            clock.advance(next_send - clock.elapsed());
            let frame: Vec<i16> = (seq * 160..(seq + 1) * 160)
                .map(|t| signal.sample(t))
                .collect();
            input.extend_from_slice(&frame);
            link.send(clock.now(), (seq, frame));
            seq += 1;
            next_send += sender_period;
        } else {
            clock.advance(next_pop - clock.elapsed());
            while let Some((s, frame)) = link.poll_receive(clock.now()) {
                let outcome = buffer.push_samples(clock.now(), 9, s, 160 * s, &frame);
                assert_eq!(outcome, PushOutcome::Stored, "packet {s}");
            }
            let started = buffer.stats().played > 0;
            match buffer.pop_frame(clock.now()) {
                Frame::Audio(s) => output.extend_from_slice(s),
                Frame::Gap => assert!(!started, "a gap mid-call at {:?}", clock.elapsed()),
            }
            if started && clock.elapsed() > Duration::from_secs(5) {
                low = low.min(buffer.level());
                high = high.max(buffer.level());
            }
            next_pop += TICK;
        }
    }
    SkewRun {
        output,
        input,
        levels: (low, high),
        buffer,
    }
}

/// Every tone burst that was played came out whole and unchanged.
fn assert_bursts_intact(run: &SkewRun) {
    let sent = bursts(&run.input);
    let played = bursts(&run.output);
    assert!(played.len() > 100, "{} bursts played", played.len());
    // The last one may be cut off by the end of the run.
    for (i, (p, s)) in played.iter().zip(&sent).enumerate().take(played.len() - 1) {
        assert!(
            p == s,
            "burst {i} changed: {} samples played, {} sent",
            p.len(),
            s.len()
        );
    }
}

fn skewed(ppm: f64) -> Duration {
    // A sender clock fast by `ppm` produces its 20 ms frames that much sooner.
    Duration::from_nanos((20_000_000.0 * (1.0 - ppm * 1e-6)).round() as u64)
}

#[test]
fn a_fast_sender_is_absorbed_by_dropping_silence_only() {
    let run = skew_run(
        skewed(100.0),
        &Bursts {
            tone: 24_000,
            silence: 8_000,
        },
    );
    let s = run.buffer.stats();
    // 100 ppm over 600 s is 60 ms (480 samples): about three 20 ms slips.
    assert!((2..=4).contains(&s.slips_removed), "{s:?}");
    assert_eq!(s.slips_added, 0);
    assert!(
        s.samples_removed >= 320 && s.samples_removed <= 480 + 160,
        "{s:?}"
    );
    let (low, high) = run.levels;
    // Depth 60 ms + up to 30 ms of jitter + up to 20 ms of drift before a slip + a frame.
    assert!(
        low >= 0 && high <= 8 * (60 + 30 + 20 + 20 + 20),
        "level {low}..{high}"
    );
    assert!(
        run.buffer.drift().unwrap().abs() <= 160 + 40,
        "drift {:?}",
        run.buffer.drift()
    );
    assert_eq!((s.late, s.missing_samples), (0, 0));
    assert_bursts_intact(&run);
}

#[test]
fn a_slow_sender_is_absorbed_by_inserting_silence_only() {
    let run = skew_run(
        skewed(-100.0),
        &Bursts {
            tone: 24_000,
            silence: 8_000,
        },
    );
    let s = run.buffer.stats();
    assert!((2..=4).contains(&s.slips_added), "{s:?}");
    assert_eq!(s.slips_removed, 0);
    let (low, high) = run.levels;
    assert!(
        low >= 0 && high <= 8 * (60 + 30 + 20),
        "level {low}..{high}"
    );
    assert!(
        run.buffer.drift().unwrap().abs() <= 160 + 40,
        "drift {:?}",
        run.buffer.drift()
    );
    assert_eq!(
        (s.late, s.missing_samples),
        (0, 0),
        "the buffer never ran dry"
    );
    assert_bursts_intact(&run);
}

#[test]
fn without_silence_there_is_no_slip_and_the_signal_is_never_cut() {
    // One unbroken signal for 10 minutes: the level drifts, but nothing is dropped.
    let run = skew_run(
        skewed(100.0),
        &Bursts {
            tone: u64::MAX / 2,
            silence: 1,
        },
    );
    let s = run.buffer.stats();
    assert_eq!((s.slips_added, s.slips_removed), (0, 0));
    assert!(
        run.buffer.drift().unwrap() > 400,
        "drift {:?}",
        run.buffer.drift()
    );
    let n = run.output.len();
    assert_eq!(run.output, run.input[..n], "every sample played, in order");
}
