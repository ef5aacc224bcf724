//! A bounded tail buffer for captured output: memory stays fixed however much a job prints.

use std::collections::VecDeque;

/// Keeps the last `capacity` bytes written and counts the rest.
#[derive(Debug)]
pub struct TailBuffer {
    /// The kept tail.
    buf: VecDeque<u8>,
    /// Most bytes kept.
    capacity: usize,
    /// Every byte ever written.
    total: u64,
}

impl TailBuffer {
    /// An empty buffer keeping at most `capacity` bytes.
    pub fn new(capacity: usize) -> TailBuffer {
        TailBuffer {
            buf: VecDeque::with_capacity(capacity.min(64 * 1024)),
            capacity,
            total: 0,
        }
    }

    /// Appends bytes, dropping the oldest ones beyond the capacity.
    pub fn push(&mut self, bytes: &[u8]) {
        self.total += bytes.len() as u64;
        if bytes.len() >= self.capacity {
            self.buf.clear();
            self.buf.extend(&bytes[bytes.len() - self.capacity..]);
            return;
        }
        let overflow = (self.buf.len() + bytes.len()).saturating_sub(self.capacity);
        self.buf.drain(..overflow);
        self.buf.extend(bytes);
    }

    /// Bytes dropped from the head.
    pub fn truncated_bytes(&self) -> u64 {
        self.total - self.buf.len() as u64
    }

    /// The kept text (lossy UTF-8), preceded by a `[... N bytes truncated ...]` line when the
    /// head was dropped.
    pub fn into_text(self) -> String {
        let dropped = self.truncated_bytes();
        let (a, b) = self.buf.as_slices();
        let mut bytes = Vec::with_capacity(a.len() + b.len());
        bytes.extend_from_slice(a);
        bytes.extend_from_slice(b);
        if dropped == 0 {
            return String::from_utf8_lossy(&bytes).into_owned();
        }
        // The cut may fall inside a UTF-8 sequence: skip its continuation bytes.
        let start = bytes
            .iter()
            .take(4)
            .position(|b| (b & 0xC0) != 0x80)
            .unwrap_or(0);
        format!(
            "[... {dropped} bytes truncated ...]\n{}",
            String::from_utf8_lossy(&bytes[start..])
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_everything_under_capacity() {
        let mut t = TailBuffer::new(10);
        t.push(b"hello ");
        t.push(b"you");
        assert_eq!(t.truncated_bytes(), 0);
        assert_eq!(t.into_text(), "hello you");
    }

    #[test]
    fn keeps_the_tail_and_says_so() {
        let mut t = TailBuffer::new(5);
        t.push(b"abc");
        t.push(b"defg");
        assert_eq!(t.truncated_bytes(), 2);
        assert_eq!(t.into_text(), "[... 2 bytes truncated ...]\ncdefg");
        let mut t = TailBuffer::new(4);
        t.push(b"0123456789");
        assert_eq!(t.into_text(), "[... 6 bytes truncated ...]\n6789");
    }

    #[test]
    fn a_cut_inside_a_character_is_skipped() {
        let mut t = TailBuffer::new(3);
        t.push("xé!".as_bytes());
        let text = t.into_text();
        assert!(text.ends_with("é!"), "{text}");
        let mut t = TailBuffer::new(2);
        t.push("é!".as_bytes());
        t.push(b"");
        assert_eq!(t.truncated_bytes(), 1);
        assert!(t.into_text().ends_with("\n!"));
    }
}
