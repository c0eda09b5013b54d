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

fn gf2_times(mat: &[u64; 64], mut vec: u64) -> u64 {
    let mut sum = 0;
    let mut i = 0;
    while vec != 0 {
        if vec & 1 != 0 {
            sum ^= mat[i];
        }
        vec >>= 1;
        i += 1;
    }
    sum
}

fn gf2_square(square: &mut [u64; 64], mat: &[u64; 64]) {
    for n in 0..64 {
        square[n] = gf2_times(mat, mat[n]);
    }
}

/// CRC of `A || B` from `crc(A)`, `crc(B)` and `len(B)`, without the bytes (zlib's
/// crc32_combine over GF(2), for 64 bits). Multipart completion uses this so that it never
/// re-reads object data.
pub fn crc64_combine(mut crc1: u64, crc2: u64, mut len2: u64) -> u64 {
    if len2 == 0 {
        return crc1;
    }
    let mut even = [0u64; 64];
    let mut odd = [0u64; 64];
    odd[0] = POLY_REFLECTED;
    let mut row = 1u64;
    for item in odd.iter_mut().skip(1) {
        *item = row;
        row <<= 1;
    }
    gf2_square(&mut even, &odd);
    gf2_square(&mut odd, &even);
    loop {
        gf2_square(&mut even, &odd);
        if len2 & 1 != 0 {
            crc1 = gf2_times(&even, crc1);
        }
        len2 >>= 1;
        if len2 == 0 {
            break;
        }
        gf2_square(&mut odd, &even);
        if len2 & 1 != 0 {
            crc1 = gf2_times(&odd, crc1);
        }
        len2 >>= 1;
        if len2 == 0 {
            break;
        }
    }
    crc1 ^ crc2
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
}
