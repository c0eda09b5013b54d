//! Per-callback signing cost, for instruction counts under callgrind (BENCHMARKS.md):
//!
//! ```sh
//! sign_cost KEY.pem openssl|rsa N      # signs a 1 KiB body N times
//! ```
//!
//! `openssl` is `CallbackSigner::sign` (what ossd runs); `rsa` is the pure-Rust `rsa` crate's
//! PKCS#1 v1.5 signing that it replaced, over the same key and bytes. Run with N and N+10 and
//! take the difference / 10 to exclude start-up and key parsing.

use md5::{Digest as _, Md5};
use ossd_callback::sign::{CallbackSigner, string_to_sign};
use rsa::pkcs8::DecodePrivateKey as _;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, key, which, n] = &args[..] else {
        eprintln!("usage: sign_cost KEY.pem openssl|rsa N");
        std::process::exit(2);
    };
    let pem = std::fs::read_to_string(key).expect("key file");
    let n: usize = n.parse().expect("N");
    let body = vec![b'x'; 1024];
    let mut total = 0usize;
    match which.as_str() {
        "openssl" => {
            let s = CallbackSigner::from_pkcs8_or_pkcs1_pem(&pem).expect("key");
            for _ in 0..n {
                total += s.sign("/callback", Some("id=1"), &body).len();
            }
        }
        "rsa" => {
            let private = rsa::RsaPrivateKey::from_pkcs8_pem(&pem).expect("key");
            for _ in 0..n {
                let msg = string_to_sign("/callback", Some("id=1"), &body);
                let sig = private
                    .sign_with_rng(&mut rand::thread_rng(), rsa::Pkcs1v15Sign::new::<Md5>(), &Md5::digest(&msg))
                    .expect("sign");
                total += sig.len();
            }
        }
        other => panic!("unknown signer {other}"),
    }
    println!("{total}");
}
