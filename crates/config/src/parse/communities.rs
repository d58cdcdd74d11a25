//! Community aliases (docs/compatibility.md §1.7).

use std::collections::BTreeMap;

use ferrolb_api::Object;
use ferrolb_api::metallb::CommunitySpec;

use super::Context;
use crate::community::{Community, LiteralError, parse_literal};
use crate::error::{ConfigError, kind};

pub(super) const KIND: &str = kind::COMMUNITY;

/// Alias name to value, across every Community object: an alias is global.
pub(super) type Aliases = BTreeMap<String, Community>;

pub(super) fn parse(ctx: &Context<'_>, objects: &[&Object<CommunitySpec>]) -> Result<Aliases, ConfigError> {
    let mut aliases = Aliases::new();
    for object in objects {
        ctx.check_namespace(KIND, &object.metadata)?;
        let name = object.name();
        for (i, alias) in object.spec.communities.iter().enumerate() {
            let field = |f: &str| format!("spec.communities[{i}].{f}");
            if alias.name.is_empty() {
                return Err(ConfigError::new(KIND, name, field("name"), "community alias has no name"));
            }
            let value = parse_literal(&alias.value).map_err(|e| {
                let message = match e {
                    LiteralError::Shape => format!(
                        "invalid community value {:?}: expected A:B (16-bit numbers) or large:A:B:C (32-bit numbers)",
                        alias.value
                    ),
                    LiteralError::Invalid(m) => m,
                };
                ConfigError::new(KIND, name, field("value"), message)
            })?;
            if aliases.insert(alias.name.clone(), value).is_some() {
                return Err(ConfigError::new(
                    KIND,
                    name,
                    field("name"),
                    format!("duplicate definition of community {:?}", alias.name),
                ));
            }
        }
    }
    Ok(aliases)
}
