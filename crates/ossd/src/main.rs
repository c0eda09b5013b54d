//! `ossd`: an Alibaba Cloud OSS-compatible object server with upload callbacks.

mod callbacks_cmd;
mod config;
mod credentials;
mod inspect;
mod serve;
mod stores;
mod sts_cmd;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "ossd", version, about = "An Alibaba Cloud OSS-compatible object server with upload callbacks")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve(config::ServeArgs),
    /// Inspect the callback log: list, show, replay.
    #[command(subcommand)]
    Callbacks(callbacks_cmd::CallbacksCommand),
    /// A callback receiver for local development: verifies and prints each callback.
    CallbackInspect(InspectArgs),
    /// STS temporary credentials: assume-role.
    #[command(subcommand)]
    Sts(sts_cmd::StsCommand),
}

#[derive(clap::Args)]
struct InspectArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9100")]
    listen: std::net::SocketAddr,
    /// Status to answer with (OSS treats anything but 200 as a failed callback).
    #[arg(long, default_value_t = 200)]
    status: u16,
    /// Body to answer with (OSS wants JSON).
    #[arg(long, default_value = r#"{"Status":"OK"}"#)]
    body: String,
    /// Public-key URL prefixes to trust; repeatable [default: any http(s) URL, since a local
    /// ossd serves its key from its own address].
    #[arg(long = "allow-key-url")]
    allow_key_url: Vec<String>,
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Callbacks(cmd) => callbacks_cmd::run(cmd),
        Command::CallbackInspect(args) => run_inspect(args),
        Command::Sts(cmd) => sts_cmd::run(cmd),
    };
    if let Err(e) = result {
        eprintln!("ossd: {e}");
        std::process::exit(1);
    }
}

fn run_inspect(args: InspectArgs) -> Result<(), String> {
    let prefixes =
        if args.allow_key_url.is_empty() { vec!["http://".into(), "https://".into()] } else { args.allow_key_url };
    let opts = inspect::InspectOptions {
        listen: args.listen,
        status: args.status,
        body: args.body,
        allowed_key_url_prefixes: prefixes,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| e.to_string())?;
    runtime.block_on(inspect::run(opts)).map_err(|e| e.to_string())
}
