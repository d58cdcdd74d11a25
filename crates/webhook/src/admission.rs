//! Admission validation of the metallb.io kinds: pure, no I/O.
//!
//! MetalLB's webhooks parse a partial set of objects (pools alone, peers with nodes, ...) and
//! so let through a pool narrower than an existing advertisement's aggregation length, which
//! only fails at reconcile time (docs/compatibility.md §1.14). ferrolb builds the *whole*
//! candidate configuration (every existing object of the namespace, with the incoming one
//! added, replaced or removed) and runs the very validator the reconcilers run
//! ([`ferrolb_config::parse`] in [`Scope::Full`]), so whatever the webhook admits the
//! reconcilers accept, and the other way round (docs/compatibility.md §9.7).
//!
//! Two kinds of error do not deny:
//!
//! * order-dependent ones, a reference to a password Secret, a BFD profile or a Community
//!   alias that may well be created next (MetalLB blanks those fields before parsing). They
//!   are reported as warnings, and ConfigurationState reports them until they heal;
//! * errors the configuration already had before this change, on other objects: a cluster
//!   whose configuration was broken before the webhook was installed must still accept
//!   unrelated changes and fixes. The object at fault is set aside and the rest validated.

use std::collections::BTreeSet;

use ferrolb_api::install;
use ferrolb_api::{ManifestError, Resources, load_str};
use ferrolb_config::{ConfigError, Options, Scope};
use kube::core::DynamicObject;
use kube::core::admission::{AdmissionRequest, AdmissionResponse, AdmissionReview, Operation};
use serde_json::Value;

/// The metallb.io kinds the validating webhook serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    IPAddressPool,
    BGPAdvertisement,
    L2Advertisement,
    Community,
    BFDProfile,
    BGPPeer,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::IPAddressPool,
        Kind::BGPAdvertisement,
        Kind::L2Advertisement,
        Kind::Community,
        Kind::BFDProfile,
        Kind::BGPPeer,
    ];

    /// The kind as written in `kind:` and in messages.
    pub fn name(self) -> &'static str {
        match self {
            Kind::IPAddressPool => "IPAddressPool",
            Kind::BGPAdvertisement => "BGPAdvertisement",
            Kind::L2Advertisement => "L2Advertisement",
            Kind::Community => "Community",
            Kind::BFDProfile => "BFDProfile",
            Kind::BGPPeer => "BGPPeer",
        }
    }

    /// The resource plural (`/apis/metallb.io/<version>/namespaces/<ns>/<plural>`).
    pub fn plural(self) -> &'static str {
        match self {
            Kind::IPAddressPool => "ipaddresspools",
            Kind::BGPAdvertisement => "bgpadvertisements",
            Kind::L2Advertisement => "l2advertisements",
            Kind::Community => "communities",
            Kind::BFDProfile => "bfdprofiles",
            Kind::BGPPeer => "bgppeers",
        }
    }

    /// The version objects are listed at: the storage version.
    pub fn storage_version(self) -> &'static str {
        match self {
            Kind::BGPPeer => "v1beta2",
            _ => "v1beta1",
        }
    }

    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// The validation paths the server answers, and the kind each validates: those of the
/// install's webhook configuration ([`ferrolb_api::install::VALIDATING_WEBHOOKS`]), and
/// BGPPeer's v1beta1 path, which older configurations may still point at (the API server
/// sends v1beta1 writes to the v1beta2 path converted).
pub fn validation_paths() -> Vec<(&'static str, Kind)> {
    let registered =
        install::VALIDATING_WEBHOOKS.iter().filter_map(|hook| Some((hook.path, Kind::from_name(hook.kind)?)));
    registered.chain([(install::LEGACY_BGPPEER_PATH, Kind::BGPPeer)]).collect()
}

/// A request body that is not an AdmissionReview: answered 400, never with a verdict.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadRequest(pub String);

/// A decoded `admission.k8s.io/v1` request.
#[derive(Debug, Clone)]
pub struct Review {
    pub request: AdmissionRequest<DynamicObject>,
}

impl Review {
    pub fn operation(&self) -> &Operation {
        &self.request.operation
    }

    /// The namespace the request is about (`request.namespace`, else the object's).
    pub fn namespace(&self) -> Option<&str> {
        self.request
            .namespace
            .as_deref()
            .or_else(|| self.subject_object().and_then(|o| o.metadata.namespace.as_deref()))
            .filter(|ns| !ns.is_empty())
    }

    fn subject_object(&self) -> Option<&DynamicObject> {
        self.request.object.as_ref().or(self.request.old_object.as_ref())
    }

    /// The object's name: `request.name`, else the object's own (a DELETE carries only
    /// `oldObject`), else its `generateName` (the API server names it after admission).
    pub fn name(&self) -> String {
        if !self.request.name.is_empty() {
            return self.request.name.clone();
        }
        let meta = self.subject_object().map(|o| &o.metadata);
        meta.and_then(|m| m.name.clone().filter(|n| !n.is_empty()))
            .or_else(|| meta.and_then(|m| m.generate_name.clone()).map(|g| format!("{g}<generated>")))
            .unwrap_or_default()
    }
}

/// Parses a request body. Anything that is not an AdmissionReview with a request is a
/// [`BadRequest`], described on one line.
pub fn decode_review(body: &[u8]) -> Result<Review, BadRequest> {
    let review: AdmissionReview<DynamicObject> =
        serde_json::from_slice(body).map_err(|e| BadRequest(format!("not an AdmissionReview: {}", one_line(&e))))?;
    if review.types.kind != "AdmissionReview" {
        return Err(BadRequest(format!("expected kind AdmissionReview, got {:?}", review.types.kind)));
    }
    let request = review.try_into().map_err(|_| BadRequest("AdmissionReview has no request".into()))?;
    Ok(Review { request })
}

/// What the webhook answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Allowed {
        warnings: Vec<String>,
    },
    /// One line: `Kind/name: field: rule`.
    Denied {
        message: String,
    },
}

impl Verdict {
    fn deny(message: impl Into<String>) -> Self {
        Verdict::Denied { message: message.into() }
    }

    fn allow() -> Self {
        Verdict::Allowed { warnings: Vec::new() }
    }

    pub fn is_allowed(&self) -> bool {
        matches!(self, Verdict::Allowed { .. })
    }
}

/// The AdmissionReview answering `review` (its uid echoed), as JSON.
pub fn respond(review: &Review, verdict: &Verdict) -> Value {
    let mut response = AdmissionResponse::from(&review.request);
    match verdict {
        Verdict::Allowed { warnings } => {
            if !warnings.is_empty() {
                response.warnings = Some(warnings.clone());
            }
        }
        Verdict::Denied { message } => {
            response = response.deny(message);
            // As controller-runtime's `Denied`: 403 Forbidden, which kubectl prints whole.
            response.result.code = 403;
            response.result.reason = "Forbidden".into();
        }
    }
    serde_json::to_value(response.into_review()).unwrap_or(Value::Null)
}

/// Checks that need nothing from the cluster: the object decodes, belongs to the endpoint's
/// kind and to `namespace`. `Some` is the final verdict; `None` means: list the existing
/// objects and call [`validate`].
pub fn precheck(review: &Review, endpoint: Kind, namespace: &str) -> Option<Verdict> {
    let name = review.name();
    let kind = review.request.kind.kind.as_str();
    if kind != endpoint.name() {
        return Some(Verdict::deny(format!(
            "{kind}/{name}: kind: this endpoint validates {} objects, not {kind}",
            endpoint.name()
        )));
    }
    // Status writes (IPAddressPool usage counts, by the controller) change no configuration.
    if review.request.sub_resource.as_deref().is_some_and(|s| !s.is_empty()) {
        return Some(Verdict::allow());
    }
    match review.operation() {
        Operation::Create | Operation::Update => {}
        // Deleting an object outside the namespace cannot change the configuration.
        Operation::Delete if review.namespace() != Some(namespace) => return Some(Verdict::allow()),
        Operation::Delete => return None,
        Operation::Connect => return Some(Verdict::allow()),
    }
    if let Some(ns) = review.namespace()
        && ns != namespace
    {
        return Some(Verdict::deny(format!(
            "{kind}/{name}: metadata.namespace: resource must be created in the {namespace:?} namespace, not {ns:?}"
        )));
    }
    if let Err(message) = subject(review, endpoint) {
        return Some(Verdict::deny(message));
    }
    None
}

/// Decodes the incoming object exactly as the reconcilers decode a manifest
/// ([`ferrolb_api::load_str`]), so the same unknown field or wrong type is refused with the
/// same words.
fn subject(review: &Review, endpoint: Kind) -> Result<Resources, String> {
    let name = review.name();
    let who = format!("{}/{name}", endpoint.name());
    let Some(object) = review.request.object.as_ref() else {
        return Err(format!("{who}: object: the request carries no object"));
    };
    let mut value = serde_json::to_value(object).map_err(|e| format!("{who}: {}", one_line(&e)))?;
    if let Value::Object(map) = &mut value {
        let gvk = &review.request.kind;
        map.entry("apiVersion").or_insert_with(|| format!("{}/{}", gvk.group, gvk.version).into());
        map.entry("kind").or_insert_with(|| gvk.kind.clone().into());
        if let Some(Value::Object(meta)) = map.get_mut("metadata") {
            if meta.get("name").and_then(Value::as_str).is_none_or(str::is_empty) {
                meta.insert("name".into(), name.clone().into());
            }
            if let Some(ns) = review.namespace() {
                meta.entry("namespace").or_insert_with(|| ns.into());
            }
        }
    }
    let text = serde_json::to_string(&value).map_err(|e| format!("{who}: {}", one_line(&e)))?;
    let mut resources = Resources::default();
    load_str(&text, "admission request", &mut resources).map_err(|e| match e {
        ManifestError::Invalid { kind, name, field, message, .. } => format!("{kind}/{name}: {field}: {message}"),
        other => format!("{who}: {other}"),
    })?;
    let loaded: Vec<Kind> = Kind::ALL.into_iter().filter(|k| count(&resources, *k) > 0).collect();
    if loaded != [endpoint] || count(&resources, endpoint) != 1 {
        return Err(format!("{who}: kind: expected one {} object", endpoint.name()));
    }
    Ok(resources)
}

/// Validates the change `review` makes to the configuration made of `existing` (the objects
/// of every metallb.io kind in `namespace`, plus Nodes, Namespaces and Secrets).
pub fn validate(review: &Review, endpoint: Kind, existing: &Resources, namespace: &str) -> Verdict {
    if let Some(verdict) = precheck(review, endpoint, namespace) {
        return verdict;
    }
    let name = review.name();
    let current = in_namespace(existing, namespace);
    let mut candidate = current.clone();
    match review.operation() {
        Operation::Delete => {
            if endpoint == Kind::BFDProfile {
                let users: Vec<&str> = current
                    .bgp_peers
                    .iter()
                    .filter(|p| p.spec.bfd_profile == name)
                    .map(|p| p.metadata.name.as_str())
                    .collect();
                if let Some(first) = users.first() {
                    return Verdict::deny(format!(
                        "BFDProfile/{name}: cannot be deleted: BGPPeer {first:?} uses it (spec.bfdProfile){}",
                        if users.len() > 1 { format!(" and {} more", users.len() - 1) } else { String::new() }
                    ));
                }
            }
            remove(&mut candidate, endpoint.name(), &name);
        }
        _ => match subject(review, endpoint) {
            Ok(incoming) => upsert(&mut candidate, incoming),
            Err(message) => return Verdict::deny(message),
        },
    }
    let subject = (review.operation() != &Operation::Delete).then_some((endpoint.name(), name.as_str()));
    judge(current, candidate, subject, namespace)
}

/// The most parse rounds one review may take (each round sets aside one order-dependent
/// reference or one pre-existing fault). Past it the change is allowed with a warning: the
/// reconcilers still validate it.
const MAX_ROUNDS: usize = 256;

/// Parses `candidate` until it passes, or fails with an error that this change introduced.
/// `subject` is the incoming object (`Kind`, name); `None` for a DELETE.
pub fn judge(
    mut current: Resources,
    mut candidate: Resources,
    subject: Option<(&str, &str)>,
    namespace: &str,
) -> Verdict {
    let options = Options { namespace: namespace.to_owned(), scope: Scope::Full };
    let mut warnings = Vec::new();
    let is_subject = |kind: &str, name: &str| subject.is_some_and(|(k, n)| k == kind && n == name);

    blank_missing_bfd_profiles(&mut current);
    for peer in blank_missing_bfd_profiles(&mut candidate) {
        if is_subject("BGPPeer", &peer.0) {
            warnings.push(format!(
                "BGPPeer/{}: spec.bfdProfile: BFDProfile {:?} does not exist yet; the peer is not used until it does",
                peer.0, peer.1
            ));
        }
    }
    for _ in 0..MAX_ROUNDS {
        let error = match ferrolb_config::parse(&candidate, &options) {
            Ok(config) => {
                if let Some((kind, name)) = subject {
                    let prefix = format!("{kind}/{name}:");
                    warnings.extend(config.warnings.into_iter().filter(|w| w.starts_with(&prefix)));
                }
                return Verdict::Allowed { warnings };
            }
            Err(error) => error,
        };
        if error.transient {
            if is_subject(error.kind, &error.name) {
                warnings.push(format!("{error} (allowed: it may be created later)"));
            }
            let set_aside = neutralize(&mut candidate, &error);
            neutralize(&mut current, &error);
            if !set_aside {
                return Verdict::Allowed { warnings };
            }
            continue;
        }
        if !is_subject(error.kind, &error.name)
            && ferrolb_config::parse(&current, &options).err().is_some_and(|before| before == error)
        {
            warnings.push(format!("the configuration was already invalid before this change: {error}"));
            let set_aside = remove(&mut candidate, error.kind, &error.name);
            remove(&mut current, error.kind, &error.name);
            if !set_aside {
                return Verdict::Allowed { warnings };
            }
            continue;
        }
        return Verdict::deny(error.to_string());
    }
    warnings.push(format!("validation stopped after {MAX_ROUNDS} rounds; the reconcilers will report what remains"));
    Verdict::Allowed { warnings }
}

/// Clears `spec.bfdProfile` of every peer whose profile does not exist, as MetalLB's webhook
/// does: the profile may be created right after the peer. The config crate treats a missing
/// profile as a hard error (a reconciler must not run a peer with a made-up profile), so the
/// webhook takes it out before parsing. Returns (peer, profile) for each peer cleared.
fn blank_missing_bfd_profiles(resources: &mut Resources) -> Vec<(String, String)> {
    let profiles: BTreeSet<String> = resources.bfd_profiles.iter().map(|p| p.metadata.name.clone()).collect();
    let mut cleared = Vec::new();
    for peer in &mut resources.bgp_peers {
        if !peer.spec.bfd_profile.is_empty() && !profiles.contains(&peer.spec.bfd_profile) {
            cleared.push((peer.metadata.name.clone(), std::mem::take(&mut peer.spec.bfd_profile)));
        }
    }
    cleared
}

/// Removes the reference a transient error is about, so the next parse goes past it.
/// False when the error is of a shape this function does not know.
fn neutralize(resources: &mut Resources, error: &ConfigError) -> bool {
    match (error.kind, error.field.as_str()) {
        ("BGPPeer", "spec.passwordSecret") => {
            let mut found = false;
            for peer in resources.bgp_peers.iter_mut().filter(|p| p.metadata.name == error.name) {
                peer.spec.password_secret = None;
                found = true;
            }
            found
        }
        ("BGPAdvertisement", field) => {
            let Some(index) =
                field.strip_prefix("spec.communities[").and_then(|r| r.strip_suffix(']')).and_then(|i| i.parse().ok())
            else {
                return false;
            };
            let mut found = false;
            for ad in resources.bgp_advertisements.iter_mut().filter(|a| a.metadata.name == error.name) {
                if index < ad.spec.communities.len() {
                    ad.spec.communities.remove(index);
                    found = true;
                }
            }
            found
        }
        _ => false,
    }
}

/// The objects that make up the configuration: metallb.io objects and Secrets of
/// `namespace` only (objects elsewhere are not configuration), Nodes and Namespaces whole.
fn in_namespace(existing: &Resources, namespace: &str) -> Resources {
    let here = |meta: &ferrolb_api::ObjectMeta| meta.namespace.as_deref().is_none_or(|ns| ns == namespace);
    let mut out = Resources {
        nodes: existing.nodes.clone(),
        namespaces: existing.namespaces.clone(),
        secrets: existing.secrets.iter().filter(|s| here(&s.metadata)).cloned().collect(),
        ..Resources::default()
    };
    out.ip_address_pools = existing.ip_address_pools.iter().filter(|o| here(&o.metadata)).cloned().collect();
    out.l2_advertisements = existing.l2_advertisements.iter().filter(|o| here(&o.metadata)).cloned().collect();
    out.bgp_advertisements = existing.bgp_advertisements.iter().filter(|o| here(&o.metadata)).cloned().collect();
    out.bgp_peers = existing.bgp_peers.iter().filter(|o| here(&o.metadata)).cloned().collect();
    out.bfd_profiles = existing.bfd_profiles.iter().filter(|o| here(&o.metadata)).cloned().collect();
    out.communities = existing.communities.iter().filter(|o| here(&o.metadata)).cloned().collect();
    out
}

fn count(resources: &Resources, kind: Kind) -> usize {
    match kind {
        Kind::IPAddressPool => resources.ip_address_pools.len(),
        Kind::BGPAdvertisement => resources.bgp_advertisements.len(),
        Kind::L2Advertisement => resources.l2_advertisements.len(),
        Kind::Community => resources.communities.len(),
        Kind::BFDProfile => resources.bfd_profiles.len(),
        Kind::BGPPeer => resources.bgp_peers.len(),
    }
}

/// Removes the object `kind`/`name`; false when there is none.
fn remove(resources: &mut Resources, kind: &str, name: &str) -> bool {
    macro_rules! take {
        ($list:expr) => {{
            let before = $list.len();
            $list.retain(|o| o.metadata.name != name);
            before != $list.len()
        }};
    }
    match Kind::from_name(kind) {
        Some(Kind::IPAddressPool) => take!(resources.ip_address_pools),
        Some(Kind::BGPAdvertisement) => take!(resources.bgp_advertisements),
        Some(Kind::L2Advertisement) => take!(resources.l2_advertisements),
        Some(Kind::Community) => take!(resources.communities),
        Some(Kind::BFDProfile) => take!(resources.bfd_profiles),
        Some(Kind::BGPPeer) => take!(resources.bgp_peers),
        None => false,
    }
}

/// Adds every object of `incoming`, replacing the one of the same kind and name.
fn upsert(resources: &mut Resources, incoming: Resources) {
    macro_rules! put {
        ($field:ident) => {
            for object in incoming.$field {
                resources.$field.retain(|o| o.metadata.name != object.metadata.name);
                resources.$field.push(object);
            }
        };
    }
    put!(ip_address_pools);
    put!(bgp_advertisements);
    put!(l2_advertisements);
    put!(communities);
    put!(bfd_profiles);
    put!(bgp_peers);
}

pub(crate) fn one_line(message: &impl std::fmt::Display) -> String {
    message.to_string().split_whitespace().collect::<Vec<_>>().join(" ")
}
