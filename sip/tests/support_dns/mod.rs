//! A tiny authoritative DNS server on loopback UDP for tests of the real resolver: it
//! answers NAPTR, SRV, A and AAAA from a table, in the real wire format (hickory-proto's
//! encoder), and counts the questions it was asked.

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use hickory_resolver::proto::op::{Message, MessageType, ResponseCode};
use hickory_resolver::proto::rr::rdata::{A, AAAA, NAPTR, SRV};
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};
use hickory_resolver::proto::serialize::binary::{BinDecodable, BinEncodable};
use tokio::net::UdpSocket;

/// Records by (lower-case name without the trailing dot, type).
#[derive(Debug, Default, Clone)]
pub struct Zone {
    records: HashMap<(String, RecordType), Vec<(u32, RData)>>,
}

fn name(s: &str) -> Name {
    Name::from_ascii(format!("{}.", s.trim_end_matches('.'))).unwrap()
}

impl Zone {
    /// `SIP+D2U`-style NAPTR with flag "s".
    pub fn naptr(&mut self, owner: &str, ttl: u32, order: u16, service: &str, replacement: &str) {
        let r = NAPTR::new(
            order,
            0,
            b"s".to_vec().into_boxed_slice(),
            service.as_bytes().to_vec().into_boxed_slice(),
            Vec::new().into_boxed_slice(),
            name(replacement),
        );
        self.add(owner, RecordType::NAPTR, ttl, RData::NAPTR(r));
    }

    /// An SRV record.
    pub fn srv(&mut self, owner: &str, ttl: u32, priority: u16, port: u16, target: &str) {
        let r = SRV::new(priority, 0, port, name(target));
        self.add(owner, RecordType::SRV, ttl, RData::SRV(r));
    }

    /// An A or AAAA record.
    pub fn ip(&mut self, owner: &str, ttl: u32, ip: IpAddr) {
        match ip {
            IpAddr::V4(a) => self.add(owner, RecordType::A, ttl, RData::A(A(a))),
            IpAddr::V6(a) => self.add(owner, RecordType::AAAA, ttl, RData::AAAA(AAAA(a))),
        }
    }

    fn add(&mut self, owner: &str, t: RecordType, ttl: u32, data: RData) {
        self.records
            .entry((owner.to_ascii_lowercase(), t))
            .or_default()
            .push((ttl, data));
    }
}

/// A running server.
pub struct DnsServer {
    /// Where it listens.
    pub addr: SocketAddr,
    asked: Arc<Mutex<Vec<String>>>,
}

impl DnsServer {
    /// Serves `zone` on 127.0.0.1 (an unused port).
    pub async fn start(zone: Zone) -> DnsServer {
        let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = sock.local_addr().unwrap();
        let asked = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&asked);
        tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            loop {
                let Ok((n, from)) = sock.recv_from(&mut buf).await else {
                    return;
                };
                let Ok(req) = Message::from_bytes(&buf[..n]) else {
                    continue;
                };
                let mut resp = Message::new();
                resp.set_id(req.id())
                    .set_message_type(MessageType::Response)
                    .set_op_code(req.op_code())
                    .set_authoritative(true)
                    .set_recursion_desired(req.recursion_desired())
                    .set_recursion_available(true);
                resp.add_queries(req.queries().to_vec());
                let mut known = false;
                for q in req.queries() {
                    let owner = q
                        .name()
                        .to_ascii()
                        .trim_end_matches('.')
                        .to_ascii_lowercase();
                    log.lock()
                        .unwrap()
                        .push(format!("{} {owner}", q.query_type()));
                    if zone.records.keys().any(|(o, _)| *o == owner) {
                        known = true;
                    }
                    for (ttl, data) in zone
                        .records
                        .get(&(owner.clone(), q.query_type()))
                        .into_iter()
                        .flatten()
                    {
                        resp.add_answer(Record::from_rdata(q.name().clone(), *ttl, data.clone()));
                    }
                }
                if !known {
                    resp.set_response_code(ResponseCode::NXDomain);
                }
                if let Ok(bytes) = resp.to_bytes() {
                    let _ = sock.send_to(&bytes, from).await;
                }
            }
        });
        DnsServer { addr, asked }
    }

    /// Every question asked so far ("SRV _sip._udp.example.test"), in order.
    pub fn asked(&self) -> Vec<String> {
        self.asked.lock().unwrap().clone()
    }
}
