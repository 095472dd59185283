//! Integration tests: one binary, a module per area.

mod api;
mod bad_input;
mod cli;
mod cluster;
mod common;
mod contract;
mod corpus;
mod edge_cases;
mod equivalence;
mod fuzz_corpus;
mod guide;
mod logs;
mod ml;
mod oracles;
mod parallel;
mod plugins;
mod polyglot;
mod random_access;
mod resume;
mod reverse;
mod streaming;
mod trust;
