//! What the process tells about itself: Prometheus metrics under MetalLB's names, and the
//! health endpoints; on the `k8s` source `/metrics` is served over HTTPS to authorized
//! scrapers only.

pub mod health;
pub mod metrics;
pub mod scrape_auth;
pub mod secure_metrics;
