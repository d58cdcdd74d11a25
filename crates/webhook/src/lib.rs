//! The validating and conversion webhooks of the metallb.io kinds, as MetalLB's controller
//! serves them (behaviour reference §1.14): same paths, same Service, same certificate Secret.
//!
//! * [`admission`]: pure validation of AdmissionReviews against the whole candidate
//!   configuration;
//! * [`conversion`]: pure BGPPeer v1beta1 <-> v1beta2 ConversionReviews;
//! * [`certs`]: the pure certificate decisions (generate, reuse or renew);
//! * [`rotation`], [`existing`]: the API-server side (Secret, caBundles, listing);
//! * [`server`]: HTTPS with hot-swapped certificates; [`serve`] ties it all together.
#![forbid(unsafe_code)]

pub mod admission;
pub mod conversion;
