//! The gantry worker agent (being built).

fn main() {}
