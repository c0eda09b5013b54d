//! `ossd callbacks list | show | replay`: answers "why did I get 203?" from the durable
//! callback log, and re-sends a callback (re-signed, same body) to a receiver that was down.

use crate::config::{ServeArgs, Settings};
use ossd_callback::deliver::Attempt;
use ossd_callback::diagnose::diagnose;
use ossd_callback::spec::CallbackSpec;
use ossd_proto::timefmt::{iso8601_ms, now_ms};
use ossd_store::{CallbackFilter, CallbackLogEntry};

#[derive(clap::Subcommand)]
pub enum CallbacksCommand {
    /// List deliveries, newest first.
    List {
        #[command(flatten)]
        server: ServeArgs,
        /// Only this bucket.
        #[arg(long)]
        bucket: Option<String>,
        /// Only this outcome: 200, 203 or pending.
        #[arg(long)]
        outcome: Option<String>,
        /// Only deliveries younger than this (e.g. 30m, 2h, 7d).
        #[arg(long)]
        since: Option<String>,
        /// Only deliveries older than this (e.g. 1h).
        #[arg(long)]
        until: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Show one delivery: every URL tried, why it failed, the body sent.
    Show {
        request_id: String,
        #[command(flatten)]
        server: ServeArgs,
    },
    /// Send one callback again (same body, signed anew) and record the new outcome.
    Replay {
        request_id: String,
        #[command(flatten)]
        server: ServeArgs,
    },
}

/// `30m`, `2h`, `7d`, `45s` as milliseconds.
fn parse_age(s: &str) -> Result<i64, String> {
    let (n, unit) = s.split_at(s.trim_end_matches(|c: char| c.is_ascii_alphabetic()).len());
    let n: i64 = n.parse().map_err(|_| format!("not a duration: {s}"))?;
    let ms = match unit {
        "s" => 1_000,
        "m" | "" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(format!("unknown unit in {s}: use s, m, h or d")),
    };
    Ok(n * ms)
}

/// A runtime for the store calls of one CLI command.
fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())
}

fn summary(e: &CallbackLogEntry) -> String {
    format!(
        "{}  {}  {:7}  {}/{}  {}  {}",
        iso8601_ms(e.created_ms),
        e.request_id,
        e.outcome,
        e.bucket,
        e.object,
        e.operation,
        e.message
    )
}

fn show(e: &CallbackLogEntry) {
    println!("request id:  {}", e.request_id);
    println!("operation:   {} {}/{}", e.operation, e.bucket, e.object);
    println!("created:     {}", iso8601_ms(e.created_ms));
    println!("outcome:     {}", e.outcome);
    if e.finished_ms > 0 {
        println!("finished:    {}", iso8601_ms(e.finished_ms));
    }
    println!("message:     {}", e.message);
    if let Ok(spec) = CallbackSpec::decode(&e.callback_param) {
        let urls: Vec<String> = spec.urls.iter().map(|u| u.to_string()).collect();
        println!("urls:        {}", urls.join(" ; "));
        println!("body type:   {}", spec.body_type.content_type());
        for (name, value) in &spec.additional_headers {
            println!("add. header: {name}: {value}");
        }
    }
    println!("attempts:");
    let attempts: Vec<Attempt> = serde_json::from_str(&e.attempts_json).unwrap_or_default();
    match serde_json::from_str::<Vec<serde_json::Value>>(&e.attempts_json) {
        Ok(list) if !list.is_empty() => {
            for a in list {
                println!("  - {a}");
            }
        }
        _ => println!("  (none recorded)"),
    }
    println!("body sent:\n{}", String::from_utf8_lossy(&e.body));
    let findings = diagnose(&e.callback_param, &e.body, &attempts);
    if !findings.is_empty() {
        println!("likely causes:");
        for f in findings {
            println!("  * {f}");
        }
    }
}

pub fn run(cmd: CallbacksCommand) -> Result<(), String> {
    match cmd {
        CallbacksCommand::List { server, bucket, outcome, since, until, limit } => {
            let settings = Settings::resolve(server)?;
            let rt = runtime()?;
            let meta = rt.block_on(crate::stores::open_meta(&settings, true))?;
            let now = now_ms();
            let filter = CallbackFilter {
                bucket,
                outcome,
                since_ms: since.as_deref().map(parse_age).transpose()?.map(|a| now - a),
                until_ms: until.as_deref().map(parse_age).transpose()?.map(|a| now - a),
                limit,
            };
            let entries = rt.block_on(meta.list_callbacks(&filter)).map_err(|e| e.to_string())?;
            if entries.is_empty() {
                println!("no callback deliveries match");
            }
            for e in &entries {
                println!("{}", summary(e));
            }
            Ok(())
        }
        CallbacksCommand::Show { request_id, server } => {
            let settings = Settings::resolve(server)?;
            let rt = runtime()?;
            let meta = rt.block_on(crate::stores::open_meta(&settings, true))?;
            let e = rt.block_on(meta.get_callback(&request_id)).map_err(|e| e.to_string())?;
            let e = e.ok_or_else(|| format!("no callback delivery with request id {request_id}"))?;
            show(&e);
            Ok(())
        }
        CallbacksCommand::Replay { request_id, server } => {
            let settings = Settings::resolve(server)?;
            let rt = runtime()?;
            let meta = rt.block_on(crate::stores::open_meta(&settings, true))?;
            let mut e = rt
                .block_on(meta.get_callback(&request_id))
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("no callback delivery with request id {request_id}"))?;
            let spec = CallbackSpec::decode(&e.callback_param).map_err(|err| err.message)?;
            let mut settings = settings;
            // Sign for the key URL the receiver saw first, unless the caller names another one.
            if settings.callback.public_key_url.is_none() && !e.key_url.is_empty() {
                settings.callback.public_key_url = Some(e.key_url.clone());
            }
            let endpoint = settings.public_endpoint.clone().unwrap_or_else(|| settings.listen.to_string());
            let callbacks = crate::serve::callback_runtime(&settings, &endpoint)?;
            let delivery = rt.block_on(callbacks.deliverer.deliver(&spec, e.body.clone(), &e.request_id));
            ossd_server::callbacks::record_outcome(&mut e, &delivery);
            rt.block_on(meta.finish_callback(&e)).map_err(|e| e.to_string())?;
            show(&e);
            if let Some(answer) = delivery.answer() {
                println!("receiver answered:\n{}", String::from_utf8_lossy(answer));
            }
            Ok(())
        }
    }
}
