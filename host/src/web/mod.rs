//! The HTTP server: `/federate` and the lifecycle, status and metrics endpoints.
