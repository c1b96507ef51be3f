//! Placeholder; the contended-bucket bench follows.
fn main() {}
