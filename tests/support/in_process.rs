//! The gateway in the test's own process, on the test's own runtime (any flavour): what
//! `portico serve` wires, minus signals. For the scenarios the binary cannot show: a runtime
//! flavour the binary does not use, or a [`Loader`] other than the file loader.
//!
//! Not part of `support` itself, so the test binaries that do not use it do not link the data
//! plane: include it with `#[path = "support/in_process.rs"] mod in_process;`.
//!
//! [`InProcess::start`] loads `DIR/gateway.yaml` with [`portico_config::load_file`], builds a
//! [`Gateway`] and serves its data plane and admin API on `127.0.0.1:0`; the addresses in the
//! file's `listeners` and `admin` are not used.

use std::net::SocketAddr;
use std::sync::Arc;

use portico_config::Config;
use portico_proxy::{Gateway, Loader};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::support::Dir;

/// A gateway served from this process; stops serving when dropped.
pub struct InProcess {
    pub gw: Arc<Gateway>,
    pub addr: SocketAddr,
    pub admin: SocketAddr,
    stop: watch::Sender<bool>,
}

impl InProcess {
    /// Serves `DIR/gateway.yaml`; reloads re-read it.
    pub async fn start(dir: &Dir) -> Self {
        Self::start_with(dir, |_| {}).await
    }

    /// Like [`InProcess::start`], with `edit` applied to every configuration a reload loads
    /// (after validation, before the gateway builds it): a loader other than the file loader,
    /// such as an embedder's.
    pub async fn start_with(dir: &Dir, edit: impl Fn(&mut Config) + Send + Sync + 'static) -> Self {
        let path = dir.path("gateway.yaml");
        let (mut config, _) = portico_config::load_file(&path)
            .unwrap_or_else(|report| panic!("the first configuration is invalid:\n{report}"));
        // The admin token is generated in the test's directory, not the user's data directory.
        let token_file = dir.path("data/admin-token");
        let token_source = portico_config::admin::AdminToken::Generated(token_file.clone());
        let data_dir = dir.path("data");
        let with_token = move |config: &mut portico_config::Config| {
            config.data_dir = Some(data_dir.clone());
            config.admin = Some(portico_config::admin::Admin {
                address: "127.0.0.1:0".parse().unwrap(),
                token: token_source.clone(),
                tls: None,
            });
        };
        with_token(&mut config);
        let loader: Loader = Box::new(move || {
            let (mut config, warnings) = portico_config::load_file(&path)?;
            edit(&mut config);
            with_token(&mut config);
            Ok((config, warnings))
        });
        let gw = Gateway::new(&config, loader).expect("the gateway starts");
        // Two workers: the data plane's own threads, as `portico serve` runs it.
        let data = portico_proxy::listener::Bound::bind(
            &[portico_config::transport::Listener::plain(
                "127.0.0.1:0".parse().unwrap(),
            )],
            2,
        )
        .expect("bind");
        let admin = TcpListener::bind("127.0.0.1:0").await.expect("bind admin");
        let (addr, admin_addr) = (data.addrs()[0], admin.local_addr().unwrap());
        let token = std::fs::read_to_string(&token_file).expect("the generated admin token");
        super::forget_admin_tokens([addr]);
        super::register_admin_token(admin_addr, &token);
        let (stop, _) = watch::channel(false);
        let stopped = |mut rx: watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        tokio::spawn(portico_proxy::listener::serve(
            Arc::clone(&gw),
            data,
            stopped(stop.subscribe()),
        ));
        tokio::spawn(portico_proxy::control::admin::serve(
            Arc::clone(&gw),
            admin,
            None,
            stopped(stop.subscribe()),
        ));
        Self {
            gw,
            addr,
            admin: admin_addr,
            stop,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn admin_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.admin)
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        super::forget_admin_tokens([self.admin]);
    }
}
