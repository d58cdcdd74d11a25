//! Which interfaces get responders (docs/compatibility.md §4.2, Responders; §8.4 exclusion list).

use std::collections::BTreeSet;
use std::net::Ipv6Addr;

use regex::Regex;

use crate::ethernet::MacAddr;

/// MetalLB's default `announcedInterfacesToExclude` (the Helm chart's `metallb-excludel2`
/// ConfigMap): container, bridge and tunnel devices that must never answer for a VIP.
pub const DEFAULT_EXCLUDED: &[&str] = &[
    "^docker.*",
    "^cbr.*",
    "^dummy.*",
    "^virbr.*",
    "^lxcbr.*",
    "^veth.*",
    "^lo$",
    "^cali.*",
    "^tunl.*",
    "^flannel.*",
    "^kube-ipvs.*",
    "^cni.*",
    "^nodelocaldns.*",
    "^lxc.*",
];

/// The compiled exclusion list. MetalLB joins the patterns as `(r1)|(r2)|…` and matches
/// unanchored, so a pattern without `^`/`$` excludes any name containing a match.
#[derive(Debug, Clone)]
pub struct Exclusion(Option<Regex>);

impl Exclusion {
    /// No exclusions: what MetalLB does when the ConfigMap file is missing.
    pub fn none() -> Self {
        Exclusion(None)
    }

    /// MetalLB's default list, [`DEFAULT_EXCLUDED`].
    pub fn metallb_default() -> Self {
        Self::from_patterns(DEFAULT_EXCLUDED).expect("the default exclusion patterns compile")
    }

    /// Joins `patterns` MetalLB's way; an empty list excludes nothing.
    pub fn from_patterns<S: AsRef<str>>(patterns: &[S]) -> Result<Self, regex::Error> {
        if patterns.is_empty() {
            return Ok(Self::none());
        }
        let joined = patterns.iter().map(|p| format!("({})", p.as_ref())).collect::<Vec<_>>().join("|");
        Ok(Exclusion(Some(Regex::new(&joined)?)))
    }

    /// True when `name` must get no responder.
    pub fn excludes(&self, name: &str) -> bool {
        self.0.as_ref().is_some_and(|re| re.is_match(name))
    }
}

/// What the speaker knows about one network interface, read from the kernel at each rescan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceInfo {
    pub name: String,
    pub index: u32,
    pub mac: MacAddr,
    /// IFF_UP.
    pub up: bool,
    /// IFF_BROADCAST: ARP needs a broadcast medium.
    pub broadcast: bool,
    /// IFF_NOARP (0x80).
    pub noarp: bool,
    /// Enslaved to a bridge or bond (`/sys/class/net/<if>/master` exists, IFLA_MASTER):
    /// the master answers for the link, not the port.
    pub has_master: bool,
    /// The interface's IPv6 link-local address; MetalLB runs an NDP responder only where
    /// one exists (IPv6 enabled on the link).
    pub link_local: Option<Ipv6Addr>,
}

/// Which responders an interface gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Eligibility {
    pub arp: bool,
    pub ndp: bool,
}

impl InterfaceInfo {
    /// docs/compatibility.md §4.2: skip down, enslaved and excluded interfaces; ARP on BROADCAST without
    /// NOARP, NDP where an IPv6 link-local address exists.
    pub fn eligibility(&self, exclusion: &Exclusion) -> Eligibility {
        if !self.up || self.has_master || exclusion.excludes(&self.name) {
            return Eligibility::default();
        }
        Eligibility { arp: self.broadcast && !self.noarp, ndp: self.link_local.is_some() }
    }
}

/// The interfaces an announcement is restricted to: the union of the `interfaces` of the
/// L2Advertisements selecting this node, or all of them when any has none (docs/compatibility.md §4.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum InterfaceSelection {
    #[default]
    All,
    Only(BTreeSet<String>),
}

impl InterfaceSelection {
    /// A selection from an advertisement's `interfaces` list; empty means all.
    pub fn from_names<I: IntoIterator<Item = S>, S: Into<String>>(names: I) -> Self {
        let set: BTreeSet<String> = names.into_iter().map(Into::into).collect();
        if set.is_empty() { InterfaceSelection::All } else { InterfaceSelection::Only(set) }
    }

    pub fn includes(&self, name: &str) -> bool {
        match self {
            InterfaceSelection::All => true,
            InterfaceSelection::Only(names) => names.contains(name),
        }
    }
}
