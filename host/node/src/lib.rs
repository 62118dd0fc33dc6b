//! One node's tenants and what they share: each tenant's head, log, scrape jobs, rule groups
//! and limits (`tenant`), starting and stopping them (`fleet`), replaying and trimming their
//! logs (`storage`), keeping every-sample cursors beside them (`cursors`), applying reloads (`reload`), and the state the web server reads
//! (`state`).

mod cursors;
pub mod fleet;
pub mod reload;
pub mod state;
mod storage;
pub mod tenant;

pub use state::{NodeState, ReloadRequest, StatusInfo, DEFAULT_LOOKBACK, DEFAULT_QUERY_TIMEOUT};
