//! Tests of the `hoist` binary: its output, JSON and exit codes.

mod app;
mod doctor;
mod engine;
mod up;
