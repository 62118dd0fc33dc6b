//! The HTTP server: `/federate`, the Prometheus query and metadata APIs, the plugin admin API,
//! the lifecycle, status and metrics endpoints, and the node's web page (`ui`).
//!
//! `server` accepts connections and routes; each endpoint lives in its own module. Handlers
//! share the node's [`wasmfed_node::NodeState`].

pub mod auth;
pub mod body;
mod client_sans;
pub mod encoding;
pub mod federate;
pub mod metadata;
pub mod metric_metadata;
pub mod plugin_fixture;
pub mod plugins;
pub mod query;
mod rate_limit;
pub mod relabel;
pub mod remote_write;
pub mod request_line;
pub mod rules_api;
pub mod server;
pub mod status;
pub mod targets;
pub mod ui;
mod unverified_client;
pub mod web_config;

pub use server::serve;
pub use web_config::WebGate;
