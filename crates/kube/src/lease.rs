//! Controller leader election with a `coordination.k8s.io/v1` Lease.
//!
//! MetalLB runs one controller replica and relies on the Deployment to restart it; ferrolb can
//! run standbys, so exactly one replica must allocate at a time. The Lease is the lock: its
//! holder writes `renewTime` every [`ElectionConfig::retry_period`], and any other replica may
//! take it over once `renewTime + leaseDurationSeconds` has passed.
//!
//! The module is split in two:
//!
//! * [`decide`] is the whole election rule as a pure function of the Lease, the identity and
//!   the time (given, never read), so every case is a table test;
//! * [`LeaderElector`] is the I/O around it: GET, then POST or PUT with the observed
//!   `resourceVersion` (optimistic concurrency: a 409 means another replica wrote first and the
//!   attempt is lost, never retried blindly), a loop that renews, and a `watch` channel that
//!   tells the caller whether it may act.
//!
//! # The timing invariant
//!
//! The caller must stop acting *before* any other replica can consider the lease expired.
//! A renewal stamps `renewTime = T` (wall clock), so others may take over after
//! `T + lease_duration` by their clocks. The elector notes the monotonic instant `t` taken just
//! *before* computing `T`, and publishes `false` at `t + renew_deadline` unless a later renewal
//! succeeded first, with `renew_deadline < lease_duration`. Requests are cut off at that
//! deadline too, so a hung connection cannot keep the caller leading. The margin
//! `lease_duration - renew_deadline` absorbs clock skew between nodes and the caller's own
//! reaction time; it must exceed both (NTP-synchronised nodes are assumed, as by client-go).

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::Api;
use kube::api::PostParams;
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::{debug, info, warn};

/// What to do with the Lease, given what the API server returned.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// No Lease exists: POST this spec.
    Create(LeaseSpec),
    /// I hold the Lease: PUT this spec (renewTime moved to now) with the observed resourceVersion.
    Renew(LeaseSpec),
    /// The Lease is free (expired, released, or never held): PUT this spec, with
    /// `leaseTransitions` incremented, with the observed resourceVersion.
    TakeOver(LeaseSpec),
    /// Another replica holds a valid Lease until `until` (by our clock); write nothing.
    Wait { holder: String, until: Timestamp },
}

impl Decision {
    /// The spec to write, if this decision writes.
    pub fn spec(&self) -> Option<&LeaseSpec> {
        match self {
            Self::Create(spec) | Self::Renew(spec) | Self::TakeOver(spec) => Some(spec),
            Self::Wait { .. } => None,
        }
    }
}

/// The election rule (client-go's `tryAcquireOrRenew`, reading time from the Lease).
///
/// * no Lease → create it, transitions 0;
/// * holder is `identity` → renew: `renewTime = now`, keep `acquireTime` and transitions;
/// * holder empty or absent (never held, or released) → take over;
/// * another holder and `now > renewTime + leaseDurationSeconds` → take over (strictly after:
///   at the expiry instant itself the lease is still valid);
/// * otherwise wait until that instant.
///
/// Missing fields never panic and never steal a lease that might be valid: a missing or
/// negative `leaseDurationSeconds` counts as our own `lease_seconds` (resp. 0); a missing
/// `renewTime` falls back to `acquireTime`; a lease held by someone with neither time can never
/// be proven valid, so it counts as expired. A `renewTime` in the future (clock skew) simply
/// pushes the expiry later.
pub fn decide(current: Option<&LeaseSpec>, identity: &str, lease_seconds: i32, now: Timestamp) -> Decision {
    let stamp = Some(MicroTime(now));
    let Some(spec) = current else {
        return Decision::Create(LeaseSpec {
            holder_identity: Some(identity.to_owned()),
            lease_duration_seconds: Some(lease_seconds),
            acquire_time: stamp.clone(),
            renew_time: stamp,
            lease_transitions: Some(0),
            ..LeaseSpec::default()
        });
    };
    let holder = spec.holder_identity.as_deref().unwrap_or("");
    if holder == identity {
        return Decision::Renew(LeaseSpec {
            lease_duration_seconds: Some(lease_seconds),
            acquire_time: spec.acquire_time.clone().or_else(|| stamp.clone()),
            renew_time: stamp,
            lease_transitions: Some(spec.lease_transitions.unwrap_or(0)),
            ..spec.clone()
        });
    }
    if !holder.is_empty()
        && let Some(until) = expiry(spec, lease_seconds)
        && now <= until
    {
        return Decision::Wait { holder: holder.to_owned(), until };
    }
    Decision::TakeOver(LeaseSpec {
        holder_identity: Some(identity.to_owned()),
        lease_duration_seconds: Some(lease_seconds),
        acquire_time: stamp.clone(),
        renew_time: stamp,
        lease_transitions: Some(spec.lease_transitions.unwrap_or(0).max(0).saturating_add(1)),
        ..spec.clone()
    })
}

/// When a held lease expires, or `None` if it carries no time at all.
fn expiry(spec: &LeaseSpec, default_seconds: i32) -> Option<Timestamp> {
    let renewed = spec.renew_time.as_ref().or(spec.acquire_time.as_ref())?.0;
    let seconds = spec.lease_duration_seconds.unwrap_or(default_seconds).max(0);
    // Past the end of time means "valid for as long as we can tell".
    Some(renewed.checked_add(SignedDuration::from_secs(i64::from(seconds))).unwrap_or(Timestamp::MAX))
}

/// The spec that gives the Lease up: no holder, a 1 s duration (client-go's release), so a
/// standby takes over on its next poll instead of waiting out the lease.
pub fn released(spec: &LeaseSpec, now: Timestamp) -> LeaseSpec {
    LeaseSpec {
        holder_identity: None,
        lease_duration_seconds: Some(1),
        acquire_time: Some(MicroTime(now)),
        renew_time: Some(MicroTime(now)),
        ..spec.clone()
    }
}

/// The wall clock as a Lease timestamp.
pub fn system_now() -> Timestamp {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    Timestamp::from_nanosecond(since.as_nanos().try_into().unwrap_or(i128::MAX)).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// A source of wall-clock time, so tests can tie the Lease's clock to tokio's paused clock.
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// Errors of the election.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid leader election settings: {0}")]
    Config(String),
    #[error("Lease request failed: {0}")]
    Api(#[from] kube::Error),
    #[error("Lease request got no answer in time")]
    Timeout,
}

/// Where the Lease lives, who we are, and the timings (see the module's timing invariant).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElectionConfig {
    pub namespace: String,
    /// The Lease's name (e.g. `ferrolb-controller`).
    pub name: String,
    /// This replica's identity: the pod name, unique among replicas.
    pub identity: String,
    /// How long a renewal keeps others away (`leaseDurationSeconds`, whole seconds).
    pub lease_duration: Duration,
    /// How long after its last successful renewal the leader keeps acting. Must be shorter
    /// than `lease_duration`.
    pub renew_deadline: Duration,
    /// How often the leader renews and a standby polls.
    pub retry_period: Duration,
}

impl ElectionConfig {
    /// Timings derived from the lease duration: renew every third of it, give up after two
    /// thirds (15 s → renew every 5 s, stop acting 10 s after the last renewal).
    pub fn new(namespace: &str, name: &str, identity: &str, lease_duration: Duration) -> Self {
        Self {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            identity: identity.to_owned(),
            lease_duration,
            renew_deadline: lease_duration * 2 / 3,
            retry_period: lease_duration / 3,
        }
    }

    fn lease_seconds(&self) -> Result<i32, Error> {
        let d = self.lease_duration;
        let whole = d.as_secs() + u64::from(d.subsec_nanos() > 0);
        i32::try_from(whole).map_err(|_| Error::Config(format!("lease duration {d:?} is too long")))
    }

    fn validate(&self) -> Result<i32, Error> {
        if self.identity.is_empty() {
            return Err(Error::Config("the identity (pod name) is empty".into()));
        }
        if self.name.is_empty() || self.namespace.is_empty() {
            return Err(Error::Config("the Lease name and namespace must not be empty".into()));
        }
        if self.lease_duration < Duration::from_secs(1) {
            return Err(Error::Config(format!("lease duration {:?} is under 1s", self.lease_duration)));
        }
        if self.renew_deadline >= self.lease_duration {
            return Err(Error::Config(format!(
                "renew deadline {:?} must be shorter than the lease duration {:?}",
                self.renew_deadline, self.lease_duration
            )));
        }
        if self.retry_period.is_zero() || self.retry_period >= self.renew_deadline {
            return Err(Error::Config(format!(
                "retry period {:?} must be positive and shorter than the renew deadline {:?}",
                self.retry_period, self.renew_deadline
            )));
        }
        self.lease_seconds()
    }
}

/// The outcome of one [`LeaderElector::try_acquire_or_renew`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// We hold the Lease. `renewed_at` is the monotonic instant taken just before the written
    /// `renewTime`: acting is safe until `renewed_at + renew_deadline`.
    Leading { acquired: bool, renewed_at: Instant },
    /// Another replica holds a valid Lease until `until`.
    Standby { holder: String, until: Timestamp },
    /// Our write lost a race (409): someone else wrote the Lease since our read.
    Conflict,
}

/// Runs the election for one replica. Build it with [`LeaderElector::new`], then either drive
/// it with [`LeaderElector::run`] (the usual way) or step it with
/// [`LeaderElector::try_acquire_or_renew`] and [`LeaderElector::release`].
#[derive(Clone)]
pub struct LeaderElector {
    api: Api<Lease>,
    config: ElectionConfig,
    lease_seconds: i32,
    clock: Clock,
}

impl std::fmt::Debug for LeaderElector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeaderElector").field("config", &self.config).finish_non_exhaustive()
    }
}

/// What the run loop remembers between rounds.
#[derive(Debug, Default)]
struct Round {
    /// While leading: when acting stops being safe.
    deadline: Option<Instant>,
    /// Whether the last thing we know is that the Lease names us (so shutdown releases it).
    holding: bool,
    failures: u32,
}

impl LeaderElector {
    /// Checks the settings (see [`ElectionConfig`]); makes no request.
    pub fn new(client: kube::Client, config: ElectionConfig) -> Result<Self, Error> {
        let lease_seconds = config.validate()?;
        Ok(Self { api: Api::namespaced(client, &config.namespace), config, lease_seconds, clock: Arc::new(system_now) })
    }

    /// Replaces the wall clock (tests tie it to tokio's paused clock).
    pub fn with_clock(mut self, clock: impl Fn() -> Timestamp + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    pub fn config(&self) -> &ElectionConfig {
        &self.config
    }

    /// One round: GET the Lease, [`decide`], and write if the decision says so.
    pub async fn try_acquire_or_renew(&self) -> Result<Attempt, Error> {
        let name = &self.config.name;
        let current = self.api.get_opt(name).await?;
        let renewed_at = Instant::now();
        let now = (self.clock)();
        let decision =
            decide(current.as_ref().and_then(|l| l.spec.as_ref()), &self.config.identity, self.lease_seconds, now);
        let pp = PostParams::default();
        let written = match (decision, current) {
            (Decision::Wait { holder, until }, _) => return Ok(Attempt::Standby { holder, until }),
            (Decision::Create(spec), _) => {
                let lease = Lease {
                    metadata: ObjectMeta {
                        name: Some(name.clone()),
                        namespace: Some(self.config.namespace.clone()),
                        ..ObjectMeta::default()
                    },
                    spec: Some(spec),
                };
                self.api.create(&pp, &lease).await.map(|_| true)
            }
            (Decision::Renew(spec), Some(mut lease)) => {
                lease.spec = Some(spec);
                self.api.replace(name, &pp, &lease).await.map(|_| false)
            }
            (Decision::TakeOver(spec), Some(mut lease)) => {
                lease.spec = Some(spec);
                self.api.replace(name, &pp, &lease).await.map(|_| true)
            }
            // decide() only renews or takes over a Lease it was given.
            (Decision::Renew(_) | Decision::TakeOver(_), None) => return Ok(Attempt::Conflict),
        };
        match written {
            Ok(acquired) => Ok(Attempt::Leading { acquired, renewed_at }),
            Err(e) if status_code(&e) == Some(409) => Ok(Attempt::Conflict),
            Err(e) => Err(e.into()),
        }
    }

    /// Gives the Lease up if it names us (see [`released`]); `Ok(false)` if it did not (absent,
    /// or held by another, or changed under us). Call it only once the caller stopped acting.
    pub async fn release(&self) -> Result<bool, Error> {
        let Some(mut lease) = self.api.get_opt(&self.config.name).await? else { return Ok(false) };
        let Some(spec) = &lease.spec else { return Ok(false) };
        if spec.holder_identity.as_deref() != Some(self.config.identity.as_str()) {
            return Ok(false);
        }
        lease.spec = Some(released(spec, (self.clock)()));
        match self.api.replace(&self.config.name, &PostParams::default(), &lease).await {
            Ok(_) => Ok(true),
            Err(e) if status_code(&e) == Some(409) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Campaigns until `shutdown` completes, publishing on `leading` whether the caller may act
    /// (`true` only after a successful write; `false` at the renew deadline, on a lost race, or
    /// when another replica holds the Lease). Only changes are published. API errors of any
    /// kind are retried with backoff for as long as it runs. On shutdown it publishes `false`
    /// and then releases the Lease if it held it, so a standby takes over at its next poll.
    pub async fn run(&self, leading: watch::Sender<bool>, shutdown: impl Future<Output = ()>) {
        let mut round = Round::default();
        tokio::pin!(shutdown);
        loop {
            let delay = tokio::select! {
                () = &mut shutdown => break,
                delay = self.round(&mut round, &leading) => delay,
            };
            tokio::select! {
                () = &mut shutdown => break,
                () = tokio::time::sleep(delay) => {}
            }
        }
        publish(&leading, false);
        if round.holding {
            self.release_on_shutdown().await;
        }
    }

    /// One round of [`run`](Self::run); returns how long to wait before the next.
    async fn round(&self, round: &mut Round, leading: &watch::Sender<bool>) -> Duration {
        let cfg = &self.config;
        if round.deadline.is_some_and(|deadline| Instant::now() >= deadline) {
            warn!(lease = %cfg.name, "could not renew the Lease before the renew deadline; stepping down");
            self.stop(round, leading);
        }
        let budget = match round.deadline {
            Some(deadline) => deadline.saturating_duration_since(Instant::now()),
            None => cfg.renew_deadline,
        };
        let result = match tokio::time::timeout(budget, self.try_acquire_or_renew()).await {
            Ok(result) => result,
            Err(_) => Err(Error::Timeout),
        };
        let delay = match result {
            Ok(Attempt::Leading { acquired, renewed_at }) => {
                if acquired {
                    info!(lease = %cfg.name, identity = %cfg.identity, "acquired the controller Lease");
                }
                round.deadline = Some(renewed_at + cfg.renew_deadline);
                round.holding = true;
                round.failures = 0;
                publish(leading, true);
                cfg.retry_period
            }
            Ok(Attempt::Standby { holder, until }) => {
                debug!(lease = %cfg.name, %holder, %until, "another replica leads");
                self.stop(round, leading);
                round.holding = false;
                round.failures = 0;
                cfg.retry_period
            }
            Ok(Attempt::Conflict) => {
                debug!(lease = %cfg.name, "lost a write race on the Lease; reading it again");
                self.stop(round, leading);
                round.holding = false;
                Duration::ZERO
            }
            Err(e) => {
                round.failures = round.failures.saturating_add(1);
                warn!(lease = %cfg.name, error = %e, failures = round.failures, "Lease round failed");
                backoff(cfg.retry_period, round.failures)
            }
        };
        // While leading, wake at the deadline at the latest, to step down on time (a slow
        // acquisition can leave less than a retry period before it).
        match round.deadline {
            Some(deadline) => delay.min(deadline.saturating_duration_since(Instant::now())),
            None => delay,
        }
    }

    fn stop(&self, round: &mut Round, leading: &watch::Sender<bool>) {
        round.deadline = None;
        publish(leading, false);
    }

    /// A bounded number of release attempts: shutdown must not hang on a dead API server.
    async fn release_on_shutdown(&self) {
        for attempt in 1..=3 {
            match tokio::time::timeout(self.config.renew_deadline, self.release()).await {
                Ok(Ok(released)) => {
                    if released {
                        info!(lease = %self.config.name, "released the controller Lease");
                    }
                    return;
                }
                Ok(Err(e)) => warn!(lease = %self.config.name, error = %e, attempt, "could not release the Lease"),
                Err(_) => warn!(lease = %self.config.name, attempt, "releasing the Lease timed out"),
            }
            tokio::time::sleep(backoff(self.config.retry_period, attempt)).await;
        }
    }
}

/// Exponential backoff from an eighth of the retry period, capped at the retry period.
fn backoff(retry_period: Duration, failures: u32) -> Duration {
    let base = (retry_period / 8).max(Duration::from_millis(10));
    base.saturating_mul(1u32 << failures.saturating_sub(1).min(16)).min(retry_period)
}

fn publish(leading: &watch::Sender<bool>, value: bool) {
    leading.send_if_modified(|current| std::mem::replace(current, value) != value);
}

/// The HTTP status of an API error answer, if the server answered.
fn status_code(e: &kube::Error) -> Option<u16> {
    match e {
        kube::Error::Api(status) => Some(status.code),
        _ => None,
    }
}
