//! `ossd`: an Alibaba Cloud OSS-compatible object server with upload callbacks.

mod config;
mod credentials;
mod serve;

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
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::run(args),
    };
    if let Err(e) = result {
        eprintln!("ossd: {e}");
        std::process::exit(1);
    }
}
