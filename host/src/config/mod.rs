//! Configuration: Prometheus-compatible YAML.
