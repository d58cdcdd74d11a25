//! Where the reconcilers put what they decided: the state directory (`dir:` source) or the
//! API server (`k8s` source). The reconcilers call the same methods either way.
//!
//! Either way the methods only record what should be written and never fail: the state
//! directory's [`StateWriter`] thread writes in batches, the API server's [`StatusWriter`]
//! task patches; both retry until each write lands, and a newer wish replaces an older one
//! not yet written.

use std::collections::{BTreeMap, BTreeSet};
use std::io;

use ferrolb_api::metallb::{
    ConfigurationStateStatus, IPAddressPoolStatus, ServiceBGPStatusStatus, ServiceL2StatusStatus,
};
use ferrolb_kube::events::{Event, EventRecorder, ObjectRef};
use ferrolb_kube::status::{ServiceStatusKind, StatusWriter, Target, Wish};
use serde::Serialize;
use serde_json::Value;

use crate::controller::core::StoredStates;
use crate::sources::state_dir::{ServiceState, StatusKind};
use crate::sources::state_writer::StateWriter;

#[derive(Debug, Clone)]
pub enum Sink {
    Dir(StateWriter),
    Kube(KubeSink),
}

/// The Service an event is about; the uid lets `kubectl describe` find it.
#[derive(Debug, Clone, Copy)]
pub struct ServiceRef<'a> {
    pub namespace: &'a str,
    pub name: &'a str,
    pub uid: Option<&'a str>,
}

/// The API server's side: statuses through the writer, events through the recorder.
#[derive(Debug, Clone)]
pub struct KubeSink {
    pub writer: StatusWriter,
    pub events: EventRecorder,
}

fn to_value<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

impl Sink {
    /// An event about a Service (MetalLB's reasons). The state directory has no events: the
    /// callers log every one of them anyway.
    pub fn event(&self, service: &ServiceRef<'_>, warning: bool, reason: &str, message: String) {
        if let Sink::Kube(KubeSink { events, .. }) = self {
            let object = ObjectRef::service(service.namespace, service.name, service.uid);
            let event =
                if warning { Event::warning(object, reason, message) } else { Event::normal(object, reason, message) };
            events.publish(event);
        }
    }

    /// A Service's addresses and pool; `None` clears them (or forgets a deleted service).
    pub fn write_service(&self, namespace: &str, name: &str, state: Option<&ServiceState>) {
        match self {
            Sink::Dir(dir) => dir.set_service(namespace, name, state),
            Sink::Kube(KubeSink { writer, .. }) => {
                let wish = state.map(|s| Wish::Service { ingress: to_value(&s.ingress), pool: s.pool.clone() });
                writer.set(Target::Service { namespace: namespace.into(), name: name.into() }, wish);
            }
        }
    }

    /// The service states stored beside the objects, when they are stored apart from them
    /// (the state directory); `None` when they live on the objects themselves (the API
    /// server), where the snapshot already carries them and a deleted service takes its
    /// status with it.
    /// `reread`: Services whose stored state the source saw change, read again first.
    pub fn with_stored_services<R>(
        &self,
        reread: Option<&BTreeSet<(String, String)>>,
        f: impl FnOnce(Option<&dyn StoredStates>) -> R,
    ) -> R {
        match self {
            Sink::Dir(dir) => dir.with_stored_services(reread, |states| f(Some(states))),
            Sink::Kube(_) => f(None),
        }
    }

    /// Looks at every stored service state again (the `dir:` source; nothing elsewhere).
    pub fn rescan_stored_services(&self) {
        if let Sink::Dir(dir) = self {
            dir.rescan_services();
        }
    }

    pub fn write_pool(&self, name: &str, status: &IPAddressPoolStatus) {
        match self {
            Sink::Dir(dir) => dir.set(dir.state().pool_path(name), Some(status)),
            Sink::Kube(KubeSink { writer, .. }) => {
                writer.set(Target::Pool { name: name.into() }, Some(Wish::Pool(to_value(status))));
            }
        }
    }

    /// A rejected configuration, as a Warning event on the object at fault, so `kubectl
    /// describe` on it says why (ConfigurationState says it too, for the whole component).
    pub fn configuration_event(&self, namespace: &str, error: &ferrolb_config::ConfigError, component: &str) {
        self.object_warning(namespace, error.kind, &error.name, "ConfigurationError", format!("{component}: {error}"));
    }

    /// A Warning event on a metallb.io object (on the `dir:` source the log says it).
    pub fn object_warning(&self, namespace: &str, kind: &str, name: &str, reason: &str, message: String) {
        if let Sink::Kube(KubeSink { events, .. }) = self {
            let api_version = match kind {
                "BGPPeer" => "metallb.io/v1beta2",
                "ConfigMap" => "v1",
                _ => "metallb.io/v1beta1",
            };
            let object = ObjectRef {
                api_version: api_version.into(),
                kind: kind.to_owned(),
                namespace: Some(namespace.into()),
                name: name.to_owned(),
                uid: None,
            };
            events.publish(Event::warning(object, reason, message));
        }
    }

    /// A deleted pool's status: a file to remove; on the API server it went with the pool.
    pub fn remove_pool(&self, name: &str) {
        match self {
            Sink::Dir(dir) => dir.set::<()>(dir.state().pool_path(name), None),
            Sink::Kube(KubeSink { writer, .. }) => writer.set(Target::Pool { name: name.into() }, None),
        }
    }

    /// `component` is `controller` or `speaker-<node>`, labelled as MetalLB labels them.
    pub fn write_configuration_state(&self, component: &str, status: &ConfigurationStateStatus) {
        match self {
            Sink::Dir(dir) => dir.set(dir.state().configuration_state_path(component), Some(status)),
            Sink::Kube(KubeSink { writer, .. }) => {
                let mut labels = BTreeMap::new();
                match component.strip_prefix("speaker-") {
                    Some(node) => {
                        labels.insert("metallb.io/component-type".to_owned(), "speaker".to_owned());
                        labels.insert("metallb.io/node-name".to_owned(), node.to_owned());
                    }
                    None => {
                        labels.insert("metallb.io/component-type".to_owned(), component.to_owned());
                    }
                }
                let wish = Wish::ConfigurationState { labels, status: to_value(status) };
                writer.set(Target::ConfigurationState { name: component.into() }, Some(wish));
            }
        }
    }

    pub fn write_l2_status(&self, namespace: &str, name: &str, node: &str, status: Option<&ServiceL2StatusStatus>) {
        match self {
            Sink::Dir(dir) => {
                dir.set(dir.state().service_status_path(StatusKind::Layer2, namespace, name, node), status)
            }
            Sink::Kube(KubeSink { writer, .. }) => {
                set_service_status(writer, ServiceStatusKind::Layer2, namespace, name, node, status.map(to_value));
            }
        }
    }

    pub fn has_l2_status(&self, namespace: &str, name: &str, node: &str) -> bool {
        match self {
            Sink::Dir(dir) => dir.exists(&dir.state().service_status_path(StatusKind::Layer2, namespace, name, node)),
            Sink::Kube(KubeSink { writer, .. }) => writer.has(ServiceStatusKind::Layer2, namespace, name, node),
        }
    }

    /// Removes the ServiceL2Status other nodes left for a service, except those of nodes
    /// `keep` says are alive (each live node removes its own when it stops announcing): only
    /// the announcer may hold one (MetalLB's announcer deletes the others' objects), and a
    /// node killed with SIGKILL cannot remove its own. The nodes whose status it removed.
    pub fn remove_other_l2_statuses(
        &self,
        namespace: &str,
        name: &str,
        node: &str,
        keep: impl Fn(&str) -> bool,
    ) -> io::Result<Vec<String>> {
        match self {
            Sink::Dir(dir) => {
                let folder = dir.state().service_status_dir(StatusKind::Layer2, namespace, name);
                let mut removed = dir.json_files_in(&folder)?;
                removed.retain(|other| other != node && !keep(other));
                for other in &removed {
                    dir.set::<()>(folder.join(format!("{other}.json")), None);
                }
                Ok(removed)
            }
            Sink::Kube(KubeSink { writer, .. }) => {
                Ok(writer.remove_others(ServiceStatusKind::Layer2, namespace, name, node, keep))
            }
        }
    }

    pub fn write_bgp_status(&self, namespace: &str, name: &str, node: &str, status: Option<&ServiceBGPStatusStatus>) {
        match self {
            Sink::Dir(dir) => dir.set(dir.state().service_status_path(StatusKind::Bgp, namespace, name, node), status),
            Sink::Kube(KubeSink { writer, .. }) => {
                set_service_status(writer, ServiceStatusKind::Bgp, namespace, name, node, status.map(to_value));
            }
        }
    }
}

fn set_service_status(
    writer: &StatusWriter,
    kind: ServiceStatusKind,
    namespace: &str,
    name: &str,
    node: &str,
    status: Option<Value>,
) {
    let target = Target::ServiceStatus { kind, namespace: namespace.into(), name: name.into(), node: node.into() };
    writer.set(target, status.map(Wish::ServiceStatus));
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use prometheus_client::metrics::counter::Counter;

    use super::*;
    use crate::sources::state_dir::StateDir;

    fn dir_sink(name: &str) -> (Sink, StateWriter) {
        let root = std::env::temp_dir().join(format!("ferrolb-sink-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let state = StateDir::new(root);
        state.create().unwrap();
        let writer = StateWriter::start(state, Counter::default()).unwrap();
        (Sink::Dir(writer.clone()), writer)
    }

    fn l2(node: &str) -> ServiceL2StatusStatus {
        ServiceL2StatusStatus {
            node: node.into(),
            service_name: "web".into(),
            service_namespace: "default".into(),
            interfaces: Vec::new(),
        }
    }

    #[test]
    fn the_announcer_removes_the_l2_statuses_other_nodes_left_pending_or_written() {
        let (sink, writer) = dir_sink("l2status");
        for node in ["node1", "node2"] {
            sink.write_l2_status("default", "web", node, Some(&l2(node)));
        }
        assert!(writer.flush(Duration::from_secs(10)));
        sink.write_l2_status("default", "web", "node4", Some(&l2("node4"))); // not on disk yet
        sink.write_l2_status("default", "web", "node3", Some(&l2("node3")));
        // node1 is alive and answers for its own file; node2 and node4 are gone
        let removed = sink.remove_other_l2_statuses("default", "web", "node3", |n| n == "node1").unwrap();
        assert_eq!(removed, ["node2", "node4"]);
        assert!(sink.has_l2_status("default", "web", "node3"));
        assert!(!sink.has_l2_status("default", "web", "node2"));
        assert!(writer.flush(Duration::from_secs(10)));
        let mut left: Vec<String> = std::fs::read_dir(writer.state().root().join("servicel2status/default/web"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["node1.json", "node3.json"]);
        assert!(sink.remove_other_l2_statuses("default", "gone", "node3", |_| false).unwrap().is_empty());
    }

    #[test]
    fn stored_services_include_what_is_not_on_disk_yet() {
        let (sink, writer) = dir_sink("stored");
        let state = |ip: &str| ServiceState {
            ingress: vec![ferrolb_api::core::LoadBalancerIngress { ip: Some(ip.into()), hostname: None }],
            pool: Some("lan".into()),
        };
        sink.write_service("default", "web", Some(&state("10.0.0.1")));
        sink.write_service("default", "old", Some(&state("10.0.0.2")));
        assert!(writer.flush(Duration::from_secs(10)));
        sink.write_service("default", "web", Some(&state("10.0.0.9")));
        sink.write_service("default", "old", None);
        sink.write_service("shop", "new", Some(&state("10.0.0.3")));
        let copy = |stored: Option<&dyn StoredStates>| {
            let mut all = BTreeMap::new();
            let stored = stored.expect("the dir: sink stores states apart");
            stored.each(&mut |ns, name| {
                all.insert((ns.to_owned(), name.to_owned()), stored.state(ns, name).cloned());
            });
            all
        };
        let stored = sink.with_stored_services(None, copy);
        let key = |ns: &str, n: &str| (ns.to_owned(), n.to_owned());
        assert_eq!(stored.len(), 2, "{stored:?}");
        assert_eq!(stored[&key("default", "web")], Some(state("10.0.0.9")));
        assert_eq!(stored[&key("shop", "new")], Some(state("10.0.0.3")));
        assert!(writer.flush(Duration::from_secs(10)));
        assert_eq!(sink.with_stored_services(None, copy), stored, "the same once on disk");

        // An operator removes web's file: the view learns it when the source names web, or
        // at the next rescan; a wish not on disk yet still wins over what the disk says.
        std::fs::remove_file(writer.state().service_path("default", "web")).unwrap();
        assert_eq!(sink.with_stored_services(None, copy).len(), 2, "not looked at yet");
        let web = BTreeSet::from([key("default", "web")]);
        assert_eq!(sink.with_stored_services(Some(&web), copy).get(&key("default", "web")), None);
        std::fs::remove_file(writer.state().service_path("shop", "new")).unwrap();
        sink.write_service("default", "web", Some(&state("10.0.0.7")));
        assert_eq!(sink.with_stored_services(Some(&web), copy)[&key("default", "web")], Some(state("10.0.0.7")));
        sink.rescan_stored_services();
        assert_eq!(sink.with_stored_services(None, copy).get(&key("shop", "new")), None, "the rescan saw it");
    }
}
