//! The demo configuration, embedded so that `portico serve` works with nothing else installed.
//! The files live in `config/examples/demo/`.

/// The gateway file's name among [`FILES`].
pub const GATEWAY_FILE: &str = "gateway.yaml";

/// Every demo file, by the name the gateway file uses.
pub const FILES: &[(&str, &str)] = &[
    (
        GATEWAY_FILE,
        include_str!("../../../config/examples/demo/gateway.yaml"),
    ),
    (
        "petstore.yaml",
        include_str!("../../../config/examples/demo/petstore.yaml"),
    ),
];
