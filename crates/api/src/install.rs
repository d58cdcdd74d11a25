//! The install surface, defined once: the names of the objects ferrolb installs and finds,
//! its ports, and its webhooks (paths, operations, timeout, failure policy).
//!
//! These are MetalLB's names and numbers, so an existing installation's Secrets, Services,
//! ConfigMaps and webhook configuration keep working when ferrolb replaces it
//! (docs/compatibility.md §8). The webhook server serves these paths, `ferrolb manifests`
//! writes them, the command line's defaults are these, and a test holds the Helm chart to
//! them.

/// The namespace of the install. Fixed: the CRDs' conversion webhook names it.
pub const NAMESPACE: &str = "metallb-system";

/// The Service in front of the controller's webhook server (validation and BGPPeer
/// conversion); its DNS name is the serving certificate's.
pub const WEBHOOK_SERVICE: &str = "metallb-webhook-service";
/// The port of [`WEBHOOK_SERVICE`] the API server calls.
pub const WEBHOOK_SERVICE_PORT: u16 = 443;
/// The Secret holding the webhook's serving certificate and its CA.
pub const WEBHOOK_SECRET: &str = "metallb-webhook-cert";
/// The ValidatingWebhookConfiguration whose caBundle the controller keeps current.
pub const WEBHOOK_CONFIGURATION: &str = "metallb-webhook-configuration";
/// Where the controller reads a serving certificate it does not manage (`--cert-dir`).
pub const CERT_DIR: &str = "/tmp/k8s-webhook-server/serving-certs";
/// The Secret holding the membership key (`secretkey`), created by the controller.
pub const MEMBERLIST_SECRET: &str = "memberlist";
/// The ConfigMap listing the interfaces that never answer ARP/NDP.
pub const EXCLUDE_L2_CONFIGMAP: &str = "metallb-excludel2";
/// The coordination.k8s.io Lease the controller replicas compete for.
pub const CONTROLLER_LEASE: &str = "ferrolb-controller";

/// `/metrics` (and the health endpoints) on both workloads.
pub const METRICS_PORT: u16 = 9120;
/// The webhook server (HTTPS), in the controller's pod.
pub const WEBHOOK_PORT: u16 = 9443;
/// `/healthz` and `/readyz` on 127.0.0.1.
pub const HEALTH_PROBE_PORT: u16 = 17472;
/// Membership gossip (UDP), as memberlist's.
pub const MEMBERSHIP_PORT: u16 = 7946;

/// The BGPPeer conversion endpoint on [`WEBHOOK_SERVICE`].
pub const CONVERSION_PATH: &str = "/convert";
/// How long the API server waits for a webhook's answer. Kubernetes' default, stated so
/// every copy of the configuration says the same.
pub const WEBHOOK_TIMEOUT_SECONDS: i32 = 10;
/// `failurePolicy` of the validating webhooks: writes are refused while no controller
/// answers, as in MetalLB.
pub const WEBHOOK_FAILURE_POLICY: &str = "Fail";

/// One validating webhook, as MetalLB registers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidatingWebhook {
    /// MetalLB's webhook name, `<kind>validationwebhook.metallb.io`.
    pub name: &'static str,
    /// The metallb.io kind validated.
    pub kind: &'static str,
    /// Its resource (plural) and the version the rule matches.
    pub resource: &'static str,
    pub version: &'static str,
    /// The URL path on the webhook server.
    pub path: &'static str,
    /// CREATE and UPDATE, except BFDProfile: CREATE (namespace and range checks) and DELETE
    /// (still referenced by a peer) (docs/compatibility.md §1.14).
    pub operations: &'static [&'static str],
}

const CREATE_UPDATE: &[&str] = &["CREATE", "UPDATE"];

/// Every validating webhook, in MetalLB's order. BGPPeer is registered at v1beta2 only: with
/// the default `matchPolicy: Equivalent` the API server converts v1beta1 writes first.
pub const VALIDATING_WEBHOOKS: [ValidatingWebhook; 6] = [
    ValidatingWebhook {
        name: "ipaddresspoolvalidationwebhook.metallb.io",
        kind: "IPAddressPool",
        resource: "ipaddresspools",
        version: "v1beta1",
        path: "/validate-metallb-io-v1beta1-ipaddresspool",
        operations: CREATE_UPDATE,
    },
    ValidatingWebhook {
        name: "bgpadvertisementvalidationwebhook.metallb.io",
        kind: "BGPAdvertisement",
        resource: "bgpadvertisements",
        version: "v1beta1",
        path: "/validate-metallb-io-v1beta1-bgpadvertisement",
        operations: CREATE_UPDATE,
    },
    ValidatingWebhook {
        name: "l2advertisementvalidationwebhook.metallb.io",
        kind: "L2Advertisement",
        resource: "l2advertisements",
        version: "v1beta1",
        path: "/validate-metallb-io-v1beta1-l2advertisement",
        operations: CREATE_UPDATE,
    },
    ValidatingWebhook {
        name: "communityvalidationwebhook.metallb.io",
        kind: "Community",
        resource: "communities",
        version: "v1beta1",
        path: "/validate-metallb-io-v1beta1-community",
        operations: CREATE_UPDATE,
    },
    ValidatingWebhook {
        name: "bfdprofilevalidationwebhook.metallb.io",
        kind: "BFDProfile",
        resource: "bfdprofiles",
        version: "v1beta1",
        path: "/validate-metallb-io-v1beta1-bfdprofile",
        operations: &["CREATE", "DELETE"],
    },
    ValidatingWebhook {
        name: "bgppeervalidationwebhook.metallb.io",
        kind: "BGPPeer",
        resource: "bgppeers",
        version: "v1beta2",
        path: "/validate-metallb-io-v1beta2-bgppeer",
        operations: CREATE_UPDATE,
    },
];

/// A path served beside [`VALIDATING_WEBHOOKS`]: older MetalLB installs registered BGPPeer
/// validation at v1beta1, and their webhook configuration may still point there.
pub const LEGACY_BGPPEER_PATH: &str = "/validate-metallb-io-v1beta1-bgppeer";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_webhook_is_named_and_pathed_after_its_kind_and_version() {
        for hook in VALIDATING_WEBHOOKS {
            let kind = hook.kind.to_lowercase();
            assert_eq!(hook.name, format!("{kind}validationwebhook.metallb.io"));
            assert_eq!(hook.path, format!("/validate-metallb-io-{}-{kind}", hook.version));
            assert!(hook.resource.starts_with(&kind[..kind.len() - 1]), "{}", hook.resource);
        }
        assert_eq!(LEGACY_BGPPEER_PATH.replace("v1beta1", "v1beta2"), VALIDATING_WEBHOOKS[5].path);
    }
}
