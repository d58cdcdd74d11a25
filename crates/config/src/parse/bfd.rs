//! BFDProfile (docs/compatibility.md §1.6), and MetalLB's one rule that ties a profile to the
//! pools: echo mode (RFC 5880 §6.4, IPv4 only in FRR) is refused for a peer that receives
//! IPv6 prefixes.

use ferrolb_api::Object;
use ferrolb_api::metallb::BFDProfileSpec;

use super::Context;
use crate::error::{ConfigError, kind};
use crate::model::{BfdProfile, Config};

pub(super) const KIND: &str = kind::BFD;

pub(super) fn parse(ctx: &Context<'_>, objects: &[&Object<BFDProfileSpec>]) -> Result<Vec<BfdProfile>, ConfigError> {
    objects.iter().map(|o| parse_one(ctx, o)).collect()
}

fn parse_one(ctx: &Context<'_>, object: &Object<BFDProfileSpec>) -> Result<BfdProfile, ConfigError> {
    ctx.check_namespace(KIND, &object.metadata)?;
    let name = object.name();
    let spec = &object.spec;
    let ranged = |field: &str, value: Option<u32>, min: u32, max: u32, default: u32| match value {
        Some(v) if !(min..=max).contains(&v) => Err(ConfigError::new(
            KIND,
            name,
            format!("spec.{field}"),
            format!("invalid value {v}, must be in {min}-{max} range"),
        )),
        Some(v) => Ok(v),
        None => Ok(default),
    };
    let profile = BfdProfile {
        name: name.to_owned(),
        receive_interval: ranged("receiveInterval", spec.receive_interval, 10, 60_000, 300)?,
        transmit_interval: ranged("transmitInterval", spec.transmit_interval, 10, 60_000, 300)?,
        detect_multiplier: ranged("detectMultiplier", spec.detect_multiplier, 2, 255, 3)?,
        echo_interval: ranged("echoInterval", spec.echo_interval, 10, 60_000, 50)?,
        echo_mode: spec.echo_mode.unwrap_or(false),
        passive_mode: spec.passive_mode.unwrap_or(false),
        minimum_ttl: ranged("minimumTtl", spec.minimum_ttl, 1, 254, 254)?,
    };
    Ok(profile)
}

/// MetalLB's rule: a pool with IPv6 addresses may not be advertised (by an advertisement
/// naming no peers, or naming it) to a peer whose BFD profile has echo mode.
pub(super) fn check_echo(config: &Config) -> Result<(), ConfigError> {
    let echo = |profile: &Option<String>| {
        profile.as_ref().is_some_and(|name| config.bfd_profiles.iter().any(|b| &b.name == name && b.echo_mode))
    };
    for pool in config.pools.iter().filter(|p| p.has_ipv6()) {
        for ad in &pool.bgp_advertisements {
            let to = |name: &String| ad.peers.is_empty() || ad.peers.contains(name);
            if let Some(peer) = config.peers.iter().find(|p| to(&p.name) && echo(&p.bfd_profile)) {
                return Err(ConfigError::new(
                    kind::BGP_AD,
                    &ad.name,
                    "spec.peers",
                    format!(
                        "pool {} has bgpadvertisement {} which references peer {} which has bfd echo enabled, which is not possible",
                        pool.name, ad.name, peer.name
                    ),
                ));
            }
        }
    }
    Ok(())
}
