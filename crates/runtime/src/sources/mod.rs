//! Where the cluster state comes from: both sources publish the same [`Snapshot`] on a
//! watch channel, and the roles never know which one they run on.
//!
//! - [`dir`]: a directory of manifests, watched; status goes to a [`state_dir`] (written in
//!   batches by the [`state_writer`]), and the controller is elected with a [`lock`] on it.
//! - [`k8s`]: the Kubernetes API (watches, status writer, events, Lease election).

pub mod dir;
pub mod k8s;
pub mod lock;
pub mod state_dir;
pub mod state_writer;

use ferrolb_config::{Config, ConfigError, Options};

/// Everything the reconcilers decide on, at one moment: the same type from either source.
pub use ferrolb_kube::source::Snapshot;

/// The annotation naming the pool a Service's address came from (MetalLB's name).
pub const POOL_ANNOTATION: &str = "metallb.io/ip-allocated-from-pool";

/// The configuration a snapshot holds, in a role's scope; an object the source could not
/// decode makes it unknowable, which is an error like any invalid object.
pub fn parse_config(snapshot: &Snapshot, options: &Options) -> Result<Config, ConfigError> {
    if let Some(rejected) = snapshot.rejected.iter().find(|r| r.kind.is_configuration()) {
        // The decoder says `Kind/name: field: rule`; the error names kind and name itself.
        let kind = rejected.kind.as_str();
        let text = rejected.message.strip_prefix(&format!("{kind}/{}: ", rejected.name)).unwrap_or(&rejected.message);
        let (field, rule) = text.split_once(": ").unwrap_or(("", text));
        return Err(ConfigError::new(kind, &rejected.name, field, rule));
    }
    ferrolb_config::parse(&snapshot.resources, options)
}

/// `snapshot` as a source's snapshot number `seq`, differing from the one before it in the
/// Services `touched` (in `default`) only: what the reconcilers' tests hand them.
#[cfg(test)]
pub(crate) fn numbered(mut snapshot: Snapshot, seq: u64, touched: &[&str]) -> Snapshot {
    let mut changes = ferrolb_api::touched::Touched::nothing();
    for name in touched {
        changes.service("default", name);
    }
    snapshot.changes = ferrolb_kube::source::Changes { seq, touched: changes };
    snapshot
}

#[cfg(test)]
mod tests {
    use ferrolb_config::Scope;
    use ferrolb_kube::source::{Kind, Rejected};

    use super::*;

    fn rejected(kind: Kind, name: &str, message: &str) -> Rejected {
        Rejected { kind, namespace: "metallb-system".into(), name: name.into(), message: message.into() }
    }

    #[test]
    fn an_unreadable_configuration_object_is_a_configuration_error_naming_it() {
        let options = Options { namespace: "metallb-system".into(), scope: Scope::Controller };
        let mut snapshot = Snapshot::default();
        snapshot.rejected.push(rejected(Kind::Service, "web", "Service/web: spec.ports: invalid type"));
        assert!(parse_config(&snapshot, &options).is_ok(), "a Service is not configuration");
        snapshot.rejected.push(rejected(
            Kind::IPAddressPool,
            "broken",
            "IPAddressPool/broken: spec.addresses: invalid type: string \"x\", expected a sequence",
        ));
        let error = parse_config(&snapshot, &options).unwrap_err();
        assert_eq!(
            error.to_string(),
            "IPAddressPool/broken: spec.addresses: invalid type: string \"x\", expected a sequence"
        );
    }
}
