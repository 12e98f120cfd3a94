//! `ping`: connect with the real rivven-client (which handshakes on connect), ping, list topics.
//! Exists to smoke-test `broker` without any TypeScript in the loop.

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
        Ok(topics) => {
            println!("PONG {} x{} topics={}", args.addr, args.count, topics.len());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ping: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn ping(args: &PingArgs) -> Result<Vec<String>, String> {
    let mut client = Client::connect_with_timeout(&args.addr, Duration::from_secs(5))
        .await
        .map_err(|e| format!("connect {}: {e}", args.addr))?;
    for i in 0..args.count {
        client.ping().await.map_err(|e| format!("ping #{i}: {e}"))?;
    }
    client
        .list_topics()
        .await
        .map_err(|e| format!("list_topics: {e}"))
}
