//! `broker`: the real rivvend 0.0.22 server, run in-process exactly like rivvend's own main.rs
//! (`Cli` → `ClusterServer::new` → `start()` in a task → `ShutdownHandle` on a signal).
//!
//! Listeners opened by rivvend 0.0.22 in standalone mode (see cluster_server.rs `start`):
//!   * the client listener on `--bind`                  → 127.0.0.1:<port>
//!   * the Raft/management HTTP API on `--api-bind`       → 127.0.0.1:<api-port or a free port>
//!     (the dashboard shares this listener but is not compiled in: rivvend is built without
//!     its `dashboard` feature; `--no-dashboard` is passed anyway)
//! Declared but never bound in standalone mode, still forced onto loopback so that a later
//! rivvend that does bind them cannot open 0.0.0.0 or a fixed port:
//!   * `--metrics-bind` (metrics are also switched off) → 127.0.0.1:0
//!   * `--cluster-bind` (SWIM/transport, cluster mode only) → 127.0.0.1:0
//!
//! With `--user` the server is rivvend's `SecureServer` instead (see secure.rs for why): it binds
//! only the client listener (`--api-port` is then unused) and gets its settings from the same
//! rivvend `Cli` (bind, data dir, partitions, rate limits, request size, idle timeout).

use anyhow::{anyhow, bail, Context, Result};
use clap::Parser;
use crate::secure::{self, AuthOptions, TlsOptions, UserSpec};
use rivvend::secure_server::SecureServerShutdownHandle;
use rivvend::{Cli, ClusterServer, DeploymentMode, SecureServer, SecureServerConfig};
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};
use tokio::signal::unix::{signal, Signal, SignalKind};

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const READY_TIMEOUT: Duration = Duration::from_secs(60);
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(clap::Args, Debug)]
pub struct BrokerArgs {
    /// Client port on 127.0.0.1 (0 = pick a free one; the READY line tells which).
    #[arg(long)]
    port: u16,

    /// Data directory (created if missing).
    #[arg(long)]
    data_dir: PathBuf,

    /// Port of rivvend's HTTP API on 127.0.0.1 (default or 0: a free port, logged on stderr).
    #[arg(long)]
    api_port: Option<u16>,

    /// Exit (after a graceful shutdown) when stdin reaches EOF, so a dead parent leaves no orphan.
    #[arg(long)]
    exit_on_stdin_eof: bool,

    /// Keep ClusterServer's client authentication ON (default: `--no-require-auth` is passed).
    /// Without --user nobody can log in (rivvend 0.0.22 has no way to create principals).
    #[arg(long)]
    require_auth: bool,

    /// A principal NAME:PASSWORD[:ROLE+ROLE…] (repeatable; roles: admin, producer, consumer,
    /// read-only). Any --user switches to rivvend's SecureServer with authentication required.
    #[arg(long = "user", value_name = "NAME:PASSWORD[:ROLES]", value_parser = secure::parse_user)]
    users: Vec<UserSpec>,

    /// Session lifetime in seconds (rivvend default 3600). Needs --user.
    #[arg(long, value_name = "N", requires = "users")]
    session_timeout_secs: Option<u64>,

    /// Failed PLAIN logins per user before a lockout (rivvend default 5; twice that per client
    /// IP, and every test client is 127.0.0.1). Needs --user.
    #[arg(long, value_name = "N", requires = "users")]
    max_failed_attempts: Option<u32>,

    /// Lockout duration in seconds after too many failed PLAIN logins (rivvend default 300).
    /// Needs --user.
    #[arg(long, value_name = "N", requires = "users")]
    lockout_secs: Option<u64>,

    /// TLS on the client port: server certificate chain (PEM).
    #[arg(long, value_name = "PATH", requires = "tls_key")]
    tls_cert: Option<PathBuf>,

    /// TLS private key (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, value_name = "PATH", requires = "tls_cert")]
    tls_key: Option<PathBuf>,

    /// CA (PEM) that client certificates are verified against; alone, a client certificate is
    /// requested but optional.
    #[arg(long, value_name = "PATH", requires = "tls_cert")]
    tls_ca: Option<PathBuf>,

    /// mTLS: the handshake fails without a client certificate signed by --tls-ca.
    #[arg(long, requires = "tls_ca")]
    require_client_cert: bool,

    /// Extra rivvend arguments, appended after `--`; they replace the harness defaults of the
    /// same name (e.g. `-- --rate-limit-per-ip 5`).
    #[arg(last = true, allow_hyphen_values = true)]
    extra: Vec<String>,
}

impl BrokerArgs {
    fn tls(&self) -> TlsOptions {
        TlsOptions {
            cert: self.tls_cert.clone(),
            key: self.tls_key.clone(),
            ca: self.tls_ca.clone(),
            require_client_cert: self.require_client_cert,
        }
    }

    fn auth_options(&self) -> AuthOptions {
        AuthOptions {
            session_timeout_secs: self.session_timeout_secs,
            max_failed_attempts: self.max_failed_attempts,
            lockout_secs: self.lockout_secs,
        }
    }

    /// `--user` given: rivvend's SecureServer with an injected AuthManager.
    fn secure_server(&self) -> bool {
        !self.users.is_empty()
    }
}

pub fn run(args: BrokerArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("broker: cannot start tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = match runtime.block_on(run_async(args)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("broker: {e:#}");
            1
        }
    };
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // Exit without dropping the runtime: the stdin watcher thread may sit in a blocking read
    // forever, and the server has already flushed its data in its own shutdown path.
    std::process::exit(code);
}

/// The server variant that runs, and how to stop it.
enum Shutdown {
    Cluster(rivvend::ShutdownHandle),
    /// With the server's WAL directory.
    Secure(SecureServerShutdownHandle, PathBuf),
}

impl Shutdown {
    fn trigger(&self) {
        match self {
            Shutdown::Cluster(h) => h.shutdown(),
            Shutdown::Secure(h, _) => h.shutdown(),
        }
    }

    /// After a clean stop. ClusterServer's own shutdown drains connections, flushes, and then
    /// checkpoints its WAL (deletes the *.wal files) so the next start does not replay records
    /// that are already in the segments. SecureServer 0.0.22 only stops accepting: its WAL is
    /// never checkpointed, and a restart on the same data dir replays it on top of the segments,
    /// duplicating every message. Do that last step with rivven-core's own `checkpoint_dir`.
    /// Safe here: segments are written through on every append (`EveryNWrites(1)`: flushed to
    /// the OS, survives our exit), and the process exits right after.
    fn after_clean_stop(&self) {
        if let Shutdown::Secure(_, wal_dir) = self {
            if let Err(e) = rivven_core::GroupCommitWal::checkpoint_dir(wal_dir) {
                eprintln!("broker: WAL checkpoint of {}: {e}", wal_dir.display());
            }
        }
    }
}

type ServerTask = tokio::task::JoinHandle<Result<()>>;

/// Why the broker is stopping.
enum Stop {
    Signal(&'static str),
    StdinEof,
}

pub(crate) struct Signals {
    term: Signal,
    int: Signal,
}

impl Signals {
    pub(crate) fn install() -> Result<Self> {
        Ok(Signals {
            term: signal(SignalKind::terminate()).context("installing SIGTERM handler")?,
            int: signal(SignalKind::interrupt()).context("installing SIGINT handler")?,
        })
    }

    pub(crate) async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
        }
    }
}

async fn run_async(args: BrokerArgs) -> Result<i32> {
    // Handlers first: a SIGTERM during the (possibly slow) WAL recovery must not kill us
    // without a clean exit code.
    let mut signals = Signals::install()?;
    let mut stdin_eof = stdin_eof_watcher(args.exit_on_stdin_eof);

    let port = match args.port {
        0 => free_port().context("picking a free client port")?,
        p => p,
    };
    // rivvend only logs a failed bind from inside its task; check first so we fail loudly and
    // never report READY for somebody else's listener on that port.
    std::net::TcpListener::bind((LOOPBACK, port))
        .with_context(|| format!("client port 127.0.0.1:{port} is not available"))?;
    let api_port = match args.api_port {
        Some(p) if p != 0 => p,
        _ => free_port().context("picking a free API port")?,
    };
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating data dir {}", args.data_dir.display()))?;
    let tls = args.tls();
    tls.check_files()?;
    if tls.enabled() {
        secure::install_crypto_provider();
    }

    let argv = rivvend_argv(&args, port, api_port)?;
    let mut cli = Cli::try_parse_from(&argv).map_err(|e| anyhow!("rivvend arguments: {e}"))?;
    // `--metrics` is a clap SetTrue flag with default "true": the CLI cannot switch it off, the
    // public field can. (rivvend 0.0.22 never binds metrics_bind anyway.)
    cli.metrics = false;
    check_loopback_only(&cli, port)?;
    let tls_desc = match (tls.enabled(), tls.mtls_mode()) {
        (false, _) => "plaintext".to_string(),
        (true, mode) => format!("TLS, client cert {mode:?}"),
    };
    if args.secure_server() {
        eprintln!("broker: rivvend SecureServer, settings from: {}", argv[1..].join(" "));
        eprintln!(
            "broker: client 127.0.0.1:{port} ({tls_desc}, auth required), no HTTP API, data {}",
            args.data_dir.display()
        );
    } else {
        eprintln!("broker: rivvend {}", argv[1..].join(" "));
        eprintln!(
            "broker: client 127.0.0.1:{port} ({tls_desc}, auth {}), api 127.0.0.1:{api_port}, data {}",
            if cli.no_require_auth { "off" } else { "required" },
            args.data_dir.display()
        );
    }

    let (shutdown, mut task) = tokio::select! {
        s = start_server(&args, cli, &tls) => s?,
        name = signals.recv() => {
            eprintln!("broker: {name} during startup, exiting");
            return Ok(0);
        }
    };

    // Readiness: a plain TCP connect to the client port.
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if task.is_finished() {
            let detail = describe_exit(task.await);
            bail!("rivvend stopped before accepting connections: {detail}");
        }
        if tokio::net::TcpStream::connect((LOOPBACK, port))
            .await
            .is_ok()
        {
            break;
        }
        if Instant::now() >= deadline {
            bail!(
                "rivvend did not accept connections on 127.0.0.1:{port} within {READY_TIMEOUT:?}"
            );
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(25)) => {}
            name = signals.recv() => {
                eprintln!("broker: {name} during startup, shutting down");
                stop_server(&shutdown, &mut task, &mut signals).await;
                return Ok(0);
            }
        }
    }
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "READY 127.0.0.1:{port}").context("writing READY")?;
        out.flush().context("flushing stdout")?;
    }

    let stop = tokio::select! {
        name = signals.recv() => Stop::Signal(name),
        _ = &mut stdin_eof => Stop::StdinEof,
        res = &mut task => {
            eprintln!("broker: rivvend stopped unexpectedly: {}", describe_exit(res));
            return Ok(1);
        }
    };
    match stop {
        Stop::Signal(name) => eprintln!("broker: {name}, shutting down"),
        Stop::StdinEof => eprintln!("broker: stdin closed, shutting down"),
    }
    stop_server(&shutdown, &mut task, &mut signals).await;
    Ok(0)
}

/// Builds the server (WAL replay, principals' PBKDF2 hashes, TLS acceptor) and starts it in a task.
async fn start_server(args: &BrokerArgs, cli: Cli, tls: &TlsOptions) -> Result<(Shutdown, ServerTask)> {
    if !args.secure_server() {
        let server = ClusterServer::new(cli)
            .await
            .context("rivvend ClusterServer::new")?;
        let shutdown = Shutdown::Cluster(server.get_shutdown_handle());
        return Ok((shutdown, tokio::spawn(async move { server.start().await })));
    }

    cli.validate()
        .map_err(|e| anyhow!("rivvend configuration: {e}"))?;
    let auth_manager = secure::build_auth_manager(&args.users, &args.auth_options()).await?;
    let config = SecureServerConfig {
        bind_addr: cli.bind,
        tls_config: tls.to_tls_config()?,
        max_connections: cli.max_total_connections as usize,
        max_connections_per_ip: cli.max_connections_per_ip,
        rate_limit_per_ip: cli.rate_limit_per_ip,
        idle_timeout: Duration::from_secs(cli.idle_timeout_secs),
        max_message_size: cli.max_request_size,
        require_auth: true,
        // mTLS → automatic service-account login: off, a client cert is transport security only.
        enable_service_auth: false,
        service_auth_config: None,
        // connection_timeout (TLS handshake): SecureServer's default, 30 s like ClusterServer.
        ..SecureServerConfig::default()
    };
    let server = SecureServer::with_auth_manager(cli.to_core_config(), config, Some(auth_manager))
        .await
        .context("rivvend SecureServer::with_auth_manager")?;
    let wal_dir = args.data_dir.join("wal");
    let shutdown = Shutdown::Secure(server.get_shutdown_handle(), wal_dir);
    Ok((shutdown, tokio::spawn(async move { server.start().await })))
}

/// Triggers rivvend's graceful shutdown and waits up to SHUTDOWN_TIMEOUT (a second signal cuts
/// the wait short). The trigger is a tokio broadcast that only reaches receivers subscribed at
/// send time, and `start()` subscribes as it goes, so it is re-sent until the task ends.
async fn stop_server(shutdown: &Shutdown, task: &mut ServerTask, signals: &mut Signals) {
    let deadline = tokio::time::Instant::now() + SHUTDOWN_TIMEOUT;
    loop {
        shutdown.trigger();
        tokio::select! {
            res = &mut *task => {
                if matches!(res, Ok(Ok(()))) {
                    shutdown.after_clean_stop();
                } else {
                    eprintln!("broker: rivvend shutdown: {}", describe_exit(res));
                }
                return;
            }
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            name = signals.recv() => {
                eprintln!("broker: second {name}, not waiting for rivvend any longer");
                return;
            }
        }
        if tokio::time::Instant::now() >= deadline {
            eprintln!("broker: rivvend did not stop within {SHUTDOWN_TIMEOUT:?}, exiting anyway");
            return;
        }
    }
}

fn describe_exit(res: std::result::Result<Result<()>, tokio::task::JoinError>) -> String {
    match res {
        Ok(Ok(())) => "exited cleanly".to_string(),
        Ok(Err(e)) => format!("error: {e:#}"),
        Err(e) => format!("task failed: {e}"),
    }
}

/// Resolves when stdin reaches EOF (or errors); never resolves when the flag is off.
/// A plain thread, not tokio's stdin: the process exits via `std::process::exit`, so the blocked
/// read never has to be joined.
pub(crate) fn stdin_eof_watcher(
    enabled: bool,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    if !enabled {
        return Box::pin(std::future::pending());
    }
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let mut sink = std::io::sink();
        let _ = std::io::copy(&mut std::io::stdin().lock(), &mut sink);
        let _ = tx.send(());
    });
    Box::pin(async move {
        let _ = rx.await;
    })
}

/// A currently free loopback port (the OS picks it; the listener is closed again right away).
fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind((LOOPBACK, 0))?;
    Ok(l.local_addr()?.port())
}

/// Harness defaults, then the user's extras; a default is dropped when the extras name the same
/// option, because rivvend's clap config rejects an option given twice.
fn rivvend_argv(args: &BrokerArgs, port: u16, api_port: u16) -> Result<Vec<String>> {
    let extra_names: Vec<String> = args.extra.iter().filter_map(|a| option_name(a)).collect();
    for fixed in ["bind", "data-dir"] {
        if extra_names.iter().any(|n| n == fixed) {
            bail!("--{fixed} is set by the harness; use `broker --port/--data-dir` instead");
        }
    }
    for tls in ["tls-enabled", "tls-cert", "tls-key", "tls-ca", "tls-verify-client"] {
        if extra_names.iter().any(|n| n == tls) {
            bail!("rivvend's --{tls}: use `broker --tls-cert/--tls-key/--tls-ca/--require-client-cert`");
        }
    }
    if args.secure_server() && extra_names.iter().any(|n| n == "no-require-auth") {
        bail!("--no-require-auth contradicts --user");
    }
    let log_level = std::env::var("RUST_LOG")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "warn".to_string());

    let mut defaults: Vec<(&str, Option<String>)> = vec![
        ("bind", Some(format!("127.0.0.1:{port}"))),
        ("data-dir", Some(args.data_dir.display().to_string())),
        ("mode", Some("standalone".into())),
        // A fixed node id keeps restarts on the same data dir consistent whatever the port.
        ("node-id", Some("rivven-rx-standalone".into())),
        ("api-bind", Some(format!("127.0.0.1:{api_port}"))),
        ("metrics-bind", Some("127.0.0.1:0".into())),
        ("cluster-bind", Some("127.0.0.1:0".into())),
        ("no-dashboard", None),
        ("max-connections-per-ip", Some("10000".into())),
        ("rate-limit-per-ip", Some("1000000".into())),
        ("log-level", Some(log_level)),
    ];
    if !args.require_auth && !args.secure_server() {
        defaults.push(("no-require-auth", None));
    }
    if !args.secure_server() {
        // ClusterServer's own TLS; SecureServer gets a TlsConfig directly.
        defaults.extend(args.tls().rivvend_flags());
    }

    let mut argv = vec!["rivvend".to_string()];
    for (name, value) in defaults {
        if extra_names.iter().any(|n| n == name) {
            continue;
        }
        argv.push(format!("--{name}"));
        argv.extend(value);
    }
    argv.extend(args.extra.iter().cloned());
    Ok(argv)
}

/// `--name`, `--name=value` or one of rivvend's short aliases → the long option name.
fn option_name(arg: &str) -> Option<String> {
    if let Some(long) = arg.strip_prefix("--") {
        let name = long.split('=').next().unwrap_or(long);
        return (!name.is_empty()).then(|| name.to_string());
    }
    let short = arg.strip_prefix('-')?.chars().next()?;
    match short {
        'b' => Some("bind".into()),
        'd' => Some("data-dir".into()),
        'l' => Some("log-level".into()),
        _ => None,
    }
}

/// Refuses any configuration that could make rivvend listen beyond loopback.
fn check_loopback_only(cli: &Cli, port: u16) -> Result<()> {
    if cli.mode != DeploymentMode::Standalone {
        bail!("only --mode standalone is supported by the harness");
    }
    if cli.bind != SocketAddr::new(LOOPBACK, port) {
        bail!("client bind must be 127.0.0.1:{port}, got {}", cli.bind);
    }
    let mut addrs = vec![
        ("api-bind", cli.api_bind),
        ("metrics-bind", cli.metrics_bind),
    ];
    addrs.extend(cli.cluster_bind.map(|a| ("cluster-bind", a)));
    addrs.extend(cli.dashboard_bind.map(|a| ("dashboard-bind", a)));
    for (name, addr) in addrs {
        if !addr.ip().is_loopback() {
            bail!("--{name} {addr} is not a loopback address");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(extra: &[&str]) -> BrokerArgs {
        BrokerArgs {
            port: 4242,
            data_dir: PathBuf::from("/tmp/x"),
            api_port: None,
            exit_on_stdin_eof: false,
            require_auth: false,
            users: vec![],
            session_timeout_secs: None,
            max_failed_attempts: None,
            lockout_secs: None,
            tls_cert: None,
            tls_key: None,
            tls_ca: None,
            require_client_cert: false,
            extra: extra.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn defaults_parse_and_are_loopback() {
        let argv = rivvend_argv(&args(&[]), 4242, 4343).unwrap();
        let mut cli = Cli::try_parse_from(&argv).unwrap();
        cli.metrics = false;
        check_loopback_only(&cli, 4242).unwrap();
        assert!(cli.no_require_auth);
        assert!(cli.no_dashboard);
        assert_eq!(cli.rate_limit_per_ip, 1_000_000);
        assert_eq!(cli.api_bind, "127.0.0.1:4343".parse().unwrap());
    }

    #[test]
    fn extras_replace_defaults() {
        let argv = rivvend_argv(
            &args(&["--rate-limit-per-ip=7", "--idle-timeout-secs", "3"]),
            1,
            2,
        )
        .unwrap();
        let cli = Cli::try_parse_from(&argv).unwrap();
        assert_eq!(cli.rate_limit_per_ip, 7);
        assert_eq!(cli.idle_timeout_secs, 3);
        assert!(rivvend_argv(&args(&["--bind", "0.0.0.0:1"]), 1, 2).is_err());
        assert!(rivvend_argv(&args(&["-d", "/elsewhere"]), 1, 2).is_err());
    }

    #[test]
    fn tls_flags_reach_cluster_server() {
        let mut a = args(&[]);
        a.tls_cert = Some("/c.pem".into());
        a.tls_key = Some("/k.pem".into());
        a.tls_ca = Some("/ca.pem".into());
        a.require_client_cert = true;
        let cli = Cli::try_parse_from(rivvend_argv(&a, 1, 2).unwrap()).unwrap();
        assert!(cli.tls_enabled && cli.tls_verify_client);
        assert_eq!(cli.tls_ca, Some(PathBuf::from("/ca.pem")));
        assert!(rivvend_argv(&args(&["--tls-enabled"]), 1, 2).is_err());
        // With --user the TLS config goes to SecureServer, and auth is never switched off.
        a.users = vec![crate::secure::parse_user("u:User-pw1:admin").unwrap()];
        let cli = Cli::try_parse_from(rivvend_argv(&a, 1, 2).unwrap()).unwrap();
        assert!(!cli.tls_enabled && !cli.no_require_auth);
        a.extra = vec!["--no-require-auth".into()];
        assert!(rivvend_argv(&a, 1, 2).is_err());
    }

    #[test]
    fn non_loopback_is_refused() {
        let argv = rivvend_argv(&args(&["--api-bind", "0.0.0.0:9094"]), 4242, 1).unwrap();
        let cli = Cli::try_parse_from(&argv).unwrap();
        assert!(check_loopback_only(&cli, 4242).is_err());
    }
}
