//! The interfaces that never answer ARP/NDP: MetalLB's `metallb-excludel2` ConfigMap, read
//! from the file it is mounted as (docs/compatibility.md §8.4), once at speaker start as MetalLB does.
//!
//! The file holds `announcedInterfacesToExclude: [regex, ...]`. Without the file ferrolb
//! applies the same default list MetalLB's manifests ship (MetalLB itself would exclude
//! nothing, but every MetalLB install mounts that list, so this is what users run today).

use std::io;
use std::path::Path;

use ferrolb_l2::Exclusion;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExcludeFile {
    #[serde(default)]
    announced_interfaces_to_exclude: Vec<String>,
}

/// Where the exclusion list came from, for the start-up log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    File { patterns: usize },
    BuiltInDefault,
}

/// The exclusion list from `path`, or the default list when there is no such file. The
/// error is one line naming the file and what is wrong with it.
pub fn load(path: &Path) -> Result<(Exclusion, Origin), String> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Ok((Exclusion::metallb_default(), Origin::BuiltInDefault));
        }
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    parse(&text).map_err(|e| format!("{}: {e}", path.display()))
}

fn parse(text: &str) -> Result<(Exclusion, Origin), String> {
    let file: ExcludeFile = if text.trim().is_empty() {
        ExcludeFile { announced_interfaces_to_exclude: Vec::new() }
    } else {
        serde_saphyr::from_str(text).map_err(|e| format!("not an exclusion list: {}", first_line(&e.to_string())))?
    };
    let patterns = file.announced_interfaces_to_exclude;
    for pattern in &patterns {
        Exclusion::from_patterns(&[pattern]).map_err(|e| {
            format!("announcedInterfacesToExclude: invalid pattern {pattern:?}: {}", first_line(&e.to_string()))
        })?;
    }
    let exclusion = Exclusion::from_patterns(&patterns).map_err(|e| first_line(&e.to_string()))?;
    Ok((exclusion, Origin::File { patterns: patterns.len() }))
}

fn first_line(text: &str) -> String {
    text.lines().find(|l| !l.trim().is_empty()).unwrap_or("").trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configmap_list_is_joined_and_matched_unanchored() {
        let (exclusion, origin) = parse("announcedInterfacesToExclude:\n- ^docker.*\n- cali\n").unwrap();
        assert_eq!(origin, Origin::File { patterns: 2 });
        assert!(exclusion.excludes("docker0"));
        assert!(exclusion.excludes("xcali9"), "unanchored, as MetalLB matches");
        assert!(!exclusion.excludes("eth0"));
        assert!(!exclusion.excludes("mydocker"));
    }

    #[test]
    fn an_empty_list_or_file_excludes_nothing() {
        for text in ["", "announcedInterfacesToExclude: []\n"] {
            let (exclusion, _) = parse(text).unwrap();
            assert!(!exclusion.excludes("veth1234"), "{text:?}");
        }
    }

    #[test]
    fn a_missing_file_means_the_default_list() {
        let (exclusion, origin) = load(Path::new("/nonexistent/excludel2.yaml")).unwrap();
        assert_eq!(origin, Origin::BuiltInDefault);
        assert!(exclusion.excludes("veth1234") && exclusion.excludes("lo") && !exclusion.excludes("eth0"));
    }

    #[test]
    fn bad_files_are_one_line_errors_naming_the_problem() {
        let err = parse("announcedInterfacesToExclude:\n- '^(eth'\n").unwrap_err();
        assert!(err.starts_with("announcedInterfacesToExclude: invalid pattern \"^(eth\": "), "{err}");
        assert!(!err.contains('\n'));
        let err = parse("announcedInterfacesToExclude: eth0\n").unwrap_err();
        assert!(err.starts_with("not an exclusion list: "), "{err}");
        let dir = std::env::temp_dir().join(format!("ferrolb-exclusions-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let err = load(&dir).unwrap_err();
        assert!(err.starts_with(&format!("cannot read {}", dir.display())), "{err}");
    }
}
