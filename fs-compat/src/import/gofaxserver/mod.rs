//! gofaxserver's tenants, numbers, endpoints and users as faxserver's: [`source::read`]
//! reads its PostgreSQL tables, [`apply::apply`] creates or updates them in the store
//! (matching by tenant name, number, endpoint target and username, so a second run changes
//! nothing), decrypting each password with the `psk` ([`psk`]) so that the store hashes it
//! with argon2 as for any new user.

pub mod apply;
pub mod psk;
pub mod source;

pub use apply::{apply, Report};
pub use source::{read, Source};
