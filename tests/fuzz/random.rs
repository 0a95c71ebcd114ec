//! The random numbers behind the generated requests: SplitMix64, seeded per request.

/// SplitMix64: small, fast and the same everywhere, so that a seed reproduces a run.
pub struct Rng(u64);

impl Rng {
    /// The random stream of request `index` of a run.
    pub fn for_request(seed: u64, index: u64) -> Rng {
        let mut rng = Rng(seed ^ index.wrapping_mul(0xD6E8_FEB8_6659_FD93));
        rng.next_u64();
        rng
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut mixed = self.0;
        mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        mixed ^ (mixed >> 31)
    }

    /// A number in `0..bound` (`bound` > 0).
    pub fn below(&mut self, bound: usize) -> usize {
        (self.next_u64() % bound as u64) as usize
    }

    /// A number in `low..high`.
    pub fn between(&mut self, low: usize, high: usize) -> usize {
        low + self.below(high - low)
    }

    /// True with the given chance in percent.
    pub fn percent(&mut self, chance: usize) -> bool {
        self.below(100) < chance
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    pub fn bytes(&mut self, length: usize) -> Vec<u8> {
        (0..length).map(|_| self.next_u64() as u8).collect()
    }

    /// Between `low` and `high - 1` random bytes.
    pub fn bytes_between(&mut self, low: usize, high: usize) -> Vec<u8> {
        let length = self.between(low, high);
        self.bytes(length)
    }

    /// Between `low` and `high - 1` letters and digits.
    pub fn word_between(&mut self, low: usize, high: usize) -> String {
        let length = self.between(low, high);
        self.word(length)
    }

    /// Letters and digits, for ids and header values.
    pub fn word(&mut self, length: usize) -> String {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        (0..length).map(|_| *self.pick(ALPHABET) as char).collect()
    }
}
