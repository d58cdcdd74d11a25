//! Datagram sealing: every datagram is authenticated and encrypted with XChaCha20-Poly1305
//! (RFC 8439 ChaCha20-Poly1305 with the extended 192-bit nonce of
//! draft-irtf-cfrg-xchacha), so a speaker with another key can neither read nor forge
//! membership, nothing is decoded before the tag checks out, and a datagram recorded and sent
//! again is refused.
//!
//! Wire format (one UDP datagram):
//!
//! ```text
//! sealed: 'R' | generation (8) | counter (8) | random (8) | name length (1) | name | ciphertext | tag (16)
//!         nonce = generation | counter | random; AAD = everything before the ciphertext
//! plain:  'P' | plaintext                                  (no key configured: no protection)
//! ```
//!
//! - **Nonces never repeat under one key.** `generation` is the sender's boot time in ms,
//!   `counter` counts its datagrams since that boot, and `random` (per boot) separates two
//!   boots in the same millisecond or under a clock set back.
//! - **Replays are refused** (RFC 4303 §3.4.3 has the same sliding window for IPsec). The
//!   header names the sender and is authenticated with the ciphertext, so the receiver keeps,
//!   per sender name, the newest boot generation seen and a window of the last
//!   [`WINDOW`] counters of that boot. A datagram from an older boot, a counter already seen,
//!   or one older than the window is dropped as [`OpenError::Replayed`]. The engine forgets a
//!   sender when the member goes down or leaves, so a speaker restarted with its clock set
//!   back is heard again once its old identity has been declared down. The price: while a
//!   member is down, one recorded datagram of an earlier boot of it can pass this check; the
//!   SWIM layer then ignores it, since it speaks for an identity already declared down.
//! - **Keys rotate without a partition.** A [`Key`] may hold several secrets: the first seals,
//!   every one opens. Rolling a new secret in is three rollouts: add it second, move it first,
//!   remove the old one.
//!
//! ferrolb does not interoperate with Go memberlist on the wire (different framing and
//! cipher), so it does not need MetalLB's key quirk (`key = (secret ‖ SHA-256(""))[..32]`,
//! docs/compatibility.md §9.11) either: the key is SHA-256 over a domain label and the secret.
//! The same `secretkey` Secret works for both; Go and Rust speakers just never talk.

use std::collections::BTreeMap;
use std::path::Path;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};
use thiserror::Error;

const SEALED: u8 = b'R';
const PLAIN: u8 = b'P';
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
const DOMAIN: &[u8] = b"ferrolb-gossip/v1 key\0";
/// The longest sender name (a Kubernetes node name).
pub(crate) const MAX_NAME: usize = 253;
/// Bytes of the sealed header for the longest name, plus the tag.
pub(crate) const SEAL_OVERHEAD: usize = 1 + NONCE_LEN + 1 + MAX_NAME + TAG_LEN;
/// How many of a sender's most recent counters are remembered: later datagrams may overtake
/// earlier ones by that many before the earlier ones count as replays.
pub const WINDOW: u64 = 1024;
/// Senders remembered at most; the one heard from longest ago is forgotten first.
const MAX_SENDERS: usize = 4096;

/// The cluster key: the secret that seals and, during a rotation, the others that still
/// open. Its `Debug` never prints the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct Key(Vec<[u8; 32]>);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(..)")
    }
}

/// Why a key could not be made.
#[derive(Debug, Error)]
pub enum KeyError {
    #[error("membership key file {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("membership secret is empty")]
    Empty,
}

impl Key {
    /// Derives the key from a secret. Leading and trailing ASCII whitespace is ignored, so a
    /// file written with or without a final newline gives the same key; MetalLB's `secretkey`
    /// (22 base64 characters) is used as the text it is, not decoded.
    pub fn derive(secret: &[u8]) -> Result<Self, KeyError> {
        Self::rotation([secret])
    }

    /// A key of several secrets, one per item: the first seals, all open. Empty items (after
    /// trimming) are skipped; at least one must remain.
    pub fn rotation<'a>(secrets: impl IntoIterator<Item = &'a [u8]>) -> Result<Self, KeyError> {
        let keys: Vec<[u8; 32]> = secrets
            .into_iter()
            .map(<[u8]>::trim_ascii)
            .filter(|s| !s.is_empty())
            .map(|secret| {
                let mut hash = Sha256::new();
                hash.update(DOMAIN);
                hash.update(secret);
                hash.finalize().into()
            })
            .collect();
        if keys.is_empty() {
            return Err(KeyError::Empty);
        }
        Ok(Self(keys))
    }

    /// Reads the key from a file (`--membership-key-file`): one secret per line, the first
    /// seals. MetalLB's `secretkey` is a single line, so it is a key of one secret.
    pub fn from_file(path: &Path) -> Result<Self, KeyError> {
        let bytes =
            std::fs::read(path).map_err(|source| KeyError::Read { path: path.display().to_string(), source })?;
        Self::rotation(bytes.split(|b| *b == b'\n'))
    }

    /// How many secrets open datagrams (more than one during a rotation).
    pub fn secrets(&self) -> usize {
        self.0.len()
    }
}

/// Why a received datagram was dropped before decoding.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum OpenError {
    /// Sealed under another key, tampered with, or sealed/plain when we expect the other.
    #[error("datagram does not authenticate under this cluster's key")]
    BadKey,
    #[error("datagram is not a ferrolb membership datagram")]
    Malformed,
    /// It authenticates, but it was received before, or it is from a boot of its sender
    /// older than one already heard: a recorded datagram sent again.
    #[error("datagram was received before (a replay)")]
    Replayed,
}

/// Who seals: the fields of the header that make each nonce unique.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sender {
    pub name: String,
    pub generation: u64,
    pub random: [u8; 8],
}

/// The remembered counters of one sender (RFC 4303 §3.4.3).
#[derive(Debug, Clone)]
struct Window {
    generation: u64,
    highest: u64,
    /// Bit `i` set: counter `highest - i` was accepted.
    seen: [u64; (WINDOW / 64) as usize],
    last_heard: u64,
}

impl Window {
    fn new(generation: u64, counter: u64, tick: u64) -> Self {
        let mut seen = [0; (WINDOW / 64) as usize];
        seen[0] = 1;
        Self { generation, highest: counter, seen, last_heard: tick }
    }

    /// Whether (generation, counter) is new; it is then remembered.
    fn admit(&mut self, generation: u64, counter: u64, tick: u64) -> bool {
        if generation < self.generation {
            return false;
        }
        if generation > self.generation {
            *self = Self::new(generation, counter, tick);
            return true;
        }
        if counter > self.highest {
            self.shift(counter - self.highest);
            self.highest = counter;
            self.seen[0] |= 1;
        } else {
            let age = self.highest - counter;
            if age >= WINDOW {
                return false;
            }
            let (word, bit) = ((age / 64) as usize, age % 64);
            if self.seen[word] & (1 << bit) != 0 {
                return false;
            }
            self.seen[word] |= 1 << bit;
        }
        self.last_heard = tick;
        true
    }

    /// Moves the window `by` counters forward: bit `i` becomes bit `i + by`.
    fn shift(&mut self, by: u64) {
        if by >= WINDOW {
            self.seen = [0; (WINDOW / 64) as usize];
            return;
        }
        let (words, bits) = ((by / 64) as usize, (by % 64) as u32);
        for i in (0..self.seen.len()).rev() {
            let from = i.checked_sub(words);
            let high = from.map_or(0, |j| self.seen[j] << bits);
            let low = match (from.and_then(|j| j.checked_sub(1)), bits) {
                (Some(j), 1..) => self.seen[j] >> (64 - bits),
                _ => 0,
            };
            self.seen[i] = high | low;
        }
    }
}

/// Seals outgoing and opens incoming datagrams. Public so that the fuzz targets (`fuzz/`) can
/// seal and open arbitrary bytes; the engine is its only user in the product.
pub struct Sealer {
    ciphers: Vec<XChaCha20Poly1305>,
    sender: Sender,
    counter: u64,
    windows: BTreeMap<Vec<u8>, Window>,
    tick: u64,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer")
            .field("keys", &self.ciphers.len())
            .field("counter", &self.counter)
            .field("senders", &self.windows.len())
            .finish()
    }
}

impl Sealer {
    /// `sender.name` must be at most 253 bytes (the engine checks it); a longer one is cut.
    pub fn new(key: Option<&Key>, sender: Sender) -> Self {
        let ciphers = key.map_or_else(Vec::new, |k| k.0.iter().map(|k| XChaCha20Poly1305::new(k.into())).collect());
        Self { ciphers, sender, counter: 0, windows: BTreeMap::new(), tick: 0 }
    }

    pub fn seal(&mut self, plaintext: &[u8]) -> Vec<u8> {
        let Some(cipher) = self.ciphers.first() else {
            let mut out = Vec::with_capacity(1 + plaintext.len());
            out.push(PLAIN);
            out.extend_from_slice(plaintext);
            return out;
        };
        let name = self.sender.name.as_bytes();
        let mut header = Vec::with_capacity(1 + NONCE_LEN + 1 + name.len());
        header.push(SEALED);
        header.extend_from_slice(&self.sender.generation.to_be_bytes());
        header.extend_from_slice(&self.counter.to_be_bytes());
        header.extend_from_slice(&self.sender.random);
        header.push(name.len().min(MAX_NAME) as u8);
        header.extend_from_slice(&name[..name.len().min(MAX_NAME)]);
        self.counter = self.counter.wrapping_add(1);
        let nonce = XNonce::from_slice(&header[1..1 + NONCE_LEN]);
        let sealed = cipher
            .encrypt(nonce, Payload { msg: plaintext, aad: &header })
            .expect("XChaCha20-Poly1305 encryption cannot fail for datagram-sized input");
        header.extend_from_slice(&sealed);
        header
    }

    pub fn open(&mut self, datagram: &[u8]) -> Result<Vec<u8>, OpenError> {
        let (&kind, rest) = datagram.split_first().ok_or(OpenError::Malformed)?;
        match (kind, self.ciphers.is_empty()) {
            (PLAIN, true) => Ok(rest.to_vec()),
            (SEALED, false) => self.open_sealed(datagram),
            (PLAIN, false) | (SEALED, true) => Err(OpenError::BadKey),
            _ => Err(OpenError::Malformed),
        }
    }

    fn open_sealed(&mut self, datagram: &[u8]) -> Result<Vec<u8>, OpenError> {
        let name_at = 1 + NONCE_LEN;
        let name_len = usize::from(*datagram.get(name_at).ok_or(OpenError::Malformed)?);
        let header_len = name_at + 1 + name_len;
        if datagram.len() < header_len + TAG_LEN {
            return Err(OpenError::Malformed);
        }
        let (header, sealed) = datagram.split_at(header_len);
        let nonce = XNonce::from_slice(&header[1..name_at]);
        let plain = self
            .ciphers
            .iter()
            .find_map(|cipher| cipher.decrypt(nonce, Payload { msg: sealed, aad: header }).ok())
            .ok_or(OpenError::BadKey)?;
        let field = |at: usize| u64::from_be_bytes(header[at..at + 8].try_into().expect("8 bytes"));
        let (generation, counter) = (field(1), field(9));
        let name = &header[name_at + 1..];
        self.tick += 1;
        let tick = self.tick;
        match self.windows.get_mut(name) {
            Some(window) => {
                if !window.admit(generation, counter, tick) {
                    return Err(OpenError::Replayed);
                }
            }
            None => {
                if self.windows.len() >= MAX_SENDERS {
                    self.forget_oldest();
                }
                self.windows.insert(name.to_vec(), Window::new(generation, counter, tick));
            }
        }
        Ok(plain)
    }

    /// Forgets what was seen from `name`: its next datagram starts a new window whatever its
    /// generation. Called when the member goes down or leaves.
    pub(crate) fn forget(&mut self, name: &str) {
        self.windows.remove(name.as_bytes());
    }

    fn forget_oldest(&mut self) {
        let oldest = self.windows.iter().min_by_key(|(_, w)| w.last_heard).map(|(name, _)| name.clone());
        if let Some(name) = oldest {
            self.windows.remove(&name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sender(name: &str, generation: u64, random: u8) -> Sender {
        Sender { name: name.into(), generation, random: [random; 8] }
    }

    fn sealer(secret: &[u8], salt: u8) -> Sealer {
        Sealer::new(Some(&Key::derive(secret).unwrap()), sender(&format!("node{salt}"), 1, salt))
    }

    #[test]
    fn a_sealed_datagram_opens_under_the_same_key() {
        let mut a = sealer(b"s3cret", 1);
        let mut b = sealer(b"s3cret\n", 2);
        assert_eq!(b.open(&a.seal(b"hello")).unwrap(), b"hello");
    }

    #[test]
    fn a_datagram_sealed_under_another_key_is_a_bad_key() {
        let mut a = sealer(b"one", 1);
        let mut b = sealer(b"two", 1);
        assert_eq!(b.open(&a.seal(b"hello")), Err(OpenError::BadKey));
    }

    #[test]
    fn every_flipped_bit_is_a_bad_key_or_malformed() {
        let mut a = sealer(b"k", 1);
        let mut b = sealer(b"k", 2);
        let d = a.seal(b"membership");
        for i in 1..d.len() {
            for bit in 0..8 {
                let mut t = d.clone();
                t[i] ^= 1 << bit;
                let got = b.open(&t);
                // the name length byte may point past the end: malformed; anything else fails
                // authentication, header fields included
                assert!(matches!(got, Err(OpenError::BadKey | OpenError::Malformed)), "byte {i} bit {bit}: {got:?}");
            }
        }
        assert_eq!(b.open(&d).unwrap(), b"membership", "the original still opens: nothing was remembered");
    }

    #[test]
    fn nonces_never_repeat_within_a_boot() {
        let mut a = sealer(b"k", 7);
        let n1 = a.seal(b"x")[1..25].to_vec();
        let n2 = a.seal(b"x")[1..25].to_vec();
        assert_ne!(n1, n2);
    }

    #[test]
    fn plain_and_sealed_speakers_do_not_accept_each_other() {
        let mut keyed = sealer(b"k", 1);
        let mut plain = Sealer::new(None, sender("p", 1, 0));
        assert_eq!(plain.open(&keyed.seal(b"x")), Err(OpenError::BadKey));
        assert_eq!(keyed.open(&plain.seal(b"x")), Err(OpenError::BadKey));
        let own = plain.seal(b"x");
        assert_eq!(plain.open(&own).unwrap(), b"x");
    }

    #[test]
    fn truncated_or_unknown_datagrams_are_malformed() {
        let mut keyed = sealer(b"k", 1);
        assert_eq!(keyed.open(b""), Err(OpenError::Malformed));
        assert_eq!(keyed.open(b"R short"), Err(OpenError::Malformed));
        assert_eq!(keyed.open(b"Xwhatever"), Err(OpenError::Malformed));
        // the earlier format (no sender header) is not accepted
        assert_eq!(keyed.open(&[b'S'; 64]), Err(OpenError::Malformed));
        let mut long = vec![b'R'; 1 + NONCE_LEN];
        long.push(200);
        long.extend_from_slice(&[0; 100]);
        assert_eq!(keyed.open(&long), Err(OpenError::Malformed));
    }

    #[test]
    fn a_replayed_datagram_is_refused_and_the_next_one_accepted() {
        let mut a = sealer(b"k", 1);
        let mut b = sealer(b"k", 2);
        let first = a.seal(b"one");
        let second = a.seal(b"two");
        assert!(b.open(&first).is_ok());
        assert_eq!(b.open(&first), Err(OpenError::Replayed));
        assert_eq!(b.open(&second).unwrap(), b"two");
        assert_eq!(b.open(&second), Err(OpenError::Replayed));
        assert_eq!(b.open(&first), Err(OpenError::Replayed));
    }

    #[test]
    fn reordered_datagrams_within_the_window_are_accepted_once() {
        let mut a = sealer(b"k", 1);
        let mut b = sealer(b"k", 2);
        let sent: Vec<Vec<u8>> = (0..200).map(|i| a.seal(format!("{i}").as_bytes())).collect();
        // every other one first, then the rest, late: all accepted, once
        for d in sent.iter().step_by(2).chain(sent.iter().skip(1).step_by(2)) {
            assert!(b.open(d).is_ok());
        }
        assert!(sent.iter().all(|d| b.open(d) == Err(OpenError::Replayed)));
    }

    #[test]
    fn a_datagram_older_than_the_window_is_refused() {
        let mut a = sealer(b"k", 1);
        let mut b = sealer(b"k", 2);
        let old = a.seal(b"old");
        for _ in 0..WINDOW {
            a.seal(b"lost");
        }
        assert!(b.open(&a.seal(b"new")).is_ok());
        assert_eq!(b.open(&old), Err(OpenError::Replayed));
    }

    #[test]
    fn an_older_boot_is_refused_once_a_newer_one_was_heard_until_the_sender_is_forgotten() {
        let key = Key::derive(b"k").unwrap();
        let mut old_boot = Sealer::new(Some(&key), sender("node1", 100, 1));
        let mut new_boot = Sealer::new(Some(&key), sender("node1", 200, 2));
        let mut b = sealer(b"k", 2);
        let recorded = old_boot.seal(b"from the old boot");
        assert!(b.open(&new_boot.seal(b"hello")).is_ok());
        assert_eq!(b.open(&recorded), Err(OpenError::Replayed));
        // a restart with the clock set back is heard once the engine forgets the old one
        let mut set_back = Sealer::new(Some(&key), sender("node1", 50, 3));
        let first = set_back.seal(b"after restart");
        assert_eq!(b.open(&first), Err(OpenError::Replayed));
        b.forget("node1");
        let again = set_back.seal(b"again");
        assert!(b.open(&again).is_ok());
        assert_eq!(b.open(&again), Err(OpenError::Replayed), "the new boot's window is in force");
    }

    #[test]
    fn senders_are_tracked_apart() {
        let mut a = sealer(b"k", 1);
        let mut c = sealer(b"k", 3);
        let mut b = sealer(b"k", 2);
        // both start at counter 0: one does not shadow the other
        assert!(b.open(&a.seal(b"a")).is_ok());
        assert!(b.open(&c.seal(b"c")).is_ok());
    }

    #[test]
    fn the_oldest_sender_is_forgotten_when_the_table_is_full() {
        let key = Key::derive(b"k").unwrap();
        let mut b = sealer(b"k", 2);
        let mut first = Sealer::new(Some(&key), sender("first", 1, 1));
        let replay = first.seal(b"x");
        assert!(b.open(&replay).is_ok());
        for n in 0..MAX_SENDERS {
            let mut other = Sealer::new(Some(&key), sender(&format!("n{n}"), 1, 1));
            assert!(b.open(&other.seal(b"y")).is_ok());
        }
        assert_eq!(b.windows.len(), MAX_SENDERS);
        assert!(!b.windows.contains_key(b"first".as_slice()));
    }

    #[test]
    fn during_a_rotation_the_first_secret_seals_and_every_secret_opens() {
        let old = Key::derive(b"old").unwrap();
        let both = Key::rotation([b"new".as_slice(), b"old".as_slice()]).unwrap();
        let new = Key::derive(b"new").unwrap();
        let mut on_old = Sealer::new(Some(&old), sender("a", 1, 1));
        let mut rotating = Sealer::new(Some(&both), sender("b", 1, 2));
        let mut on_new = Sealer::new(Some(&new), sender("c", 1, 3));
        assert!(rotating.open(&on_old.seal(b"x")).is_ok());
        assert!(rotating.open(&on_new.seal(b"x")).is_ok());
        let sealed = rotating.seal(b"x");
        assert!(on_new.open(&sealed).is_ok(), "sealed with the first secret");
        assert_eq!(on_old.open(&sealed), Err(OpenError::BadKey));
        assert_eq!(both.secrets(), 2);
    }

    #[test]
    fn a_key_file_holds_one_secret_per_line_the_first_sealing() {
        let dir = std::env::temp_dir().join(format!("ferrolb-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("secretkey");
        std::fs::write(&path, "new\n\n  old \n").unwrap();
        assert_eq!(Key::from_file(&path).unwrap(), Key::rotation([b"new".as_slice(), b"old"]).unwrap());
        std::fs::write(&path, "only\n").unwrap();
        assert_eq!(Key::from_file(&path).unwrap(), Key::derive(b"only").unwrap());
        std::fs::write(&path, "\n \n").unwrap();
        assert!(matches!(Key::from_file(&path), Err(KeyError::Empty)));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_key_is_domain_separated_sha256_of_the_trimmed_secret() {
        let mut h = Sha256::new();
        h.update(b"ferrolb-gossip/v1 key\0abc");
        let want: [u8; 32] = h.finalize().into();
        assert_eq!(Key::derive(b"  abc\n").unwrap(), Key(vec![want]));
        assert!(matches!(Key::derive(b" \n"), Err(KeyError::Empty)));
        assert_eq!(format!("{:?}", Key(vec![want])), "Key(..)");
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// Any order of delivery, with any duplicates: each counter is accepted at most
            /// once, and every first delivery within the window of the highest so far is
            /// accepted (checked against a plain set).
            #[test]
            fn the_window_accepts_each_counter_once(deliveries in prop::collection::vec(0u64..3000, 1..400)) {
                let mut w = Window::new(0, deliveries[0], 0);
                let mut accepted = std::collections::BTreeSet::from([deliveries[0]]);
                let mut highest = deliveries[0];
                for (tick, &c) in deliveries.iter().enumerate().skip(1) {
                    let want = !accepted.contains(&c) && (c > highest || highest - c < WINDOW);
                    prop_assert_eq!(w.admit(0, c, tick as u64), want, "counter {}", c);
                    if want {
                        accepted.insert(c);
                        highest = highest.max(c);
                    }
                }
            }

            /// Whatever bytes arrive: an answer, never a panic.
            #[test]
            fn arbitrary_datagrams_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
                let mut b = sealer(b"k", 2);
                let _ = b.open(&bytes);
            }
        }
    }
}
