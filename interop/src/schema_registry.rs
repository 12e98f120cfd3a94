//! `schema-registry`: the real Confluent-compatible schema registry of rivven-schema 0.0.22, run
//! in-process like its own `rivven-schema serve` (main.rs: `RegistryConfig::memory()` →
//! `SchemaRegistry::new` → `SchemaServer::new(.., ServerConfig { auth: None, .. })`), except that
//!   * the listener is bound here, on 127.0.0.1 only (`serve` would bind 0.0.0.0:8081), so
//!     `--port 0` reports the port actually bound, with no pick-then-bind race;
//!   * the router (`SchemaServer::router`, the same one `SchemaServer::run` serves) is served with
//!     a graceful shutdown, which `SchemaServer::run` does not offer.
//! Storage is in memory (lost on exit), authentication is off, compatibility defaults to BACKWARD
//! (changeable at run time with `PUT /config`). AVRO and JSON Schema are validated by the real
//! parsers (apache-avro, jsonschema); PROTOBUF registration gets rivven-schema's structural check
//! only (that is all 0.0.22 does), its compatibility checks parse with protox-parse.

use crate::broker::{stdin_eof_watcher, Signals};
use anyhow::{bail, Context, Result};
use rivven_schema::{RegistryConfig, SchemaRegistry, SchemaServer, ServerConfig};
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::time::{Duration, Instant};

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const READY_TIMEOUT: Duration = Duration::from_secs(30);
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(clap::Args, Debug)]
pub struct SchemaRegistryArgs {
    /// HTTP port on 127.0.0.1 (0 = pick a free one; the READY line tells which).
    #[arg(long)]
    port: u16,

    /// Exit (after a graceful shutdown) when stdin reaches EOF, so a dead parent leaves no orphan.
    #[arg(long)]
    exit_on_stdin_eof: bool,
}

pub fn run(args: SchemaRegistryArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("schema-registry: cannot start tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = match runtime.block_on(run_async(args)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("schema-registry: {e:#}");
            1
        }
    };
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // Same as `broker`: the stdin watcher thread may sit in a blocking read forever.
    std::process::exit(code);
}

async fn run_async(args: SchemaRegistryArgs) -> Result<i32> {
    let mut signals = Signals::install()?;
    let mut stdin_eof = stdin_eof_watcher(args.exit_on_stdin_eof);

    let listener = std::net::TcpListener::bind((LOOPBACK, args.port))
        .with_context(|| format!("port 127.0.0.1:{} is not available", args.port))?;
    listener
        .set_nonblocking(true)
        .context("making the listener non-blocking")?;
    let listener = tokio::net::TcpListener::from_std(listener).context("registering listener")?;
    let addr: SocketAddr = listener.local_addr().context("reading the bound address")?;
    if !addr.ip().is_loopback() {
        bail!("refusing to serve on non-loopback address {addr}");
    }

    let registry = SchemaRegistry::new(RegistryConfig::memory())
        .await
        .context("rivven-schema SchemaRegistry::new (in-memory storage)")?;
    let server = SchemaServer::new(
        registry,
        ServerConfig {
            host: addr.ip().to_string(),
            port: addr.port(),
            auth: None,
        },
    );
    let router = server.router();
    eprintln!(
        "schema-registry: rivven-schema 0.0.22 on http://{addr} (in-memory storage, no auth)"
    );

    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let mut task = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = stop_rx.await;
            })
            .await
    });

    // Readiness: a plain TCP connect (the listener is already bound, so this only fails if the
    // serve task died).
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if task.is_finished() {
            bail!(
                "the registry stopped before accepting connections: {}",
                describe_exit(task.await)
            );
        }
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            break;
        }
        if Instant::now() >= deadline {
            bail!("the registry did not accept connections on {addr} within {READY_TIMEOUT:?}");
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(25)) => {}
            name = signals.recv() => {
                eprintln!("schema-registry: {name} during startup, exiting");
                return Ok(0);
            }
        }
    }
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "READY {addr}").context("writing READY")?;
        out.flush().context("flushing stdout")?;
    }

    tokio::select! {
        name = signals.recv() => eprintln!("schema-registry: {name}, shutting down"),
        _ = &mut stdin_eof => eprintln!("schema-registry: stdin closed, shutting down"),
        res = &mut task => {
            eprintln!("schema-registry: server stopped unexpectedly: {}", describe_exit(res));
            return Ok(1);
        }
    }

    // Graceful: stop accepting, let in-flight requests finish (idle keep-alive connections are
    // closed), bounded by SHUTDOWN_TIMEOUT; a second signal cuts the wait short.
    let _ = stop_tx.send(());
    tokio::select! {
        res = &mut task => {
            if !matches!(res, Ok(Ok(()))) {
                eprintln!("schema-registry: shutdown: {}", describe_exit(res));
            }
        }
        _ = tokio::time::sleep(SHUTDOWN_TIMEOUT) => {
            eprintln!("schema-registry: connections still open after {SHUTDOWN_TIMEOUT:?}, exiting anyway");
        }
        name = signals.recv() => {
            eprintln!("schema-registry: second {name}, not waiting any longer");
        }
    }
    Ok(0)
}

fn describe_exit(res: std::result::Result<std::io::Result<()>, tokio::task::JoinError>) -> String {
    match res {
        Ok(Ok(())) => "exited cleanly".to_string(),
        Ok(Err(e)) => format!("error: {e}"),
        Err(e) => format!("task failed: {e}"),
    }
}
