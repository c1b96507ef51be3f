//! Build script of the two first-party engines (`mapper-vtl`, `validator-jsonschema`): a 64 KiB
//! shadow stack instead of the 32 KiB that `plugins/.cargo/config.toml` gives every plugin. The
//! deepest render the template engine's limits allow (62 nested `#if`, 19 nested macro calls, a
//! body 127 arrays deep) needs more than 32 KiB
//! (`mapping::hostile_templates_and_bodies_through_the_mapper_component`), and the validator
//! walks bodies as deep. Their memory holds hundreds of KiB of data anyway and they run with
//! reused instances, so the larger stack adds nothing to a reset. wasm-ld takes the last
//! `-z stack-size`, and cargo passes this one after the config's.
fn main() {
    println!("cargo::rustc-link-arg=-zstack-size=65536");
}
