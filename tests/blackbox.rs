//! The black-box suite: the real `portico` binary (or, for `reload`, the real gateway in
//! process) on 127.0.0.1:0, with real upstreams and real clients. One test binary with a
//! module per area, so wasmtime and the data plane are linked once, not once per file.
//!
//! `cargo test -p portico --test blackbox` runs it all; `... --test blackbox plugins::` one area.

mod support;

mod admin;
mod aws_cli;
mod cache;
mod cli;
mod compression;
mod cors;
mod deploy;
mod deploy_cluster;
mod hostile;
mod http2;
mod http3;
mod http_mapping;
mod mapping;
mod mock;
mod plugins;
mod proxy;
mod reload;
mod routing;
mod stream;
mod tls;
mod traffic;
mod traffic_cluster;
mod validation;
