//! Label selectors: validated once, matched many times.
//!
//! Mirrors `metav1.LabelSelectorAsSelector`: `matchLabels` entries become equality
//! requirements, every requirement must hold, and an empty selector matches everything.
//! A list of selectors is OR-ed. The canonical text form (requirements sorted by key, values
//! sorted) is what duplicate detection compares, as MetalLB does.

use std::collections::BTreeSet;
use std::fmt;

use ferrolb_api::LabelSelector;
use serde::Serialize;

/// One parsed requirement.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Requirement {
    Equals(String, String),
    In(String, BTreeSet<String>),
    NotIn(String, BTreeSet<String>),
    Exists(String),
    DoesNotExist(String),
}

impl Requirement {
    fn key(&self) -> &str {
        match self {
            Self::Equals(k, _) | Self::In(k, _) | Self::NotIn(k, _) | Self::Exists(k) | Self::DoesNotExist(k) => k,
        }
    }

    fn matches(&self, labels: &ferrolb_api::StringMap) -> bool {
        match self {
            Self::Equals(k, v) => labels.get(k) == Some(v),
            Self::In(k, vs) => labels.get(k).is_some_and(|v| vs.contains(v)),
            Self::NotIn(k, vs) => labels.get(k).is_none_or(|v| !vs.contains(v)),
            Self::Exists(k) => labels.contains_key(k),
            Self::DoesNotExist(k) => !labels.contains_key(k),
        }
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let join = |vs: &BTreeSet<String>| vs.iter().map(String::as_str).collect::<Vec<_>>().join(",");
        match self {
            Self::Equals(k, v) => write!(f, "{k}={v}"),
            Self::In(k, vs) => write!(f, "{k} in ({})", join(vs)),
            Self::NotIn(k, vs) => write!(f, "{k} notin ({})", join(vs)),
            Self::Exists(k) => write!(f, "{k}"),
            Self::DoesNotExist(k) => write!(f, "!{k}"),
        }
    }
}

/// A validated label selector.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Selector {
    requirements: Vec<Requirement>,
}

impl Selector {
    /// The selector that matches everything.
    pub fn everything() -> Self {
        Self::default()
    }

    /// Validates a `metav1.LabelSelector`. Errors name the problem, not the field: the caller
    /// knows where the selector came from.
    pub fn parse(selector: &LabelSelector) -> Result<Self, String> {
        let mut requirements = Vec::new();
        for (key, value) in selector.match_labels.iter().flatten() {
            validate_key(key)?;
            validate_value(value)?;
            requirements.push(Requirement::Equals(key.clone(), value.clone()));
        }
        let mut seen_expressions = BTreeSet::new();
        for expr in selector.match_expressions.iter().flatten() {
            validate_key(&expr.key)?;
            let values = expr.values.as_deref().unwrap_or_default();
            let mut set = BTreeSet::new();
            for value in values {
                validate_value(value)?;
                if !set.insert(value.clone()) {
                    return Err(format!("duplicate definition of match expression value {value:?} in label selector"));
                }
            }
            let requirement = match expr.operator.as_str() {
                "In" | "NotIn" if set.is_empty() => {
                    return Err(format!(
                        "operator {} on key {:?} requires at least one value",
                        expr.operator, expr.key
                    ));
                }
                "Exists" | "DoesNotExist" if !set.is_empty() => {
                    return Err(format!("operator {} on key {:?} takes no values", expr.operator, expr.key));
                }
                "In" => Requirement::In(expr.key.clone(), set),
                "NotIn" => Requirement::NotIn(expr.key.clone(), set),
                "Exists" => Requirement::Exists(expr.key.clone()),
                "DoesNotExist" => Requirement::DoesNotExist(expr.key.clone()),
                "" => return Err(format!("match expression on key {:?} has no operator", expr.key)),
                other => {
                    return Err(format!(
                        "{other:?} is not a valid label selector operator (In, NotIn, Exists, DoesNotExist)"
                    ));
                }
            };
            if !seen_expressions.insert(requirement.clone()) {
                return Err(format!("duplicate definition of match expression {requirement} in label selector"));
            }
            requirements.push(requirement);
        }
        requirements.sort_by(|a, b| a.key().cmp(b.key()).then_with(|| a.cmp(b)));
        Ok(Self { requirements })
    }

    pub fn matches(&self, labels: &ferrolb_api::StringMap) -> bool {
        self.requirements.iter().all(|r| r.matches(labels))
    }

    pub fn is_everything(&self) -> bool {
        self.requirements.is_empty()
    }

    /// When the selector is only equalities, those pairs: lets callers use a label index
    /// instead of testing every object.
    pub fn equalities(&self) -> Option<Vec<(&str, &str)>> {
        self.requirements
            .iter()
            .map(|r| match r {
                Requirement::Equals(k, v) => Some((k.as_str(), v.as_str())),
                _ => None,
            })
            .collect()
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.requirements.iter().map(ToString::to_string).collect();
        f.write_str(&parts.join(","))
    }
}

impl Serialize for Selector {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Parses a selector list (OR-ed), rejecting duplicates by canonical form.
///
/// `field` is the list's field name; errors are `(field path, message)`.
pub fn parse_list(field: &str, selectors: &[LabelSelector]) -> Result<Vec<Selector>, (String, String)> {
    let mut parsed: Vec<Selector> = Vec::with_capacity(selectors.len());
    let mut seen = BTreeSet::new();
    for (i, raw) in selectors.iter().enumerate() {
        let selector = Selector::parse(raw).map_err(|m| (format!("{field}[{i}]"), m))?;
        if !seen.insert(selector.to_string()) {
            return Err((format!("{field}[{i}]"), format!("duplicate definition of {field} {{{selector}}}")));
        }
        parsed.push(selector);
    }
    Ok(parsed)
}

/// True when any selector of the list matches (an OR); an empty list matches nothing.
pub fn any_matches(selectors: &[Selector], labels: &ferrolb_api::StringMap) -> bool {
    selectors.iter().any(|s| s.matches(labels))
}

/// Label keys: an optional DNS-subdomain prefix and `/`, then a name of at most 63
/// characters of `[A-Za-z0-9._-]`, starting and ending alphanumeric.
fn validate_key(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if let Some(prefix) = prefix {
        let ok = !prefix.is_empty()
            && prefix.len() <= 253
            && prefix.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                    && !label.starts_with('-')
                    && !label.ends_with('-')
            });
        if !ok {
            return Err(format!("invalid label key {key:?}: the prefix must be a DNS subdomain"));
        }
    }
    if name.is_empty() || !is_label_token(name) {
        return Err(format!(
            "invalid label key {key:?}: the name must be 1-63 characters of [A-Za-z0-9._-], starting and ending alphanumeric"
        ));
    }
    Ok(())
}

fn validate_value(value: &str) -> Result<(), String> {
    if value.is_empty() || is_label_token(value) {
        Ok(())
    } else {
        Err(format!(
            "invalid label value {value:?}: must be empty or 1-63 characters of [A-Za-z0-9._-], starting and ending alphanumeric"
        ))
    }
}

fn is_label_token(s: &str) -> bool {
    let bytes = s.as_bytes();
    s.len() <= 63
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use ferrolb_api::{LabelSelectorRequirement, StringMap};

    fn expr(key: &str, op: &str, values: &[&str]) -> LabelSelectorRequirement {
        LabelSelectorRequirement {
            key: key.into(),
            operator: op.into(),
            values: (!values.is_empty()).then(|| values.iter().map(|v| v.to_string()).collect()),
        }
    }

    fn with_exprs(exprs: Vec<LabelSelectorRequirement>) -> LabelSelector {
        LabelSelector { match_labels: None, match_expressions: Some(exprs) }
    }

    fn labels(pairs: &[(&str, &str)]) -> StringMap {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn empty_selector_matches_everything() {
        let s = Selector::parse(&LabelSelector::default()).unwrap();
        assert!(s.matches(&labels(&[])));
        assert!(s.is_everything());
    }

    #[test]
    fn every_operator_matches_as_kubernetes_defines_it() {
        let s = Selector::parse(&LabelSelector {
            match_labels: Some(BTreeMap::from([("zone".into(), "a".into())])),
            match_expressions: Some(vec![
                expr("rack", "In", &["r1", "r2"]),
                expr("tier", "NotIn", &["db"]),
                expr("bgp", "Exists", &[]),
                expr("excluded", "DoesNotExist", &[]),
            ]),
        })
        .unwrap();
        assert!(s.matches(&labels(&[("zone", "a"), ("rack", "r2"), ("bgp", "")])));
        assert!(!s.matches(&labels(&[("zone", "b"), ("rack", "r2"), ("bgp", "")])));
        assert!(!s.matches(&labels(&[("zone", "a"), ("rack", "r3"), ("bgp", "")])));
        assert!(!s.matches(&labels(&[("zone", "a"), ("rack", "r1"), ("bgp", ""), ("tier", "db")])));
        assert!(!s.matches(&labels(&[("zone", "a"), ("rack", "r1")])));
        assert!(!s.matches(&labels(&[("zone", "a"), ("rack", "r1"), ("bgp", ""), ("excluded", "x")])));
    }

    #[test]
    fn canonical_form_sorts_requirements_and_values() {
        let s = Selector::parse(&LabelSelector {
            match_labels: Some(BTreeMap::from([("z".into(), "1".into())])),
            match_expressions: Some(vec![expr("a", "In", &["y", "x"]), expr("m", "DoesNotExist", &[])]),
        })
        .unwrap();
        assert_eq!(s.to_string(), "a in (x,y),!m,z=1");
    }

    #[test]
    fn invalid_selectors_are_rejected() {
        for (bad, why) in [
            (with_exprs(vec![expr("", "Exists", &[])]), "invalid label key"),
            (with_exprs(vec![expr("k", "", &[])]), "has no operator"),
            (with_exprs(vec![expr("k", "Equals", &["v"])]), "not a valid label selector operator"),
            (with_exprs(vec![expr("k", "In", &[])]), "requires at least one value"),
            (with_exprs(vec![expr("k", "Exists", &["v"])]), "takes no values"),
            (with_exprs(vec![expr("k", "In", &["v", "v"])]), "duplicate definition of match expression value"),
            (
                with_exprs(vec![expr("k", "In", &["v"]), expr("k", "In", &["v"])]),
                "duplicate definition of match expression",
            ),
            (LabelSelector::labels([("bad key", "v")]), "invalid label key"),
            (LabelSelector::labels([("k", "bad value")]), "invalid label value"),
            (LabelSelector::labels([("-x.io/k", "v")]), "prefix must be a DNS subdomain"),
        ] {
            let err = Selector::parse(&bad).unwrap_err();
            assert!(err.contains(why), "{err} should mention {why}");
        }
    }

    #[test]
    fn prefixed_keys_and_empty_values_are_valid() {
        assert!(Selector::parse(&LabelSelector::labels([("kubernetes.io/hostname", "")])).is_ok());
    }

    #[test]
    fn duplicate_selectors_in_a_list_are_rejected_even_when_written_differently() {
        let a = with_exprs(vec![expr("k", "In", &["a", "b"])]);
        let b = with_exprs(vec![expr("k", "In", &["b", "a"])]);
        let err = parse_list("nodeSelectors", &[a.clone(), b]).unwrap_err();
        assert_eq!(err.0, "nodeSelectors[1]");
        assert!(err.1.starts_with("duplicate definition of nodeSelectors"));
        assert!(parse_list("nodeSelectors", &[a, LabelSelector::default()]).is_ok());
    }

    #[test]
    fn a_selector_list_is_an_or() {
        let list =
            parse_list("s", &[LabelSelector::labels([("a", "1")]), LabelSelector::labels([("b", "2")])]).unwrap();
        assert!(any_matches(&list, &labels(&[("b", "2")])));
        assert!(!any_matches(&list, &labels(&[("c", "3")])));
        assert!(!any_matches(&[], &labels(&[])));
    }
}
