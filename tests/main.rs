//! Integration tests: one binary, a module per area.

mod api;
mod bad_input;
mod cli;
mod cluster;
mod common;
mod contract;
mod corpus;
mod device;
mod edge_cases;
mod equivalence;
mod fuzz_corpus;
// The guide is a shell script, run by bash with symlinks to the checkout and the binary.
#[cfg(unix)]
mod guide;
mod logs;
mod ml;
mod oracles;
mod parallel;
mod plugins;
mod polyglot;
mod random_access;
mod registry;
mod resume;
mod reverse;
mod segments;
mod streaming;
mod trust;
