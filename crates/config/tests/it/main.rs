//! hoist-config integration tests.
