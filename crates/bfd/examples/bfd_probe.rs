//! A one-session BFD endpoint for lab interop runs (tests/lab/e2e-bfd.sh): prints one line
//! per change, `<unix ms> <state> <diagnostic> tx=<ms> detect=<ms>`, and on SIGTERM or
//! Ctrl-C takes the session AdminDown before exiting.
//!
//! `bfd_probe --bind ADDR --peer ADDR [--interval MS] [--multiplier N] [--passive] [--multihop]`

use std::io::Write;
use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use ferrolb_bfd::{Bfd, Profile};
use tokio::signal::unix::{SignalKind, signal};

fn usage() -> ! {
    eprintln!("usage: bfd_probe --bind ADDR --peer ADDR [--interval MS] [--multiplier N] [--passive] [--multihop]");
    std::process::exit(2)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let (mut bind, mut peer, mut multihop) = (None::<IpAddr>, None::<IpAddr>, false);
    let mut profile = Profile::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage());
        match arg.as_str() {
            "--bind" => bind = Some(value().parse().unwrap_or_else(|_| usage())),
            "--peer" => peer = Some(value().parse().unwrap_or_else(|_| usage())),
            "--interval" => {
                let ms = value().parse().unwrap_or_else(|_| usage());
                profile.receive_interval_ms = ms;
                profile.transmit_interval_ms = ms;
            }
            "--multiplier" => profile.detect_multiplier = value().parse().unwrap_or_else(|_| usage()),
            "--passive" => profile.passive = true,
            "--multihop" => multihop = true,
            _ => usage(),
        }
    }
    let (Some(bind), Some(peer)) = (bind, peer) else { usage() };
    let (v4, v6) = if bind.is_ipv4() { (Some(bind), None) } else { (None, Some(bind)) };
    let bfd = Bfd::start(v4, v6).unwrap_or_else(|error| {
        eprintln!("bfd_probe: {error}");
        std::process::exit(1)
    });
    let mut state = bfd.add_session(peer, Some(bind), multihop, profile).unwrap_or_else(|error| {
        eprintln!("bfd_probe: {error}");
        std::process::exit(1)
    });
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    loop {
        tokio::select! {
            changed = state.changed() => {
                if changed.is_err() {
                    break;
                }
                let now = *state.borrow_and_update();
                let ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_millis();
                println!(
                    "{ms} {} {} tx={} detect={}",
                    now.state,
                    now.diagnostic.code(),
                    now.transmit_interval.as_millis(),
                    now.detection_time.as_millis()
                );
                let _ = std::io::stdout().flush();
            }
            _ = term.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    if let Some(counters) = bfd.counters(peer) {
        println!("counters {counters:?} dropped {:?}", bfd.dropped());
    }
    bfd.shutdown().await;
}
