//! Tests of the `hoist` binary: its output, JSON and exit codes.

mod doctor;
