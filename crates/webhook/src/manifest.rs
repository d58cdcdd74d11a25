//! The ValidatingWebhookConfiguration the install manifests must carry, generated here so the
//! paths, operations and names cannot drift from what [`crate::server::router`] serves.
//!
//! Shape as MetalLB's (docs/compatibility.md §1.14): one webhook per kind, named
//! `<kind>validationwebhook.metallb.io`; CREATE and UPDATE, except BFDProfile: CREATE
//! (namespace and range checks) and DELETE (in-use check); BGPPeer at v1beta2 only (with the
//! default `matchPolicy: Equivalent` the API server converts v1beta1 writes and sends them
//! there); `sideEffects: None`; `admissionReviewVersions: [v1]`. The caBundles are left empty:
//! [`crate::rotation::publish_ca_bundle`] fills them in.

use k8s_openapi::api::admissionregistration::v1::{
    RuleWithOperations, ServiceReference, ValidatingWebhook, ValidatingWebhookConfiguration, WebhookClientConfig,
};
use kube::api::ObjectMeta;

use crate::admission::Kind;

/// `failurePolicy`: `Fail` (MetalLB's default) or `Ignore`.
pub fn validating_webhook_configuration(
    configuration_name: &str,
    service_name: &str,
    namespace: &str,
    failure_policy: &str,
) -> ValidatingWebhookConfiguration {
    let webhooks = Kind::ALL
        .into_iter()
        .map(|kind| {
            let version = kind.storage_version();
            let operations: &[&str] = match kind {
                Kind::BFDProfile => &["CREATE", "DELETE"],
                _ => &["CREATE", "UPDATE"],
            };
            ValidatingWebhook {
                name: format!("{}validationwebhook.metallb.io", kind.name().to_lowercase()),
                admission_review_versions: vec!["v1".into()],
                side_effects: "None".into(),
                failure_policy: Some(failure_policy.into()),
                timeout_seconds: Some(10),
                client_config: WebhookClientConfig {
                    service: Some(ServiceReference {
                        name: service_name.into(),
                        namespace: namespace.into(),
                        path: Some(format!("/validate-metallb-io-{version}-{}", kind.name().to_lowercase())),
                        port: Some(443),
                    }),
                    ..WebhookClientConfig::default()
                },
                rules: Some(vec![RuleWithOperations {
                    api_groups: Some(vec!["metallb.io".into()]),
                    api_versions: Some(vec![version.into()]),
                    operations: Some(operations.iter().map(|o| (*o).to_owned()).collect()),
                    resources: Some(vec![kind.plural().into()]),
                    scope: None,
                }]),
                ..ValidatingWebhook::default()
            }
        })
        .collect();
    ValidatingWebhookConfiguration {
        metadata: ObjectMeta { name: Some(configuration_name.into()), ..ObjectMeta::default() },
        webhooks: Some(webhooks),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admission::VALIDATION_PATHS;

    #[test]
    fn every_webhook_points_at_a_path_the_server_serves_for_its_kind() {
        let config = validating_webhook_configuration(
            "metallb-webhook-configuration",
            "metallb-webhook-service",
            "metallb-system",
            "Fail",
        );
        let hooks = config.webhooks.unwrap();
        assert_eq!(hooks.len(), 6);
        for hook in hooks {
            let path = hook.client_config.service.unwrap().path.unwrap();
            let (_, kind) = VALIDATION_PATHS.iter().find(|(p, _)| *p == path).expect("a served path");
            let rule = &hook.rules.unwrap()[0];
            assert_eq!(rule.resources.as_ref().unwrap(), &[kind.plural().to_owned()]);
            let operations = rule.operations.clone().unwrap();
            if *kind == Kind::BFDProfile {
                assert_eq!(operations, ["CREATE", "DELETE"]);
            } else {
                assert_eq!(operations, ["CREATE", "UPDATE"]);
            }
        }
    }
}
