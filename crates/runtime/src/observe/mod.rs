//! What the process tells about itself: Prometheus metrics under MetalLB's names, and the
//! health endpoints.

pub mod health;
pub mod metrics;
