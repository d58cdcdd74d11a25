//! Publishes this speaker's [`SpeakerReport`] (what `ferrolb why` reads, see
//! [`ferrolb_api::report`]): on the `dir:` source `<state>/speakers/<node>.json`, on the
//! `k8s` source the ConfigMap `ferrolb-speaker-<node>` in the speaker's namespace.
//!
//! Each step hands the publisher its [`Facts`]; the publisher looks once a second at those
//! and at the sessions' states, and writes only when the report's content changed: at most
//! one write a second, none at all while nothing changes. Building the report is the pure
//! [`build`]; the task only moves it.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use ferrolb_api::report::{self, MembershipReport, SessionReport, SpeakerReport};
use ferrolb_bgp::SessionStatus;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, PostParams};
use tokio::sync::watch;
use tracing::{info, warn};

use crate::conditions::rfc3339;
use crate::sources::state_writer::StateWriter;

/// How often the publisher looks; a change is published at most this late.
const PERIOD: Duration = Duration::from_secs(1);
/// After a failed write, how long until the next try: an install whose RBAC does not let the
/// speaker write ConfigMaps (MetalLB's own) must not cost the API server a refusal a second.
const RETRY: Duration = Duration::from_secs(30);

/// What the speaker's last step knew.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub config: Option<String>,
    pub config_error: Option<String>,
    pub membership: Option<MembershipReport>,
    pub layer2_claims: usize,
    /// Each running session: BGPPeer name, `address:port`, and its status to read.
    pub sessions: Vec<(String, String, watch::Receiver<SessionStatus>)>,
}

/// Where the report goes.
#[derive(Clone)]
pub enum Target {
    Dir(StateWriter),
    ConfigMap { client: kube::Client, namespace: String },
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Dir(writer) => f.debug_tuple("Dir").field(&writer.state().root()).finish(),
            Target::ConfigMap { namespace, .. } => f.debug_struct("ConfigMap").field("namespace", namespace).finish(),
        }
    }
}

/// When each session last came up or went down, as the publisher saw it.
pub type Transitions = BTreeMap<String, (bool, String)>;

/// The report for `facts` with the sessions' `statuses` (in the order of `facts.sessions`),
/// bounded; `transitions` remembers when each session's `established` last flipped, and
/// forgets sessions that are gone.
pub fn build(
    node: &str,
    facts: &Facts,
    statuses: &[SessionStatus],
    transitions: &mut Transitions,
    now: &str,
) -> SpeakerReport {
    let mut sessions = Vec::with_capacity(statuses.len());
    let mut seen = Transitions::new();
    for ((peer, address, _), status) in facts.sessions.iter().zip(statuses) {
        let since = match transitions.remove(peer) {
            Some((was, at)) if was == status.established => at,
            _ => now.to_owned(),
        };
        sessions.push(SessionReport {
            peer: peer.clone(),
            address: address.clone(),
            state: status.state.to_string(),
            established: status.established,
            since: Some(since.clone()),
            last_error: status.last_error.clone(),
        });
        seen.insert(peer.clone(), (status.established, since));
    }
    *transitions = seen;
    SpeakerReport {
        node: node.to_owned(),
        updated: now.to_owned(),
        config: facts.config.clone(),
        config_error: facts.config_error.clone(),
        membership: facts.membership.clone(),
        sessions,
        sessions_omitted: 0,
        layer2_claims: facts.layer2_claims,
    }
    .bounded()
}

/// Publishes until the speaker drops its end of `facts`.
pub async fn publish(target: Target, node: String, mut facts: watch::Receiver<Facts>) {
    let mut transitions = Transitions::new();
    let mut published: Option<SpeakerReport> = None;
    let mut failing = false;
    // the earliest the next write may go: a second after the last, or RETRY after a failure
    let mut next_try = tokio::time::Instant::now();
    // nothing to say before the speaker's first step
    if facts.changed().await.is_err() {
        return;
    }
    loop {
        let report = {
            let facts = facts.borrow_and_update();
            let statuses: Vec<SessionStatus> = facts.sessions.iter().map(|(_, _, s)| s.borrow().clone()).collect();
            build(&node, &facts, &statuses, &mut transitions, &rfc3339(SystemTime::now()))
        };
        let changed = published.as_ref().is_none_or(|p| !p.same_content(&report));
        if changed && tokio::time::Instant::now() >= next_try {
            match write(&target, &report).await {
                Ok(()) => {
                    if failing {
                        info!(node = %node, "the speaker report is written again");
                        failing = false;
                    }
                    published = Some(report);
                    next_try = tokio::time::Instant::now() + PERIOD;
                }
                Err(e) => {
                    if !failing {
                        warn!(node = %node, target = ?target, error = %e, "cannot write the speaker report (`ferrolb why` will not see this speaker's sessions and membership); trying again every {}s", RETRY.as_secs());
                        failing = true;
                    }
                    next_try = tokio::time::Instant::now() + RETRY;
                }
            }
        }
        tokio::select! {
            () = tokio::time::sleep(PERIOD) => {}
            changed = facts.changed() => if changed.is_err() { return },
        }
    }
}

async fn write(target: &Target, report: &SpeakerReport) -> Result<(), String> {
    match target {
        Target::Dir(writer) => {
            let path = writer.state().speaker_report_path(&report.node);
            writer.set(path, Some(report));
            Ok(())
        }
        Target::ConfigMap { client, namespace } => {
            let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
            let name = report::report_name(&report.node);
            let map = ConfigMap {
                metadata: ObjectMeta {
                    name: Some(name.clone()),
                    namespace: Some(namespace.clone()),
                    labels: Some([(report::REPORT_LABEL.0.to_owned(), report::REPORT_LABEL.1.to_owned())].into()),
                    ..ObjectMeta::default()
                },
                data: Some([(report::REPORT_KEY.to_owned(), report.encode())].into()),
                ..ConfigMap::default()
            };
            // An unconditional replace (no resourceVersion: this speaker is the only writer),
            // and a create the first time.
            let pp = PostParams::default();
            match api.replace(&name, &pp, &map).await {
                Ok(_) => Ok(()),
                Err(kube::Error::Api(e)) if e.code == 404 => {
                    api.create(&pp, &map).await.map(|_| ()).map_err(|e| e.to_string())
                }
                Err(e) => Err(e.to_string()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use ferrolb_bgp::State;

    use super::*;

    fn status(state: State, error: Option<&str>) -> SessionStatus {
        SessionStatus {
            state,
            established: state == State::Established,
            last_error: error.map(str::to_owned),
            updates_sent: 0,
            announced_prefixes: 0,
            pending_prefixes: 0,
            held_back: Vec::new(),
            peer: "172.30.0.1:179".into(),
        }
    }

    fn facts(peers: &[&str]) -> Facts {
        let sessions = peers
            .iter()
            .map(|p| ((*p).to_owned(), "172.30.0.1:179".to_owned(), watch::channel(status(State::Idle, None)).1))
            .collect();
        Facts { config: Some("abc".into()), layer2_claims: 2, sessions, ..Facts::default() }
    }

    #[test]
    fn a_session_keeps_its_since_until_it_comes_up_or_goes_down() {
        let mut transitions = Transitions::new();
        let f = facts(&["r1", "r2"]);
        let down = status(State::Active, Some("connection refused"));
        let r = build("n1", &f, &[down.clone(), down.clone()], &mut transitions, "T1");
        assert_eq!(r.sessions[0].since.as_deref(), Some("T1"));
        assert_eq!(r.sessions[0].last_error.as_deref(), Some("connection refused"));
        assert_eq!(r.sessions[0].state, "Active");
        let r2 =
            build("n1", &f, &[status(State::Connect, None), status(State::Established, None)], &mut transitions, "T2");
        assert_eq!(r2.sessions[0].since.as_deref(), Some("T1"), "still down: Active to Connect is no transition");
        assert_eq!(r2.sessions[1].since.as_deref(), Some("T2"));
        assert!(r2.sessions[1].established);
        let r3 = build("n1", &facts(&["r2"]), &[status(State::Established, None)], &mut transitions, "T3");
        assert_eq!(r3.sessions[0].since.as_deref(), Some("T2"));
        assert_eq!(transitions.len(), 1, "a session gone is forgotten");
        assert!(!r2.same_content(&r3));
        let r4 = build("n1", &facts(&["r2"]), &[status(State::Established, None)], &mut transitions, "T4");
        assert!(r3.same_content(&r4), "nothing changed: nothing to write");
    }

    #[test]
    fn ten_thousand_services_and_a_hundred_peers_make_a_small_report() {
        let names: Vec<String> = (0..100).map(|i| format!("router-{i:03}")).collect();
        let f = facts(&names.iter().map(String::as_str).collect::<Vec<_>>());
        let f = Facts { layer2_claims: 10_000, ..f };
        let statuses = vec![status(State::Active, Some(&"no route to host ".repeat(100))); 100];
        let r = build("node-1", &f, &statuses, &mut Transitions::new(), "2026-12-05T10:00:00Z");
        let bytes = r.encode().len();
        assert_eq!(r.sessions.len(), 100);
        assert!(bytes < 64 * 1024, "{bytes} bytes");
    }
}
