//! The UDP media socket shell on real sockets: DSCP marking read back with getsockopt, ports
//! held elsewhere skipped, priming packets, latching on where a NATed far end really is, and
//! a readiness set that spares idle sockets their receive.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use media::g711::Law;
use media::playout::{PlayoutBuffer, PlayoutConfig};
use media::ports::PortPool;
use media::rtp::{
    PayloadMap, RtpHeader, RtpPacket, RtpReceiver, RtpSender, SenderConfig, StreamIds,
};
use media::socket::{
    MediaSocket, ReadinessSet, RtpStream, SocketConfig, StreamFilter, UdptlStream, DSCP_EF,
    NO_SIGNAL_IFP,
};
use media::udptl::{
    ReceiverConfig, SenderConfig as UdptlConfig, UdptlPacket, UdptlReceiver, UdptlSender,
};
use socket2::SockRef;
use tokio::net::UdpSocket;
use tokio::time::timeout;

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// Longest any wait may take before the test fails (a guard, never a delay).
const GUARD: Duration = Duration::from_secs(5);

fn config(ip: IpAddr) -> SocketConfig {
    SocketConfig {
        local_ip: ip,
        ..SocketConfig::default()
    }
}

/// A pool over a range picked per test, so tests running at once rarely meet.
fn pool(base: u16) -> PortPool {
    PortPool::new(base..=base + 199).unwrap()
}

async fn peer(ip: IpAddr) -> UdpSocket {
    UdpSocket::bind(SocketAddr::new(ip, 0)).await.unwrap()
}

/// Waits (guarded) for one datagram on a plain socket.
async fn recv_on(socket: &UdpSocket) -> (Vec<u8>, SocketAddr) {
    let mut buf = vec![0; 4096];
    let (n, from) = timeout(GUARD, socket.recv_from(&mut buf))
        .await
        .expect("a datagram within the guard time")
        .unwrap();
    buf.truncate(n);
    (buf, from)
}

fn rtp(pt: u8, seq: u16) -> Vec<u8> {
    RtpPacket {
        header: RtpHeader {
            payload_type: pt,
            sequence: seq,
            timestamp: u32::from(seq) * 160,
            ssrc: 0xFA4,
            ..RtpHeader::default()
        },
        extension: None,
        payload: &[0xFF; 160],
        padding: 0,
    }
    .encode()
    .unwrap()
}

fn rtp_stream(socket: MediaSocket) -> RtpStream {
    let sender = RtpSender::new(SenderConfig::new(Law::Ulaw, StreamIds::from_seed(1))).unwrap();
    RtpStream::new(
        socket,
        sender,
        RtpReceiver::new(PayloadMap::static_defaults()),
        PlayoutBuffer::new(PlayoutConfig::default()),
    )
}

/// Drains `stream` until it has taken `n` datagrams, waiting (guarded) for readiness.
async fn drain_rtp(stream: &mut RtpStream, n: usize) {
    let mut got = 0;
    while got < n {
        timeout(GUARD, stream.readable())
            .await
            .expect("readable")
            .unwrap();
        got += stream.drain(Instant::now()).unwrap();
    }
}

#[tokio::test]
async fn dscp_defaults_to_ef_and_reads_back_with_getsockopt_on_ipv4() {
    let socket = MediaSocket::bind(
        &pool(21000),
        &config(LOCALHOST),
        StreamFilter::udptl(),
        "127.0.0.1:9".parse().unwrap(),
    )
    .unwrap();
    assert_eq!(DSCP_EF, 46);
    let tos = SockRef::from(&socket).tos_v4().unwrap();
    assert_eq!(tos, 46 << 2, "IP_TOS = DSCP EF in the top six bits");
    assert_eq!(socket.dscp().unwrap(), 46);
    socket.set_dscp(26).unwrap();
    assert_eq!(SockRef::from(&socket).tos_v4().unwrap(), 26 << 2);
    assert!(socket.set_dscp(64).is_err());
}

#[tokio::test]
async fn ipv6_sockets_mark_the_traffic_class_and_carry_media() {
    let cfg = SocketConfig {
        local_ip: IpAddr::V6(Ipv6Addr::LOCALHOST),
        dscp: 34,
        ..SocketConfig::default()
    };
    let far = peer(IpAddr::V6(Ipv6Addr::LOCALHOST)).await;
    let far_addr = far.local_addr().unwrap();
    let socket = match MediaSocket::bind(&pool(21200), &cfg, StreamFilter::udptl(), far_addr) {
        Ok(s) => s,
        Err(e) => panic!("IPv6 loopback must be usable here: {e}"),
    };
    assert!(socket.local_addr().is_ipv6());
    assert_eq!(SockRef::from(&socket).tclass_v6().unwrap(), 34 << 2);
    assert_eq!(socket.dscp().unwrap(), 34);

    let mut stream = UdptlStream::new(
        socket,
        UdptlSender::new(UdptlConfig::default()),
        UdptlReceiver::new(ReceiverConfig::default()),
    );
    stream.start().unwrap();
    let (bytes, from) = recv_on(&far).await;
    assert_eq!(from, stream.socket().local_addr());
    let packet = UdptlPacket::decode(&bytes).unwrap();
    assert_eq!(
        (packet.seq, packet.primary.as_slice()),
        (0, &NO_SIGNAL_IFP[..])
    );
}

#[tokio::test]
async fn ports_held_by_another_process_are_skipped_when_binding() {
    let pool = PortPool::new(21400..=21403).unwrap();
    let Ok(_held) = std::net::UdpSocket::bind(("127.0.0.1", 21400)) else {
        eprintln!("21400 is busy already, which shows the same thing");
        return;
    };
    let socket = MediaSocket::bind(
        &pool,
        &config(LOCALHOST),
        StreamFilter::udptl(),
        "127.0.0.1:9".parse().unwrap(),
    )
    .unwrap();
    assert_eq!(socket.local_addr().port(), 21402);
    assert_eq!(socket.lease().rtcp_port(), 21403);
    let err = MediaSocket::bind(
        &pool,
        &config(LOCALHOST),
        StreamFilter::udptl(),
        "127.0.0.1:9".parse().unwrap(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("could be bound"), "{err}");
    drop(socket);
    assert_eq!(
        pool.available(),
        pool.capacity(),
        "the socket's port came back"
    );
}

/// The far end sits behind NAT: its SDP names an address where nothing of it listens (here a
/// "decoy" socket records what arrives there), and it really sends from another port.
#[tokio::test]
async fn rtp_latches_on_the_real_source_and_again_after_a_reinvite() {
    let decoy = peer(LOCALHOST).await;
    let far = peer(LOCALHOST).await;
    let stranger = peer(LOCALHOST).await;
    let socket = MediaSocket::bind(
        &pool(21600),
        &config(LOCALHOST),
        StreamFilter::udptl(),
        decoy.local_addr().unwrap(),
    )
    .unwrap();
    let mut stream = rtp_stream(socket);
    let ours = stream.socket().local_addr();

    // Media starts: the priming silence goes to the SDP address.
    stream.start().unwrap();
    let (primer, _) = recv_on(&decoy).await;
    let primer = RtpPacket::decode(&primer).unwrap();
    assert_eq!(primer.header.payload_type, 0);
    assert!(primer.header.marker);
    assert_eq!(primer.payload, &[0xFF; 160][..], "µ-law silence");

    // Before latching, a packet that does not fit (type 96 was not negotiated) is dropped...
    stranger.send_to(&rtp(96, 1), ours).await.unwrap();
    // ...and the far end's first RTP packet latches the stream on its real address.
    far.send_to(&rtp(0, 1), ours).await.unwrap();
    drain_rtp(&mut stream, 1).await;
    assert_eq!(stream.socket().latch().latched(), far.local_addr().ok());
    assert_eq!(stream.socket().target(), far.local_addr().unwrap());
    let stats = stream.socket().stats();
    assert_eq!((stats.unfit, stats.latches, stats.received), (1, 1, 1));
    assert_eq!(stream.receiver_stats().audio, 1);

    // From now on we send to where the far end really is.
    assert_eq!(stream.send_audio(&[0; 160]).unwrap(), 1);
    let (bytes, from) = recv_on(&far).await;
    assert_eq!(from, ours);
    assert_eq!(
        RtpPacket::decode(&bytes).unwrap().header.sequence,
        primer.header.sequence.wrapping_add(1)
    );
    // Packets from elsewhere are ignored once latched: the socket, bound to a fixed address,
    // is connected to the far end, so the kernel drops them before anyone counts them.
    stranger.send_to(&rtp(0, 2), ours).await.unwrap();
    far.send_to(&rtp(0, 2), ours).await.unwrap();
    drain_rtp(&mut stream, 1).await;
    assert_eq!(stream.socket().stats().foreign, 0);
    assert_eq!(stream.receiver_stats().audio, 2);

    // A re-INVITE moves the far end: new SDP address (a second decoy), new real port.
    let decoy2 = peer(LOCALHOST).await;
    let far2 = peer(LOCALHOST).await;
    stream.relatch(decoy2.local_addr().unwrap(), PayloadMap::static_defaults());
    assert_eq!(stream.socket().target(), decoy2.local_addr().unwrap());
    stream.send_audio(&[0; 160]).unwrap();
    let (_, from) = recv_on(&decoy2).await;
    assert_eq!(
        from, ours,
        "until the far end speaks, media goes to the new SDP address"
    );
    far2.send_to(&rtp(8, 3), ours).await.unwrap();
    drain_rtp(&mut stream, 1).await;
    assert_eq!(stream.socket().target(), far2.local_addr().unwrap());
    stream.send_audio(&[0; 160]).unwrap();
    let (_, from) = recv_on(&far2).await;
    assert_eq!(from, ours);
    assert_eq!(stream.socket().stats().latches, 2);

    // Nothing but the primer went to the first decoy, nothing else to the first far address
    // after the move: everything we sent has been seen where it was meant to go.
    let mut buf = [0; 2048];
    assert!(decoy.try_recv_from(&mut buf).is_err());
    assert!(far.try_recv_from(&mut buf).is_err());
    assert_eq!(stream.socket().stats().sent, 4);
}

#[tokio::test]
async fn a_socket_on_the_wildcard_address_stays_unconnected_and_counts_strangers() {
    let far = peer(LOCALHOST).await;
    let stranger = peer(LOCALHOST).await;
    let socket = MediaSocket::bind(
        &pool(22200),
        &config(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
        StreamFilter::udptl(),
        far.local_addr().unwrap(),
    )
    .unwrap();
    let mut stream = rtp_stream(socket);
    let ours = SocketAddr::new(LOCALHOST, stream.socket().local_addr().port());
    far.send_to(&rtp(0, 1), ours).await.unwrap();
    drain_rtp(&mut stream, 1).await;
    assert_eq!(stream.socket().latch().latched(), far.local_addr().ok());

    // Not connected: the stranger's packet reaches the socket and is counted, not taken.
    stranger.send_to(&rtp(0, 2), ours).await.unwrap();
    far.send_to(&rtp(0, 2), ours).await.unwrap();
    drain_rtp(&mut stream, 1).await;
    assert_eq!(stream.socket().stats().foreign, 1);
    assert_eq!(stream.receiver_stats().audio, 2);
    assert_eq!(stream.send_audio(&[0; 160]).unwrap(), 1);
    let (_, from) = recv_on(&far).await;
    assert_eq!(from.port(), ours.port());
}

#[tokio::test]
async fn udptl_latches_on_the_first_packet_that_decodes() {
    let decoy = peer(LOCALHOST).await;
    let far = peer(LOCALHOST).await;
    let socket = MediaSocket::bind(
        &pool(21800),
        &config(LOCALHOST),
        StreamFilter::rtp_types(&[0]),
        decoy.local_addr().unwrap(),
    )
    .unwrap();
    let mut stream = UdptlStream::new(
        socket,
        UdptlSender::new(UdptlConfig::default()),
        UdptlReceiver::new(ReceiverConfig::default()),
    );
    let ours = stream.socket().local_addr();
    stream.start().unwrap();
    let (primer, _) = recv_on(&decoy).await;
    assert_eq!(UdptlPacket::decode(&primer).unwrap().primary, NO_SIGNAL_IFP);

    // RTP is not UDPTL: no latch. A UDPTL packet from the far end's real port: latch.
    far.send_to(&rtp(0, 1), ours).await.unwrap();
    let mut far_sender = UdptlSender::new(UdptlConfig::default());
    far_sender.send_ifp(&[0x02], 1).unwrap(); // CNG indicator
    far.send_to(&far_sender.poll_transmit().unwrap(), ours)
        .await
        .unwrap();
    let mut taken = 0;
    while taken < 1 {
        timeout(GUARD, stream.readable()).await.unwrap().unwrap();
        taken += stream.drain(Instant::now()).unwrap();
    }
    assert_eq!(stream.socket().stats().unfit, 1);
    assert_eq!(stream.poll_ifp(), Some((0, &[0x02][..])));
    assert_eq!(stream.socket().target(), far.local_addr().unwrap());

    // CED, three times as SpanDSP asks: each copy a datagram of its own.
    assert_eq!(stream.queue_ifp(&[0x04], 3).unwrap(), 1);
    assert_eq!(stream.flush().unwrap(), 3);
    for seq in 1..=3 {
        let (bytes, from) = recv_on(&far).await;
        assert_eq!(from, ours);
        assert_eq!(UdptlPacket::decode(&bytes).unwrap().seq, seq);
    }
    stream.relatch(decoy.local_addr().unwrap(), 176);
    assert_eq!(stream.socket().latch().latched(), None);
}

/// A datagram `n` of a far end's UDPTL stream (a CNG indicator under sequence number `n`).
fn udptl_datagram(n: u16) -> Vec<u8> {
    let mut sender = UdptlSender::new(UdptlConfig {
        first_seq: n,
        ..UdptlConfig::default()
    });
    sender.send_ifp(&[0x02], 1).unwrap();
    sender.poll_transmit().unwrap()
}

#[tokio::test]
async fn a_watched_socket_asks_the_kernel_only_when_the_set_reports_it() {
    let far = std::net::UdpSocket::bind((LOCALHOST, 0)).unwrap();
    let mut socket = MediaSocket::bind(
        &pool(22000),
        &config(LOCALHOST),
        StreamFilter::udptl(),
        far.local_addr().unwrap(),
    )
    .unwrap();
    let ours = socket.local_addr();
    let mut set = ReadinessSet::new().unwrap();
    let mut keys = Vec::new();

    // Queued before the watch began: the first receive still asks, and finds it.
    far.send_to(&udptl_datagram(0), ours).unwrap();
    set.watch(&mut socket, 7).unwrap();
    assert_eq!(
        socket.try_recv().unwrap().map(|d| d.data.len()),
        Some(udptl_datagram(0).len())
    );
    assert_eq!(socket.try_recv().unwrap(), None, "drained");
    set.ready(&mut keys).unwrap();
    keys.clear();

    // Drained and not reported: a receive does not reach the kernel, so a datagram that
    // arrives stays queued until the set reports the socket.
    far.send_to(&udptl_datagram(1), ours).unwrap();
    assert_eq!(socket.try_recv().unwrap(), None);
    assert_eq!(socket.stats().received, 1);
    set.ready(&mut keys).unwrap();
    assert_eq!(keys, [7]);
    socket.mark_ready();
    let got = socket.try_recv().unwrap().map(|d| d.data.to_vec());
    assert_eq!(got, Some(udptl_datagram(1)));
    assert_eq!(socket.try_recv().unwrap(), None);

    // Nothing arrived: nothing reported.
    keys.clear();
    set.ready(&mut keys).unwrap();
    assert!(keys.is_empty(), "{keys:?}");

    // Forgotten: every receive asks again, as for a socket never watched.
    set.forget(&mut socket);
    far.send_to(&udptl_datagram(2), ours).unwrap();
    let got = socket.try_recv().unwrap().map(|d| d.data.to_vec());
    assert_eq!(got, Some(udptl_datagram(2)));
    assert_eq!(socket.stats().received, 3);
}
