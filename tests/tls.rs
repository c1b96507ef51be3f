//! TLS listeners and custom domains, with real clients: `curl` over HTTP/1.1 and HTTP/2,
//! `openssl s_client` for the security policies, and a rustls client counting every request
//! while the certificate rotates.
//!
//! Certificates are made per test with rcgen: a server CA, certificates for each domain, and
//! a client CA with good, expired and foreign client certificates.

use std::net::SocketAddr;
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use serde_json::Value;

use crate::support::*;

/// A certificate authority that issues certificates into a test directory.
pub(crate) struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Ca {
    pub(crate) fn new(name: &str) -> Self {
        Self::from_params(Self::params(name))
    }

    /// A CA valid from `days_from_now.0` to `days_from_now.1` days from now.
    fn valid_for(name: &str, days_from_now: (i64, i64)) -> Self {
        let mut params = Self::params(name);
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now + time::Duration::days(days_from_now.0);
        params.not_after = now + time::Duration::days(days_from_now.1);
        Self::from_params(params)
    }

    fn params(name: &str) -> CertificateParams {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params
    }

    fn from_params(params: CertificateParams) -> Self {
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        Self { issuer }
    }

    pub(crate) fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// Issues a certificate for `names` (the first is also its common name), valid from
    /// `days_from_now.0` to `days_from_now.1` days from now; returns (cert PEM, key PEM).
    fn issue(&self, names: &[&str], days_from_now: (i64, i64)) -> (String, String) {
        let mut params =
            CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
                .unwrap();
        params.distinguished_name.push(DnType::CommonName, names[0]);
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now + time::Duration::days(days_from_now.0);
        params.not_after = now + time::Duration::days(days_from_now.1);
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    /// Issues into `dir` as `NAME.pem` / `NAME.key`.
    pub(crate) fn issue_into(&self, dir: &Dir, file: &str, names: &[&str]) {
        let (cert, key) = self.issue(names, (-1, 30));
        dir.write(&format!("{file}.pem"), &cert);
        dir.write(&format!("{file}.key"), &key);
    }
}

/// A mock API whose `GET /whoami` reports what the gateway knows of the request.
fn whoami_api(extra_root: &str) -> String {
    let template = r#"{"api":"$context.apiId","stage":"$context.stage","domain":"$context.domainName","prefix":"$context.domainPrefix","base":"$context.customDomain.basePathMatched","resource":"$context.resourcePath","path":"$context.path","tls":"$context.tlsVersion","subject":"$context.identity.clientCert.subjectDN","issuer":"$context.identity.clientCert.issuerDN","serial":"$context.identity.clientCert.serialNumber","notAfter":"$context.identity.clientCert.validity.notAfter","notBefore":"$context.identity.clientCert.validity.notBefore","pem":"$util.escapeJavaScript($context.identity.clientCert.clientCertPem)","waf":"$context.wafResponseCode","acl":"$context.webaclArn"}"#;
    format!(
        "openapi: 3.0.1\ninfo: {{title: t, version: '1'}}\n{extra_root}paths:\n{}",
        mock_at("/whoami", "", template)
    )
}

/// `curl` over TLS to `host` (resolved to the gateway), trusting `ca`.
fn curl(ca: &str, tls: SocketAddr, host: &str, path: &str, extra: &[&str]) -> Output {
    let port = tls.port();
    Command::new("curl")
        .args(["-sS", "--max-time", "10", "--cacert", ca])
        .arg("--resolve")
        .arg(format!("{host}:{port}:127.0.0.1"))
        .args(["-w", "\n%{http_code} %{http_version}"])
        .args(extra)
        .arg(format!("https://{host}:{port}{path}"))
        .output()
        .expect("curl (apt-get install curl)")
}

/// `GET path` with curl over TLS to `host`, presenting the client certificate
/// `dir/client-NAME.pem` (and its key).
fn curl_as(dir: &Dir, name: &str, ca: &str, tls: SocketAddr, host: &str, path: &str) -> Output {
    let cert = dir.path(&format!("client-{name}.pem"));
    let key = dir.path(&format!("client-{name}.key"));
    curl(
        ca,
        tls,
        host,
        path,
        &[
            "--cert",
            cert.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
        ],
    )
}

/// Splits curl's output into (JSON body, status, HTTP version).
#[track_caller]
fn answer(out: &Output) -> (Value, u16, String) {
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "curl failed: {}{}",
        text,
        String::from_utf8_lossy(&out.stderr)
    );
    let (body, last) = text.rsplit_once('\n').expect("status line");
    let (status, version) = last.split_once(' ').expect("status and version");
    let body = serde_json::from_str(body).unwrap_or(Value::String(body.to_owned()));
    (body, status.parse().unwrap(), version.to_owned())
}

/// Runs `openssl s_client` against the gateway with `args`; true when the handshake
/// completed with a certificate.
fn s_client(tls: SocketAddr, args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl")
        .arg("s_client")
        .arg("-connect")
        .arg(tls.to_string())
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("openssl (apt-get install openssl)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let ok = text.contains("-----BEGIN CERTIFICATE-----") && out.status.success();
    (ok, text)
}

/// `openssl s_client` over TLS 1.2 to `sni`, presenting the client certificate
/// `dir/client-NAME.pem` (and its key). Over TLS 1.2 the server judges the client certificate
/// inside the handshake, so a refusal fails the client's handshake with the server's alert.
fn s_client_as(dir: &Dir, name: &str, tls: SocketAddr, sni: &str) -> (bool, String) {
    let (cert, key) = (
        dir.path(&format!("client-{name}.pem")),
        dir.path(&format!("client-{name}.key")),
    );
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
    s_client(
        tls,
        &["-servername", sni, "-tls1_2", "-cert", cert, "-key", key],
    )
}

/// The serial number of the certificate the gateway serves for `sni`.
fn served_serial(tls: SocketAddr, sni: &str) -> String {
    let (ok, text) = s_client(tls, &["-servername", sni]);
    assert!(ok, "{text}");
    let start = text.find("-----BEGIN CERTIFICATE-----").unwrap();
    let end = text.find("-----END CERTIFICATE-----").unwrap() + 25;
    let mut x509 = Command::new("openssl")
        .args(["x509", "-noout", "-serial"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    x509.stdin
        .take()
        .unwrap()
        .write_all(&text.as_bytes()[start..end])
        .unwrap();
    let out = x509.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A gateway with a TLS listener (default certificate `default.example.test`), two APIs and
/// the domains in `domains` (YAML for `domains:`).
fn tls_gateway(dir: &Dir, domains: &str, extra: &str) {
    dir.write("shop.yaml", &whoami_api(""));
    dir.write(
        "private.yaml",
        &whoami_api(
            "x-amazon-apigateway-endpoint-configuration:\n  disableExecuteApiEndpoint: true\n",
        ),
    );
    dir.write(
        "gateway.yaml",
        &format!(
            r#"listeners:
  - address: 127.0.0.1:0
  - address: 127.0.0.1:0
    tls:
      certificate: default.pem
      key: default.key
admin:
  address: 127.0.0.1:0
reload:
  poll_interval_ms: 100
{extra}apis:
  - name: shop
    spec: shop.yaml
    stages:
      prod: {{}}
      beta: {{}}
  - name: private
    spec: private.yaml
    hosts: [private.internal]
    stages:
      prod: {{}}
domains:
{domains}"#
        ),
    );
}

const DOMAINS: &str = r#"  - name: shop.example.test
    certificate: shop.pem
    key: shop.key
    base_path_mappings:
      - {base_path: "(none)", api: shop, stage: prod}
      - {base_path: v2/beta, api: shop, stage: beta}
      - {base_path: private, api: private, stage: prod}
  - name: "*.tenants.example.test"
    certificate: tenants.pem
    key: tenants.key
    base_path_mappings:
      - {base_path: t, api: shop, stage: beta}
  - name: strict.example.test
    certificate: strict.pem
    key: strict.key
    security_policy: SecurityPolicy_TLS13_1_3_2025_09
    endpoint_access_mode: STRICT
    base_path_mappings:
      - {api: shop, stage: prod}
"#;

/// Writes the server CA and every domain certificate.
fn server_certs(dir: &Dir) -> Ca {
    let ca = Ca::new("Portico Test Server CA");
    dir.write("server-ca.pem", &ca.pem());
    ca.issue_into(dir, "default", &["default.example.test"]);
    ca.issue_into(dir, "shop", &["shop.example.test"]);
    ca.issue_into(dir, "tenants", &["*.tenants.example.test"]);
    ca.issue_into(dir, "strict", &["strict.example.test"]);
    ca
}

#[tokio::test]
async fn domains_by_sni_over_http1_and_http2() {
    let dir = Dir::new();
    let _ca = server_certs(&dir);
    tls_gateway(&dir, DOMAINS, "");
    let gw = Portico::start(&dir);
    let tls = gw.tls_addr.expect("a TLS listener");
    let ca = dir.path("server-ca.pem");
    let ca = ca.to_str().unwrap();

    for (flag, version) in [("--http1.1", "1.1"), ("--http2", "2")] {
        // The exact domain: (none) maps to shop/prod; curl verifies the certificate against
        // the CA, so the SNI chose the right one.
        let (body, status, v) = answer(&curl(ca, tls, "shop.example.test", "/whoami", &[flag]));
        assert_eq!((status, v.as_str()), (200, version), "{body}");
        assert_eq!(body["api"], "shop");
        assert_eq!(body["stage"], "prod");
        assert_eq!(body["domain"], "shop.example.test");
        assert_eq!(body["prefix"], "shop");
        assert_eq!(body["base"], "(none)");
        assert_eq!(body["resource"], "/whoami");
        assert_eq!(body["tls"], "TLSv1.3");

        // A multi-level base path reaches the other stage; the longest mapping wins.
        let (body, status, _) = answer(&curl(
            ca,
            tls,
            "shop.example.test",
            "/v2/beta/whoami",
            &[flag],
        ));
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            (&body["stage"], &body["base"]),
            (&"beta".into(), &"v2/beta".into())
        );
        assert_eq!(body["path"], "/v2/beta/whoami");

        // The wildcard covers one label, with its own certificate.
        let (body, status, _) = answer(&curl(
            ca,
            tls,
            "acme.tenants.example.test",
            "/t/whoami",
            &[flag],
        ));
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["stage"], "beta");
        assert_eq!(body["prefix"], "acme");
        assert_eq!(body["base"], "t");
    }

    // A path no base path matches falls to the (none) mapping, whose API has no such resource.
    let (body, status, _) = answer(&curl(ca, tls, "shop.example.test", "/v2/whoami", &[]));
    assert_eq!(status, 403);
    assert_eq!(
        body,
        serde_json::json!({"message": "Missing Authentication Token"})
    );
    // On a domain without a (none) mapping, an unmapped base path is 403 Forbidden, as API
    // Gateway answers.
    let (body, status, _) = answer(&curl(ca, tls, "acme.tenants.example.test", "/whoami", &[]));
    assert_eq!(status, 403);
    assert_eq!(body, serde_json::json!({"message": "Forbidden"}));

    // The execute-api style endpoint still serves `shop` by stage segment, over TLS with the
    // listener's default certificate (no SNI: an IP address).
    let out = Command::new("curl")
        .args(["-sS", "-k", "--max-time", "10"])
        .arg(format!("https://127.0.0.1:{}/prod/whoami", tls.port()))
        .output()
        .unwrap();
    let body: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(body["api"], "shop");
    assert_eq!(body["base"], "");
    let (ok, text) = s_client(tls, &["-noservername"]);
    assert!(ok, "{text}");
    assert!(text.contains("CN = default.example.test"), "{text}");

    // disableExecuteApiEndpoint: the API's own host answers 403, its domain mapping serves.
    let direct = send(
        "GET",
        &gw.url("/prod/whoami"),
        &[("host", "private.internal")],
        "",
    )
    .await;
    assert_gateway_error(
        &direct,
        403,
        r#"{"message":"Forbidden"}"#,
        "ForbiddenException",
    );
    let (body, status, _) = answer(&curl(ca, tls, "shop.example.test", "/private/whoami", &[]));
    assert_eq!((status, &body["api"]), (200, &"private".into()), "{body}");
}

#[tokio::test]
async fn security_policies_and_strict_access_mode() {
    let dir = Dir::new();
    let _ca = server_certs(&dir);
    tls_gateway(&dir, DOMAINS, "");
    let gw = Portico::start(&dir);
    let tls = gw.tls_addr.expect("a TLS listener");
    let ca = dir.path("server-ca.pem");
    let ca = ca.to_str().unwrap();

    // TLS 1.1 is never offered; TLS_1_2 takes 1.2 and 1.3; the 2025 TLS 1.3 policy only 1.3.
    let (ok, text) = s_client(
        tls,
        &[
            "-servername",
            "shop.example.test",
            "-tls1_1",
            "-cipher",
            "DEFAULT@SECLEVEL=0",
        ],
    );
    assert!(!ok, "TLS 1.1 must be refused: {text}");
    for (sni, flag, accepted) in [
        ("shop.example.test", "-tls1_2", true),
        ("shop.example.test", "-tls1_3", true),
        ("strict.example.test", "-tls1_2", false),
        ("strict.example.test", "-tls1_3", true),
    ] {
        let (ok, text) = s_client(tls, &["-servername", sni, flag]);
        assert_eq!(ok, accepted, "{sni} {flag}: {text}");
        if accepted {
            let protocol = if flag == "-tls1_2" {
                "TLSv1.2"
            } else {
                "TLSv1.3"
            };
            assert!(text.contains(protocol), "{text}");
        }
    }

    // STRICT: the SNI must name the Host. Same SNI and Host: served.
    let (body, status, _) = answer(&curl(ca, tls, "strict.example.test", "/whoami", &[]));
    assert_eq!(
        (status, &body["domain"]),
        (200, &"strict.example.test".into())
    );
    // Another domain's SNI, the strict domain's Host: 421.
    let (body, status, _) = answer(&curl(
        ca,
        tls,
        "shop.example.test",
        "/whoami",
        &["-H", "Host: strict.example.test"],
    ));
    assert_eq!(status, 421, "{body}");
    assert_eq!(body, serde_json::json!({"message": "Misdirected Request"}));
    // Cleartext has no SNI at all: 421 too. BASIC domains route on cleartext by Host.
    let plain = send(
        "GET",
        &gw.url("/whoami"),
        &[("host", "strict.example.test")],
        "",
    )
    .await;
    assert_eq!(plain.status, 421);
    let plain = send(
        "GET",
        &gw.url("/whoami"),
        &[("host", "shop.example.test")],
        "",
    )
    .await;
    assert_eq!(plain.status, 200, "{}", plain.text());
    assert_eq!(plain.json()["tls"], "");
}

#[tokio::test]
async fn routing_rules_in_every_mode() {
    let dir = Dir::new();
    let _ca = server_certs(&dir);
    let rules = r#"    routing_rules:
      - priority: 10
        conditions:
          - match_headers: {any_of: [{header: X-Version, value_glob: "beta*"}]}
        actions:
          - invoke_api: {api: shop, stage: beta}
      - priority: 20
        conditions:
          - match_headers: {any_of: [{header: Accept, value_glob: "*webp*"}]}
          - match_headers: {any_of: [{header: Pet, value_glob: "Dog-*"}, {header: Pet, value_glob: "Cat-*"}]}
          - match_base_paths: {any_of: [shopper]}
        actions:
          - invoke_api: {api: private, stage: prod, strip_base_path: true}
"#;
    let domains = format!(
        r#"  - name: rules.example.test
    certificate: shop.pem
    key: shop.key
    routing_mode: ROUTING_RULE_ONLY
{rules}  - name: both.example.test
    certificate: shop.pem
    key: shop.key
    routing_mode: ROUTING_RULE_THEN_API_MAPPING
{rules}    base_path_mappings:
      - {{api: shop, stage: prod}}
  - name: mappings.example.test
    certificate: shop.pem
    key: shop.key
    routing_mode: API_MAPPING_ONLY
{rules}    base_path_mappings:
      - {{api: shop, stage: prod}}
"#
    );
    tls_gateway(&dir, &domains, "");
    let gw = Portico::start(&dir);
    let get =
        |host: &'static str, path: &'static str, headers: Vec<(&'static str, &'static str)>| {
            let url = gw.url(path);
            async move {
                let mut all = vec![("host", host)];
                all.extend(headers);
                send("GET", &url, &all, "").await
            }
        };
    for host in ["rules.example.test", "both.example.test"] {
        // Rule 10: the header glob (name case-insensitive, value case-sensitive).
        let r = get(host, "/whoami", vec![("x-version", "beta-7")]).await;
        assert_eq!(
            (r.status.as_u16(), r.json()["stage"].as_str()),
            (200, Some("beta"))
        );
        assert_eq!(r.json()["base"], "(none)");
        // Rule 20: every condition holds; its base path is stripped.
        let r = get(
            host,
            "/shopper/whoami",
            vec![("accept", "image/webp"), ("pet", "Cat-Tom")],
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(
            (r.json()["api"].as_str(), r.json()["base"].as_str()),
            (Some("private"), Some("shopper"))
        );
        // Both rules match: the lower priority value wins, and evaluation stops there.
        let r = get(
            host,
            "/whoami",
            vec![
                ("x-version", "beta"),
                ("accept", "image/webp"),
                ("pet", "Dog-Rex"),
            ],
        )
        .await;
        assert_eq!(r.json()["stage"], "beta");
    }
    // No rule matches: ROUTING_RULE_ONLY refuses, ROUTING_RULE_THEN_API_MAPPING falls back to
    // the mapping.
    let r = get("rules.example.test", "/whoami", vec![("x-version", "Beta")]).await;
    assert_gateway_error(&r, 403, r#"{"message":"Forbidden"}"#, "ForbiddenException");
    let r = get("both.example.test", "/whoami", vec![("x-version", "Beta")]).await;
    assert_eq!(
        (r.status.as_u16(), r.json()["stage"].as_str()),
        (200, Some("prod"))
    );
    // A rule's base path is a whole segment: `/shopperX` does not match `shopper`.
    let r = get(
        "rules.example.test",
        "/shopperX/whoami",
        vec![("accept", "image/webp"), ("pet", "Cat-Tom")],
    )
    .await;
    assert_eq!(r.status, 403);
    // API_MAPPING_ONLY never evaluates rules (and `check` warns that they are unused).
    let r = get(
        "mappings.example.test",
        "/whoami",
        vec![("x-version", "beta")],
    )
    .await;
    assert_eq!(r.json()["stage"], "prod");
    let text = check(&dir).text();
    assert!(
        text.contains("domains[2].routing_rules: warning: routing_mode is API_MAPPING_ONLY"),
        "{text}"
    );
}

#[tokio::test]
async fn mutual_tls_refuses_bad_client_certificates_in_the_handshake() {
    let dir = Dir::new();
    let server = server_certs(&dir);
    server.issue_into(&dir, "mtls", &["mtls.example.test"]);
    let clients = Ca::new("Portico Test Client CA");
    dir.write("truststore.pem", &clients.pem());
    let (good, good_key) = clients.issue(&["alice"], (-1, 30));
    let (expired, expired_key) = clients.issue(&["bob"], (-30, -1));
    let (foreign, foreign_key) = Ca::new("Somebody Else").issue(&["mallory"], (-1, 30));
    for (name, (cert, key)) in [
        ("good", (&good, &good_key)),
        ("expired", (&expired, &expired_key)),
        ("foreign", (&foreign, &foreign_key)),
    ] {
        dir.write(&format!("client-{name}.pem"), cert);
        dir.write(&format!("client-{name}.key"), key);
    }
    let domains = format!(
        "{DOMAINS}  - name: mtls.example.test\n    certificate: mtls.pem\n    key: mtls.key\n    mutual_tls:\n      truststore: truststore.pem\n    base_path_mappings:\n      - {{api: shop, stage: prod}}\n"
    );
    tls_gateway(&dir, &domains, "");
    let gw = Portico::start(&dir);
    let tls = gw.tls_addr.expect("a TLS listener");
    let ca = dir.path("server-ca.pem");
    let ca = ca.to_str().unwrap();
    let with = |name: &str| curl_as(&dir, name, ca, tls, "mtls.example.test", "/whoami");

    let (body, status, _) = answer(&with("good"));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["subject"], "CN=alice");
    assert_eq!(body["issuer"], "CN=Portico Test Client CA");
    assert!(
        body["serial"].as_str().is_some_and(|s| s.contains(':')),
        "{body}"
    );
    for field in ["notAfter", "notBefore"] {
        assert!(
            body[field].as_str().is_some_and(|s| s.ends_with(" GMT")),
            "{field}: {body}"
        );
    }
    // The certificate the client presented, as PEM.
    assert_eq!(
        body["pem"].as_str().map(str::trim),
        Some(good.trim()),
        "{body}"
    );
    // No web ACL: the WAF variables are empty, as on AWS without one.
    assert_eq!(
        (&body["waf"], &body["acl"]),
        (&"".into(), &"".into()),
        "{body}"
    );

    // No certificate, an expired one, one from another CA: the handshake fails, no HTTP
    // answer at all.
    for out in [
        curl(ca, tls, "mtls.example.test", "/whoami", &[]),
        with("expired"),
        with("foreign"),
    ] {
        assert!(
            !out.status.success(),
            "must be refused: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    // The same four cases with `openssl s_client`, over TLS 1.2 (where the server judges the
    // client certificate inside the handshake, so a refusal fails the client's handshake).
    let client = |name: &str| s_client_as(&dir, name, tls, "mtls.example.test");
    let (ok, text) = client("good");
    assert!(ok, "a good certificate: {text}");
    for name in ["expired", "foreign"] {
        let (ok, text) = client(name);
        assert!(!ok, "{name} must be refused: {text}");
    }
    let (ok, text) = s_client(tls, &["-servername", "mtls.example.test", "-tls1_2"]);
    assert!(!ok, "no certificate must be refused: {text}");

    // Another domain's SNI (no certificate asked) with the mTLS domain's Host: 403, not a
    // way around the check.
    let (body, status, _) = answer(&curl(
        ca,
        tls,
        "shop.example.test",
        "/whoami",
        &["-H", "Host: mtls.example.test"],
    ));
    assert_eq!(status, 403, "{body}");
    // Cleartext cannot reach it either.
    let plain = send(
        "GET",
        &gw.url("/whoami"),
        &[("host", "mtls.example.test")],
        "",
    )
    .await;
    assert_eq!(plain.status, 403);
}

/// What the authorizer routes answer: what `authorizer-mtls` put in `$context.authorizer`,
/// beside what the gateway itself knows of the certificate.
const AUTHORIZED_TEMPLATE: &str = r#"{"principal":"$context.authorizer.principalId","subject":"$context.authorizer.subjectDN","issuer":"$context.authorizer.issuerDN","serial":"$context.authorizer.serialNumber","notAfter":"$context.authorizer.notAfter","certSerial":"$context.identity.clientCert.serialNumber"}"#;

#[tokio::test]
async fn mutual_tls_client_certificate_reaches_the_authorizer() {
    let dir = Dir::new();
    let server = server_certs(&dir);
    server.issue_into(&dir, "mtls", &["mtls.example.test"]);
    let clients = Ca::new("Portico Test Client CA");
    dir.write("truststore.pem", &clients.pem());
    for name in ["alice", "carol"] {
        clients.issue_into(&dir, &format!("client-{name}"), &[name]);
    }
    let domains = format!(
        "{DOMAINS}  - name: mtls.example.test\n    certificate: mtls.pem\n    key: mtls.key\n    mutual_tls:\n      truststore: truststore.pem\n    base_path_mappings:\n      - {{api: shop, stage: prod}}\n"
    );
    let plugins = format!(
        "plugins:\n  - name: mtls\n    kind: authorizer\n    file: {}\n",
        component("authorizer-mtls").display()
    );
    tls_gateway(&dir, &domains, &plugins);
    // The shop API, now behind two REQUEST authorizers served by `authorizer-mtls`: one
    // uncached, one caching per certificate (its identity source is the serial number).
    dir.write(
        "shop.yaml",
        &format!(
            "openapi: 3.0.1\ninfo: {{title: t, version: '1'}}\ncomponents:\n  securitySchemes:\n{}{}paths:\n{}{}",
            lambda_authorizer_scheme("mtls", "request", "mtls", 0, ""),
            lambda_authorizer_scheme(
                "mtlsCached",
                "request",
                "mtls",
                300,
                "        identitySource: context.identity.clientCert.serialNumber\n"
            ),
            mock_at("/whoami", "mtls: []", AUTHORIZED_TEMPLATE),
            mock_at("/cached", "mtlsCached: []", AUTHORIZED_TEMPLATE),
        ),
    );
    let gw = Portico::start(&dir);
    let tls = gw.tls_addr.expect("a TLS listener");
    let ca = dir.path("server-ca.pem");
    let ca = ca.to_str().unwrap();
    let as_client = |name: &str, path: &str| {
        let cert = dir.path(&format!("client-{name}.pem"));
        let key = dir.path(&format!("client-{name}.key"));
        answer(&curl(
            ca,
            tls,
            "mtls.example.test",
            path,
            &[
                "--cert",
                cert.to_str().unwrap(),
                "--key",
                key.to_str().unwrap(),
            ],
        ))
    };

    // A good certificate: the authorizer read it through request-tls and allowed the request
    // as its subject; the serial it saw is the one `$context.identity.clientCert` shows.
    let (alice, status, _) = as_client("alice", "/whoami");
    assert_eq!(status, 200, "{alice}");
    assert_eq!(alice["principal"], "CN=alice");
    assert_eq!(alice["subject"], "CN=alice");
    assert_eq!(alice["issuer"], "CN=Portico Test Client CA");
    let serial = alice["serial"].as_str().unwrap();
    assert!(serial.contains(':'), "{alice}");
    assert_eq!(alice["certSerial"], serial);
    assert!(
        alice["notAfter"]
            .as_str()
            .is_some_and(|s| s.ends_with(" GMT")),
        "{alice}"
    );
    // Another certificate gets its own answer.
    let (carol, status, _) = as_client("carol", "/whoami");
    assert_eq!(status, 200, "{carol}");
    assert_eq!(carol["subject"], "CN=carol");
    assert_ne!(carol["serial"], serial);

    // Cached per certificate: each client keeps seeing its own subject.
    for _ in 0..2 {
        for (name, expected) in [("alice", &alice), ("carol", &carol)] {
            let (body, status, _) = as_client(name, "/cached");
            assert_eq!(status, 200, "{body}");
            assert_eq!(body["subject"], expected["subject"], "{name}");
            assert_eq!(body["serial"], expected["serial"], "{name}");
        }
    }

    // A domain without mutual TLS: the authorizer is called and sees no certificate (its
    // forbidden message), and the cached one is never called (its identity source is empty).
    let (body, status, _) = answer(&curl(ca, tls, "shop.example.test", "/whoami", &[]));
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["Message"], "no client certificate", "{body}");
    let (body, status, _) = answer(&curl(ca, tls, "shop.example.test", "/cached", &[]));
    assert_eq!(status, 401, "{body}");
    // A client certificate offered where none is asked for is not seen either.
    let cert = dir.path("client-alice.pem");
    let key = dir.path("client-alice.key");
    let (body, status, _) = answer(&curl(
        ca,
        tls,
        "shop.example.test",
        "/whoami",
        &[
            "--cert",
            cert.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
        ],
    ));
    assert_eq!(status, 403, "{body}");
}

type Sender = hyper::client::conn::http1::SendRequest<http_body_util::Empty<bytes::Bytes>>;

/// A TLS client trusting `ca_pem` that sends `GET path` to `host` on a new connection.
async fn tls_get(ca_pem: &str, tls: SocketAddr, host: &str, path: &str) -> Result<u16, String> {
    let mut sender = tls_connection(ca_pem, tls, host).await?;
    get_on(&mut sender, host, path).await
}

/// A new HTTP/1.1 connection over TLS to `host` (SNI), trusting `ca_pem`; kept alive.
async fn tls_connection(ca_pem: &str, tls: SocketAddr, host: &str) -> Result<Sender, String> {
    tls_connection_as(ca_pem, tls, host, None).await
}

/// [`tls_connection`], presenting `identity` (certificate and key PEM) when given.
async fn tls_connection_as(
    ca_pem: &str,
    tls: SocketAddr,
    host: &str,
    identity: Option<(&str, &str)>,
) -> Result<Sender, String> {
    use rustls::pki_types::pem::PemObject as _;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots
            .add(cert.map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    }
    let config = rustls::ClientConfig::builder().with_root_certificates(roots);
    let config = match identity {
        None => config.with_no_client_auth(),
        Some((cert, key)) => {
            let chain = rustls::pki_types::CertificateDer::pem_slice_iter(cert.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| e.to_string())?;
            let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(key.as_bytes())
                .map_err(|e| e.to_string())?;
            config
                .with_client_auth_cert(chain, key)
                .map_err(|e| e.to_string())?
        }
    };
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(tls)
        .await
        .map_err(|e| e.to_string())?;
    let name =
        rustls::pki_types::ServerName::try_from(host.to_owned()).map_err(|e| e.to_string())?;
    let stream = connector
        .connect(name, tcp)
        .await
        .map_err(|e| e.to_string())?;
    let (sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    Ok(sender)
}

/// `GET path` with `Host: host` on an open connection; its status.
async fn get_on(sender: &mut Sender, host: &str, path: &str) -> Result<u16, String> {
    sender.ready().await.map_err(|e| e.to_string())?;
    let req = http::Request::get(path)
        .header("host", host)
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .unwrap();
    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    // Read to the end, so the connection can carry the next request.
    use http_body_util::BodyExt as _;
    resp.into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?;
    Ok(status)
}

#[tokio::test]
async fn certificates_rotate_under_load_and_a_bad_one_is_refused() {
    let dir = Dir::new();
    let ca = server_certs(&dir);
    tls_gateway(&dir, DOMAINS, "");
    let gw = Portico::start(&dir);
    let tls = gw.tls_addr.expect("a TLS listener");
    let ca_pem = ca.pem();
    let before = served_serial(tls, "shop.example.test");

    // Clients open a new TLS connection per request for the whole rotation.
    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut clients = Vec::new();
    for _ in 0..4 {
        let (stop, ok, failed, ca_pem) = (stop.clone(), ok.clone(), failed.clone(), ca_pem.clone());
        clients.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                match tls_get(&ca_pem, tls, "shop.example.test", "/whoami").await {
                    Ok(200) => {
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                    other => failed.lock().unwrap().push(format!("{other:?}")),
                }
            }
        }));
    }
    // And one client keeps a single connection, opened before the rotation, for all of it:
    // the rotation must not drop it.
    let kept = {
        let (stop, ca_pem) = (stop.clone(), ca_pem.clone());
        tokio::spawn(async move {
            let mut conn = tls_connection(&ca_pem, tls, "shop.example.test")
                .await
                .expect("a connection");
            let mut served = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let status = get_on(&mut conn, "shop.example.test", "/whoami").await;
                assert_eq!(
                    status,
                    Ok(200),
                    "after {served} requests on the kept connection"
                );
                served += 1;
            }
            served
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    ca.issue_into(&dir, "shop", &["shop.example.test"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut after = before.clone();
    while after == before && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        after = served_serial(tls, "shop.example.test");
    }
    assert_ne!(after, before, "the rotated certificate is served");
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.await.unwrap();
    }
    let on_one_connection = kept.await.unwrap();
    assert!(
        on_one_connection > 5,
        "{on_one_connection} requests on the kept connection"
    );
    assert!(
        failed.lock().unwrap().is_empty(),
        "{:?}",
        failed.lock().unwrap()
    );
    assert!(
        ok.load(Ordering::Relaxed) > 20,
        "{} requests",
        ok.load(Ordering::Relaxed)
    );

    // A broken certificate file: the reload is refused, the last good certificate serves.
    dir.write(
        "shop.pem",
        "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n",
    );
    let reply = send("POST", &gw.admin_url("/reload"), &[], "").await;
    assert!(
        reply.status.is_client_error() || reply.status.is_server_error(),
        "{}",
        reply.text()
    );
    assert!(reply.text().contains("shop.pem"), "{}", reply.text());
    assert_eq!(served_serial(tls, "shop.example.test"), after);
    assert_eq!(
        tls_get(&ca_pem, tls, "shop.example.test", "/whoami").await,
        Ok(200)
    );

    // The file watcher sees the broken file too and refuses it: wait for that, so that its
    // reload cannot read the files below halfway through their rewrite.
    let deadline = Instant::now() + Duration::from_secs(10);
    while gw
        .stderr
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.contains("not a PEM certificate chain"))
        .count()
        < 2
    {
        assert!(
            Instant::now() < deadline,
            "the watcher did not refuse the broken file"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // The sockets are bound at start: a reload that turns the TLS listener into a cleartext
    // one is refused, and TLS keeps serving.
    let file = std::fs::read_to_string(dir.path("gateway.yaml")).unwrap();
    let plain = file.replace(
        "    tls:\n      certificate: default.pem\n      key: default.key\n",
        "",
    );
    assert_ne!(plain, file);
    dir.write("gateway.yaml", &plain);
    ca.issue_into(&dir, "shop", &["shop.example.test"]);
    let reply = send("POST", &gw.admin_url("/reload"), &[], "").await;
    assert!(reply.text().contains("fixed at start"), "{}", reply.text());
    assert_eq!(served_serial(tls, "shop.example.test"), after);
    assert_eq!(
        tls_get(&ca_pem, tls, "shop.example.test", "/whoami").await,
        Ok(200)
    );
}

#[tokio::test]
async fn handshakes_are_bounded_in_time() {
    let dir = Dir::new();
    let _ca = server_certs(&dir);
    tls_gateway(&dir, DOMAINS, "limits:\n  tls_handshake_timeout_ms: 300\n");
    let gw = Portico::start(&dir);
    let tls = gw.tls_addr.expect("a TLS listener");
    // A client that connects and never says hello is cut off at the handshake timeout.
    use tokio::io::AsyncReadExt as _;
    let mut idle = tokio::net::TcpStream::connect(tls).await.unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(Duration::from_secs(5), idle.read(&mut buf))
        .await
        .expect("closed by the gateway")
        .unwrap_or(0);
    assert_eq!(n, 0);
    assert!(started.elapsed() >= Duration::from_millis(250));
    // Garbage instead of a ClientHello: closed, and the gateway serves on.
    use tokio::io::AsyncWriteExt as _;
    let mut junk = tokio::net::TcpStream::connect(tls).await.unwrap();
    junk.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let _ = tokio::time::timeout(Duration::from_secs(5), junk.read(&mut buf)).await;
    let metrics = get(&gw.admin_url("/metrics")).await.text();
    let failures = metrics
        .lines()
        .find(|l| l.starts_with("portico_tls_handshake_failures_total"))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0);
    assert!(failures >= 2.0, "{metrics}");
    let ca = dir.path("server-ca.pem");
    let (_, status, _) = answer(&curl(
        ca.to_str().unwrap(),
        tls,
        "shop.example.test",
        "/whoami",
        &[],
    ));
    assert_eq!(status, 200);
}

#[test]
fn check_reports_bad_tls_configuration() {
    let dir = Dir::new();
    let ca = server_certs(&dir);
    let (other_cert, _) = ca.issue(&["other.example.test"], (-1, 30));
    dir.write("mismatch.pem", &other_cert);
    dir.write("empty.pem", "");
    let domains = r#"  - name: a.example.test
    certificate: mismatch.pem
    key: shop.key
  - name: b.example.test
    certificate: missing.pem
    key: shop.key
  - name: c.example.test
    certificate: shop.pem
    key: shop.key
    security_policy: TLS_1_0
  - name: "bad name"
    certificate: shop.pem
    key: shop.key
    mutual_tls:
      truststore: empty.pem
    base_path_mappings:
      - {base_path: /v1, api: nope, stage: prod}
      - {base_path: v2, api: shop, stage: gamma}
    routing_rules:
      - priority: 0
        conditions:
          - match_headers: {any_of: [{header: x, value_glob: "a*b"}]}
        actions: []
"#;
    tls_gateway(&dir, domains, "");
    let out = check(&dir);
    assert!(!out.ok);
    let text = out.text();
    for expected in [
        "domains[0].key: shop.key is not the key of mismatch.pem",
        "domains[1].certificate: cannot read",
        "domains[2].security_policy: TLS_1_0 is refused",
        "domains[3].name: \"bad name\" is not a domain name",
        "domains[3].mutual_tls.truststore: empty.pem holds no CERTIFICATE block",
        "domains[3].base_path_mappings[0].base_path: \"/v1\"",
        "domains[3].base_path_mappings[0]: no API is named \"nope\"",
        "domains[3].base_path_mappings[1]: API shop has no stage \"gamma\"",
        "domains[3].routing_rules[0].priority: must be 1 to 1000000",
        "value_glob: \"a*b\": a * may only stand at the start or the end",
        "domains[3].routing_rules[0].actions: a rule has exactly one action",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}

#[test]
fn check_refuses_bad_routing_rules() {
    let dir = Dir::new();
    server_certs(&dir).issue_into(&dir, "rules", &["rules.example.test"]);
    // One rule on a domain; `conditions` is its condition list (YAML, indented for it).
    let rule = |conditions: &str| {
        let domains = format!(
            r#"  - name: rules.example.test
    certificate: rules.pem
    key: rules.key
    routing_mode: ROUTING_RULE_ONLY
    routing_rules:
      - priority: 10
        conditions:
{conditions}        actions:
          - invoke_api: {{api: shop, stage: prod}}
"#
        );
        tls_gateway(&dir, &domains, "");
    };
    let header = |name: &str| {
        format!("          - match_headers: {{any_of: [{{header: {name}, value_glob: \"v*\"}}]}}\n")
    };
    let base_paths = "          - match_base_paths: {any_of: [orders]}\n";

    // At the limits: two match_headers and one match_base_paths are fine.
    rule(&format!("{}{}{base_paths}", header("x-a"), header("x-b")));
    let out = check(&dir);
    assert!(out.ok, "a rule at the limits is valid: {}", out.text());

    let rules = "gateway.yaml: domains[0].routing_rules[0]";
    for (what, conditions, expected) in [
        (
            "three match_headers",
            format!("{}{}{}", header("x-a"), header("x-b"), header("x-c")),
            format!("{rules}.conditions: a rule may have at most 2 match_headers conditions"),
        ),
        (
            "a condition with both",
            format!(
                "{}          - {{match_headers: {{any_of: [{{header: x-a, value_glob: v1}}]}}, match_base_paths: {{any_of: [orders]}}}}\n",
                header("x-b")
            ),
            format!(
                "{rules}.conditions[1]: a condition holds exactly one of match_headers and match_base_paths"
            ),
        ),
        (
            "a condition with neither",
            format!("{}          - {{}}\n", header("x-a")),
            format!(
                "{rules}.conditions[1]: a condition holds exactly one of match_headers and match_base_paths"
            ),
        ),
        (
            "an empty match_headers any_of",
            "          - match_headers: {any_of: []}\n".to_owned(),
            format!("{rules}.conditions[0].match_headers.any_of: is empty"),
        ),
        (
            "an empty match_base_paths any_of",
            format!(
                "{}          - match_base_paths: {{any_of: []}}\n",
                header("x-a")
            ),
            format!("{rules}.conditions[1].match_base_paths.any_of: is empty"),
        ),
    ] {
        rule(&conditions);
        let out = check(&dir);
        let text = out.text();
        assert!(!out.ok, "{what}: check must fail:\n{text}");
        assert!(
            text.contains(&expected),
            "{what}: missing {expected:?} in:\n{text}"
        );
        let stderr = serve_refuses(&dir);
        assert!(
            stderr.contains(&expected),
            "{what}: serve must name {expected:?}:\n{stderr}"
        );
    }
}

#[tokio::test]
async fn ipv4_and_ipv6_listeners_report_each_clients_address() {
    let dir = Dir::new();
    let ca = Ca::new("Portico Test Server CA");
    ca.issue_into(&dir, "default", &["default.example.test"]);
    dir.write("ca.pem", &ca.pem());
    dir.write(
        "api.yaml",
        &format!(
            "openapi: 3.0.1\ninfo: {{title: t, version: '1'}}\npaths:\n{}",
            mock_at(
                "/ip",
                "",
                r#"{"ip":"$context.identity.sourceIp","protocol":"$context.protocol"}"#
            )
        ),
    );
    dir.write(
        "gateway.yaml",
        r#"listeners:
  - address: 127.0.0.1:0
  - address: "[::1]:0"
  - address: "[::1]:0"
    tls:
      certificate: default.pem
      key: default.key
admin:
  address: 127.0.0.1:0
apis:
  - name: dual
    spec: api.yaml
    stages:
      prod: {}
"#,
    );
    let gw = Portico::start(&dir);
    let plain: Vec<SocketAddr> = gw
        .stdout
        .lock()
        .unwrap()
        .iter()
        .filter_map(|l| l.strip_prefix("listening on http://"))
        .map(|a| a.parse().expect("an address"))
        .collect();
    let v4 = plain
        .iter()
        .find(|a| a.is_ipv4())
        .expect("an IPv4 listener");
    let v6 = plain
        .iter()
        .find(|a| a.is_ipv6())
        .expect("an IPv6 listener");
    let tls6 = gw.tls_addr.expect("the IPv6 TLS listener");
    assert!(tls6.is_ipv6(), "{tls6}");

    let over_v4 = get(&format!("http://{v4}/prod/ip")).await;
    assert_eq!(over_v4.json()["ip"], "127.0.0.1", "{}", over_v4.text());
    let over_v6 = get(&format!("http://{v6}/prod/ip")).await;
    assert_eq!(over_v6.json()["ip"], "::1", "{}", over_v6.text());
    // TLS over IPv6: curl reaches [::1] by name.
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10", "--cacert"])
        .arg(dir.path("ca.pem"))
        .arg("--resolve")
        .arg(format!("default.example.test:{}:[::1]", tls6.port()))
        .arg(format!(
            "https://default.example.test:{}/prod/ip",
            tls6.port()
        ))
        .output()
        .expect("curl");
    let body: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(body["ip"], "::1");
}

/// An HTTPS upstream on 127.0.0.1 with `cert_pem`/`key_pem`, answering every request with
/// its path as JSON; counts the TCP connections it accepts.
async fn https_upstream(cert_pem: &str, key_pem: &str) -> (SocketAddr, Arc<AtomicUsize>) {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<_> = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .map(Result::unwrap)
        .collect();
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).unwrap();
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&accepted);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = hyper::service::service_fn(|req: hyper::Request<_>| async move {
                    let body = format!(r#"{{"path":"{}"}}"#, req.uri().path());
                    Ok::<_, std::convert::Infallible>(hyper::Response::new(
                        http_body_util::Full::new(bytes::Bytes::from(body)),
                    ))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    (addr, accepted)
}

/// An `http_proxy` route to an HTTPS upstream (its certificate for `localhost` from a test
/// CA): verified against the roots the gateway trusts (`SSL_CERT_FILE`, which
/// rustls-native-certs reads instead of the system's), and its connection kept for the next
/// request.
#[tokio::test]
async fn https_upstreams_are_verified_and_their_connections_reused() {
    let ca = Ca::new("Portico Test Upstream CA");
    let (cert, key) = ca.issue(&["localhost"], (-1, 30));
    let (up, accepted) = https_upstream(&cert, &key).await;

    let front = |trusted: &str| {
        let dir = Dir::new();
        dir.write("roots.pem", trusted);
        dir.single_api(
            &proxy_api(&[(
                "/up/{proxy+}",
                "GET",
                &format!("https://localhost:{}/base/{{proxy}}", up.port()),
            )]),
            "      prod: {}\n",
            "workers: 1\n",
        );
        let roots = dir.path("roots.pem");
        let gw = Portico::start_with_env(&dir, &[("SSL_CERT_FILE", roots.to_str().unwrap())]);
        (dir, gw)
    };

    let (_dir, gw) = front(&ca.pem());
    for i in 0..5 {
        let reply = get(&gw.url(&format!("/prod/up/n{i}"))).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        assert_eq!(reply.json()["path"], format!("/base/n{i}"));
    }
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        1,
        "one TLS connection served all five"
    );

    // Another CA's roots: the upstream's certificate is not trusted, and nothing is sent.
    let (_dir, untrusting) = front(&Ca::new("Some Other CA").pem());
    let reply = get(&untrusting.url("/prod/up/n0")).await;
    assert_gateway_error(
        &reply,
        504,
        r#"{"message": "Network error communicating with endpoint"}"#,
        "InternalServerErrorException",
    );
}

/// A truststore bundle of one good CA, one expired CA and one certificate that is not a CA:
/// `portico check` passes with the two bad ones as warnings (AWS's `truststoreWarnings`), the
/// gateway logs them when it starts, and mutual TLS still serves with the good CA.
#[tokio::test]
async fn truststore_warnings_leave_the_good_ca_serving() {
    let dir = Dir::new();
    let server = server_certs(&dir);
    server.issue_into(&dir, "mtls", &["mtls.example.test"]);
    let clients = Ca::new("Portico Test Client CA");
    let expired = Ca::valid_for("Expired Client CA", (-60, -1));
    let (leaf, _) = clients.issue(&["not-a-ca"], (-1, 30));
    dir.write(
        "truststore.pem",
        &format!("{}\n{}\n{leaf}", clients.pem(), expired.pem()),
    );
    clients.issue_into(&dir, "client-alice", &["alice"]);
    Ca::new("Somebody Else").issue_into(&dir, "client-mallory", &["mallory"]);
    let domains = "  - name: mtls.example.test\n    certificate: mtls.pem\n    key: mtls.key\n    mutual_tls:\n      truststore: truststore.pem\n    base_path_mappings:\n      - {api: shop, stage: prod}\n";
    tls_gateway(&dir, domains, "");

    let expired_warning = "domains[0].mutual_tls.truststore: warning: truststore.pem: certificate 1 (CN=Expired Client CA) is outside its validity period";
    let not_ca_warning = "domains[0].mutual_tls.truststore: warning: truststore.pem: certificate 2 (CN=not-a-ca) is not a CA certificate";
    let out = check(&dir);
    let text = out.text();
    assert!(out.ok, "warnings only: {text}");
    for expected in [expired_warning, not_ca_warning, "2 warnings)"] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    assert!(
        !text.contains("certificate 0"),
        "the good CA is fine: {text}"
    );

    let gw = Portico::start(&dir);
    // The same warnings in the gateway's log.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = gw.stderr.lock().unwrap().join("\n");
        let logged = [
            "certificate 1 (CN=Expired Client CA) is outside its validity period",
            "certificate 2 (CN=not-a-ca) is not a CA certificate",
        ]
        .iter()
        .all(|w| log.contains(w));
        if logged {
            break;
        }
        assert!(Instant::now() < deadline, "warnings not logged:\n{log}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let tls = gw.tls_addr.expect("a TLS listener");
    let ca = dir.path("server-ca.pem");
    let ca = ca.to_str().unwrap();
    let with = |name: &str| curl_as(&dir, name, ca, tls, "mtls.example.test", "/whoami");
    // A certificate from the good CA is served, and seen.
    let (body, status, _) = answer(&with("alice"));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["subject"], "CN=alice");
    assert_eq!(body["issuer"], "CN=Portico Test Client CA");
    // The bundle did not become permissive: another CA's certificate, or none, is refused in
    // the handshake.
    for out in [
        with("mallory"),
        curl(ca, tls, "mtls.example.test", "/whoami", &[]),
    ] {
        assert!(
            !out.status.success(),
            "must be refused: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

/// The generation `GET /health` reports: 1 at start, one more per applied reload.
async fn generation(gw: &Portico) -> u64 {
    let health = get(&gw.admin_url("/health")).await;
    assert_eq!(health.status, 200, "{}", health.text());
    health.json()["generation"]
        .as_u64()
        .expect("generation is a number")
}

/// Asserts that the client certificate `dir/client-NAME.pem` is refused in the handshake
/// because its CA is not in `sni`'s truststore: curl gets no HTTP answer, and `openssl
/// s_client` (TLS 1.2, where the alert reliably reaches the client) gets `unknown_ca`.
#[track_caller]
fn assert_unknown_ca(dir: &Dir, name: &str, tls: SocketAddr, sni: &str) {
    let ca = dir.path("server-ca.pem");
    let out = curl_as(dir, name, ca.to_str().unwrap(), tls, sni, "/whoami");
    assert!(
        !out.status.success(),
        "{name} must be refused, got an answer: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let (ok, text) = s_client_as(dir, name, tls, sni);
    assert!(
        !ok && text.contains("alert unknown ca"),
        "{name} must be refused with unknown_ca: {text}"
    );
}

/// Waits until the gateway's log has a line containing `text`.
async fn logged(gw: &Portico, text: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !gw.stderr.lock().unwrap().iter().any(|l| l.contains(text)) {
        assert!(
            Instant::now() < deadline,
            "no log line with {text:?}:\n{}",
            gw.stderr_text()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn truststore_rotates_without_a_restart() {
    let dir = Dir::new();
    let server = server_certs(&dir);
    server.issue_into(&dir, "mtls", &["mtls.example.test"]);
    let (ca_a, ca_b) = (Ca::new("Client CA A"), Ca::new("Client CA B"));
    ca_a.issue_into(&dir, "client-alice", &["alice"]);
    ca_b.issue_into(&dir, "client-bob", &["bob"]);
    dir.write("truststore.pem", &ca_a.pem());
    let domains = "  - name: mtls.example.test\n    certificate: mtls.pem\n    key: mtls.key\n    mutual_tls:\n      truststore: truststore.pem\n    base_path_mappings:\n      - {api: shop, stage: prod}\n";
    tls_gateway(&dir, domains, "");
    let mut gw = Portico::start(&dir);
    let tls = gw.tls_addr.expect("a TLS listener");
    let ca = dir.path("server-ca.pem");
    let ca = ca.to_str().unwrap();
    let with = |name: &str| curl_as(&dir, name, ca, tls, "mtls.example.test", "/whoami");
    #[track_caller]
    fn accepted(out: &Output, subject: &str, issuer: &str) {
        let (body, status, _) = answer(out);
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["subject"], subject, "{body}");
        assert_eq!(body["issuer"], issuer, "{body}");
    }

    // Truststore A: A's client is served, B's is refused in the handshake.
    assert_eq!(generation(&gw).await, 1);
    accepted(&with("alice"), "CN=alice", "CN=Client CA A");
    assert_unknown_ca(&dir, "bob", tls, "mtls.example.test");

    // A connection alice opens now, verified against A, stays open through the rotation.
    let identity = |name: &str| {
        let read = |ext: &str| std::fs::read_to_string(dir.path(&format!("client-{name}.{ext}")));
        (read("pem").unwrap(), read("key").unwrap())
    };
    let (alice_cert, alice_key) = identity("alice");
    let server_ca = std::fs::read_to_string(dir.path("server-ca.pem")).unwrap();
    let mut open = tls_connection_as(
        &server_ca,
        tls,
        "mtls.example.test",
        Some((&alice_cert, &alice_key)),
    )
    .await
    .expect("alice's handshake against truststore A");
    assert_eq!(
        get_on(&mut open, "mtls.example.test", "/whoami").await,
        Ok(200)
    );

    // Truststore B, written in place: the watcher reloads it, and the roles swap.
    dir.write("truststore.pem", &ca_b.pem());
    let deadline = Instant::now() + Duration::from_secs(10);
    while generation(&gw).await == 1 {
        assert!(
            Instant::now() < deadline,
            "the truststore change was not reloaded:\n{}",
            gw.stderr_text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let rotated = generation(&gw).await;
    accepted(&with("bob"), "CN=bob", "CN=Client CA B");
    assert_unknown_ca(&dir, "alice", tls, "mtls.example.test");
    // Alice's open connection was verified against a truststore the domain no longer has:
    // its requests are refused (403), not served on the old trust.
    assert_eq!(
        get_on(&mut open, "mtls.example.test", "/whoami").await,
        Ok(403)
    );
    // The same process all along: a restart would have started again at generation 1.
    assert!(gw.child.try_wait().unwrap().is_none(), "the gateway exited");

    // Broken truststores: each reload is refused with the file and the reason, and truststore
    // B keeps serving. First a PEM block that is not base64, which the loader refuses...
    dir.write(
        "truststore.pem",
        "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n",
    );
    logged(
        &gw,
        "domains[0].mutual_tls.truststore: truststore.pem: not a PEM bundle",
    )
    .await;
    assert_eq!(generation(&gw).await, rotated);
    accepted(&with("bob"), "CN=bob", "CN=Client CA B");
    assert_unknown_ca(&dir, "alice", tls, "mtls.example.test");
    // ...then a well-formed bundle whose one block is no certificate: no usable CA at all.
    use base64::Engine as _;
    let junk = base64::engine::general_purpose::STANDARD.encode(b"no certificate in here");
    dir.write(
        "truststore.pem",
        &format!("-----BEGIN CERTIFICATE-----\n{junk}\n-----END CERTIFICATE-----\n"),
    );
    logged(
        &gw,
        "domains[0].mutual_tls.truststore: truststore.pem holds no usable CA certificate",
    )
    .await;
    assert_eq!(generation(&gw).await, rotated);
    accepted(&with("bob"), "CN=bob", "CN=Client CA B");
    assert_unknown_ca(&dir, "alice", tls, "mtls.example.test");
    assert!(gw.child.try_wait().unwrap().is_none(), "the gateway exited");
}

/// `limits.max_tls_handshakes: 1` on one worker: a client that connects and sends nothing
/// holds the only handshake slot, so the next client's handshake waits (the documented
/// behaviour: waiting for a slot counts against the handshake timeout, set long here), and
/// completes as soon as the silent client is gone. A connection already established is not
/// affected.
#[tokio::test]
async fn a_silent_client_holds_the_only_handshake_slot_until_it_goes() {
    let dir = Dir::new();
    let ca = server_certs(&dir);
    tls_gateway(
        &dir,
        DOMAINS,
        "workers: 1\nlimits:\n  max_tls_handshakes: 1\n  tls_handshake_timeout_ms: 60000\n",
    );
    let gw = Portico::start(&dir);
    let tls = gw.tls_addr.expect("a TLS listener");
    let ca_pem = ca.pem();
    let host = "shop.example.test";

    let mut established = tls_connection(&ca_pem, tls, host).await.unwrap();
    assert_eq!(get_on(&mut established, host, "/whoami").await, Ok(200));

    // The silent client takes the slot (it is accepted before the next one, and the slots
    // are handed out in order).
    let silent = tokio::net::TcpStream::connect(tls).await.unwrap();
    assert_eq!(get_on(&mut established, host, "/whoami").await, Ok(200));
    let ca2 = ca_pem.clone();
    let mut second = tokio::spawn(async move { tls_get(&ca2, tls, host, "/whoami").await });
    assert!(
        tokio::time::timeout(Duration::from_secs(2), &mut second)
            .await
            .is_err(),
        "the second handshake must wait while the silent client holds the slot"
    );
    // Meanwhile the established connection serves on.
    assert_eq!(get_on(&mut established, host, "/whoami").await, Ok(200));

    // The silent client goes: its handshake fails (counted), and the waiting one completes.
    drop(silent);
    let done = tokio::time::timeout(Duration::from_secs(20), second)
        .await
        .expect("served once the slot is free")
        .unwrap();
    assert_eq!(done, Ok(200));
    let metrics = get(&gw.admin_url("/metrics")).await.text();
    let failures = metrics
        .lines()
        .find(|l| l.starts_with("portico_tls_handshake_failures_total"))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0);
    assert_eq!(failures, 1.0, "{metrics}");
}

/// `openssl x509 -noout ARGS` on a PEM certificate; its output.
fn x509(pem: &str, args: &[&str]) -> String {
    use std::io::Write as _;
    let mut child = Command::new("openssl")
        .args(["x509", "-noout"])
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("openssl");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(pem.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The mutual-TLS client certificate reaches Lambda proxy events: payload format 1.0 under
/// `requestContext.identity.clientCert`, 2.0 under `requestContext.authentication.clientCert`,
/// with the presented PEM, the DNs, the serial number and the validity dates; a domain
/// without mutual TLS sends none.
#[tokio::test]
async fn mutual_tls_client_certificate_reaches_lambda_proxy_events() {
    let dir = Dir::new();
    let server = server_certs(&dir);
    server.issue_into(&dir, "mtls", &["mtls.example.test"]);
    let clients = Ca::new("Portico Test Client CA");
    dir.write("truststore.pem", &clients.pem());
    let (alice, alice_key) = clients.issue(&["alice"], (-1, 30));
    dir.write("client-alice.pem", &alice);
    dir.write("client-alice.key", &alice_key);
    let domains = format!(
        "{DOMAINS}  - name: mtls.example.test\n    certificate: mtls.pem\n    key: mtls.key\n    mutual_tls:\n      truststore: truststore.pem\n    base_path_mappings:\n      - {{api: shop, stage: prod}}\n"
    );
    let plugins = format!(
        "plugins:\n  - name: event\n    kind: function\n    file: {}\n",
        component("function-echo").display()
    );
    tls_gateway(&dir, &domains, &plugins);
    let route = |path: &str, format: &str| {
        format!(
            "  {path}:\n    get:\n      x-amazon-apigateway-integration:\n        type: aws_proxy\n        httpMethod: POST\n        payloadFormatVersion: \"{format}\"\n        uri: {LAMBDA}:event/invocations\n"
        )
    };
    dir.write(
        "shop.yaml",
        &format!(
            "openapi: 3.0.1\ninfo: {{title: t, version: '1'}}\npaths:\n{}{}",
            route("/event1", "1.0"),
            route("/event2", "2.0")
        ),
    );
    let gw = Portico::start(&dir);
    let tls = gw.tls_addr.expect("a TLS listener");
    let ca = dir.path("server-ca.pem");
    let ca = ca.to_str().unwrap();
    let cert = dir.path("client-alice.pem");
    let key = dir.path("client-alice.key");
    let event = |host: &str, path: &str, with_cert: bool| {
        let mut extra = vec![];
        if with_cert {
            extra = vec![
                "--cert",
                cert.to_str().unwrap(),
                "--key",
                key.to_str().unwrap(),
            ];
        }
        // function-echo's `event` shape answers with the whole event as its body.
        let path = format!("{path}?shape=event");
        let (body, status, _) = answer(&curl(ca, tls, host, &path, &extra));
        assert_eq!(status, 200, "{body}");
        body
    };

    // Payload format 1.0.
    let v1 = event("mtls.example.test", "/event1", true);
    assert_eq!(v1["resource"], "/event1", "{v1}");
    let client_cert = &v1["requestContext"]["identity"]["clientCert"];
    assert_eq!(
        client_cert["clientCertPem"].as_str().map(str::trim),
        Some(alice.trim()),
        "{v1}"
    );
    assert_eq!(client_cert["subjectDN"], "CN=alice", "{v1}");
    assert_eq!(client_cert["issuerDN"], "CN=Portico Test Client CA", "{v1}");
    // The serial number is the certificate's, colon-separated hex.
    let serial = client_cert["serialNumber"].as_str().unwrap_or_default();
    assert!(serial.contains(':'), "{v1}");
    assert_eq!(
        format!("serial={}", serial.replace(':', "")).to_ascii_uppercase(),
        x509(&alice, &["-serial"]).to_ascii_uppercase(),
        "{v1}"
    );
    // The validity dates are the certificate's, as OpenSSL prints them
    // (`Dec  6 15:13:26 2026 GMT`).
    for (field, flag) in [("notBefore", "-startdate"), ("notAfter", "-enddate")] {
        let shown = client_cert["validity"][field].as_str().unwrap_or_default();
        assert_eq!(format!("{field}={shown}"), x509(&alice, &[flag]), "{v1}");
    }

    // Payload format 2.0: the same certificate under `authentication`.
    let v2 = event("mtls.example.test", "/event2", true);
    assert_eq!(v2["version"], "2.0", "{v2}");
    assert_eq!(
        &v2["requestContext"]["authentication"]["clientCert"], client_cert,
        "{v2}"
    );

    // A domain without mutual TLS: no certificate in either format, even one offered.
    let v1 = event("shop.example.test", "/event1", true);
    assert!(
        v1["requestContext"]["identity"]
            .as_object()
            .is_some_and(|identity| identity["clientCert"].is_null()),
        "{v1}"
    );
    let v2 = event("shop.example.test", "/event2", false);
    assert_eq!(v2["version"], "2.0", "{v2}");
    assert!(
        v2["requestContext"]["authentication"]["clientCert"].is_null(),
        "{v2}"
    );
}
