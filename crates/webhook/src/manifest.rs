//! The ValidatingWebhookConfiguration of the install, generated from the one definition of
//! the webhooks ([`ferrolb_api::install::VALIDATING_WEBHOOKS`]) that the server's routes come
//! from too, so the paths, operations and names cannot drift from what
//! [`crate::server::router`] serves.
//!
//! Shape as MetalLB's (docs/compatibility.md §1.14): one webhook per kind; `sideEffects:
//! None`; `admissionReviewVersions: [v1]`. The caBundles are left empty:
//! [`crate::rotation::publish_ca_bundle`] fills them in.

use ferrolb_api::install::{self, VALIDATING_WEBHOOKS};
use k8s_openapi::api::admissionregistration::v1::{
    RuleWithOperations, ServiceReference, ValidatingWebhook, ValidatingWebhookConfiguration, WebhookClientConfig,
};
use kube::api::ObjectMeta;

/// The install's webhook configuration, for `metadata` (name, labels) given by the caller.
pub fn validating_webhook_configuration(metadata: ObjectMeta) -> ValidatingWebhookConfiguration {
    let strings = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let webhooks = VALIDATING_WEBHOOKS
        .iter()
        .map(|hook| ValidatingWebhook {
            name: hook.name.into(),
            admission_review_versions: strings(&["v1"]),
            side_effects: "None".into(),
            failure_policy: Some(install::WEBHOOK_FAILURE_POLICY.into()),
            timeout_seconds: Some(install::WEBHOOK_TIMEOUT_SECONDS),
            client_config: WebhookClientConfig {
                service: Some(ServiceReference {
                    name: install::WEBHOOK_SERVICE.into(),
                    namespace: install::NAMESPACE.into(),
                    path: Some(hook.path.into()),
                    port: Some(i32::from(install::WEBHOOK_SERVICE_PORT)),
                }),
                ..WebhookClientConfig::default()
            },
            rules: Some(vec![RuleWithOperations {
                api_groups: Some(strings(&["metallb.io"])),
                api_versions: Some(strings(&[hook.version])),
                operations: Some(strings(hook.operations)),
                resources: Some(strings(&[hook.resource])),
                scope: None,
            }]),
            ..ValidatingWebhook::default()
        })
        .collect();
    ValidatingWebhookConfiguration { metadata, webhooks: Some(webhooks) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admission::{Kind, validation_paths};

    #[test]
    fn every_webhook_points_at_a_path_the_server_serves_for_its_kind() {
        let config = validating_webhook_configuration(ObjectMeta::default());
        let hooks = config.webhooks.unwrap();
        assert_eq!(hooks.len(), Kind::ALL.len(), "one webhook per kind");
        let served = validation_paths();
        for hook in hooks {
            let path = hook.client_config.service.unwrap().path.unwrap();
            let (_, kind) = served.iter().find(|(p, _)| *p == path).expect("a served path");
            let rule = &hook.rules.unwrap()[0];
            assert_eq!(rule.resources.as_ref().unwrap(), &[kind.plural().to_owned()]);
            assert_eq!(rule.api_versions.as_ref().unwrap(), &[kind.storage_version().to_owned()]);
            let operations = rule.operations.clone().unwrap();
            if *kind == Kind::BFDProfile {
                assert_eq!(operations, ["CREATE", "DELETE"]);
            } else {
                assert_eq!(operations, ["CREATE", "UPDATE"]);
            }
            assert_eq!(hook.timeout_seconds, Some(install::WEBHOOK_TIMEOUT_SECONDS));
        }
    }

    #[test]
    fn every_kind_is_validated_by_exactly_one_registered_webhook() {
        for kind in Kind::ALL {
            let hooks: Vec<_> = VALIDATING_WEBHOOKS.iter().filter(|h| Kind::from_name(h.kind) == Some(kind)).collect();
            assert_eq!(hooks.len(), 1, "{}", kind.name());
        }
    }
}
