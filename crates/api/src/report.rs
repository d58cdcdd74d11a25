//! The speaker report: what a speaker knows that no metallb.io status says, published so that
//! `ferrolb why` can read it from the cluster (a ConfigMap per node) or from the state
//! directory (`speakers/<node>.json`).
//!
//! ServiceL2Status, ServiceBGPStatus and ConfigurationState already say what a speaker
//! announces and whether it accepted the configuration. What they cannot say is why a
//! speaker announces *less* than the configuration asks: its BGP sessions are down, it is
//! fenced without a quorum, it runs an older configuration. The report holds exactly that,
//! bounded in size whatever the cluster (lists capped, strings truncated, the omitted
//! counted), and it changes only when one of those facts does: it is written on change, never
//! on a timer, so a quiet cluster costs nothing.

use serde::{Deserialize, Serialize};

use crate::objects::Resources;

/// The label on the report ConfigMaps (and only those are read back).
pub const REPORT_LABEL: (&str, &str) = ("app.kubernetes.io/component", "speaker-report");

/// The ConfigMap key that holds the report's JSON.
pub const REPORT_KEY: &str = "report.json";

/// At most this many BGP sessions are listed; the rest are counted in `sessionsOmitted`.
pub const MAX_SESSIONS: usize = 256;
/// At most this many member names are listed; the rest are counted in `membersOmitted`.
pub const MAX_MEMBERS: usize = 256;
/// A session's last error is cut to this many characters.
pub const MAX_ERROR_CHARS: usize = 256;
/// A report larger than this is not read: with the caps above a real one stays far below.
pub const MAX_REPORT_BYTES: usize = 512 * 1024;

/// The ConfigMap (k8s source) holding a node's report.
pub fn report_name(node: &str) -> String {
    format!("ferrolb-speaker-{node}")
}

/// One speaker's view, as it last published it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SpeakerReport {
    #[serde(default)]
    pub node: String,
    /// When this content was first published (RFC 3339); not part of what "changed" means.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub updated: String,
    /// The digest ([`config_digest`]) of the configuration in force on this speaker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<String>,
    /// Why the speaker refused the newest configuration it saw (it keeps the one in force).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_error: Option<String>,
    /// Membership, when it is enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub membership: Option<MembershipReport>,
    #[serde(default)]
    pub sessions: Vec<SessionReport>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub sessions_omitted: usize,
    /// How many Layer 2 claims the data plane holds (ServiceL2Status names them).
    #[serde(default)]
    pub layer2_claims: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MembershipReport {
    /// The speakers this one sees alive, itself included.
    #[serde(default)]
    pub members: Vec<String>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub members_omitted: usize,
    /// Whether it sees a majority of the speakers it knows.
    #[serde(default)]
    pub quorum: bool,
    /// Held back from answering ARP/NDP: no quorum, and the others' heartbeats show them alive.
    #[serde(default)]
    pub fenced: bool,
    /// No quorum, but the missing speakers are not renewing their heartbeats: still serving.
    #[serde(default)]
    pub serving_without_quorum: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionReport {
    /// The BGPPeer's name.
    pub peer: String,
    /// `address:port`.
    #[serde(default)]
    pub address: String,
    /// The FSM state (`Idle`, `Connect`, `Active`, `OpenSent`, `OpenConfirm`, `Established`).
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub established: bool,
    /// When the session last came up or went down, as this speaker saw it (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Why bytes are not a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportError(pub String);

impl std::fmt::Display for ReportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ReportError {}

impl SpeakerReport {
    /// The report within its bounds: lists capped (the rest counted), errors truncated.
    #[must_use]
    pub fn bounded(mut self) -> Self {
        if self.sessions.len() > MAX_SESSIONS {
            self.sessions_omitted += self.sessions.len() - MAX_SESSIONS;
            self.sessions.truncate(MAX_SESSIONS);
        }
        for session in &mut self.sessions {
            if let Some(error) = &mut session.last_error {
                truncate_chars(error, MAX_ERROR_CHARS);
            }
        }
        if let Some(error) = &mut self.config_error {
            truncate_chars(error, MAX_ERROR_CHARS * 4);
        }
        if let Some(membership) = &mut self.membership
            && membership.members.len() > MAX_MEMBERS
        {
            membership.members_omitted += membership.members.len() - MAX_MEMBERS;
            membership.members.truncate(MAX_MEMBERS);
        }
        self
    }

    /// Whether two reports say the same, whenever they were published.
    pub fn same_content(&self, other: &SpeakerReport) -> bool {
        SpeakerReport { updated: String::new(), ..self.clone() }
            == SpeakerReport { updated: String::new(), ..other.clone() }
    }

    pub fn encode(&self) -> String {
        // A struct of strings, numbers and lists always serialises.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a report published by a speaker (any version: unknown fields are ignored).
    pub fn decode(bytes: &[u8]) -> Result<Self, ReportError> {
        if bytes.len() > MAX_REPORT_BYTES {
            return Err(ReportError(format!(
                "speaker report of {} bytes is larger than the {MAX_REPORT_BYTES} a speaker writes",
                bytes.len()
            )));
        }
        let report: SpeakerReport =
            serde_json::from_slice(bytes).map_err(|e| ReportError(format!("speaker report is not valid: {e}")))?;
        if report.node.is_empty() {
            return Err(ReportError("speaker report names no node".to_owned()));
        }
        Ok(report)
    }
}

fn truncate_chars(text: &mut String, max: usize) {
    if let Some((at, _)) = text.char_indices().nth(max) {
        text.truncate(at);
        text.push('…');
    }
}

/// A short digest of the metallb.io configuration in `resources` (the six configuration
/// kinds, by name and spec; not metadata such as uids or resource versions, which differ
/// between a cluster and its copy, and not Secrets, so the digest reveals no password).
///
/// A speaker publishes the digest of the configuration it runs; `why` computes the digest of
/// the configuration it reads and tells a speaker that runs another one. FNV-1a: stable
/// across builds and platforms, which `std`'s hasher is not promised to be.
pub fn config_digest(resources: &Resources) -> String {
    let mut entries: Vec<(&'static str, &str, &str, Vec<u8>)> = Vec::new();
    macro_rules! add {
        ($kind:literal, $list:expr) => {
            for object in &$list {
                let spec = serde_json::to_vec(&object.spec).unwrap_or_default();
                let namespace = object.metadata.namespace.as_deref().unwrap_or("");
                entries.push(($kind, namespace, object.metadata.name.as_str(), spec));
            }
        };
    }
    add!("IPAddressPool", resources.ip_address_pools);
    add!("L2Advertisement", resources.l2_advertisements);
    add!("BGPAdvertisement", resources.bgp_advertisements);
    add!("BGPPeer", resources.bgp_peers);
    add!("BFDProfile", resources.bfd_profiles);
    add!("Community", resources.communities);
    entries.sort();
    let mut hash = Fnv::default();
    for (kind, namespace, name, spec) in &entries {
        for part in [kind.as_bytes(), namespace.as_bytes(), name.as_bytes(), spec] {
            // length-prefixed, so no two different lists give the same byte stream
            hash.write(&(part.len() as u64).to_le_bytes());
            hash.write(part);
        }
    }
    format!("{:016x}", hash.0)
}

struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::manifest;

    fn session(peer: &str, error: Option<&str>) -> SessionReport {
        SessionReport {
            peer: peer.into(),
            address: "172.30.0.1:179".into(),
            state: "Active".into(),
            established: false,
            since: Some("2026-12-05T10:00:00Z".into()),
            last_error: error.map(str::to_owned),
        }
    }

    #[test]
    fn a_report_of_a_large_cluster_stays_small() {
        let report = SpeakerReport {
            node: "node-with-a-long-name-0000000000000000000000000000000000000000000000000".into(),
            updated: "2026-12-05T10:00:00Z".into(),
            config: Some("0123456789abcdef".into()),
            config_error: Some("x".repeat(100_000)),
            membership: Some(MembershipReport {
                members: (0..5_000).map(|i| format!("node-{i:0>58}")).collect(),
                quorum: true,
                ..MembershipReport::default()
            }),
            sessions: (0..1_000).map(|i| session(&format!("peer-{i:0>58}"), Some(&"e".repeat(10_000)))).collect(),
            sessions_omitted: 0,
            layer2_claims: 100_000,
        }
        .bounded();
        let encoded = report.encode();
        assert!(encoded.len() < 200 * 1024, "{} bytes", encoded.len());
        assert_eq!(report.sessions.len(), MAX_SESSIONS);
        assert_eq!(report.sessions_omitted, 1_000 - MAX_SESSIONS);
        assert_eq!(report.membership.as_ref().unwrap().members_omitted, 5_000 - MAX_MEMBERS);
        assert_eq!(SpeakerReport::decode(encoded.as_bytes()).unwrap(), report);
    }

    #[test]
    fn the_publication_time_is_not_content() {
        let a = SpeakerReport { node: "n".into(), updated: "2026-12-05T10:00:00Z".into(), ..SpeakerReport::default() };
        let mut b = SpeakerReport { updated: "2026-12-05T11:00:00Z".into(), ..a.clone() };
        assert!(a.same_content(&b));
        b.layer2_claims = 1;
        assert!(!a.same_content(&b));
    }

    #[test]
    fn what_is_not_a_report_is_named() {
        let too_big = vec![b' '; MAX_REPORT_BYTES + 1];
        assert!(SpeakerReport::decode(&too_big).unwrap_err().0.contains("larger than"));
        assert!(SpeakerReport::decode(b"{\"node\": 3}").unwrap_err().0.starts_with("speaker report is not valid"));
        assert_eq!(SpeakerReport::decode(b"{}").unwrap_err().0, "speaker report names no node");
        let newer = br#"{"node": "n1", "somethingNew": [1, 2], "sessions": []}"#;
        assert_eq!(SpeakerReport::decode(newer).unwrap().node, "n1");
    }

    fn resources(yaml: &str) -> Resources {
        let mut resources = Resources::default();
        manifest::load_str(yaml, "test.yaml", &mut resources).unwrap();
        resources
    }

    const POOL: &str = "apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {name: p, namespace: metallb-system, uid: a}\nspec: {addresses: [172.30.0.0/28]}\n";
    const PEER: &str = "apiVersion: metallb.io/v1beta2\nkind: BGPPeer\nmetadata: {name: r, namespace: metallb-system}\nspec: {myASN: 64500, peerASN: 64501, peerAddress: 172.30.0.1}\n";

    #[test]
    fn the_digest_follows_names_and_specs_not_order_or_uids() {
        let one = config_digest(&resources(&format!("{POOL}---\n{PEER}")));
        assert_eq!(one.len(), 16);
        assert_eq!(one, config_digest(&resources(&format!("{PEER}---\n{}", POOL.replace("uid: a", "uid: b")))));
        assert_ne!(one, config_digest(&resources(POOL)));
        assert_ne!(one, config_digest(&resources(&format!("{}---\n{PEER}", POOL.replace("/28", "/29")))));
        assert_ne!(one, config_digest(&resources(&format!("{}---\n{PEER}", POOL.replace("name: p", "name: q")))));
    }

    fn any_session() -> impl Strategy<Value = SessionReport> {
        (".{0,20}", ".{0,20}", any::<bool>(), proptest::option::of(".{0,300}")).prop_map(
            |(peer, state, established, last_error)| SessionReport {
                peer,
                address: "[fd00:30::1]:179".into(),
                state,
                established,
                since: None,
                last_error,
            },
        )
    }

    proptest! {
        #[test]
        fn a_bounded_report_reads_back_as_written(
            node in ".{1,40}",
            sessions in proptest::collection::vec(any_session(), 0..300),
            members in proptest::collection::vec(".{0,10}", 0..300),
            fenced in any::<bool>(),
            claims in any::<u32>(),
        ) {
            let report = SpeakerReport {
                node,
                membership: Some(MembershipReport { members, fenced, ..MembershipReport::default() }),
                sessions,
                layer2_claims: claims as usize,
                ..SpeakerReport::default()
            }
            .bounded();
            prop_assert!(report.sessions.len() <= MAX_SESSIONS);
            prop_assert!(report.sessions.iter().all(|s| s.last_error.as_ref().is_none_or(|e| e.chars().count() <= MAX_ERROR_CHARS + 1)));
            prop_assert_eq!(SpeakerReport::decode(report.encode().as_bytes()).unwrap(), report);
        }

        #[test]
        fn any_bytes_are_a_report_or_a_named_error(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            if let Err(e) = SpeakerReport::decode(&bytes) {
                prop_assert!(e.0.starts_with("speaker report"));
            }
        }
    }
}
