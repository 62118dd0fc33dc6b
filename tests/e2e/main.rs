//! End-to-end tests: run the real `wasmfed` binary, test exporters and the real Prometheus on
//! loopback.

mod alerting;
mod bad_input;
mod blocks;
mod blocks_crash;
mod config_corpus;
mod differential;
mod discovery;
mod durability;
mod federate;
mod harness;
mod hotload;
mod metadata;
mod notify;
mod plugins;
mod prometheus;
mod proxy;
mod query_api;
mod relabel_differential;
mod reload;
mod rules;
mod scrape_compat;
mod startup;
mod status;
mod tenants;
mod tls;
