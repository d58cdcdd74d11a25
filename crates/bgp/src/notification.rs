//! NOTIFICATION (RFC 4271 §4.5) with the IANA error codes and subcodes, and the shutdown
//! communication of RFC 8203 / RFC 9003.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! | Error code    | Error subcode |   Data (variable)             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! Shutdown communication (RFC 9003 §2), in the data of Cease subcodes 2 and 4:
//!
//! ```text
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! | Error code 6  |    Subcode    |    Length     |     ...       \
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! \                                                               \
//! /                 ... Shutdown Communication ...                /
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use bytes::BufMut;

use crate::error::EncodeError;

macro_rules! subcodes {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $value:literal,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)*
            /// A subcode this implementation does not name, kept as sent.
            Other(u8),
        }

        impl $name {
            pub fn from_u8(value: u8) -> Self {
                match value {
                    $($value => Self::$variant,)*
                    other => Self::Other(other),
                }
            }

            pub fn to_u8(self) -> u8 {
                match self {
                    $(Self::$variant => $value,)*
                    Self::Other(other) => other,
                }
            }
        }
    };
}

subcodes! {
    /// Code 1 subcodes (RFC 4271 §4.5).
    MessageHeaderError {
        Unspecific = 0,
        ConnectionNotSynchronized = 1,
        BadMessageLength = 2,
        BadMessageType = 3,
    }
}

subcodes! {
    /// Code 2 subcodes (RFC 4271 §4.5, RFC 5492, RFC 9234).
    OpenError {
        Unspecific = 0,
        UnsupportedVersionNumber = 1,
        BadPeerAs = 2,
        BadBgpIdentifier = 3,
        UnsupportedOptionalParameter = 4,
        /// Deprecated by RFC 4271 (authentication failure).
        Deprecated5 = 5,
        UnacceptableHoldTime = 6,
        UnsupportedCapability = 7,
        RoleMismatch = 11,
    }
}

subcodes! {
    /// Code 3 subcodes (RFC 4271 §4.5).
    UpdateError {
        Unspecific = 0,
        MalformedAttributeList = 1,
        UnrecognizedWellKnownAttribute = 2,
        MissingWellKnownAttribute = 3,
        AttributeFlagsError = 4,
        AttributeLengthError = 5,
        InvalidOriginAttribute = 6,
        /// Deprecated by RFC 4271 (AS routing loop).
        Deprecated7 = 7,
        InvalidNextHopAttribute = 8,
        OptionalAttributeError = 9,
        InvalidNetworkField = 10,
        MalformedAsPath = 11,
    }
}

subcodes! {
    /// Code 5 subcodes (RFC 6608 §4).
    FsmError {
        Unspecified = 0,
        UnexpectedMessageInOpenSent = 1,
        UnexpectedMessageInOpenConfirm = 2,
        UnexpectedMessageInEstablished = 3,
    }
}

subcodes! {
    /// Code 6 subcodes (RFC 4486 §4, RFC 8538 §3, RFC 9384 §2).
    CeaseSubcode {
        Unspecific = 0,
        MaximumPrefixesReached = 1,
        /// Carries a shutdown communication (RFC 9003).
        AdministrativeShutdown = 2,
        PeerDeconfigured = 3,
        /// Carries a shutdown communication (RFC 9003).
        AdministrativeReset = 4,
        ConnectionRejected = 5,
        OtherConfigurationChange = 6,
        ConnectionCollisionResolution = 7,
        OutOfResources = 8,
        HardReset = 9,
        BfdDown = 10,
    }
}

subcodes! {
    /// Code 7 subcodes (RFC 7313 §5).
    RouteRefreshError {
        Reserved = 0,
        InvalidMessageLength = 1,
    }
}

/// The (code, subcode) of a NOTIFICATION.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    MessageHeader(MessageHeaderError),
    Open(OpenError),
    Update(UpdateError),
    /// Code 4; RFC 4271 defines no subcodes, so the octet is kept as sent.
    HoldTimerExpired(u8),
    Fsm(FsmError),
    Cease(CeaseSubcode),
    RouteRefresh(RouteRefreshError),
    /// A code outside 1..=7, kept as sent.
    Other {
        code: u8,
        subcode: u8,
    },
}

impl ErrorCode {
    pub fn from_octets(code: u8, subcode: u8) -> Self {
        match code {
            1 => Self::MessageHeader(MessageHeaderError::from_u8(subcode)),
            2 => Self::Open(OpenError::from_u8(subcode)),
            3 => Self::Update(UpdateError::from_u8(subcode)),
            4 => Self::HoldTimerExpired(subcode),
            5 => Self::Fsm(FsmError::from_u8(subcode)),
            6 => Self::Cease(CeaseSubcode::from_u8(subcode)),
            7 => Self::RouteRefresh(RouteRefreshError::from_u8(subcode)),
            code => Self::Other { code, subcode },
        }
    }

    pub fn to_octets(self) -> (u8, u8) {
        match self {
            Self::MessageHeader(s) => (1, s.to_u8()),
            Self::Open(s) => (2, s.to_u8()),
            Self::Update(s) => (3, s.to_u8()),
            Self::HoldTimerExpired(s) => (4, s),
            Self::Fsm(s) => (5, s.to_u8()),
            Self::Cease(s) => (6, s.to_u8()),
            Self::RouteRefresh(s) => (7, s.to_u8()),
            Self::Other { code, subcode } => (code, subcode),
        }
    }
}

/// Longest shutdown communication (RFC 9003 §2 raised RFC 8203's 128 to 255).
pub const MAX_SHUTDOWN_MESSAGE_LEN: usize = 255;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub error: ErrorCode,
    /// Kept raw: its meaning depends on the code, and a peer's malformed data must still be
    /// logged rather than fail the decode.
    pub data: Vec<u8>,
}

impl Notification {
    pub fn new(error: ErrorCode, data: Vec<u8>) -> Self {
        Self { error, data }
    }

    /// Cease / Administrative Shutdown with a shutdown communication (RFC 9003), sent when
    /// a peer is de-configured or the speaker stops, so the operator on the other side
    /// sees why.
    pub fn administrative_shutdown(message: &str) -> Result<Self, EncodeError> {
        Self::with_communication(CeaseSubcode::AdministrativeShutdown, message)
    }

    /// Cease / Administrative Reset with a shutdown communication (RFC 9003).
    pub fn administrative_reset(message: &str) -> Result<Self, EncodeError> {
        Self::with_communication(CeaseSubcode::AdministrativeReset, message)
    }

    fn with_communication(subcode: CeaseSubcode, message: &str) -> Result<Self, EncodeError> {
        let len = message.len();
        if len > MAX_SHUTDOWN_MESSAGE_LEN {
            return Err(EncodeError::ShutdownMessageTooLong { length: len });
        }
        let mut data = Vec::with_capacity(1 + len);
        data.push(len as u8);
        data.extend_from_slice(message.as_bytes());
        Ok(Self::new(ErrorCode::Cease(subcode), data))
    }

    /// The shutdown communication of a Cease / Administrative Shutdown or Reset, if the data
    /// holds a well-formed one. RFC 9003 §2 says a malformed one is not an error, so this
    /// returns `None` instead.
    pub fn shutdown_communication(&self) -> Option<&str> {
        if !matches!(
            self.error,
            ErrorCode::Cease(CeaseSubcode::AdministrativeShutdown | CeaseSubcode::AdministrativeReset)
        ) {
            return None;
        }
        let (&len, rest) = self.data.split_first()?;
        let text = rest.get(..usize::from(len))?;
        std::str::from_utf8(text).ok()
    }

    pub(crate) fn decode_body(body: &[u8]) -> Self {
        // The header check guaranteed at least two octets.
        let error = ErrorCode::from_octets(body[0], body[1]);
        Self::new(error, body[2..].to_vec())
    }

    pub(crate) fn encode_body(&self, out: &mut Vec<u8>) {
        let (code, subcode) = self.error.to_octets();
        out.put_u8(code);
        out.put_u8(subcode);
        out.put_slice(&self.data);
    }
}
