//! Integration tests for hoist-secrets. Every fake secret is assembled at
//! run time: no file in the repository looks like a real key.

mod classify;
mod corpus;
mod fakes;
mod leaks;
mod props;
mod reader;
mod rules;
