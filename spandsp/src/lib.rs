//! Safe wrappers over libspandsp.
