//! Tests of the `hoist` binary: its output, JSON and exit codes.

mod app;
mod config;
mod dev;
mod doctor;
mod engine;
mod interrupt;
mod load;
// hoist mcp (issue 16).
mod mcp;
// Registry bases with credentials and mirrors (issue 15).
mod registry_base;
mod stack_doctor;
mod up;
