//! The tokio driver between two BFD endpoints, each bound to its own loopback address
//! (127.0.0.2, 127.0.0.3) inside a network namespace this test creates and deletes
//! (`fbfd-<pid>-<n>`), because the BFD ports are fixed. Root only (the tests in `needs_root`).
#![cfg(all(feature = "driver", target_os = "linux"))]

use std::net::{IpAddr, Ipv4Addr, UdpSocket};
use std::time::{Duration, Instant};

use ferrolb_bfd::{Bfd, ControlPacket, Diagnostic, Profile, SessionState, State};
use ferrolb_testkit::netns::Netns;
use tokio::sync::watch;

const A: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
const B: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3));

fn profile(interval_ms: u32) -> Profile {
    Profile { receive_interval_ms: interval_ms, transmit_interval_ms: interval_ms, ..Profile::default() }
}

async fn wait_for(
    state: &mut watch::Receiver<SessionState>,
    within: Duration,
    what: &str,
    f: impl FnMut(&SessionState) -> bool,
) -> SessionState {
    let result = tokio::time::timeout(within, state.wait_for(f)).await.map(|r| r.map(|s| *s));
    match result {
        Ok(Ok(state)) => state,
        Ok(Err(_)) => panic!("{what}: the session was removed"),
        Err(_) => panic!("{what}: not within {within:?}, last {:?}", *state.borrow()),
    }
}

/// Root only: left out (and counted as skipped) when the test command does not run as root.
mod needs_root {
    use super::*;

    #[test]
    fn drivers_bound_to_a_device_bring_their_sessions_up_through_it_and_a_missing_device_is_an_error() {
        // `lo` stands in for a VRF's master device: the binding is the same SO_BINDTODEVICE
        let ns = Netns::create("fbfdv");
        ns.run(async || {
            let a = Bfd::start_on(Some(A), None, Some("lo".into())).unwrap();
            let b = Bfd::start_on(Some(B), None, Some("lo".into())).unwrap();
            let mut on_a = a.add_session(B, None, false, profile(100)).unwrap();
            let mut on_b = b.add_session(A, None, false, profile(100)).unwrap();
            wait_for(&mut on_a, Duration::from_secs(10), "A up", |s| s.is_up()).await;
            wait_for(&mut on_b, Duration::from_secs(10), "B up", |s| s.is_up()).await;
            let missing = Bfd::start_on(Some(A), None, Some("no-such-vrf".into()));
            assert!(missing.is_err(), "a device that does not exist cannot be bound");
        });
    }

    #[test]
    fn sessions_come_up_with_the_profile_intervals_and_a_dead_peer_is_detected_within_the_detection_time() {
        let ns = Netns::create("fbfd");
        ns.run(async || {
            let a = Bfd::start(Some(A), None).unwrap();
            let b = Bfd::start(Some(B), None).unwrap();
            let mut on_a = a.add_session(B, None, false, Profile { passive: true, ..profile(100) }).unwrap();
            let mut on_b = b.add_session(A, None, false, profile(100)).unwrap();
            let started = Instant::now();
            let negotiated = |s: &SessionState| {
                s.is_up()
                    && s.transmit_interval == Duration::from_millis(100)
                    && s.detection_time == Duration::from_millis(300)
            };
            wait_for(&mut on_a, Duration::from_secs(10), "A up at 100 ms", negotiated).await;
            wait_for(&mut on_b, Duration::from_secs(10), "B up at 100 ms", negotiated).await;
            println!("both sessions up with 100 ms x 3 after {:?}", started.elapsed());

            // Steady state: keep exchanging at 100 ms, with no flap, for several packets each way.
            let deadline = Instant::now() + Duration::from_secs(5);
            let counters = loop {
                let counters = a.counters(B).unwrap();
                if counters.control_packets_in >= 5 && counters.control_packets_out >= 5 {
                    break counters;
                }
                assert!(Instant::now() < deadline, "packets stopped flowing: {counters:?}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            };
            assert_eq!((counters.up_events, counters.down_events), (1, 0), "{counters:?}");
            assert!(a.dropped().is_empty(), "{:?}", a.dropped());

            drop(b);
            let dropped_at = Instant::now();
            let down = wait_for(&mut on_a, Duration::from_secs(5), "A down", |s| s.state == State::Down).await;
            let detected = dropped_at.elapsed();
            println!("peer stopped: detected after {detected:?} (detection time 300 ms)");
            assert_eq!(down.diagnostic, Diagnostic::ControlDetectionTimeExpired);
            assert!(detected < Duration::from_millis(1500), "{detected:?}");
            assert_eq!(a.counters(B).unwrap().down_events, 1);
        });
    }

    #[test]
    fn removing_a_session_tells_the_peer_at_once() {
        let ns = Netns::create("fbfd");
        ns.run(async || {
            let a = Bfd::start(Some(A), None).unwrap();
            let b = Bfd::start(Some(B), None).unwrap();
            let mut on_a = a.add_session(B, None, false, profile(1000)).unwrap();
            let mut on_b = b.add_session(A, None, false, profile(1000)).unwrap();
            wait_for(&mut on_a, Duration::from_secs(10), "A up", SessionState::is_up).await;
            wait_for(&mut on_b, Duration::from_secs(10), "B up", SessionState::is_up).await;

            let removed_at = Instant::now();
            a.remove_session(B).await;
            assert_eq!(a.counters(B), None);
            let down = wait_for(&mut on_b, Duration::from_secs(2), "B down", |s| s.state == State::Down).await;
            println!("AdminDown seen after {:?} (detection time 3 s)", removed_at.elapsed());
            assert_eq!(down.diagnostic, Diagnostic::NeighborSignaledSessionDown);
            assert_eq!(on_a.borrow_and_update().state, State::AdminDown);
            assert!(on_a.changed().await.is_err(), "the removed session's channel closes");
        });
    }

    /// A socket on the wildcard BFD port, with SO_REUSEADDR or not: FRR's bfdd, as MetalLB's
    /// FRR and FRR-K8s flavours run it on every node, binds 0.0.0.0:3784 and 4784 with it.
    fn other_daemon(port: u16, reuse: bool) -> socket2::Socket {
        use socket2::{Domain, Protocol, Socket, Type};
        let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).unwrap();
        socket.set_reuse_address(reuse).unwrap();
        socket.set_nonblocking(true).unwrap();
        socket.bind(&std::net::SocketAddr::from(([0, 0, 0, 0], port)).into()).unwrap();
        socket
    }

    fn received_nothing(socket: &socket2::Socket) -> bool {
        let mut buf = [std::mem::MaybeUninit::new(0u8); 64];
        matches!(socket.recv(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
    }

    #[test]
    fn beside_another_bfd_daemon_on_the_wildcard_ports_the_sessions_packets_reach_this_driver() {
        let ns = Netns::create("fbfdr");
        ns.run(async || {
            let before = [other_daemon(3784, true), other_daemon(4784, true)];
            // Started on the wildcard, as the speaker starts it.
            let a = Bfd::start(Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED)), None).expect("the shared port is not an error");
            let b = Bfd::start(Some(B), None).unwrap();
            let mut on_a = a.add_session(B, Some(A), false, profile(50)).unwrap();
            let mut on_b = b.add_session(A, None, false, profile(50)).unwrap();
            wait_for(&mut on_a, Duration::from_secs(10), "A up", SessionState::is_up).await;
            wait_for(&mut on_b, Duration::from_secs(10), "B up", SessionState::is_up).await;

            // The other daemon restarts after this driver: the packets keep coming here.
            let after = [other_daemon(3784, true), other_daemon(4784, true)];
            let counted = a.counters(B).unwrap().control_packets_in;
            tokio::time::sleep(Duration::from_millis(500)).await;
            let now = a.counters(B).unwrap();
            assert!(now.control_packets_in >= counted + 5, "{counted} -> {now:?}");
            assert_eq!(now.down_events, 0, "{now:?}");
            for socket in before.iter().chain(&after) {
                assert!(received_nothing(socket), "the other daemon got a packet of this driver's session");
            }
        });
    }

    #[test]
    fn a_wildcard_port_held_without_sharing_leaves_the_driver_up_and_names_the_session_it_cannot_serve() {
        let ns = Netns::create("fbfdr");
        ns.run(async || {
            let _held = other_daemon(3784, false);
            let a = Bfd::start(Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED)), None).expect("a held wildcard is not fatal");
            let error = a.add_session(B, Some(A), false, profile(50)).unwrap_err();
            assert!(error.to_string().starts_with("cannot bind the BFD socket 127.0.0.2:3784"), "{error}");
            // Multi-hop's port is free: its sessions are accepted.
            a.add_session(B, Some(A), true, profile(50)).expect("a multi-hop session");
        });
    }

    #[test]
    fn multi_hop_sessions_come_up_on_port_4784() {
        let ns = Netns::create("fbfd");
        ns.run(async || {
            let a = Bfd::start(Some(A), None).unwrap();
            let b = Bfd::start(Some(B), None).unwrap();
            let mut on_a = a.add_session(B, Some(A), true, profile(200)).unwrap();
            let mut on_b = b.add_session(A, None, true, profile(200)).unwrap();
            wait_for(&mut on_a, Duration::from_secs(10), "A up", SessionState::is_up).await;
            wait_for(&mut on_b, Duration::from_secs(10), "B up", SessionState::is_up).await;
        });
    }

    #[test]
    fn a_single_hop_packet_with_a_ttl_below_255_or_malformed_bytes_is_dropped_and_counted() {
        let ns = Netns::create("fbfd");
        ns.run(async || {
            let a = Bfd::start(Some(A), None).unwrap();
            let mut on_a = a.add_session(B, None, false, profile(300)).unwrap();
            let down = ControlPacket {
                diagnostic: Diagnostic::None,
                state: State::Down,
                poll: false,
                final_: false,
                control_plane_independent: false,
                demand: false,
                detect_multiplier: 3,
                my_discriminator: 9,
                your_discriminator: 0,
                desired_min_tx: 1_000_000,
                required_min_rx: 300_000,
                required_min_echo_rx: 0,
            };
            let forged = UdpSocket::bind((B, 50000)).unwrap();
            forged.set_ttl(254).unwrap();
            forged.send_to(&down.encode(), (A, 3784)).unwrap();
            forged.set_ttl(255).unwrap();
            forged.send_to(&[0u8; 24], (A, 3784)).unwrap();
            let other = UdpSocket::bind((Ipv4Addr::new(127, 0, 0, 4), 50000)).unwrap();
            other.set_ttl(255).unwrap();
            other.send_to(&down.encode(), (A, 3784)).unwrap();

            let deadline = Instant::now() + Duration::from_secs(2);
            while a.dropped().values().sum::<u64>() < 3 && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let dropped = a.dropped();
            assert_eq!(dropped.get("ttl"), Some(&1), "{dropped:?}");
            assert_eq!(dropped.get("bad_version"), Some(&1), "{dropped:?}");
            assert_eq!(dropped.get("unknown_session"), Some(&1), "{dropped:?}");
            assert_eq!(a.counters(B).unwrap().control_packets_in, 0);
            assert_eq!(on_a.borrow_and_update().state, State::Down);

            forged.send_to(&down.encode(), (A, 3784)).unwrap();
            wait_for(&mut on_a, Duration::from_secs(2), "A init", |s| s.state == State::Init).await;
            assert_eq!(a.counters(B).unwrap().control_packets_in, 1);
        });
    }
}
#[test]
fn a_session_of_a_family_that_was_not_bound_is_refused() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let Ok(bfd) = Bfd::start(None, None) else { panic!("starting with no sockets cannot fail") };
        let error = bfd.add_session("::1".parse().unwrap(), None, false, Profile::default()).unwrap_err();
        assert!(error.to_string().contains("no BFD socket for ::1"), "{error}");
        let error =
            bfd.add_session(A, None, false, Profile { detect_multiplier: 0, ..Profile::default() }).unwrap_err();
        assert!(error.to_string().contains("detect multiplier"), "{error}");
    });
}
