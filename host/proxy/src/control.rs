//! The control plane: everything that changes what the data plane runs, kept out of the
//! request path. Nothing here is called by a request; it runs on the control runtime
//! (`portico serve`'s own, not the data-plane workers'), and reaches the data plane only
//! through [`crate::Gateway`]'s reload, deploy and state methods.
//!
//! - [`admin`]: the admin API (`/health`, `/metrics`, `/reload`, `/plugins`, `/cache`),
//!   `admin_traffic`: usage plans and API keys, and `admin_deploy`: deployments, stages,
//!   rollback and canaries; `aws`: the API Gateway REST control plane subset (`/restapis`)
//!   for the AWS CLI, with `aws_methods`: its resources, methods and integrations;
//! - [`reload`]: build-then-commit reloads and the API-key changes that rebuild the snapshot;
//! - [`watch`]: the file watcher that reloads when a configuration file changes;
//! - [`sync`]: the deployment store replicated to every node through Redis (cluster mode).

pub mod admin;
mod admin_deploy;
mod admin_traffic;
pub mod audit;
pub mod auth;
mod aws;
mod aws_methods;
pub mod reload;
pub mod sync;
pub mod watch;
