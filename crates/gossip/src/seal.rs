//! Datagram sealing: every datagram is authenticated and encrypted with XChaCha20-Poly1305
//! (RFC 8439 ChaCha20-Poly1305 with the extended 192-bit nonce of
//! draft-irtf-cfrg-xchacha), so a speaker with another key can neither read nor forge
//! membership, and nothing is decoded before the tag checks out.
//!
//! Wire format (one UDP datagram):
//!
//! ```text
//! sealed:   0x53 'S' | nonce (24) | ciphertext | tag (16)     AAD = the first byte
//! plain:    0x50 'P' | plaintext                              (no key configured)
//! ```
//!
//! Nonces are a 16-byte per-boot random salt followed by a 64-bit counter, so they never
//! repeat under one key: not across datagrams (counter), restarts or speakers (salt).
//!
//! ferrolb does not interoperate with Go memberlist on the wire (different framing and
//! cipher), so it does not need MetalLB's key quirk (`key = (secret ‖ SHA-256(""))[..32]`,
//! docs/compatibility.md §9.11) either: the key is SHA-256 over a domain label and the secret.
//! The same `secretkey` Secret works for both; Go and Rust speakers just never talk.

use std::path::Path;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};
use thiserror::Error;

const SEALED: u8 = b'S';
const PLAIN: u8 = b'P';
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
const DOMAIN: &[u8] = b"ferrolb-gossip/v1 key\0";

/// The 32-byte cluster key. Its `Debug` never prints the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct Key([u8; 32]);

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
        let secret = secret.trim_ascii();
        if secret.is_empty() {
            return Err(KeyError::Empty);
        }
        let mut hash = Sha256::new();
        hash.update(DOMAIN);
        hash.update(secret);
        Ok(Self(hash.finalize().into()))
    }

    /// Reads and derives the key from a file (`--membership-key-file`).
    pub fn from_file(path: &Path) -> Result<Self, KeyError> {
        let bytes =
            std::fs::read(path).map_err(|source| KeyError::Read { path: path.display().to_string(), source })?;
        Self::derive(&bytes)
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
}

/// Seals outgoing and opens incoming datagrams.
pub(crate) struct Sealer {
    cipher: Option<XChaCha20Poly1305>,
    salt: [u8; 16],
    counter: u64,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer").field("keyed", &self.cipher.is_some()).field("counter", &self.counter).finish()
    }
}

impl Sealer {
    pub(crate) fn new(key: Option<&Key>, salt: [u8; 16]) -> Self {
        Self { cipher: key.map(|k| XChaCha20Poly1305::new(&k.0.into())), salt, counter: 0 }
    }

    pub(crate) fn seal(&mut self, plaintext: &[u8]) -> Vec<u8> {
        let Some(cipher) = &self.cipher else {
            let mut out = Vec::with_capacity(1 + plaintext.len());
            out.push(PLAIN);
            out.extend_from_slice(plaintext);
            return out;
        };
        let mut nonce = [0u8; NONCE_LEN];
        nonce[..16].copy_from_slice(&self.salt);
        nonce[16..].copy_from_slice(&self.counter.to_be_bytes());
        self.counter = self.counter.wrapping_add(1);
        let header = [SEALED];
        let sealed = cipher
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: plaintext, aad: &header })
            .expect("XChaCha20-Poly1305 encryption cannot fail for datagram-sized input");
        let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        out.push(SEALED);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    pub(crate) fn open(&self, datagram: &[u8]) -> Result<Vec<u8>, OpenError> {
        let (&kind, rest) = datagram.split_first().ok_or(OpenError::Malformed)?;
        match (kind, &self.cipher) {
            (PLAIN, None) => Ok(rest.to_vec()),
            (SEALED, Some(cipher)) => {
                if rest.len() < NONCE_LEN + TAG_LEN {
                    return Err(OpenError::Malformed);
                }
                let (nonce, sealed) = rest.split_at(NONCE_LEN);
                cipher
                    .decrypt(XNonce::from_slice(nonce), Payload { msg: sealed, aad: &[kind] })
                    .map_err(|_| OpenError::BadKey)
            }
            (PLAIN, Some(_)) | (SEALED, None) => Err(OpenError::BadKey),
            _ => Err(OpenError::Malformed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealer(secret: &[u8], salt: u8) -> Sealer {
        Sealer::new(Some(&Key::derive(secret).unwrap()), [salt; 16])
    }

    #[test]
    fn a_sealed_datagram_opens_under_the_same_key() {
        let mut a = sealer(b"s3cret", 1);
        let b = sealer(b"s3cret\n", 2);
        assert_eq!(b.open(&a.seal(b"hello")).unwrap(), b"hello");
    }

    #[test]
    fn a_datagram_sealed_under_another_key_is_a_bad_key() {
        let mut a = sealer(b"one", 1);
        let b = sealer(b"two", 1);
        assert_eq!(b.open(&a.seal(b"hello")), Err(OpenError::BadKey));
    }

    #[test]
    fn every_flipped_bit_is_a_bad_key() {
        let mut a = sealer(b"k", 1);
        let d = a.seal(b"membership");
        for i in 1..d.len() {
            for bit in 0..8 {
                let mut t = d.clone();
                t[i] ^= 1 << bit;
                assert_eq!(a.open(&t), Err(OpenError::BadKey), "byte {i} bit {bit}");
            }
        }
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
        let mut plain = Sealer::new(None, [0; 16]);
        assert_eq!(plain.open(&keyed.seal(b"x")), Err(OpenError::BadKey));
        assert_eq!(keyed.open(&plain.seal(b"x")), Err(OpenError::BadKey));
        let own = plain.seal(b"x");
        assert_eq!(plain.open(&own).unwrap(), b"x");
    }

    #[test]
    fn truncated_or_unknown_datagrams_are_malformed() {
        let keyed = sealer(b"k", 1);
        assert_eq!(keyed.open(b""), Err(OpenError::Malformed));
        assert_eq!(keyed.open(b"S short"), Err(OpenError::Malformed));
        assert_eq!(keyed.open(b"Xwhatever"), Err(OpenError::Malformed));
    }

    #[test]
    fn the_key_is_domain_separated_sha256_of_the_trimmed_secret() {
        let mut h = Sha256::new();
        h.update(b"ferrolb-gossip/v1 key\0abc");
        let want: [u8; 32] = h.finalize().into();
        assert_eq!(Key::derive(b"  abc\n").unwrap(), Key(want));
        assert!(matches!(Key::derive(b" \n"), Err(KeyError::Empty)));
        assert_eq!(format!("{:?}", Key(want)), "Key(..)");
    }
}
