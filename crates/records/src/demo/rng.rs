//! Seeded randomness and record identifiers.
//!
//! Every record draws from its own SplitMix64 stream, seeded from its
//! table's name and its row index, so a value never depends on which thread
//! wrote it, on the batch size, or on what was generated before it. A
//! record's `sys_id` is computed the same way from (table, index), which lets
//! any table reference any other without materialising it.

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// The SplitMix64 finaliser: a bijection on `u64` with good avalanche.
#[inline]
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A 64-bit seed from a name (FNV-1a, then mixed).
pub(crate) fn seed(name: &str) -> u64 {
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    for b in name.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01B3);
    }
    mix(h)
}

/// SplitMix64.
pub(crate) struct Rng(u64);

impl Rng {
    /// The stream of record `index` of the table seeded `table_seed`.
    #[inline]
    pub(crate) fn for_record(table_seed: u64, index: u64) -> Rng {
        Rng(mix(table_seed ^ index.wrapping_mul(GOLDEN)))
    }

    #[inline]
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GOLDEN);
        mix(self.0)
    }

    /// Uniform in `0..n` (`n > 0`), by multiply-shift.
    #[inline]
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    #[inline]
    pub(crate) fn range(&mut self, lo: i64, hi: i64) -> i64 {
        debug_assert!(lo <= hi);
        lo + self.below((hi - lo) as u64 + 1) as i64
    }

    /// Uniform in `[0, 1)`.
    #[inline]
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    #[inline]
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    #[inline]
    pub(crate) fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }

    /// One of `items`, each as likely as its weight.
    pub(crate) fn weighted<T: Copy>(&mut self, items: &[(T, u32)]) -> T {
        let total: u64 = items.iter().map(|&(_, w)| u64::from(w)).sum();
        let mut x = self.below(total);
        for &(item, w) in items {
            if x < u64::from(w) {
                return item;
            }
            x -= u64::from(w);
        }
        items[items.len() - 1].0
    }

    /// A value with a long tail: `median * exp(sigma * N(0,1))`, roughly
    /// (the normal from the sum of four uniforms is plenty for demo data).
    pub(crate) fn log_normal(&mut self, median: f64, sigma: f64) -> f64 {
        let n = (self.unit() + self.unit() + self.unit() + self.unit() - 2.0) * 1.732;
        median * (sigma * n).exp()
    }
}

/// A 32-character lowercase hex record identifier.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct SysId([u8; 32]);

impl SysId {
    /// The id of record `index` of the table whose id seed is `id_seed`.
    /// The first half is a bijection of the index, so ids never collide
    /// within a table.
    #[inline]
    pub(crate) fn of(id_seed: u64, index: u64) -> SysId {
        let a = mix(id_seed.wrapping_add(index.wrapping_mul(GOLDEN)));
        let b = mix(a ^ id_seed.rotate_left(17));
        let mut out = [0u8; 32];
        hex(a, &mut out[..16]);
        hex(b, &mut out[16..]);
        SysId(out)
    }

    /// Parses one of the fixed literal ids.
    pub(crate) fn parse(s: &str) -> SysId {
        let bytes: [u8; 32] = s
            .as_bytes()
            .try_into()
            .unwrap_or_else(|_| panic!("sys_id {s:?} is not 32 characters"));
        assert!(
            bytes.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
            "sys_id {s:?} is not lowercase hex"
        );
        SysId(bytes)
    }

    #[inline]
    pub(crate) fn as_str(&self) -> &str {
        // Only ever holds ASCII hex digits.
        std::str::from_utf8(&self.0).expect("hex is ASCII")
    }
}

impl std::fmt::Debug for SysId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[inline]
fn hex(mut v: u64, out: &mut [u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for slot in out.iter_mut().rev() {
        *slot = DIGITS[(v & 0xF) as usize];
        v >>= 4;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_hex_and_distinct() {
        let s = seed("id:incident");
        let mut seen = std::collections::HashSet::new();
        for i in 0..10_000 {
            let id = SysId::of(s, i);
            assert!(id.as_str().bytes().all(|b| b.is_ascii_hexdigit()));
            assert!(seen.insert(id));
        }
        assert_ne!(SysId::of(seed("id:task"), 0), SysId::of(s, 0));
    }

    #[test]
    fn streams_are_reproducible() {
        let a: Vec<u64> = (0..4).map(|_| Rng::for_record(7, 3).next_u64()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        let mut r = Rng::for_record(7, 3);
        for _ in 0..1000 {
            assert!(r.below(5) < 5);
            let x = r.range(-3, 3);
            assert!((-3..=3).contains(&x));
        }
    }
}
