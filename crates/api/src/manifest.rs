//! Multi-document YAML manifests into [`Resources`].
//!
//! Each document is first read as an untyped tree, dispatched on `apiVersion`/`kind`, then
//! decoded into its typed shape, so a wrong field type is reported with the object's
//! `Kind/name` and the field's path rather than as a bare decoder message. Kinds ferrolb does
//! not read are skipped; `v1` `List` documents (what `kubectl get -o yaml` prints) are
//! unpacked.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::conversion::peer_v1beta1_to_v1beta2;
use crate::meta::ObjectMeta;
use crate::metallb::{BGPPeerV1Beta1Spec, GROUP};
use crate::objects::{EndpointSlice, Namespace, Node, Object, Resources, Secret, Service};

/// Why a manifest could not be loaded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ManifestError {
    /// The text is not YAML.
    #[error("{origin}:{line}:{column}: YAML syntax error: {message}")]
    Syntax { origin: String, line: u64, column: u64, message: String },
    /// The text is YAML, but it trips one of the parser's limits against amplification
    /// (aliases expanded without end, nesting too deep): which one, and the count reached.
    #[error(
        "{origin}: not loaded: the parser's limit was reached at {limit} (a guard against YAML amplification such as alias bombs, not a syntax error)"
    )]
    Limit { origin: String, limit: String },
    /// A document is YAML but not a Kubernetes object.
    #[error("{origin}: document {document}: {message}")]
    NotAnObject { origin: String, document: usize, message: String },
    /// A known kind whose content does not fit its schema.
    #[error("{origin}: {kind}/{name}: {field}: {message}")]
    Invalid { origin: String, kind: String, name: String, field: String, message: String },
}

impl ManifestError {
    /// True for errors in the text itself (exit code 2), false for objects that are
    /// well-formed YAML but invalid (exit code 1).
    pub fn is_syntax(&self) -> bool {
        matches!(self, Self::Syntax { .. } | Self::Limit { .. } | Self::NotAnObject { .. })
    }
}

/// What a successful load skipped, so a CLI can say so.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LoadReport {
    /// Documents of kinds ferrolb does not read, as `apiVersion/kind`.
    pub ignored: Vec<String>,
    /// Objects read.
    pub loaded: usize,
}

/// Parses every document of `text` into `into`. `origin` names the text in errors (a path).
///
/// On error `into` is left unchanged: a half-read file never contributes objects.
pub fn load_str(text: &str, origin: &str, into: &mut Resources) -> Result<LoadReport, ManifestError> {
    let documents: Vec<Value> = serde_saphyr::from_multiple_with_options(text, options_for(text)).map_err(|e| {
        if let Some(limit) = limit_breached(&e) {
            return ManifestError::Limit { origin: origin.to_owned(), limit };
        }
        let location = e.location();
        ManifestError::Syntax {
            origin: origin.to_owned(),
            line: location.as_ref().map_or(0, |l| l.line()),
            column: location.as_ref().map_or(0, |l| l.column()),
            message: one_line(&e.without_snippet().to_string()),
        }
    })?;
    let mut staged = Resources::default();
    let mut report = LoadReport::default();
    for (index, document) in documents.into_iter().enumerate() {
        load_document(document, origin, index + 1, &mut staged, &mut report)?;
    }
    into.extend(staged);
    Ok(report)
}

/// Decodes one object already parsed as JSON (an object the API server handed over) into
/// `into`, with the same dispatch and errors as [`load_str`]. `origin` names it in errors.
pub fn load_value(document: Value, origin: &str, into: &mut Resources) -> Result<LoadReport, ManifestError> {
    let mut staged = Resources::default();
    let mut report = LoadReport::default();
    load_document(document, origin, 1, &mut staged, &mut report)?;
    into.extend(staged);
    Ok(report)
}

/// The parser's default budget caps a file at 1,024 documents, a million events and 250,000
/// nodes, which a real cluster dump exceeds (5,000 Services with their EndpointSlices are
/// about 250,000 nodes). Bounds proportional to the text keep the protection that matters
/// (no amplification: every document, event, node and scalar byte costs at least a byte of
/// input, so honest text never reaches them) without refusing large honest files. Aliases,
/// anchors and nesting depth keep the parser's own limits: those are where amplification lives.
fn options_for(text: &str) -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_documents = text.len() / 4 + 1_024;
    budget.max_events += text.len();
    budget.max_nodes += text.len();
    budget.max_total_scalar_bytes += text.len();
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options
}

/// The limit an error reports breached, in words, if it is a budget breach.
fn limit_breached(error: &serde_saphyr::Error) -> Option<String> {
    use serde_saphyr::budget::BudgetBreach as B;
    let mut error = error;
    while let serde_saphyr::Error::WithSnippet { error: inner, .. }
    | serde_saphyr::Error::AliasError { error: inner, .. } = error
    {
        error = inner;
    }
    let serde_saphyr::Error::Budget { breach, .. } = error else { return None };
    Some(match breach {
        B::Aliases { aliases } => format!("{aliases} alias references"),
        B::Anchors { anchors } => format!("{anchors} anchors"),
        B::AliasAnchorRatio { aliases, anchors } => format!("{aliases} alias references to {anchors} anchors"),
        B::Depth { depth } => format!("nesting {depth} levels deep"),
        B::Documents { documents } => format!("{documents} documents"),
        B::Nodes { nodes } => format!("{nodes} nodes"),
        B::Events { events } => format!("{events} parser events"),
        B::ScalarBytes { total_scalar_bytes } => format!("{total_scalar_bytes} bytes of scalars"),
        other => format!("{other:?}"),
    })
}

fn load_document(
    document: Value,
    origin: &str,
    index: usize,
    into: &mut Resources,
    report: &mut LoadReport,
) -> Result<(), ManifestError> {
    let not_an_object = |message: &str| ManifestError::NotAnObject {
        origin: origin.to_owned(),
        document: index,
        message: message.to_owned(),
    };
    let Value::Object(map) = &document else {
        return Err(not_an_object("expected a mapping with apiVersion and kind"));
    };
    let api_version = match map.get("apiVersion") {
        Some(Value::String(s)) => s.clone(),
        _ => return Err(not_an_object("missing apiVersion")),
    };
    let kind = match map.get("kind") {
        Some(Value::String(s)) => s.clone(),
        _ => return Err(not_an_object("missing kind")),
    };
    if api_version == "v1" && kind == "List" {
        let items = match map.get("items") {
            Some(Value::Array(items)) => items.clone(),
            None | Some(Value::Null) => Vec::new(),
            Some(_) => return Err(not_an_object("List items must be a sequence")),
        };
        for item in items {
            load_document(item, origin, index, into, report)?;
        }
        return Ok(());
    }
    let decoder = Decoder { origin, kind: &kind, document: &document };
    let (group, version) = match api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version.as_str()),
    };
    match (group, version, kind.as_str()) {
        (GROUP, _, _) => return load_metallb(&decoder, version, into, report),
        ("", "v1", "Node") => into.nodes.push(decoder.whole::<Node>()?),
        ("", "v1", "Namespace") => into.namespaces.push(decoder.whole::<Namespace>()?),
        ("", "v1", "Secret") => into.secrets.push(decoder.whole::<Secret>()?),
        ("", "v1", "Service") => into.services.push(decoder.whole::<Service>()?),
        ("discovery.k8s.io", "v1", "EndpointSlice") => into.endpoint_slices.push(decoder.whole::<EndpointSlice>()?),
        _ => {
            report.ignored.push(format!("{api_version}/{kind}"));
            return Ok(());
        }
    }
    report.loaded += 1;
    Ok(())
}

fn load_metallb(
    decoder: &Decoder<'_>,
    version: &str,
    into: &mut Resources,
    report: &mut LoadReport,
) -> Result<(), ManifestError> {
    match (decoder.kind, version) {
        ("IPAddressPool", "v1beta1") => into.ip_address_pools.push(decoder.object()?),
        ("L2Advertisement", "v1beta1") => into.l2_advertisements.push(decoder.object()?),
        ("BGPAdvertisement", "v1beta1") => into.bgp_advertisements.push(decoder.object()?),
        ("BGPPeer", "v1beta2") => into.bgp_peers.push(decoder.object()?),
        ("BGPPeer", "v1beta1") => {
            let old: Object<BGPPeerV1Beta1Spec> = decoder.object()?;
            into.bgp_peers.push(Object::new(old.metadata, peer_v1beta1_to_v1beta2(&old.spec)));
        }
        ("BFDProfile", "v1beta1") => into.bfd_profiles.push(decoder.object()?),
        ("Community", "v1beta1") => into.communities.push(decoder.object()?),
        // Written by ferrolb itself; never configuration.
        ("ServiceL2Status" | "ServiceBGPStatus" | "ConfigurationState", "v1beta1") => {
            report.ignored.push(format!("{GROUP}/{version}/{}", decoder.kind));
            return Ok(());
        }
        (kind, version) => {
            return Err(decoder.invalid(
                "apiVersion",
                &format!("{GROUP}/{version} {kind} is not a kind ferrolb serves (expected one of IPAddressPool, L2Advertisement, BGPAdvertisement, BFDProfile, Community at v1beta1, BGPPeer at v1beta1 or v1beta2)"),
            ));
        }
    }
    report.loaded += 1;
    Ok(())
}

/// Decodes one document of a known kind, naming it in every error.
struct Decoder<'a> {
    origin: &'a str,
    kind: &'a str,
    document: &'a Value,
}

impl Decoder<'_> {
    fn name(&self) -> String {
        match self.document.pointer("/metadata/name") {
            Some(Value::String(name)) if !name.is_empty() => name.clone(),
            _ => "<unnamed>".to_owned(),
        }
    }

    fn invalid(&self, field: &str, message: &str) -> ManifestError {
        ManifestError::Invalid {
            origin: self.origin.to_owned(),
            kind: self.kind.to_owned(),
            name: self.name(),
            field: field.to_owned(),
            message: one_line(message),
        }
    }

    fn decode<T: DeserializeOwned>(&self, value: &Value, prefix: &str) -> Result<T, ManifestError> {
        serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            let field = match (prefix, path.as_str()) {
                (p, ".") => p.to_owned(),
                ("", p) => p.to_owned(),
                (prefix, p) => format!("{prefix}.{p}"),
            };
            self.invalid(&field, &e.into_inner().to_string())
        })
    }

    fn metadata(&self) -> Result<ObjectMeta, ManifestError> {
        let metadata: ObjectMeta = match self.document.get("metadata") {
            Some(value) => self.decode(value, "metadata")?,
            None => ObjectMeta::default(),
        };
        if metadata.name.is_empty() {
            return Err(self.invalid("metadata.name", "is required"));
        }
        Ok(metadata)
    }

    /// A metallb.io object: metadata plus a strictly decoded spec; status is ignored.
    fn object<S: DeserializeOwned>(&self) -> Result<Object<S>, ManifestError> {
        let metadata = self.metadata()?;
        let empty = Value::Object(Default::default());
        let spec = match self.document.get("spec") {
            None | Some(Value::Null) => &empty,
            Some(spec) => spec,
        };
        Ok(Object::new(metadata, self.decode(spec, "spec")?))
    }

    /// A core object decoded leniently as a whole.
    fn whole<T: DeserializeOwned>(&self) -> Result<T, ManifestError> {
        self.metadata()?;
        self.decode(self.document, "")
    }
}

fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<(Resources, LoadReport), ManifestError> {
        let mut resources = Resources::default();
        let report = load_str(text, "test.yaml", &mut resources)?;
        Ok((resources, report))
    }

    #[test]
    fn multi_document_file_loads_every_known_kind() {
        let (r, report) = load(
            "apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {name: p, namespace: metallb-system}\nspec: {addresses: [10.0.0.0/24], autoAssign: false}\n---\n\
             apiVersion: v1\nkind: Node\nmetadata: {name: n1, labels: {a: b}}\nstatus: {addresses: [{type: InternalIP, address: 172.30.0.11}]}\n---\n\
             apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n",
        )
        .unwrap();
        assert_eq!(r.ip_address_pools[0].spec.auto_assign, Some(false));
        assert_eq!(r.nodes[0].status.addresses[0].address, "172.30.0.11");
        assert_eq!(report.ignored, vec!["apps/v1/Deployment"]);
        assert_eq!(report.loaded, 2);
    }

    #[test]
    fn v1beta1_peer_is_stored_converted() {
        let (r, _) = load(
            "apiVersion: metallb.io/v1beta1\nkind: BGPPeer\nmetadata: {name: r}\nspec: {myASN: 64512, peerASN: 64500, peerAddress: 172.30.0.1}\n",
        )
        .unwrap();
        assert_eq!(r.bgp_peers[0].spec.peer_asn, 64500);
        assert_eq!(r.bgp_peers[0].spec.hold_time, None);
    }

    #[test]
    fn list_documents_are_unpacked() {
        let (r, _) = load(
            "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Namespace\n  metadata: {name: a}\n- apiVersion: v1\n  kind: Namespace\n  metadata: {name: b}\n",
        )
        .unwrap();
        assert_eq!(r.namespaces.len(), 2);
    }

    #[test]
    fn syntax_error_names_file_and_line() {
        let err = load("apiVersion: v1\nkind: Node\nmetadata: [\n").unwrap_err();
        assert!(err.is_syntax());
        let text = err.to_string();
        assert!(text.starts_with("test.yaml:3:"), "{text}");
        assert!(!text.contains('\n'));
    }

    #[test]
    fn wrong_field_type_names_kind_object_and_field() {
        let err = load(
            "apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {name: p}\nspec: {addresses: [a], autoAssign: maybe}\n",
        )
        .unwrap_err();
        assert!(!err.is_syntax());
        let text = err.to_string();
        assert!(text.contains("IPAddressPool/p: spec.autoAssign:"), "{text}");
    }

    #[test]
    fn unknown_spec_field_is_rejected_with_its_name() {
        let err = load(
            "apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {name: p}\nspec: {addresses: [a], autoassign: true}\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("unknown field `autoassign`"), "{err}");
    }

    #[test]
    fn missing_name_is_rejected() {
        let err = load("apiVersion: metallb.io/v1beta1\nkind: Community\nspec: {}\n").unwrap_err();
        assert!(err.to_string().contains("Community/<unnamed>: metadata.name: is required"), "{err}");
    }

    #[test]
    fn document_without_kind_is_not_an_object() {
        let err = load("a: 1\n").unwrap_err();
        assert!(err.is_syntax());
        assert_eq!(err.to_string(), "test.yaml: document 1: missing apiVersion");
    }

    #[test]
    fn unserved_metallb_version_is_rejected() {
        let err = load("apiVersion: metallb.io/v1\nkind: IPAddressPool\nmetadata: {name: p}\n").unwrap_err();
        assert!(err.to_string().contains("not a kind ferrolb serves"), "{err}");
    }

    #[test]
    fn failed_load_adds_nothing() {
        let mut r = Resources::default();
        let text = "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Namespace\n";
        assert!(load_str(text, "x", &mut r).is_err());
        assert!(r.namespaces.is_empty());
    }

    #[test]
    fn a_file_with_thousands_of_documents_loads() {
        let text: String =
            (0..3_000).map(|i| format!("apiVersion: v1\nkind: Namespace\nmetadata: {{name: ns{i}}}\n---\n")).collect();
        let (r, report) = load(&text).unwrap();
        assert_eq!((r.namespaces.len(), report.loaded), (3_000, 3_000));
    }

    /// One Service and its EndpointSlice, as `kubectl get -o yaml` writes them: about 60
    /// nodes of YAML.
    fn service_and_slice(i: usize) -> String {
        format!(
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: s{i}\n  namespace: default\n  uid: u{i}\n  labels: {{app: s{i}, tier: web}}\n\
             spec:\n  type: LoadBalancer\n  clusterIP: 10.96.{}.{}\n  clusterIPs: [10.96.{}.{}]\n  ipFamilies: [IPv4]\n  ports:\n  - {{name: http, port: 80, protocol: TCP, targetPort: 8080}}\n\
             status:\n  loadBalancer:\n    ingress:\n    - {{ip: 10.50.{}.{}}}\n---\n\
             apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: s{i}-abc\n  namespace: default\n  labels: {{kubernetes.io/service-name: s{i}}}\n\
             addressType: IPv4\nendpoints:\n- addresses: [10.244.{}.{}]\n  nodeName: node1\n  conditions: {{ready: true, serving: true, terminating: false}}\n\
             ports:\n- {{name: http, port: 8080, protocol: TCP}}\n---\n",
            i / 250,
            i % 250,
            i / 250,
            i % 250,
            i / 250,
            i % 250,
            i / 250,
            i % 250
        )
    }

    #[test]
    fn a_cluster_dump_beyond_the_parsers_default_node_budget_loads() {
        // 5,000 Services with their EndpointSlices were refused at 250,001 nodes
        let text: String = (0..5_000).map(service_and_slice).collect();
        let (r, report) = load(&text).unwrap();
        assert_eq!((r.services.len(), r.endpoint_slices.len(), report.loaded), (5_000, 5_000, 10_000));
    }

    #[test]
    fn an_alias_bomb_is_refused_as_a_limit_naming_what_was_breached() {
        let mut text = String::from(
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\na0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n",
        );
        for i in 1..10 {
            let refs = vec![format!("*a{}", i - 1); 10].join(", ");
            text.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
        }
        let err = load(&text).unwrap_err();
        assert!(matches!(err, ManifestError::Limit { .. }), "{err}");
        let message = err.to_string();
        assert!(message.starts_with("test.yaml: not loaded: "), "{message}");
        assert!(message.contains("the parser's limit was reached at "), "{message}");
        assert!(
            message.ends_with("(a guard against YAML amplification such as alias bombs, not a syntax error)"),
            "{message}"
        );
        assert!(!message.contains('\n'));
        assert!(err.is_syntax(), "an input problem: exit code 2");
    }

    #[test]
    fn empty_documents_are_skipped() {
        let (r, report) =
            load("---\n# nothing\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n").unwrap();
        assert_eq!(r.namespaces.len(), 1);
        assert_eq!(report.loaded, 1);
    }
}
