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

use anyhow::{anyhow, bail, Context, Result};
use clap::Parser;
use rivvend::{Cli, ClusterServer, DeploymentMode};
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

    /// Keep client authentication ON (default: `--no-require-auth` is passed).
    #[arg(long)]
    require_auth: bool,

    /// Extra rivvend arguments, appended after `--`; they replace the harness defaults of the
    /// same name (e.g. `-- --rate-limit-per-ip 5`).
    #[arg(last = true, allow_hyphen_values = true)]
    extra: Vec<String>,
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

    let argv = rivvend_argv(&args, port, api_port)?;
    eprintln!("broker: rivvend {}", argv[1..].join(" "));
    let mut cli = Cli::try_parse_from(&argv).map_err(|e| anyhow!("rivvend arguments: {e}"))?;
    // `--metrics` is a clap SetTrue flag with default "true": the CLI cannot switch it off, the
    // public field can. (rivvend 0.0.22 never binds metrics_bind anyway.)
    cli.metrics = false;
    check_loopback_only(&cli, port)?;
    eprintln!(
        "broker: client 127.0.0.1:{port}, api 127.0.0.1:{api_port}, data {}",
        args.data_dir.display()
    );

    let server = tokio::select! {
        s = ClusterServer::new(cli) => s.context("rivvend ClusterServer::new")?,
        name = signals.recv() => {
            eprintln!("broker: {name} during startup, exiting");
            return Ok(0);
        }
    };
    let shutdown = server.get_shutdown_handle();
    let mut task = tokio::spawn(async move { server.start().await });

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

/// Triggers rivvend's graceful shutdown and waits up to SHUTDOWN_TIMEOUT (a second signal cuts
/// the wait short). The trigger is a tokio broadcast that only reaches receivers subscribed at
/// send time, and `start()` subscribes as it goes, so it is re-sent until the task ends.
async fn stop_server(
    shutdown: &rivvend::ShutdownHandle,
    task: &mut tokio::task::JoinHandle<Result<()>>,
    signals: &mut Signals,
) {
    let deadline = tokio::time::Instant::now() + SHUTDOWN_TIMEOUT;
    loop {
        shutdown.shutdown();
        tokio::select! {
            res = &mut *task => {
                if !matches!(res, Ok(Ok(()))) {
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
    if !args.require_auth {
        defaults.push(("no-require-auth", None));
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
    fn non_loopback_is_refused() {
        let argv = rivvend_argv(&args(&["--api-bind", "0.0.0.0:9094"]), 4242, 1).unwrap();
        let cli = Cli::try_parse_from(&argv).unwrap();
        assert!(check_loopback_only(&cli, 4242).is_err());
    }
}
