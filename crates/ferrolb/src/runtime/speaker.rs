//! The speaker role: this node's view of the configuration.
//!
//! Parses the configuration in this node's scope (peers and BGP advertisements for other
//! nodes are dropped before validation, reference §1.13), keeps the last good one when a new
//! one is rejected, and reports the outcome in `configurationstates/speaker-<node>.json`.

use std::sync::Arc;

use ferrolb_config::{Config, ConfigError, Options, Scope};
use tokio::sync::watch;
use tracing::{error, info, warn};

use super::conditions::{SPEAKER_CONDITION, configuration_state};
use super::metrics::Metrics;
use super::source::Snapshot;
use super::state::StateDir;

pub struct Speaker {
    node: String,
    state: StateDir,
    options: Options,
    metrics: Arc<Metrics>,
    config: Option<Arc<Config>>,
    condition_written: Option<Option<String>>,
}

impl Speaker {
    pub fn new(node: String, state: StateDir, namespace: String, metrics: Arc<Metrics>) -> Self {
        let options = Options { namespace, scope: Scope::Speaker { node: node.clone() } };
        Self { node, state, options, metrics, config: None, condition_written: None }
    }

    pub async fn run(mut self, mut snapshots: watch::Receiver<Arc<Snapshot>>) {
        // The channel's initial value is a placeholder, not the cluster: reconciling it would
        // clear every service's status. Only published snapshots count.
        while snapshots.changed().await.is_ok() {
            let snapshot = Arc::clone(&snapshots.borrow_and_update());
            self.reconcile(&snapshot);
        }
    }

    pub fn reconcile(&mut self, snapshot: &Snapshot) {
        match ferrolb_config::parse(&snapshot.resources, &self.options) {
            Ok(config) => {
                self.metrics.config_result(true);
                if self.condition_written.as_ref().is_some_and(|c| c.is_some()) {
                    info!(node = %self.node, "configuration valid again");
                }
                for warning in &config.warnings {
                    warn!(node = %self.node, "{warning}");
                }
                self.config = Some(Arc::new(config));
                self.report(None);
            }
            Err(e) => {
                self.metrics.config_result(false);
                if self.condition_written.as_ref().and_then(|c| c.as_deref()) != Some(e.to_string().as_str()) {
                    error!(node = %self.node, error = %e, "configuration rejected; keeping the last good configuration");
                }
                self.report(Some(&e));
            }
        }
    }

    fn report(&mut self, error: Option<&ConfigError>) {
        let key = error.map(ToString::to_string);
        if self.condition_written.as_ref() == Some(&key) {
            return;
        }
        let status = configuration_state(SPEAKER_CONDITION, error);
        match self.state.write_configuration_state(&format!("speaker-{}", self.node), &status) {
            Ok(()) => self.condition_written = Some(key),
            Err(e) => {
                self.metrics.update_errors.inc();
                warn!(error = %e, "cannot write the speaker's ConfigurationState");
            }
        }
    }
}
