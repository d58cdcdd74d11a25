//! An object held once, by every snapshot that contains it, and copied only when written.
//!
//! The `dir:` source keeps each manifest document's objects so that an edit re-parses only
//! what it touched. It publishes snapshots to the reconcilers, and while they still work on
//! the last one it builds the next. With the objects held by value, a directory of 50,000
//! Services was in memory three times at that moment: in the cache, in the old snapshot and
//! in the new one. The `k8s` source's copy-on-write snapshot copied every object for every
//! change that reached it while a reconciler held the last one. Held through a [`Shared`],
//! a snapshot is a list of pointers: putting one together copies none of the objects, and
//! changing one object (a Service's status) copies that object alone.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A reference-counted object that reads as the object itself and is copied on write
/// ([`Arc::make_mut`]): the copy being written is never one another snapshot sees.
#[derive(Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Shared<T>(Arc<T>);

impl<T> Shared<T> {
    pub fn new(value: T) -> Self {
        Self(Arc::new(value))
    }

    /// Whether both are the same object in memory, not merely equal.
    pub fn ptr_eq(a: &Self, b: &Self) -> bool {
        Arc::ptr_eq(&a.0, &b.0)
    }
}

/// A clone is another pointer to the same object.
impl<T> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<T> Deref for Shared<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

/// Writing copies the object first when another holder shares it.
impl<T: Clone> DerefMut for Shared<T> {
    fn deref_mut(&mut self) -> &mut T {
        Arc::make_mut(&mut self.0)
    }
}

impl<T> From<T> for Shared<T> {
    fn from(value: T) -> Self {
        Self::new(value)
    }
}

impl<T: fmt::Debug> fmt::Debug for Shared<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<T: Serialize> Serialize for Shared<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Shared<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(deserializer).map(Self::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clone_is_the_same_object_and_a_write_copies_only_the_one_written() {
        let first = Shared::new(vec![1, 2]);
        let mut second = first.clone();
        assert!(Shared::ptr_eq(&first, &second));
        second.push(3);
        assert!(!Shared::ptr_eq(&first, &second));
        assert_eq!((*first).clone(), vec![1, 2]);
        assert_eq!((*second).clone(), vec![1, 2, 3]);
        // the sole holder writes in place
        let before: *const Vec<i32> = &*second;
        second.push(4);
        assert_eq!(before, &*second as *const Vec<i32>);
    }

    #[test]
    fn it_reads_writes_and_compares_as_the_object() {
        let shared: Shared<Vec<u8>> = serde_json::from_str("[1, 2]").unwrap();
        assert_eq!(serde_json::to_string(&shared).unwrap(), "[1,2]");
        assert_eq!(format!("{shared:?}"), "[1, 2]");
        assert_eq!(shared, Shared::new(vec![1, 2]));
        assert!(serde_json::from_str::<Shared<Vec<u8>>>("[300]").is_err());
    }
}
