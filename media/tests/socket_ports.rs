//! The media port pool: pairs from the range, RAII release, no leaks under churn, a clear
//! error when exhausted, and ports held by another process skipped.

use std::net::UdpSocket;

use media::ports::{PortLease, PortPool};
use media::Error;
use test_support::SeededRng;

#[test]
fn pairs_are_even_ports_with_the_next_one_kept_for_rtcp() {
    let pool = PortPool::new(10001..=10010).unwrap();
    // 10001 is odd, so pairs start at 10002; 10010 has no partner.
    assert_eq!(pool.capacity(), 4);
    let leases: Vec<PortLease> = (0..4).map(|_| pool.allocate().unwrap()).collect();
    let ports: Vec<u16> = leases.iter().map(PortLease::port).collect();
    assert_eq!(ports, [10002, 10004, 10006, 10008]);
    assert!(leases.iter().all(|l| l.rtcp_port() == l.port() + 1));
    assert_eq!(pool.available(), 0);
}

#[test]
fn bad_ranges_are_refused() {
    assert!(matches!(
        PortPool::new(0..=100),
        Err(Error::BadPortRange { .. })
    ));
    assert!(matches!(
        PortPool::new(20000..=20000),
        Err(Error::BadPortRange { .. })
    ));
    assert!(matches!(
        PortPool::new(20001..=20002),
        Err(Error::BadPortRange { .. })
    ));
    assert_eq!(PortPool::new(65534..=65535).unwrap().capacity(), 1);
    assert_eq!(
        PortPool::new(1..=5).unwrap().capacity(),
        2,
        "pairs 2-3 and 4-5"
    );
    assert!(matches!(
        PortPool::new(65535..=65535),
        Err(Error::BadPortRange { .. })
    ));
}

#[test]
fn exhaustion_is_a_clear_error_and_a_release_cures_it() {
    let pool = PortPool::new(30000..=30003).unwrap();
    let a = pool.allocate().unwrap();
    let _b = pool.allocate().unwrap();
    let err = pool.allocate().unwrap_err();
    assert_eq!(
        err,
        Error::PortsExhausted {
            first: 30000,
            last: 30003,
            capacity: 2
        }
    );
    assert_eq!(
        err.to_string(),
        "no free media port pair: all 2 pairs of 30000-30003 are in use"
    );
    let err = pool
        .bind_with(|port| UdpSocket::bind(("127.0.0.1", port)))
        .unwrap_err();
    assert!(matches!(err, Error::PortsExhausted { .. }), "{err}");
    let freed = a.port();
    drop(a);
    assert_eq!(pool.allocate().unwrap().port(), freed);
}

#[test]
fn freed_pairs_are_reused_last() {
    let pool = PortPool::new(40000..=40007).unwrap();
    let first = pool.allocate().unwrap();
    let port = first.port();
    drop(first);
    let next: Vec<u16> = (0..4).map(|_| pool.allocate().unwrap().port()).collect();
    assert_eq!(next.last(), Some(&port), "{next:?}");
}

#[test]
fn one_hundred_thousand_random_allocations_and_releases_leak_nothing() {
    let pool = PortPool::new(16384..=16483).unwrap();
    let capacity = pool.capacity();
    assert_eq!(capacity, 50);
    let mut rng = SeededRng::new(0x5EED);
    let mut held: Vec<PortLease> = Vec::new();
    let mut exhausted = 0;
    for _ in 0..100_000 {
        // Allocate a little more often than release, so the pool runs dry now and then.
        if held.is_empty() || rng.chance(0.55) {
            match pool.allocate() {
                Ok(lease) => held.push(lease),
                Err(Error::PortsExhausted { .. }) => exhausted += 1,
                Err(e) => panic!("unexpected {e}"),
            }
        } else {
            let i = (rng.next_u64() % held.len() as u64) as usize;
            held.swap_remove(i);
        }
        assert_eq!(pool.available() + held.len(), capacity);
        let mut ports: Vec<u16> = held.iter().map(PortLease::port).collect();
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), held.len(), "a pair leased twice");
    }
    assert!(exhausted > 0, "the churn reached exhaustion");
    drop(held);
    assert_eq!(pool.available(), capacity, "every pair came back");
}

#[test]
fn leases_released_from_other_threads_come_back() {
    let pool = PortPool::new(42000..=42199).unwrap();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let pool = pool.clone();
            std::thread::spawn(move || {
                let mut rng = SeededRng::new(t);
                let mut held = Vec::new();
                for _ in 0..10_000 {
                    if held.len() < 20 && rng.chance(0.5) {
                        held.push(pool.allocate().expect("25 pairs each"));
                    } else {
                        held.pop();
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(pool.available(), pool.capacity());
}

#[test]
fn ports_another_process_holds_are_skipped() {
    // Find two free adjacent pairs, then hold the first pair's port from "elsewhere".
    let probe = UdpSocket::bind("127.0.0.1:0").unwrap();
    let base = probe.local_addr().unwrap().port() & !1;
    drop(probe);
    let base = base.clamp(20000, 60000);
    let pool = PortPool::new(base..=base + 3).unwrap();
    let Ok(blocker) = UdpSocket::bind(("127.0.0.1", base)) else {
        eprintln!("port {base} is busy; the skip is shown by the socket tests too");
        return;
    };
    let (lease, socket) = pool
        .bind_with(|port| UdpSocket::bind(("127.0.0.1", port)))
        .expect("the second pair binds");
    assert_eq!(lease.port(), base + 2);
    assert_eq!(socket.local_addr().unwrap().port(), base + 2);
    assert_eq!(
        pool.available(),
        1,
        "the skipped pair went back to the pool"
    );

    // With every free port held elsewhere, the error names the ports tried.
    let err = pool
        .bind_with(|port| UdpSocket::bind(("127.0.0.1", port)))
        .unwrap_err();
    assert!(
        matches!(err, Error::NoBindablePort { tried: 1, .. }),
        "{err}"
    );
    assert_eq!(pool.available(), 1);
    drop((blocker, socket, lease));
    assert_eq!(pool.available(), 2);
}
