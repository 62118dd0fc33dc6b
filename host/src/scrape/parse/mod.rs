//! Parsing of the Prometheus text format 0.0.4 and OpenMetrics text.
