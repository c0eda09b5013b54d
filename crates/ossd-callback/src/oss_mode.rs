//! `--callback-mode oss`: refuse, when the upload arrives, the callback destinations real OSS
//! refuses, with OSS's error, so that "works on ossd, fails on OSS" shows up in CI.
//!
//! OSS calls receivers from the public Internet over IPv4 only: a `callbackUrl` whose address
//! is private, loopback or link-local is refused with `400 InvalidArgument` `Private address is
//! forbidden to callback.` (EC 0007-00000008, `ArgumentName` `callbackUrl`), a name that does
//! not resolve to a usable public IPv4 address with EC 0007-00000007, and IPv6 is not supported
//! (an IPv6 literal is already an invalid URL, EC 0007-00000004). This is a layer on top of the
//! destination policy, which still decides every connection.

use std::net::{IpAddr, Ipv4Addr};

use ossd_proto::OssError;

use crate::spec::{CallbackSpec, Url};

/// How strictly callback destinations are judged when an upload arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CallbackMode {
    /// Only the destination policy applies (at connection time).
    #[default]
    Default,
    /// Also refuse, before storing, what real OSS refuses.
    Oss,
}

impl std::str::FromStr for CallbackMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "default" => Ok(CallbackMode::Default),
            "oss" => Ok(CallbackMode::Oss),
            other => Err(format!("unknown callback mode {other:?}: use default or oss")),
        }
    }
}

/// Why OSS would refuse an IPv4 address as a callback destination, if it would.
pub fn refused_ipv4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_private() {
        Some("private")
    } else if ip.is_link_local() {
        Some("link-local")
    } else if a == 0 || ip.is_broadcast() {
        Some("not routable")
    } else if a == 100 && (64..128).contains(&b) {
        // Shared address space: Alibaba Cloud's internal services (metadata 100.100.100.200).
        Some("shared address space")
    } else {
        None
    }
}

fn url_error(msg: impl Into<String>, ec: &str, url: &Url) -> OssError {
    OssError::invalid_argument(msg)
        .with_ec(ec)
        .with("ArgumentName", "callbackUrl")
        .with("ArgumentValue", url.to_string())
}

fn private(url: &Url) -> OssError {
    url_error("Private address is forbidden to callback.", "0007-00000008", url)
}

/// Checks every URL of `spec` as OSS would: IP literals directly, names by resolving them with
/// the system resolver (any refused IPv4 address refuses the URL; IPv6 addresses are not used).
pub async fn check(spec: &CallbackSpec) -> Result<(), OssError> {
    for url in &spec.urls {
        let Some(host) = url.host_str() else { continue };
        if let Ok(ip) = host.parse::<Ipv4Addr>() {
            if refused_ipv4(ip).is_some() {
                return Err(private(url));
            }
            continue;
        }
        let port = url.port_or_known_default().unwrap_or(80);
        let addrs: Vec<IpAddr> = match tokio::net::lookup_host((host, port)).await {
            Ok(a) => a.map(|a| a.ip()).collect(),
            Err(_) => Vec::new(),
        };
        let v4: Vec<Ipv4Addr> = addrs
            .iter()
            .filter_map(|ip| match ip {
                IpAddr::V4(v4) => Some(*v4),
                IpAddr::V6(v6) => v6.to_ipv4_mapped(),
            })
            .collect();
        if v4.iter().any(|ip| refused_ipv4(*ip).is_some()) {
            return Err(private(url));
        }
        if v4.is_empty() {
            let why = if addrs.is_empty() {
                format!("The callbackUrl host {host} cannot be resolved.")
            } else {
                format!(
                    "The callbackUrl host {host} resolves to IPv6 addresses only; OSS does not call IPv6 receivers."
                )
            };
            return Err(url_error(why, "0007-00000007", url));
        }
    }
    Ok(())
}
