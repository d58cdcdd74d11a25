//! BFDProfile (docs/compatibility.md §1.6).

use ferrolb_api::Object;
use ferrolb_api::metallb::BFDProfileSpec;

use super::Context;
use crate::error::{ConfigError, kind};
use crate::model::BfdProfile;

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
    // Echo mode is the one BFD feature ferrolb will not emulate half-way: it needs the
    // router to loop packets back through its forwarding plane. Refusing it also makes
    // MetalLB's "echo with IPv6 pools" rule (docs/compatibility.md §1.6) unreachable.
    if profile.echo_mode {
        return Err(ConfigError::new(KIND, name, "spec.echoMode", "BFD echo mode is not supported yet"));
    }
    Ok(profile)
}
