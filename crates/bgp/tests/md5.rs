//! TCP-MD5 (RFC 2385) over ::1 inside a network namespace this test creates and deletes
//! (`fbgp-<pid>`), so no key is ever installed on the host's own loopback. Root only (the test is in
//! `needs_root`).
#![cfg(all(feature = "driver", target_os = "linux"))]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsFd;
use std::time::Duration;

use ferrolb_bgp::{PeerAs, PeerSettings, Session};
use ferrolb_testkit::netns::Netns;
use tokio::io::AsyncReadExt;
use tokio::net::TcpSocket;

/// A listener on [::1] expecting `key` from ::1, and whether a session keyed with
/// `password` gets a connection through within 2 s.
async fn connects(key: &'static str, password: &'static str) -> bool {
    let any_port = SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 0);
    let socket = TcpSocket::new_v6().unwrap();
    ferrolb_sys::set_tcp_md5sig(socket.as_fd(), any_port, key.as_bytes()).unwrap();
    socket.bind(any_port).unwrap();
    let listener = socket.listen(4).unwrap();
    let mut settings = PeerSettings::new(
        "md5",
        64512,
        PeerAs::Fixed(64500),
        IpAddr::V6(Ipv6Addr::LOCALHOST),
        Ipv4Addr::new(10, 0, 0, 1),
    );
    settings.port = listener.local_addr().unwrap().port();
    settings.password = Some(password.to_owned());
    let session = Session::spawn(settings);
    let accepted = tokio::time::timeout(Duration::from_secs(2), async {
        let (mut stream, _) = listener.accept().await.unwrap();
        // The session's OPEN arrives over the signed connection.
        let mut header = [0u8; 19];
        stream.read_exact(&mut header).await.is_ok()
    })
    .await;
    session.shutdown("test over").await;
    accepted.unwrap_or(false)
}

/// Root only: left out (and counted as skipped) when the test command does not run as root.
mod needs_root {
    use super::*;

    #[test]
    fn matching_md5_keys_connect_and_a_wrong_key_never_does() {
        let ns = Netns::create("fbgp");
        assert!(ns.run(async || connects("s3cret", "s3cret").await), "matching keys connect");
        assert!(!ns.run(async || connects("s3cret", "wrong").await), "a wrong key is never accepted");
    }
}
