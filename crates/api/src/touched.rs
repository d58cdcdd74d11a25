//! Which Services a new set of objects may differ in from the set before it.
//!
//! One edited Service among 100,000 should cost one Service's work: its allocation, its
//! announcement, its status. A source that knows which documents it parsed again says so
//! with a [`Touched`] beside the objects, and a reconciler that saw the set before redoes
//! only those Services. Anything it cannot name that way (a pool, a peer, a Node, a file
//! whose documents moved) makes the change [`Touched::everything`], and every Service is
//! looked at again, as it always is without this.

use std::collections::BTreeSet;

use crate::objects::{EndpointSliceFields, Resources, ServiceFields};

/// A Service by namespace (`default` when it names none) and name.
pub type ServiceKey = (String, String);

/// Past this many Services a change is treated as [`Touched::everything`]: a reconciler
/// would go through all of them anyway, and the list would only cost memory.
const MOST_KEYS: usize = 4096;

/// What changed: the Services (with the EndpointSlices that name them) whose objects may
/// differ, or everything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Touched(Option<BTreeSet<ServiceKey>>);

impl Default for Touched {
    /// Unknown, so everything: what a source that does not follow changes gives.
    fn default() -> Self {
        Self::everything()
    }
}

impl Touched {
    /// Nothing changed (yet).
    pub fn nothing() -> Self {
        Self(Some(BTreeSet::new()))
    }

    /// Anything may have changed.
    pub fn everything() -> Self {
        Self(None)
    }

    /// The Services that may have changed; `None` when anything may have.
    pub fn services(&self) -> Option<&BTreeSet<ServiceKey>> {
        self.0.as_ref()
    }

    pub fn is_everything(&self) -> bool {
        self.0.is_none()
    }

    /// The Service `namespace/name` may have changed (its object, its state or its slices).
    pub fn service(&mut self, namespace: &str, name: &str) {
        if let Some(keys) = &mut self.0 {
            keys.insert((namespace.to_owned(), name.to_owned()));
            if keys.len() > MOST_KEYS {
                self.0 = None;
            }
        }
    }

    /// `service` came, went or changed.
    pub fn service_object(&mut self, service: &ServiceFields) {
        self.service(namespace_or_default(service.metadata.namespace.as_deref()), &service.metadata.name);
    }

    /// `slice` came, went or changed: the Service it names may announce differently. A
    /// slice that names no Service belongs to none and changes nothing.
    pub fn slice_object(&mut self, slice: &EndpointSliceFields) {
        if let Some(service) = slice.service_name() {
            self.service(namespace_or_default(slice.metadata.namespace.as_deref()), service);
        }
    }

    /// The objects of `resources` came, went or changed: their Services and slices, or
    /// everything when any other kind is among them.
    pub fn objects(&mut self, resources: &Resources) {
        let [rest @ .., _services, _slices] = resources.lens();
        if rest.iter().any(|&n| n > 0) {
            self.0 = None;
            return;
        }
        for service in &resources.services {
            self.service_object(service);
        }
        for slice in &resources.endpoint_slices {
            self.slice_object(slice);
        }
    }

    /// Whatever `other` says changed, too.
    pub fn merge(&mut self, other: Touched) {
        match (&mut self.0, other.0) {
            (Some(keys), Some(more)) => {
                keys.extend(more);
                if keys.len() > MOST_KEYS {
                    self.0 = None;
                }
            }
            (_, None) => self.0 = None,
            (None, Some(_)) => {}
        }
    }
}

fn namespace_or_default(namespace: Option<&str>) -> &str {
    namespace.unwrap_or("default")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loaded(yaml: &str) -> Resources {
        let mut resources = Resources::default();
        crate::load_str(yaml, "test", &mut resources).unwrap();
        resources
    }

    #[test]
    fn services_and_their_slices_are_named_any_other_kind_is_everything() {
        let mut touched = Touched::nothing();
        touched.objects(&loaded(
            "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {type: LoadBalancer}\n---\n\
             apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: db-x, namespace: data, labels: {kubernetes.io/service-name: db}}\naddressType: IPv4\n---\n\
             apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: loose, namespace: data}\naddressType: IPv4\n",
        ));
        let keys: Vec<_> = touched.services().unwrap().iter().cloned().collect();
        assert_eq!(keys, [("data".to_owned(), "db".to_owned()), ("default".to_owned(), "web".to_owned())]);

        touched.objects(&loaded(
            "apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {name: lan, namespace: metallb-system}\nspec: {addresses: [10.0.0.0/30]}\n",
        ));
        assert!(touched.is_everything(), "a pool changes what every Service gets");
    }

    #[test]
    fn merging_keeps_every_key_and_everything_wins() {
        let mut a = Touched::nothing();
        a.service("default", "a");
        let mut b = Touched::nothing();
        b.service("default", "b");
        a.merge(b);
        assert_eq!(a.services().map(BTreeSet::len), Some(2));
        a.merge(Touched::everything());
        assert!(a.is_everything());
        a.service("default", "c");
        assert!(a.is_everything(), "nothing narrows everything again");
        assert!(Touched::default().is_everything(), "unknown is everything");
    }

    #[test]
    fn a_change_too_large_to_list_is_everything() {
        let mut touched = Touched::nothing();
        for i in 0..=MOST_KEYS {
            touched.service("default", &format!("s{i}"));
        }
        assert!(touched.is_everything());
    }
}
