//! The Layer 2 data plane as the speaker drives it: the `ferrolb-l2` announcer (AF_PACKET
//! responders and gratuitous bursts), or nothing when it is disabled or cannot start, and
//! the `metallb_speaker_announced` series of what it answers for.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::Arc;

use ferrolb_announce::claims::{Claim, Claims};
use ferrolb_l2::{InterfaceSelection, L2Announcer};
use tracing::{error, info};

use super::core::SpeakerCore;
use crate::observe::metrics::{AnnouncedLabels, Metrics};

#[derive(Debug)]
pub struct Layer2 {
    node: String,
    announcer: Option<L2Announcer>,
    metrics: Arc<Metrics>,
}

impl Layer2 {
    pub fn new(node: String, announcer: Option<L2Announcer>, metrics: Arc<Metrics>) -> Self {
        Self { node, announcer, metrics }
    }

    /// Withdraws, then announces, telling `core` what the data plane holds afterwards.
    pub async fn apply(
        &self,
        core: &mut SpeakerCore,
        withdraw: Vec<Claim>,
        announce: Vec<(Claim, InterfaceSelection)>,
    ) {
        let Some(l2) = &self.announcer else {
            // Without a data plane (disabled, or no permission) nothing answers, so nothing is
            // claimed and no ServiceL2Status says otherwise; the decisions are still logged.
            for ((key, ip), _) in announce {
                info!(service = %key, %ip, node = %self.node, "would announce by layer2 (data plane off)");
            }
            return;
        };
        for claim in withdraw {
            let (key, ip) = &claim;
            if let Err(e) = l2.withdraw(&key.to_string(), *ip).await {
                error!(service = %key, %ip, error = %e, "cannot withdraw");
            }
            self.metrics.speaker_announced.remove(&AnnouncedLabels::layer2(key, &self.node, *ip));
            core.unclaimed(&claim);
        }
        for (claim, selection) in announce {
            let (key, ip) = &claim;
            match l2.announce(&key.to_string(), *ip, selection.clone()).await {
                Ok(interfaces) if interfaces.is_empty() => core.no_interface(key.clone()),
                Ok(_) => {
                    self.metrics.speaker_announced.get_or_create(&AnnouncedLabels::layer2(key, &self.node, *ip)).set(1);
                    core.claimed(claim, selection);
                }
                Err(e) => error!(service = %key, %ip, error = %e, "cannot announce"),
            }
        }
    }

    /// Sends the gratuitous burst again for every address claimed.
    pub async fn reannounce(&self, claims: &Claims) {
        let Some(l2) = &self.announcer else { return };
        let ips: BTreeSet<IpAddr> = claims.keys().map(|(_, ip)| *ip).collect();
        for ip in ips {
            if let Err(e) = l2.reannounce(ip).await {
                error!(%ip, error = %e, "cannot re-announce");
            }
        }
    }
}
