//! Updates waiting to be piggybacked, each sent a bounded number of times (SWIM §4.1:
//! infection-style dissemination reaches every member in O(log n) rounds).

use std::collections::BTreeMap;

use crate::wire::Update;

/// At most one pending update per member name: newer news replaces older.
#[derive(Debug, Default)]
pub(crate) struct Broadcasts {
    pending: BTreeMap<String, Pending>,
    order: u64,
}

#[derive(Debug)]
struct Pending {
    update: Update,
    sent: u32,
    /// Insertion order: among equally-sent updates the newest goes first.
    order: u64,
}

impl Broadcasts {
    pub(crate) fn push(&mut self, update: Update) {
        self.order += 1;
        let name = update.peer.name.clone();
        self.pending.insert(name, Pending { update, sent: 0, order: self.order });
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Pending updates, least-sent and newest first, leaving out those about `skip`.
    pub(crate) fn next(&self, skip: Option<&str>) -> Vec<Update> {
        let mut all: Vec<&Pending> =
            self.pending.values().filter(|p| Some(p.update.peer.name.as_str()) != skip).collect();
        all.sort_by_key(|p| (p.sent, std::cmp::Reverse(p.order)));
        all.into_iter().map(|p| p.update.clone()).collect()
    }

    /// Counts one transmission of each of `sent` (names), dropping those sent `limit` times.
    pub(crate) fn sent<'a>(&mut self, sent: impl IntoIterator<Item = &'a str>, limit: u32) {
        for name in sent {
            if let Some(p) = self.pending.get_mut(name) {
                p.sent += 1;
                if p.sent >= limit {
                    self.pending.remove(name);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Peer, Status};

    fn update(name: &str, incarnation: u64) -> Update {
        Update {
            peer: Peer { name: name.into(), addr: "10.0.0.1:1".parse().unwrap(), generation: 1, incarnation },
            status: Status::Alive,
        }
    }

    #[test]
    fn least_sent_go_first_and_each_is_sent_at_most_limit_times() {
        let mut b = Broadcasts::default();
        b.push(update("a", 1));
        b.push(update("b", 1));
        assert_eq!(b.next(None).iter().map(|u| u.peer.name.as_str()).collect::<Vec<_>>(), ["b", "a"]);
        b.sent(["b"], 2);
        assert_eq!(b.next(None)[0].peer.name, "a");
        b.sent(["a", "b"], 2);
        assert_eq!(b.next(None).len(), 1, "b reached the limit");
        assert_eq!(b.next(Some("a")).len(), 0);
    }

    #[test]
    fn newer_news_about_a_member_replaces_the_pending_one() {
        let mut b = Broadcasts::default();
        b.push(update("a", 1));
        b.sent(["a"], 5);
        b.push(update("a", 2));
        let next = b.next(None);
        assert_eq!(next.len(), 1);
        assert_eq!(next[0].peer.incarnation, 2);
    }
}
