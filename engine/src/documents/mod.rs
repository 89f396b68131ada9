//! Document conversion (placeholder until written).
