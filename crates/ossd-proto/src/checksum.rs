//! Checksums as OSS forms them: CRC-64/XZ ("crc64ecma") and MD5 ETags.

/// Incremental CRC-64/ECMA-182 as OSS reports it in `x-oss-hash-crc64ecma`
/// (reflected, init and xorout all ones: the CRC-64/XZ parameters).
#[derive(Clone)]
pub struct Crc64(crc64fast::Digest);

impl Default for Crc64 {
    fn default() -> Self {
        Crc64(crc64fast::Digest::new())
    }
}

impl Crc64 {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn update(&mut self, data: &[u8]) {
        self.0.write(data);
    }
    pub fn finish(&self) -> u64 {
        self.0.sum64()
    }
}

pub fn crc64(data: &[u8]) -> u64 {
    let mut c = Crc64::new();
    c.update(data);
    c.finish()
}

const POLY_REFLECTED: u64 = 0xC96C_5795_D787_0F42;

/// `a * b mod P(x)` over GF(2), both in the reflected bit order of the CRC (x^0 is the top bit).
const fn mul_mod_p(a: u64, mut b: u64) -> u64 {
    let mut m = 1u64 << 63;
    let mut p = 0u64;
    loop {
        if a & m != 0 {
            p ^= b;
            if a & (m - 1) == 0 {
                return p;
            }
        }
        m >>= 1;
        b = if b & 1 != 0 { (b >> 1) ^ POLY_REFLECTED } else { b >> 1 };
    }
}

/// `X_POW_2N[k]` = x^(2^k) mod P(x).
const X_POW_2N: [u64; 64] = {
    let mut table = [0u64; 64];
    let mut p = 1u64 << 62; // x^1
    let mut k = 0;
    while k < 64 {
        table[k] = p;
        p = mul_mod_p(p, p);
        k += 1;
    }
    table
};

/// x^(n * 2^k) mod P(x), by squaring: one multiplication per set bit of `n`.
fn x_pow_mod_p(mut n: u64, mut k: usize) -> u64 {
    let mut p = 1u64 << 63; // x^0
    while n != 0 {
        if n & 1 != 0 {
            p = mul_mod_p(X_POW_2N[k & 63], p);
        }
        n >>= 1;
        k += 1;
    }
    p
}

/// CRC of `A || B` from `crc(A)`, `crc(B)` and `len(B)`, without the bytes: `crc(A)` shifted by
/// `8 * len(B)` bits (a multiplication by x^(8 len) mod P) plus `crc(B)`, as zlib 1.2.12's
/// crc32_combine does it for 32 bits. Multipart completion uses this so that it never re-reads
/// object data. (The 64 x 64 matrix squaring of older zlib took ~100 us a call: a 1,000-part
/// completion spent ~100 ms of CPU in it; this takes about a microsecond.)
pub fn crc64_combine(crc1: u64, crc2: u64, len2: u64) -> u64 {
    mul_mod_p(x_pow_mod_p(len2, 3), crc1) ^ crc2
}

/// The ETag of a simple upload: upper-case hex MD5 (without quotes).
pub fn etag_from_md5(md5: &[u8]) -> String {
    hex::encode_upper(md5)
}

/// The ETag OSS gives a multipart object: MD5 of the concatenated binary part MD5s, `-N`.
pub fn multipart_etag(part_md5s: &[[u8; 16]]) -> String {
    use md5::{Digest, Md5};
    let mut h = Md5::new();
    for m in part_md5s {
        h.update(m);
    }
    format!("{}-{}", hex::encode_upper(h.finalize()), part_md5s.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_value_matches_crc64_xz() {
        assert_eq!(crc64(b"123456789"), 11051210869376104954);
        assert_eq!(crc64(b""), 0);
    }

    #[test]
    fn combine_equals_whole() {
        let a = b"hello, ";
        let b = b"multipart world of bytes";
        assert_eq!(crc64_combine(crc64(a), crc64(b), b.len() as u64), crc64(b"hello, multipart world of bytes"));
        assert_eq!(crc64_combine(crc64(a), crc64(b""), 0), crc64(a));
        assert_eq!(crc64_combine(crc64(b""), crc64(b), b.len() as u64), crc64(b));
    }

    #[test]
    fn combine_equals_whole_over_many_lengths() {
        // Lengths around powers of two and part sizes (each bit of the length takes its own
        // table entry), and a chain of parts as a multipart completion folds them.
        let data: Vec<u8> = (0..300_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        for split in [0usize, 1, 7, 8, 9, 255, 256, 4095, 4096, 65_537, 102_400, 131_072, 299_999] {
            for len2 in [0usize, 1, 2, 3, 63, 64, 1000, 4096, 65_535, 102_400] {
                if split + len2 > data.len() {
                    continue;
                }
                let (a, b) = (&data[..split], &data[split..split + len2]);
                assert_eq!(
                    crc64_combine(crc64(a), crc64(b), len2 as u64),
                    crc64(&data[..split + len2]),
                    "{split}+{len2}"
                );
            }
        }
        let mut folded = 0;
        for part in data.chunks(7_777) {
            folded = crc64_combine(folded, crc64(part), part.len() as u64);
        }
        assert_eq!(folded, crc64(&data));
    }

    #[test]
    fn combine_takes_lengths_beyond_memory() {
        // A shift by 2^40 bytes (table entries no test above reaches) equals two shifts by 2^39.
        let (a, b) = (crc64(b"a"), crc64(b"b"));
        let whole = crc64_combine(a, b, 1 << 40);
        let halves = crc64_combine(crc64_combine(a, 0, 1 << 39), b, 1 << 39);
        assert_eq!(whole, halves);
        assert_ne!(whole, crc64_combine(a, b, (1 << 40) - 1));
    }
}
