//! The crate's one error type.

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database driver failed (connection, SQL, constraint).
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// Applying the embedded migrations failed.
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A phone number could not be normalised to E.164.
    #[error("invalid number {input:?}: {reason}")]
    InvalidNumber {
        /// The number as given.
        input: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// A value failed validation before reaching the database.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The offending field.
        field: &'static str,
        /// Why it was rejected.
        reason: String,
    },
    /// A unique constraint rejected a duplicate (username, number, gateway name, token).
    #[error("already exists: {0}")]
    Conflict(String),
    /// Hashing a password failed (argon2 parameters or output).
    #[error("password hashing: {0}")]
    PasswordHash(String),
}

/// Result with the store's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Maps a driver error to [`Error::Conflict`] when it is a unique-constraint violation.
    pub(crate) fn from_write(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e {
            if db.is_unique_violation() {
                return Error::Conflict(db.message().to_owned());
            }
        }
        Error::Database(e)
    }
}
