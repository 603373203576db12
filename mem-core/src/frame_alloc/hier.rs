//! A hierarchical bitset over a slice of words.
//!
//! Level 0 holds one bit per item; each bit of level `k + 1` says whether the
//! matching word of level `k` is non-zero. The top level is a single word, so
//! finding the first set bit costs one load and one `trailing_zeros` per
//! level: three levels for 1 GiB of frames, five for 64 TiB.
//!
//! The bitset does not own its words: [`FramePool`](super::FramePool) keeps
//! two of them (frames and 2 MiB chunks) in one caller-provided slice.

/// Levels at most: 64^8 = 2^48 items, more than the 2^44 frames of a 56-bit
/// physical address space.
const MAX_LEVELS: usize = 8;

/// Where the levels of one bitset live in the shared word slice.
#[derive(Debug, Clone, Copy)]
pub(super) struct Hier {
    off: [usize; MAX_LEVELS],
    top: usize,
}

impl Hier {
    /// Lays out a bitset of `bits` items starting at word `base`. Returns the
    /// layout and the number of words it occupies.
    pub(super) fn layout(bits: usize, base: usize) -> (Self, usize) {
        let mut off = [0; MAX_LEVELS];
        let mut words = bits.div_ceil(64).max(1);
        let mut at = base;
        let mut level = 0;
        loop {
            off[level] = at;
            at += words;
            if words == 1 {
                break;
            }
            words = words.div_ceil(64);
            level += 1;
        }
        (Self { off, top: level }, at - base)
    }

    /// Index in the shared slice of level-0 word 0: level-0 word `w` is
    /// `s[base() + w]`, for `w` below `bits.div_ceil(64)`.
    #[inline(always)]
    pub(super) fn base(&self) -> usize {
        self.off[0]
    }

    /// Clears the level-1 summary bit of level-0 word `w`, which has just
    /// become zero, and the levels above as they empty.
    #[inline]
    pub(super) fn word_emptied(&self, s: &mut [u64], w: usize) {
        self.clear_mask_at(s, 1, w / 64, 1 << (w % 64));
    }

    /// Word `w` of level 0.
    #[inline(always)]
    pub(super) fn word(&self, s: &[u64], w: usize) -> u64 {
        s[self.off[0] + w]
    }

    /// Level-0 words `w..w + n`.
    #[inline(always)]
    pub(super) fn words<'s>(&self, s: &'s [u64], w: usize, n: usize) -> &'s [u64] {
        &s[self.off[0] + w..][..n]
    }

    /// Level-0 words `w..w + n`, for bulk changes that the caller then
    /// reports to the summaries with `set_mask_at`/`clear_mask_at` level 1.
    #[inline(always)]
    pub(super) fn words_mut<'s>(&self, s: &'s mut [u64], w: usize, n: usize) -> &'s mut [u64] {
        &mut s[self.off[0] + w..][..n]
    }

    /// Whether bit `i` is set.
    #[inline(always)]
    pub(super) fn test(&self, s: &[u64], i: usize) -> bool {
        self.word(s, i / 64) & (1 << (i % 64)) != 0
    }

    /// The lowest set bit. O(levels).
    #[inline]
    pub(super) fn find_first(&self, s: &[u64]) -> Option<usize> {
        let top = s[self.off[self.top]];
        if top == 0 {
            return None;
        }
        let mut i = top.trailing_zeros() as usize;
        for level in (0..self.top).rev() {
            i = i * 64 + s[self.off[level] + i].trailing_zeros() as usize;
        }
        Some(i)
    }

    /// The lowest set bit at or above `pos`. O(levels).
    #[inline]
    pub(super) fn find_next(&self, s: &[u64], pos: usize) -> Option<usize> {
        // Most searches end in the word they start in.
        let w = pos / 64;
        if w < self.level_words(0) {
            let word = s[self.off[0] + w] & (!0u64 << (pos % 64));
            if word != 0 {
                return Some(w * 64 + word.trailing_zeros() as usize);
            }
        }
        self.find_next_climbing(s, pos)
    }

    fn find_next_climbing(&self, s: &[u64], pos: usize) -> Option<usize> {
        let mut level = 0;
        let mut i = pos;
        // Climb while the rest of the current word is empty.
        loop {
            let w = i / 64;
            let words = self.level_words(level);
            if w >= words {
                return None;
            }
            let word = s[self.off[level] + w] & (!0u64 << (i % 64));
            if word != 0 {
                i = w * 64 + word.trailing_zeros() as usize;
                break;
            }
            if level == self.top {
                return None;
            }
            i = w + 1;
            level += 1;
        }
        // Every set bit above level 0 promises a non-zero word below it.
        while level > 0 {
            level -= 1;
            i = i * 64 + s[self.off[level] + i].trailing_zeros() as usize;
        }
        Some(i)
    }

    /// Words in `level`.
    pub(super) fn level_words(&self, level: usize) -> usize {
        if level == self.top {
            1
        } else {
            self.off[level + 1] - self.off[level]
        }
    }

    /// Sets `mask` in level-0 word `w`, updating the summaries.
    #[inline]
    pub(super) fn set_mask(&self, s: &mut [u64], w: usize, mask: u64) {
        let word = &mut s[self.off[0] + w];
        let old = *word;
        *word = old | mask;
        // Only a word that was empty changes its summary bit; level 1 is
        // handled inline, higher levels (every 4,096 frames) out of line.
        if old == 0 && self.top > 0 {
            let summary = &mut s[self.off[1] + w / 64];
            let old = *summary;
            *summary = old | 1 << (w % 64);
            if old == 0 && self.top > 1 {
                self.set_mask_at(s, 2, w / 4096, 1 << (w / 64 % 64));
            }
        }
    }

    /// Makes the summaries above level-0 word `w` agree with it, after its
    /// bits were set without them.
    #[inline]
    pub(super) fn sync_summary(&self, s: &mut [u64], w: usize) {
        if self.top > 0 && s[self.off[0] + w] != 0 && s[self.off[1] + w / 64] & (1 << (w % 64)) == 0
        {
            self.set_mask_at(s, 1, w / 64, 1 << (w % 64));
        }
    }

    /// Sets `mask` in word `w` of `level`, updating the levels above.
    #[inline(never)]
    pub(super) fn set_mask_at(&self, s: &mut [u64], from: usize, mut w: usize, mut mask: u64) {
        for level in from..=self.top {
            let word = &mut s[self.off[level] + w];
            let old = *word;
            *word = old | mask;
            if old != 0 {
                return;
            }
            mask = 1 << (w % 64);
            w /= 64;
        }
    }

    /// Clears `mask` in level-0 word `w`, updating the summaries.
    #[inline]
    pub(super) fn clear_mask(&self, s: &mut [u64], w: usize, mask: u64) {
        let word = &mut s[self.off[0] + w];
        let old = *word;
        let new = old & !mask;
        *word = new;
        // Only a word that became empty changes its summary bit.
        if new == 0 && old != 0 && self.top > 0 {
            let summary = &mut s[self.off[1] + w / 64];
            let old = *summary;
            let new = old & !(1 << (w % 64));
            *summary = new;
            if new == 0 && old != 0 && self.top > 1 {
                self.clear_mask_at(s, 2, w / 4096, 1 << (w / 64 % 64));
            }
        }
    }

    /// Clears `mask` in word `w` of `level`, updating the levels above.
    #[inline(never)]
    pub(super) fn clear_mask_at(&self, s: &mut [u64], from: usize, mut w: usize, mut mask: u64) {
        for level in from..=self.top {
            let word = &mut s[self.off[level] + w];
            let old = *word;
            let new = old & !mask;
            *word = new;
            if new != 0 || old == 0 {
                return;
            }
            mask = 1 << (w % 64);
            w /= 64;
        }
    }

    /// Sets bit `i`.
    #[inline]
    pub(super) fn set(&self, s: &mut [u64], i: usize) {
        self.set_mask(s, i / 64, 1 << (i % 64));
    }

    /// Clears bit `i`.
    #[inline]
    pub(super) fn clear(&self, s: &mut [u64], i: usize) {
        self.clear_mask(s, i / 64, 1 << (i % 64));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_next_crosses_levels() {
        let bits = 64 * 64 * 3 + 5;
        let (h, words) = Hier::layout(bits, 2);
        let mut s = vec![0u64; words + 2];
        assert_eq!(h.find_first(&s), None);
        for &i in &[0, 63, 64, 4095, 4096, 64 * 64 * 3 + 4] {
            h.set(&mut s, i);
        }
        let mut found = Vec::new();
        let mut pos = 0;
        while let Some(i) = h.find_next(&s, pos) {
            found.push(i);
            pos = i + 1;
        }
        assert_eq!(found, [0, 63, 64, 4095, 4096, 64 * 64 * 3 + 4]);
        for &i in &found {
            h.clear(&mut s, i);
        }
        assert!(s.iter().all(|&w| w == 0));
        assert_eq!(h.find_next(&s, bits + 100), None);
    }
}
