//! The parse pipeline (docs/compatibility.md §1.13): BFD profiles, peers, community aliases, pools and
//! their overlaps, then L2 and BGP advertisements attached to the pools they select.

mod advertisements;
mod bfd;
mod communities;
mod peers;
mod pools;

use std::collections::{BTreeSet, HashMap};

use ferrolb_api::{Object, ObjectMeta, Resources};

use crate::error::ConfigError;
use crate::model::Config;
use crate::selector::{Selector, any_matches};
use crate::{Options, Scope};

/// Validates `resources` into a [`Config`], or names the first rule broken.
pub fn parse(resources: &Resources, options: &Options) -> Result<Config, ConfigError> {
    let mut ctx = Context::new(resources, options);
    let mut config = Config::default();
    let full = !matches!(options.scope, Scope::Controller);

    if full {
        config.bfd_profiles = bfd::parse(&ctx, &sorted(&resources.bfd_profiles, bfd::KIND)?)?;
        config.peers = peers::parse(&mut ctx, &sorted(&resources.bgp_peers, peers::KIND)?, &config.bfd_profiles)?;
        config.warnings.extend(peers::warnings(&resources.bgp_peers));
    }
    let aliases = communities::parse(&ctx, &sorted(&resources.communities, communities::KIND)?)?;
    config.pools = pools::parse(&ctx, &sorted(&resources.ip_address_pools, pools::KIND)?)?;
    if full {
        let l2 = sorted(&resources.l2_advertisements, advertisements::L2_KIND)?;
        advertisements::attach_l2(&mut ctx, &l2, &mut config.pools)?;
        let bgp = sorted(&resources.bgp_advertisements, advertisements::BGP_KIND)?;
        advertisements::attach_bgp(&mut ctx, &bgp, &aliases, &mut config.pools)?;
        bfd::check_echo(&config)?;
    }
    Ok(config)
}

/// Objects of one kind sorted by name, with duplicate names rejected (two files defining the
/// same object in a `dir:` source; a cluster cannot hold them).
fn sorted<'a, S>(objects: &'a [Object<S>], kind: &'static str) -> Result<Vec<&'a Object<S>>, ConfigError> {
    let mut out: Vec<&Object<S>> = objects.iter().collect();
    out.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    if let Some(pair) = out.windows(2).find(|w| w[0].metadata.name == w[1].metadata.name) {
        let name = &pair[0].metadata.name;
        return Err(ConfigError::new(kind, name, "metadata.name", format!("duplicate definition of {kind} {name:?}")));
    }
    Ok(out)
}

/// What every step needs: the options, the cluster's nodes and namespaces, and a cache of
/// node sets per selector list (thousands of advertisements usually share a few).
pub(crate) struct Context<'a> {
    pub options: &'a Options,
    pub resources: &'a Resources,
    nodes: Vec<(&'a str, &'a ferrolb_api::StringMap)>,
    node_sets: HashMap<String, BTreeSet<String>>,
}

impl<'a> Context<'a> {
    fn new(resources: &'a Resources, options: &'a Options) -> Self {
        let mut nodes: Vec<_> =
            resources.nodes.iter().map(|n| (n.metadata.name.as_str(), &n.metadata.labels)).collect();
        nodes.sort_unstable_by_key(|(name, _)| *name);
        nodes.dedup_by_key(|(name, _)| *name);
        Self { options, resources, nodes, node_sets: HashMap::new() }
    }

    /// Rejects metallb.io objects outside the configured namespace, as MetalLB's webhooks do.
    pub fn check_namespace(&self, kind: &'static str, meta: &ObjectMeta) -> Result<(), ConfigError> {
        match &meta.namespace {
            Some(ns) if *ns != self.options.namespace => Err(ConfigError::new(
                kind,
                &meta.name,
                "metadata.namespace",
                format!("resource must be created in the {:?} namespace, not {ns:?}", self.options.namespace),
            )),
            _ => Ok(()),
        }
    }

    /// Names of the nodes matching any of `selectors`; every node when there are none.
    pub fn nodes_matching(&mut self, selectors: &[Selector]) -> BTreeSet<String> {
        let key = selectors.iter().map(ToString::to_string).collect::<Vec<_>>().join(" | ");
        if let Some(hit) = self.node_sets.get(&key) {
            return hit.clone();
        }
        let set: BTreeSet<String> = self
            .nodes
            .iter()
            .filter(|(_, labels)| selectors.is_empty() || any_matches(selectors, labels))
            .map(|(name, _)| (*name).to_owned())
            .collect();
        self.node_sets.insert(key, set.clone());
        set
    }

    /// In a speaker's scope, whether an object targeting `nodes` concerns this speaker.
    pub fn concerns_this_speaker(&self, nodes: &BTreeSet<String>) -> bool {
        match &self.options.scope {
            Scope::Speaker { node } => nodes.contains(node),
            _ => true,
        }
    }
}

/// Rejects repeated strings in a list field: `duplicate definition of <field> "x"`.
pub(crate) fn reject_duplicates(
    kind: &'static str,
    name: &str,
    field: &str,
    values: &[String],
) -> Result<(), ConfigError> {
    let mut seen = BTreeSet::new();
    for (i, value) in values.iter().enumerate() {
        if !seen.insert(value) {
            return Err(ConfigError::new(
                kind,
                name,
                format!("{field}[{i}]"),
                format!("duplicate definition of {field} {value:?}"),
            ));
        }
    }
    Ok(())
}

/// Parses a selector list field of `spec`, naming the object in errors.
pub(crate) fn selectors(
    kind: &'static str,
    name: &str,
    field: &str,
    raw: &[ferrolb_api::LabelSelector],
) -> Result<Vec<Selector>, ConfigError> {
    crate::selector::parse_list(field, raw)
        .map_err(|(path, message)| ConfigError::new(kind, name, format!("spec.{path}"), message))
}
