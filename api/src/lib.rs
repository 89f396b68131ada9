//! REST API of faxserver.
//!
//! This crate will own the axum routers for administrators and tenants (the gofaxserver paths
//! and JSON keys, plus faxserver's own), authentication, JSON errors with stable codes, and the
//! OpenAPI document.
