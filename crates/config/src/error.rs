//! The one error a configuration can be rejected with.

use std::fmt;

/// Why a configuration was rejected: which object, which field, which rule.
///
/// Rendered on one line as `Kind/name: field: message`, the form `ferrolb validate` prints
/// and ConfigurationState carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub kind: &'static str,
    pub name: String,
    pub field: String,
    pub message: String,
    /// The error may heal by itself once another object appears (a Secret or a Community
    /// alias created after the object referring to it). A reconciler retries these; a
    /// one-shot `validate` still reports them.
    pub transient: bool,
}

impl ConfigError {
    pub fn new(kind: &'static str, name: &str, field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { kind, name: name.to_owned(), field: field.into(), message: message.into(), transient: false }
    }

    /// Marks the error as one that may heal by itself (see [`ConfigError::transient`]).
    pub fn into_transient(mut self) -> Self {
        self.transient = true;
        self
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}/{}: {}", self.kind, self.name, self.message)
        } else {
            write!(f, "{}/{}: {}: {}", self.kind, self.name, self.field, self.message)
        }
    }
}

impl std::error::Error for ConfigError {}

/// Kind names as they appear in messages.
pub(crate) mod kind {
    pub const POOL: &str = "IPAddressPool";
    pub const L2_AD: &str = "L2Advertisement";
    pub const BGP_AD: &str = "BGPAdvertisement";
    pub const PEER: &str = "BGPPeer";
    pub const BFD: &str = "BFDProfile";
    pub const COMMUNITY: &str = "Community";
}
