//! Which nodes run a live speaker, as the Layer 2 election sees them (docs/compatibility.md §5).

use std::collections::BTreeSet;

/// The membership input of the Layer 2 election. BGP ignores it.
///
/// Two explicit states, never "no set" versus "empty set": MetalLB up to 0.14.5 turned
/// "membership disabled" into an empty set of live speakers and announced nothing in Layer 2
/// (docs/compatibility.md §5, §9.4).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Liveness {
    /// Membership is off: every Node object counts as a live speaker, since a speaker then
    /// runs on every node.
    #[default]
    Disabled,
    /// Membership is on and these nodes are alive. An empty set means no node may win.
    Members(BTreeSet<String>),
}

impl Liveness {
    /// The live speakers among `nodes` (the Node objects' names).
    pub(crate) fn live<'a>(&'a self, nodes: impl Iterator<Item = &'a str>) -> BTreeSet<&'a str> {
        match self {
            Self::Disabled => nodes.collect(),
            Self::Members(members) => members.iter().map(String::as_str).collect(),
        }
    }
}
