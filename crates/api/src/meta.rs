//! The slice of Kubernetes object metadata and label selectors that ferrolb reads.
//!
//! These mirror `metav1.ObjectMeta` and `metav1.LabelSelector` field for field where ferrolb
//! uses them, so a manifest written for the API server deserializes unchanged. Fields ferrolb
//! has no use for (uid, managedFields, ...) are accepted and dropped.

use std::collections::BTreeMap;

use schemars::JsonSchema;

use crate::StringMap;
use serde::{Deserialize, Serialize};

/// Object metadata: the identity and the labels and annotations ferrolb decides on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMeta {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "StringMap::is_empty")]
    pub labels: StringMap,
    #[serde(default, skip_serializing_if = "StringMap::is_empty")]
    pub annotations: StringMap,
    /// Set by the API server; events name their object by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
}

impl ObjectMeta {
    /// Metadata with just a name, as tests and generated objects need.
    pub fn named(name: impl Into<String>) -> Self {
        Self { name: name.into(), ..Self::default() }
    }

    /// Adds a label, builder style.
    pub fn with_label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.insert(key.into(), value.into());
        self
    }

    /// Sets the namespace, builder style.
    pub fn in_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }
}

/// `metav1.LabelSelector`: every requirement must hold (AND); an empty selector matches
/// everything.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(
    description = "A label query over a set of resources. The result of matchLabels and matchExpressions are ANDed. An empty label selector matches all objects."
)]
pub struct LabelSelector {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub match_labels: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub match_expressions: Option<Vec<LabelSelectorRequirement>>,
}

impl LabelSelector {
    /// A selector with only `matchLabels`.
    pub fn labels<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self {
            match_labels: Some(pairs.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect()),
            match_expressions: None,
        }
    }
}

/// One `matchExpressions` entry. The operator is kept as text so that an unknown operator is
/// reported by the validator with the object's name, not by the YAML decoder.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(
    description = "A requirement on the value of the label key: operator In, NotIn, Exists or DoesNotExist; values are needed by In and NotIn only."
)]
#[schemars(extend("required" = ["key", "operator"]))]
pub struct LabelSelectorRequirement {
    #[serde(default)]
    pub key: String,
    /// One of `In`, `NotIn`, `Exists`, `DoesNotExist`.
    #[serde(default)]
    pub operator: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<String>>,
}

/// `metav1.Condition`, as written into ConfigurationState.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(description = "The state one reconciler reports (metav1.Condition).")]
pub struct Condition {
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    #[schemars(extend("enum" = ["True", "False", "Unknown"]))]
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// RFC 3339 timestamp.
    #[schemars(extend("format" = "date-time"))]
    pub last_transition_time: String,
    pub reason: String,
    pub message: String,
}
