//! IP families of services and addresses (docs/compatibility.md §2.3), with MetalLB's wording.

use std::fmt;
use std::net::IpAddr;

/// A service's or an address list's family, named as MetalLB prints it in messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    V4,
    V6,
    Dual,
}

impl Family {
    pub fn of(ip: IpAddr) -> Self {
        if ip.is_ipv4() { Self::V4 } else { Self::V6 }
    }

    /// The other single family (`Dual` has none and maps to itself).
    pub fn other(self) -> Self {
        match self {
            Self::V4 => Self::V6,
            Self::V6 => Self::V4,
            Self::Dual => Self::Dual,
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::V4 => "ipv4",
            Self::V6 => "ipv6",
            Self::Dual => "dual",
        })
    }
}

/// `spec.ipFamilyPolicy`; unset and unknown values behave as `SingleStack`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Policy {
    #[default]
    SingleStack,
    PreferDualStack,
    RequireDualStack,
}

impl Policy {
    pub fn parse(value: Option<&str>) -> Self {
        match value {
            Some("PreferDualStack") => Self::PreferDualStack,
            Some("RequireDualStack") => Self::RequireDualStack,
            _ => Self::SingleStack,
        }
    }
}

/// The family of one or two address strings: one address gives its family, two give
/// `Dual` when their families differ. MetalLB's `ipfamily.ForAddresses`, with its messages.
pub fn of_addresses<S: AsRef<str>>(ips: &[S]) -> Result<Family, String> {
    let parsed: Vec<Option<IpAddr>> = ips.iter().map(|s| s.as_ref().parse().ok()).collect();
    match parsed.as_slice() {
        [Some(ip)] => Ok(Family::of(*ip)),
        [_] => Err(format!("IPFamilyForAddresses: Invalid address {}", quote_list(ips))),
        [Some(a), Some(b)] if a.is_ipv4() == b.is_ipv4() => {
            Err(format!("IPFamilyForAddresses: same address family {}", quote_list(ips)))
        }
        [Some(_), Some(_)] => Ok(Family::Dual),
        [_, _] => Err(format!("IPFamilyForAddresses: Invalid address {}", quote_list(ips))),
        _ => Err(format!("IPFamilyForAddresses: invalid ips length {} {}", ips.len(), quote_list(ips))),
    }
}

/// A list rendered as Go's `%q` renders a slice of strings: `["a" "b"]`. MetalLB's event
/// messages use it, and users grep for them.
pub fn quote_list<S: AsRef<str>>(items: &[S]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("{:?}", s.as_ref())).collect();
    format!("[{}]", quoted.join(" "))
}

/// [`quote_list`] for addresses.
pub fn quote_ips(ips: &[IpAddr]) -> String {
    quote_list(&ips.iter().map(ToString::to_string).collect::<Vec<_>>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_addresses_of_different_families_are_dual_stack() {
        assert_eq!(of_addresses(&["10.0.0.1", "fd00::1"]), Ok(Family::Dual));
        assert_eq!(of_addresses(&["fd00::1"]), Ok(Family::V6));
    }

    #[test]
    fn bad_address_lists_are_reported_in_metallb_words() {
        assert_eq!(
            of_addresses(&["10.0.0.1", "10.0.0.2"]).unwrap_err(),
            r#"IPFamilyForAddresses: same address family ["10.0.0.1" "10.0.0.2"]"#
        );
        assert_eq!(
            of_addresses(&["a", "b", "c"]).unwrap_err(),
            r#"IPFamilyForAddresses: invalid ips length 3 ["a" "b" "c"]"#
        );
        assert!(of_addresses(&["None"]).unwrap_err().contains("Invalid address"));
    }
}
