//! `ping`: connect with the real rivven-client (which handshakes on connect), ping, list topics.
//! Exists to smoke-test `broker` without any TypeScript in the loop. With `--scram-user` it logs
//! in with rivven-client's own SCRAM-SHA-256 (`Client::authenticate_scram`) before listing topics.

use rivven_client::Client;
use std::process::ExitCode;
use std::time::Duration;

#[derive(clap::Args, Debug)]
pub struct PingArgs {
    /// Broker address, e.g. 127.0.0.1:9092
    #[arg(long)]
    addr: String,

    /// Number of pings on the same connection.
    #[arg(long, default_value_t = 1)]
    count: u32,

    /// Log in with SCRAM-SHA-256 as this user (after the pings, before ListTopics).
    #[arg(long, requires = "scram_password")]
    scram_user: Option<String>,

    /// Password for --scram-user.
    #[arg(long, requires = "scram_user")]
    scram_password: Option<String>,
}

pub fn run(args: PingArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ping: cannot start tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(ping(&args)) {
        Ok((topics, auth)) => {
            println!(
                "PONG {} x{}{auth} topics={}",
                args.addr,
                args.count,
                topics.len()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ping: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn ping(args: &PingArgs) -> Result<(Vec<String>, String), String> {
    let mut client = Client::connect_with_timeout(&args.addr, Duration::from_secs(5))
        .await
        .map_err(|e| format!("connect {}: {e}", args.addr))?;
    for i in 0..args.count {
        client.ping().await.map_err(|e| format!("ping #{i}: {e}"))?;
    }
    let mut auth = String::new();
    if let (Some(user), Some(password)) = (&args.scram_user, &args.scram_password) {
        let session = client
            .authenticate_scram(user, password)
            .await
            .map_err(|e| format!("authenticate_scram {user}: {e}"))?;
        auth = format!(" scram={user} expires_in={}", session.expires_in);
    }
    let topics = client
        .list_topics()
        .await
        .map_err(|e| format!("list_topics: {e}"))?;
    Ok((topics, auth))
}
