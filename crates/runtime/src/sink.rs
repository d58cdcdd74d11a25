//! Where the reconcilers put what they decided: the state directory (`dir:` source) or the
//! API server (`k8s` source). The reconcilers call the same methods either way.
//!
//! The directory is written synchronously and reports errors at once. The API server is
//! written by a [`StatusWriter`] task that retries until each write lands, so its methods
//! only record the wish and never fail.

use std::collections::BTreeMap;
use std::io;

use ferrolb_api::metallb::{
    ConfigurationStateStatus, IPAddressPoolStatus, ServiceBGPStatusStatus, ServiceL2StatusStatus,
};
use ferrolb_kube::events::{Event, EventRecorder, ObjectRef};
use ferrolb_kube::status::{ServiceStatusKind, StatusWriter, Target, Wish};
use serde::Serialize;
use serde_json::Value;

use crate::sources::state_dir::{ServiceState, StateDir};

#[derive(Debug, Clone)]
pub enum Sink {
    Dir(StateDir),
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
    pub fn write_service(&self, namespace: &str, name: &str, state: Option<&ServiceState>) -> io::Result<()> {
        match self {
            Sink::Dir(dir) => dir.write_service(namespace, name, state),
            Sink::Kube(KubeSink { writer, .. }) => {
                let wish = state.map(|s| Wish::Service { ingress: to_value(&s.ingress), pool: s.pool.clone() });
                writer.set(Target::Service { namespace: namespace.into(), name: name.into() }, wish);
                Ok(())
            }
        }
    }

    /// The service states stored beside the objects, when they are stored apart from them
    /// (the state directory); `None` when they live on the objects themselves (the API
    /// server), where the snapshot already carries them and a deleted service takes its
    /// status with it.
    pub fn stored_services(&self) -> Option<BTreeMap<(String, String), ServiceState>> {
        match self {
            Sink::Dir(dir) => Some(dir.read_services().0),
            Sink::Kube(_) => None,
        }
    }

    pub fn write_pool(&self, name: &str, status: &IPAddressPoolStatus) -> io::Result<()> {
        match self {
            Sink::Dir(dir) => dir.write_pool(name, status),
            Sink::Kube(KubeSink { writer, .. }) => {
                writer.set(Target::Pool { name: name.into() }, Some(Wish::Pool(to_value(status))));
                Ok(())
            }
        }
    }

    /// A rejected configuration, as a Warning event on the object at fault, so `kubectl
    /// describe` on it says why (ConfigurationState says it too, for the whole component).
    pub fn configuration_event(&self, namespace: &str, error: &ferrolb_config::ConfigError, component: &str) {
        if let Sink::Kube(KubeSink { events, .. }) = self {
            let api_version = if error.kind == "BGPPeer" { "metallb.io/v1beta2" } else { "metallb.io/v1beta1" };
            let object = ObjectRef {
                api_version: api_version.into(),
                kind: error.kind.into(),
                namespace: Some(namespace.into()),
                name: error.name.clone(),
                uid: None,
            };
            events.publish(Event::warning(object, "ConfigurationError", format!("{component}: {error}")));
        }
    }

    /// A deleted pool's status: a file to remove; on the API server it went with the pool.
    pub fn remove_pool(&self, name: &str) -> io::Result<()> {
        match self {
            Sink::Dir(dir) => dir.remove_pool(name),
            Sink::Kube(KubeSink { writer, .. }) => {
                writer.set(Target::Pool { name: name.into() }, None);
                Ok(())
            }
        }
    }

    /// `component` is `controller` or `speaker-<node>`, labelled as MetalLB labels them.
    pub fn write_configuration_state(&self, component: &str, status: &ConfigurationStateStatus) -> io::Result<()> {
        match self {
            Sink::Dir(dir) => dir.write_configuration_state(component, status),
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
                Ok(())
            }
        }
    }

    pub fn write_l2_status(
        &self,
        namespace: &str,
        name: &str,
        node: &str,
        status: Option<&ServiceL2StatusStatus>,
    ) -> io::Result<()> {
        match self {
            Sink::Dir(dir) => dir.write_l2_status(namespace, name, node, status),
            Sink::Kube(KubeSink { writer, .. }) => {
                set_service_status(writer, ServiceStatusKind::Layer2, namespace, name, node, status.map(to_value));
                Ok(())
            }
        }
    }

    pub fn has_l2_status(&self, namespace: &str, name: &str, node: &str) -> bool {
        match self {
            Sink::Dir(dir) => dir.has_l2_status(namespace, name, node),
            Sink::Kube(KubeSink { writer, .. }) => writer.has(ServiceStatusKind::Layer2, namespace, name, node),
        }
    }

    pub fn remove_other_l2_statuses(
        &self,
        namespace: &str,
        name: &str,
        node: &str,
        keep: impl Fn(&str) -> bool,
    ) -> io::Result<Vec<String>> {
        match self {
            Sink::Dir(dir) => dir.remove_other_l2_statuses(namespace, name, node, keep),
            Sink::Kube(KubeSink { writer, .. }) => {
                Ok(writer.remove_others(ServiceStatusKind::Layer2, namespace, name, node, keep))
            }
        }
    }

    pub fn write_bgp_status(
        &self,
        namespace: &str,
        name: &str,
        node: &str,
        status: Option<&ServiceBGPStatusStatus>,
    ) -> io::Result<()> {
        match self {
            Sink::Dir(dir) => dir.write_bgp_status(namespace, name, node, status),
            Sink::Kube(KubeSink { writer, .. }) => {
                set_service_status(writer, ServiceStatusKind::Bgp, namespace, name, node, status.map(to_value));
                Ok(())
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
