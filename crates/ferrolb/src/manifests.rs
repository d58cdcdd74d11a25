//! `ferrolb manifests`: the whole install as one multi-document YAML (`deploy/ferrolb.yaml`).
//!
//! The objects are built from k8s-openapi types rather than templated text, so a misspelt
//! field is a compile error and the test suite can parse the output back into the same types.
//! Object names follow MetalLB's native manifests (docs/compatibility.md §8): the CRDs hard-code
//! the conversion webhook Service `metallb-webhook-service` in `metallb-system`, and keeping the
//! Secret, ConfigMap and webhook configuration names lets an existing installation's objects
//! carry over unchanged. The workloads keep MetalLB's names (`controller`, `speaker`) but carry
//! ferrolb's own labels; see docs/migrating-from-metallb.md for why MetalLB's Deployment and
//! DaemonSet must be deleted first (selectors are immutable).

use std::collections::BTreeMap;

use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use k8s_openapi::api::apps::v1::{DaemonSet, DaemonSetSpec, Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    Affinity, Capabilities, ConfigMap, ConfigMapVolumeSource, Container, ContainerPort, EmptyDirVolumeSource, EnvVar,
    EnvVarSource, HTTPGetAction, Namespace, ObjectFieldSelector, PodAffinityTerm, PodAntiAffinity, PodSecurityContext,
    PodSpec, PodTemplateSpec, Probe, ResourceRequirements, SeccompProfile, SecretVolumeSource, SecurityContext,
    Service, ServiceAccount, ServicePort, ServiceSpec, Toleration, Volume, VolumeMount, WeightedPodAffinityTerm,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::Serialize;

use ferrolb_api::install;
/// The names and ports of the install, defined once (`ferrolb_api::install`): the webhook
/// server, the command line's defaults and the Helm chart use the same.
pub use ferrolb_api::install::{
    CERT_DIR, EXCLUDE_L2_CONFIGMAP, MEMBERLIST_SECRET, NAMESPACE, WEBHOOK_CONFIGURATION, WEBHOOK_SECRET,
    WEBHOOK_SERVICE,
};

/// The image `ferrolb manifests` refers to unless `--image` says otherwise.
pub const DEFAULT_IMAGE: &str = concat!("ghcr.io/ferrolb/ferrolb:", env!("CARGO_PKG_VERSION"));

/// Workload names, as in MetalLB's native manifests; also the `component` label values.
pub const CONTROLLER: &str = "controller";
pub const SPEAKER: &str = "speaker";
/// ServiceAccounts and RBAC objects have names of ferrolb's own: bindings MetalLB leaves
/// behind cannot widen ferrolb's rights, and a roll-back to MetalLB leaves ferrolb's alone.
pub const CONTROLLER_ACCOUNT: &str = "ferrolb-controller";
pub const SPEAKER_ACCOUNT: &str = "ferrolb-speaker";

/// Ports, as Kubernetes objects number them.
const METRICS_PORT: i32 = install::METRICS_PORT as i32;
const WEBHOOK_PORT: i32 = install::WEBHOOK_PORT as i32;
const HEALTH_PROBE_PORT: i32 = install::HEALTH_PROBE_PORT as i32;
const MEMBERSHIP_PORT: i32 = install::MEMBERSHIP_PORT as i32;

/// Where the speaker finds the membership key: the memberlist Secret's `secretkey` file.
pub const ML_SECRET_MOUNT: &str = "/etc/ml_secret_key";

/// The metallb.io kinds users configure (read by both roles, validated by the webhooks).
const CONFIG_KINDS: [&str; 6] =
    ["bfdprofiles", "bgpadvertisements", "bgppeers", "communities", "ipaddresspools", "l2advertisements"];

const READ: &[&str] = &["get", "list", "watch"];
/// Every verb an object kind has, spelled out: RBAC here never uses `*`.
const FULL: &[&str] = &["get", "list", "watch", "create", "update", "patch", "delete"];

/// What can be chosen on the command line.
#[derive(Debug, Clone)]
pub struct Options {
    /// The ferrolb container image both workloads run.
    pub image: String,
}

impl Default for Options {
    fn default() -> Self {
        Options { image: DEFAULT_IMAGE.to_owned() }
    }
}

/// Why the manifests could not be rendered (a serializer failure: not expected, reported anyway).
#[derive(Debug, thiserror::Error)]
#[error("cannot render {what} as YAML: {source}")]
pub struct RenderError {
    what: String,
    source: serde_saphyr::SerializeError,
}

/// The install YAML: every document introduced by `---`, in the order `kubectl apply` needs
/// (Namespace and CRDs before the objects that live in or refer to them).
pub fn render_yaml(options: &Options) -> Result<String, RenderError> {
    let mut out = String::new();
    push(&mut out, "Namespace", &namespace())?;
    for crd in ferrolb_api::crds::all() {
        push(&mut out, "CustomResourceDefinition", &crd)?;
    }
    push(&mut out, "ServiceAccount controller", &service_account(CONTROLLER_ACCOUNT, CONTROLLER))?;
    push(&mut out, "ServiceAccount speaker", &service_account(SPEAKER_ACCOUNT, SPEAKER))?;
    push(&mut out, "ClusterRole controller", &controller_cluster_role())?;
    push(&mut out, "ClusterRole speaker", &speaker_cluster_role())?;
    push(&mut out, "Role controller", &controller_role())?;
    push(&mut out, "Role speaker", &speaker_role())?;
    push(&mut out, "ClusterRoleBinding controller", &cluster_role_binding(CONTROLLER_ACCOUNT, CONTROLLER))?;
    push(&mut out, "ClusterRoleBinding speaker", &cluster_role_binding(SPEAKER_ACCOUNT, SPEAKER))?;
    push(&mut out, "RoleBinding controller", &role_binding(CONTROLLER_ACCOUNT, CONTROLLER))?;
    push(&mut out, "RoleBinding speaker", &role_binding(SPEAKER_ACCOUNT, SPEAKER))?;
    push(&mut out, "ConfigMap", &exclude_l2_config_map())?;
    push(&mut out, "Service", &webhook_service())?;
    push(&mut out, "Deployment", &controller_deployment(options))?;
    push(&mut out, "PodDisruptionBudget", &controller_disruption_budget())?;
    push(&mut out, "DaemonSet", &speaker_daemon_set(options))?;
    push(&mut out, "ValidatingWebhookConfiguration", &webhook_configuration())?;
    Ok(out)
}

fn push<T: Serialize>(out: &mut String, what: &str, object: &T) -> Result<(), RenderError> {
    let doc = serde_saphyr::to_string(object).map_err(|source| RenderError { what: what.to_owned(), source })?;
    out.push_str("---\n");
    out.push_str(doc.trim_start_matches("---\n"));
    Ok(())
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn labels(component: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".to_owned(), "ferrolb".to_owned()),
        ("app.kubernetes.io/component".to_owned(), component.to_owned()),
    ])
}

/// The label selector the speakers use to find each other's Pods (`METALLB_ML_LABELS`).
pub fn speaker_selector() -> String {
    labels(SPEAKER).iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
}

fn meta(name: &str, component: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: Some(NAMESPACE.to_owned()),
        labels: Some(labels(component)),
        ..ObjectMeta::default()
    }
}

fn cluster_meta(name: &str, component: &str) -> ObjectMeta {
    ObjectMeta { namespace: None, ..meta(name, component) }
}

/// The speaker needs hostNetwork and NET_RAW, which only the `privileged` Pod Security level
/// admits; labelling the namespace says so instead of failing admission on strict clusters.
fn namespace() -> Namespace {
    let mut labels = BTreeMap::from([("app.kubernetes.io/name".to_owned(), "ferrolb".to_owned())]);
    for mode in ["enforce", "audit", "warn"] {
        labels.insert(format!("pod-security.kubernetes.io/{mode}"), "privileged".to_owned());
    }
    Namespace {
        metadata: ObjectMeta { name: Some(NAMESPACE.to_owned()), labels: Some(labels), ..ObjectMeta::default() },
        ..Namespace::default()
    }
}

fn service_account(name: &str, component: &str) -> ServiceAccount {
    ServiceAccount { metadata: meta(name, component), ..ServiceAccount::default() }
}

fn rule(api_group: &str, resources: &[&str], verbs: &[&str]) -> PolicyRule {
    PolicyRule {
        api_groups: Some(vec![api_group.to_owned()]),
        resources: Some(strings(resources)),
        verbs: strings(verbs),
        ..PolicyRule::default()
    }
}

fn named_rule(api_group: &str, resources: &[&str], names: &[&str], verbs: &[&str]) -> PolicyRule {
    PolicyRule { resource_names: Some(strings(names)), ..rule(api_group, resources, verbs) }
}

/// Events are core/v1 (`ferrolb_kube::events`): created, then patched as they repeat.
fn events_rule() -> PolicyRule {
    rule("", &["events"], &["create", "patch"])
}

/// The secured `/metrics` asks the API server who each scraper is and whether it may read the
/// metrics (`ferrolb_kube::access_review`): reviews are cluster-scoped, `create` only.
fn metrics_review_rules() -> [PolicyRule; 2] {
    [
        rule("authentication.k8s.io", &["tokenreviews"], &["create"]),
        rule("authorization.k8s.io", &["subjectaccessreviews"], &["create"]),
    ]
}

/// Cluster-wide: what the controller reads everywhere (Services of every namespace, the
/// namespaces' labels for pool selectors, Nodes for the peer and advertisement webhooks) and
/// the cluster-scoped objects whose CA bundle it keeps current, by name only.
fn controller_cluster_role() -> ClusterRole {
    ClusterRole {
        metadata: cluster_meta(CONTROLLER_ACCOUNT, CONTROLLER),
        rules: Some(
            vec![
                rule("", &["services", "namespaces", "nodes"], READ),
                // The `metallb.io/ip-allocated-from-pool` annotation is on the Service itself.
                rule("", &["services"], &["patch", "update"]),
                rule("", &["services/status"], &["patch", "update"]),
                events_rule(),
                rule("metallb.io", &["configurationstates", "configurationstates/status"], FULL),
                named_rule(
                    "admissionregistration.k8s.io",
                    &["validatingwebhookconfigurations"],
                    &[WEBHOOK_CONFIGURATION],
                    &["get", "patch"],
                ),
                named_rule(
                    "apiextensions.k8s.io",
                    &["customresourcedefinitions"],
                    &["bgppeers.metallb.io"],
                    &["get", "patch"],
                ),
            ]
            .into_iter()
            .chain(metrics_review_rules())
            .collect(),
        ),
        ..ClusterRole::default()
    }
}

/// Cluster-wide: the speaker reads Services, their EndpointSlices (which nodes host serving
/// endpoints), Nodes and Namespaces, and writes per-node status objects.
fn speaker_cluster_role() -> ClusterRole {
    ClusterRole {
        metadata: cluster_meta(SPEAKER_ACCOUNT, SPEAKER),
        rules: Some(
            vec![
                rule("", &["services", "nodes", "namespaces"], READ),
                rule("discovery.k8s.io", &["endpointslices"], READ),
                events_rule(),
                rule("metallb.io", &["servicel2statuses", "servicel2statuses/status"], FULL),
                rule("metallb.io", &["configurationstates", "configurationstates/status"], FULL),
            ]
            .into_iter()
            .chain(metrics_review_rules())
            .collect(),
        ),
        ..ClusterRole::default()
    }
}

/// In `metallb-system` only: the configuration (the webhooks list every kind and the BGP
/// password Secrets to validate a candidate), the Secrets the controller creates (webhook
/// certificate, membership key; read, created, replaced, never patched), its Lease (read,
/// created, replaced), its own Pod (the owner of the status objects it creates), pool status,
/// and its Deployment (the owner of the memberlist Secret, so the Secret goes with ferrolb).
fn controller_role() -> Role {
    Role {
        metadata: meta(CONTROLLER_ACCOUNT, CONTROLLER),
        rules: Some(vec![
            rule("", &["secrets"], &["get", "list", "create", "update"]),
            rule("", &["pods"], &["get"]),
            rule("coordination.k8s.io", &["leases"], &["get", "create", "update"]),
            rule("metallb.io", &CONFIG_KINDS, READ),
            rule("metallb.io", &["ipaddresspools/status"], &["patch", "update"]),
            named_rule("apps", &["deployments"], &[CONTROLLER], &["get"]),
        ]),
    }
}

/// In `metallb-system` only: its own Pod (owner of its status objects) and the other
/// speakers' Pods (membership seeds), BGP password Secrets, ConfigMaps, the configuration,
/// per-node BGP status, the speakers' heartbeat Leases (the fencing witness: each renews
/// its own and lists the others') and its report ConfigMap (`ferrolb-speaker-<node>`, read
/// by `ferrolb why`; a Role cannot name the ConfigMaps it lets a speaker create).
fn speaker_role() -> Role {
    Role {
        metadata: meta(SPEAKER_ACCOUNT, SPEAKER),
        rules: Some(vec![
            rule("", &["pods"], &["get", "list"]),
            rule("", &["secrets", "configmaps"], READ),
            rule("", &["configmaps"], &["create", "update"]),
            rule("metallb.io", &CONFIG_KINDS, READ),
            rule("metallb.io", &["servicebgpstatuses", "servicebgpstatuses/status"], FULL),
            rule("coordination.k8s.io", &["leases"], &["get", "list", "create", "update"]),
        ]),
    }
}

fn subject(name: &str) -> Subject {
    Subject {
        kind: "ServiceAccount".to_owned(),
        name: name.to_owned(),
        namespace: Some(NAMESPACE.to_owned()),
        ..Subject::default()
    }
}

/// Every RBAC object is named after the ServiceAccount it is for.
fn cluster_role_binding(name: &str, component: &str) -> ClusterRoleBinding {
    ClusterRoleBinding {
        metadata: cluster_meta(name, component),
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".to_owned(),
            kind: "ClusterRole".to_owned(),
            name: name.to_owned(),
        },
        subjects: Some(vec![subject(name)]),
    }
}

fn role_binding(name: &str, component: &str) -> RoleBinding {
    RoleBinding {
        metadata: meta(name, component),
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".to_owned(),
            kind: "Role".to_owned(),
            name: name.to_owned(),
        },
        subjects: Some(vec![subject(name)]),
    }
}

/// MetalLB's default interface exclusions, the list the speaker also uses when the file is
/// absent (`ferrolb_l2::DEFAULT_EXCLUDED`); shipped as a ConfigMap so it can be edited.
fn exclude_l2_config_map() -> ConfigMap {
    let mut text = String::from("announcedInterfacesToExclude:\n");
    for pattern in ferrolb_l2::DEFAULT_EXCLUDED {
        text.push_str(&format!("- {pattern}\n"));
    }
    ConfigMap {
        metadata: meta(EXCLUDE_L2_CONFIGMAP, SPEAKER),
        data: Some(BTreeMap::from([("excludel2.yaml".to_owned(), text)])),
        ..ConfigMap::default()
    }
}

fn webhook_service() -> Service {
    Service {
        metadata: meta(WEBHOOK_SERVICE, CONTROLLER),
        spec: Some(ServiceSpec {
            selector: Some(labels(CONTROLLER)),
            ports: Some(vec![ServicePort {
                name: Some("webhook".to_owned()),
                port: 443,
                protocol: Some("TCP".to_owned()),
                target_port: Some(IntOrString::String("webhook-server".to_owned())),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

fn field_env(name: &str, path: &str) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector { field_path: path.to_owned(), ..ObjectFieldSelector::default() }),
            ..EnvVarSource::default()
        }),
        ..EnvVar::default()
    }
}

fn env(name: &str, value: &str) -> EnvVar {
    EnvVar { name: name.to_owned(), value: Some(value.to_owned()), ..EnvVar::default() }
}

fn port(name: &str, number: i32, protocol: &str) -> ContainerPort {
    ContainerPort {
        name: Some(name.to_owned()),
        container_port: number,
        protocol: Some(protocol.to_owned()),
        ..ContainerPort::default()
    }
}

fn http_probe(path: &str, port: IntOrString, host: Option<&str>, period: i32, failures: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.to_owned()),
            port,
            host: host.map(str::to_owned),
            ..HTTPGetAction::default()
        }),
        period_seconds: Some(period),
        failure_threshold: Some(failures),
        timeout_seconds: Some(1),
        ..Probe::default()
    }
}

/// The same probe over HTTPS: the metrics port is HTTPS on the `k8s` source, and the kubelet
/// does not verify the certificate of an HTTPS probe.
fn over_https(mut probe: Probe) -> Probe {
    if let Some(get) = probe.http_get.as_mut() {
        get.scheme = Some("HTTPS".to_owned());
    }
    probe
}

/// Small requests so the scheduler accounts for ferrolb, and no limits: a speaker holding a
/// large BGP table needs far more memory than at idle, and an OOM kill withdraws every route.
fn resources() -> ResourceRequirements {
    ResourceRequirements {
        requests: Some(BTreeMap::from([
            ("cpu".to_owned(), Quantity("10m".to_owned())),
            ("memory".to_owned(), Quantity("32Mi".to_owned())),
        ])),
        ..ResourceRequirements::default()
    }
}

fn volume_mount(name: &str, path: &str) -> VolumeMount {
    VolumeMount { name: name.to_owned(), mount_path: path.to_owned(), read_only: Some(true), ..VolumeMount::default() }
}

fn linux_only() -> BTreeMap<String, String> {
    BTreeMap::from([("kubernetes.io/os".to_owned(), "linux".to_owned())])
}

fn runtime_default_seccomp() -> SeccompProfile {
    SeccompProfile { type_: "RuntimeDefault".to_owned(), ..SeccompProfile::default() }
}

/// The controller: not on the host network, no capabilities, not root.
///
/// Two replicas although only one reconciles at a time (the Lease elects it): every replica
/// serves the validating and conversion webhooks, and with `failurePolicy: Fail` a single
/// replica being rescheduled would refuse every metallb.io write (and every BGPPeer read
/// through the other version) until it is back. The anti-affinity spreads them over nodes.
fn controller_deployment(options: &Options) -> Deployment {
    let container = Container {
        name: CONTROLLER.to_owned(),
        image: Some(options.image.clone()),
        image_pull_policy: Some("IfNotPresent".to_owned()),
        args: Some(strings(&[
            "controller",
            "--source=k8s",
            &format!("--port={METRICS_PORT}"),
            "--webhook-mode=enabled",
            &format!("--webhook-port={WEBHOOK_PORT}"),
            "--log-level=info",
        ])),
        env: Some(vec![
            field_env("METALLB_NAMESPACE", "metadata.namespace"),
            field_env("METALLB_POD_NAME", "metadata.name"),
            env("METALLB_DEPLOYMENT", CONTROLLER),
            env("METALLB_ML_SECRET_NAME", MEMBERLIST_SECRET),
        ]),
        ports: Some(vec![port("metricshttps", METRICS_PORT, "TCP"), port("webhook-server", WEBHOOK_PORT, "TCP")]),
        // The health port listens on 127.0.0.1 only, which the kubelet cannot reach in a pod
        // network namespace; the metrics port serves /healthz and /readyz too, openly, over
        // HTTPS.
        liveness_probe: Some(over_https(http_probe(
            "/healthz",
            IntOrString::String("metricshttps".to_owned()),
            None,
            10,
            3,
        ))),
        readiness_probe: Some(over_https(http_probe(
            "/readyz",
            IntOrString::String("metricshttps".to_owned()),
            None,
            10,
            3,
        ))),
        resources: Some(resources()),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            read_only_root_filesystem: Some(true),
            capabilities: Some(Capabilities { drop: Some(strings(&["ALL"])), ..Capabilities::default() }),
            ..SecurityContext::default()
        }),
        volume_mounts: Some(vec![
            VolumeMount { name: "tmp".to_owned(), mount_path: "/tmp".to_owned(), ..VolumeMount::default() },
            volume_mount("cert", CERT_DIR),
        ]),
        ..Container::default()
    };
    let anti_affinity = PodAntiAffinity {
        preferred_during_scheduling_ignored_during_execution: Some(vec![WeightedPodAffinityTerm {
            weight: 100,
            pod_affinity_term: PodAffinityTerm {
                label_selector: Some(LabelSelector {
                    match_labels: Some(labels(CONTROLLER)),
                    ..LabelSelector::default()
                }),
                topology_key: "kubernetes.io/hostname".to_owned(),
                ..PodAffinityTerm::default()
            },
        }]),
        ..PodAntiAffinity::default()
    };
    let pod = PodSpec {
        service_account_name: Some(CONTROLLER_ACCOUNT.to_owned()),
        node_selector: Some(linux_only()),
        affinity: Some(Affinity { pod_anti_affinity: Some(anti_affinity), ..Affinity::default() }),
        security_context: Some(PodSecurityContext {
            run_as_non_root: Some(true),
            run_as_user: Some(65534),
            run_as_group: Some(65534),
            fs_group: Some(65534),
            seccomp_profile: Some(runtime_default_seccomp()),
            ..PodSecurityContext::default()
        }),
        termination_grace_period_seconds: Some(10),
        containers: vec![container],
        volumes: Some(vec![
            Volume { name: "tmp".to_owned(), empty_dir: Some(EmptyDirVolumeSource::default()), ..Volume::default() },
            // Used with --disable-cert-rotation (a certificate from cert-manager, say);
            // optional, because with rotation the controller creates the Secret itself.
            Volume {
                name: "cert".to_owned(),
                secret: Some(SecretVolumeSource {
                    secret_name: Some(WEBHOOK_SECRET.to_owned()),
                    optional: Some(true),
                    ..SecretVolumeSource::default()
                }),
                ..Volume::default()
            },
        ]),
        ..PodSpec::default()
    };
    Deployment {
        metadata: meta(CONTROLLER, CONTROLLER),
        spec: Some(DeploymentSpec {
            replicas: Some(2),
            revision_history_limit: Some(3),
            selector: LabelSelector { match_labels: Some(labels(CONTROLLER)), ..LabelSelector::default() },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta { labels: Some(labels(CONTROLLER)), ..ObjectMeta::default() }),
                spec: Some(pod),
            },
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    }
}

/// A node drain evicts one controller replica at a time, so the webhooks (which fail
/// closed) always have a replica to answer them.
fn controller_disruption_budget() -> PodDisruptionBudget {
    PodDisruptionBudget {
        metadata: meta(CONTROLLER, CONTROLLER),
        spec: Some(PodDisruptionBudgetSpec {
            max_unavailable: Some(IntOrString::Int(1)),
            selector: Some(LabelSelector { match_labels: Some(labels(CONTROLLER)), ..LabelSelector::default() }),
            ..PodDisruptionBudgetSpec::default()
        }),
        ..PodDisruptionBudget::default()
    }
}

/// The speaker: one per node, on the host network (it answers ARP/NDP on the node's
/// interfaces and opens BGP sessions from the node's addresses), with NET_RAW as its only
/// capability (raw AF_PACKET sockets). It runs as uid 0 because a capability added to a
/// non-root container is not effective without ambient capabilities; everything else is
/// dropped and the root filesystem is read-only.
fn speaker_daemon_set(options: &Options) -> DaemonSet {
    let container = Container {
        name: SPEAKER.to_owned(),
        image: Some(options.image.clone()),
        image_pull_policy: Some("IfNotPresent".to_owned()),
        args: Some(strings(&["speaker", "--source=k8s", &format!("--port={METRICS_PORT}"), "--log-level=info"])),
        env: Some(vec![
            field_env("METALLB_NODE_NAME", "spec.nodeName"),
            field_env("METALLB_NAMESPACE", "metadata.namespace"),
            field_env("METALLB_POD_NAME", "metadata.name"),
            // Gossip listens on every address and advertises the Node's InternalIP; binding
            // to `$(POD_IP):7946` instead would not parse on IPv6-only clusters.
            env("METALLB_ML_BIND_ADDR", &format!("0.0.0.0:{MEMBERSHIP_PORT}")),
            env("METALLB_ML_LABELS", &speaker_selector()),
            env("METALLB_ML_SECRET_KEY_PATH", &format!("{ML_SECRET_MOUNT}/secretkey")),
        ]),
        // With hostNetwork these are the node's ports.
        ports: Some(vec![port("metricshttps", METRICS_PORT, "TCP"), port("memberlist-udp", MEMBERSHIP_PORT, "UDP")]),
        // On the host network the kubelet reaches the 127.0.0.1-only health port.
        liveness_probe: Some(http_probe("/healthz", IntOrString::Int(HEALTH_PROBE_PORT), Some("127.0.0.1"), 10, 3)),
        readiness_probe: Some(http_probe("/readyz", IntOrString::Int(HEALTH_PROBE_PORT), Some("127.0.0.1"), 10, 3)),
        resources: Some(resources()),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            read_only_root_filesystem: Some(true),
            run_as_non_root: Some(false),
            run_as_user: Some(0),
            capabilities: Some(Capabilities { drop: Some(strings(&["ALL"])), add: Some(strings(&["NET_RAW"])) }),
            ..SecurityContext::default()
        }),
        volume_mounts: Some(vec![
            volume_mount("memberlist", ML_SECRET_MOUNT),
            volume_mount("excludel2", "/etc/metallb"),
        ]),
        ..Container::default()
    };
    let pod = PodSpec {
        service_account_name: Some(SPEAKER_ACCOUNT.to_owned()),
        host_network: Some(true),
        node_selector: Some(linux_only()),
        tolerations: Some(
            ["node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master"]
                .into_iter()
                .map(|key| Toleration {
                    key: Some(key.to_owned()),
                    operator: Some("Exists".to_owned()),
                    effect: Some("NoSchedule".to_owned()),
                    ..Toleration::default()
                })
                .collect(),
        ),
        security_context: Some(PodSecurityContext {
            seccomp_profile: Some(runtime_default_seccomp()),
            ..PodSecurityContext::default()
        }),
        // On SIGTERM the speaker withdraws and sends its CEASEs, waiting at most
        // --graceful-shutdown-delay (0 here) + 2 s; the pod is given a little more.
        termination_grace_period_seconds: Some(5),
        containers: vec![container],
        volumes: Some(vec![
            // Not optional: the speaker waits for the controller to create the key rather
            // than start gossiping in clear.
            Volume {
                name: "memberlist".to_owned(),
                secret: Some(SecretVolumeSource {
                    secret_name: Some(MEMBERLIST_SECRET.to_owned()),
                    ..SecretVolumeSource::default()
                }),
                ..Volume::default()
            },
            Volume {
                name: "excludel2".to_owned(),
                config_map: Some(ConfigMapVolumeSource {
                    name: EXCLUDE_L2_CONFIGMAP.to_owned(),
                    ..ConfigMapVolumeSource::default()
                }),
                ..Volume::default()
            },
        ]),
        ..PodSpec::default()
    };
    DaemonSet {
        metadata: meta(SPEAKER, SPEAKER),
        spec: Some(DaemonSetSpec {
            revision_history_limit: Some(3),
            selector: LabelSelector { match_labels: Some(labels(SPEAKER)), ..LabelSelector::default() },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta { labels: Some(labels(SPEAKER)), ..ObjectMeta::default() }),
                spec: Some(pod),
            },
            ..DaemonSetSpec::default()
        }),
        ..DaemonSet::default()
    }
}

/// One webhook per kind, all failing closed. `caBundle` is left out, not empty: the
/// controller patches it in, and a field absent from the applied manifest is one that a
/// later `kubectl apply` leaves alone.
fn webhook_configuration() -> ValidatingWebhookConfiguration {
    ferrolb_webhook::manifest::validating_webhook_configuration(cluster_meta(WEBHOOK_CONFIGURATION, CONTROLLER))
}
