//! What the offline commands start from: the objects under the paths given, and the
//! validated configuration.

use std::path::PathBuf;
use std::process::ExitCode;

use ferrolb_api::files;
use ferrolb_api::{LoadReport, Resources};
use ferrolb_config::{Config, Options};

/// The objects and the validated configuration, or the exit code after the one-line error
/// has been printed.
pub fn load_config(paths: &[PathBuf], namespace: &str) -> Result<(Resources, LoadReport, Config), ExitCode> {
    let (resources, report) = files::load(paths).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(e.exit_code())
    })?;
    let options = Options { namespace: namespace.to_owned(), ..Options::default() };
    let config = ferrolb_config::parse(&resources, &options).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(1)
    })?;
    Ok((resources, report, config))
}
