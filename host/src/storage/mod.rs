//! Storage: the in-memory head of series, their index and compressed chunks.
