//! How long the membership engine takes to declare a crashed member dead, in the simulated
//! network of the engine tests: for each cluster size and loss rate, many seeded runs, each
//! crashing one member at a random point of the probe cycle. Prints the median, p99 and
//! maximum time from the crash to each survivor's MemberDown, and any false down seen on the
//! way. Not a timed test: `cargo bench -p ferrolb-gossip --bench detection`.

#[path = "../tests/sim/mod.rs"]
mod sim;

use std::time::Duration;

use ferrolb_gossip::Output;
use sim::{Sim, name};

const RUNS: u64 = 200;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at.min(sorted.len() - 1)]
}

fn main() {
    println!(
        "{:>3} {:>6} {:>6} {:>9} {:>9} {:>9} {:>7} {:>6}",
        "n", "loss", "runs", "median", "p99", "max", "missed", "false"
    );
    for n in [2usize, 3, 5, 7] {
        for loss in [0.0, 0.10, 0.20] {
            let mut took = Vec::new();
            let (mut missed, mut false_downs) = (0, 0);
            for seed in 0..RUNS {
                let mut sim = Sim::new(n, 0x6e7 ^ (seed << 8) ^ n as u64);
                sim.loss = loss;
                sim.join_all();
                // a random phase within the probe cycle
                let phase = Duration::from_micros(2_000_000 + (seed * 7919) % 100_000);
                sim.run_for(phase);
                false_downs += sim.downs_since(Duration::ZERO).len();
                let crashed_at = sim.now;
                sim.crash(0);
                sim.run_for(Duration::from_secs(10));
                for survivor in 1..n {
                    let seen = sim
                        .changes
                        .iter()
                        .find(|c| c.node == survivor && c.at >= crashed_at && c.output == Output::MemberDown(name(0)));
                    match seen {
                        Some(c) => took.push(c.at - crashed_at),
                        None => missed += 1,
                    }
                }
                false_downs +=
                    sim.downs_since(crashed_at).iter().filter(|c| c.output != Output::MemberDown(name(0))).count();
            }
            took.sort_unstable();
            let ms = |d: Duration| format!("{:.0} ms", d.as_secs_f64() * 1000.0);
            println!(
                "{n:>3} {:>5.0}% {RUNS:>6} {:>9} {:>9} {:>9} {missed:>7} {false_downs:>6}",
                loss * 100.0,
                ms(percentile(&took, 0.5)),
                ms(percentile(&took, 0.99)),
                ms(*took.last().unwrap_or(&Duration::ZERO)),
            );
        }
    }
}
