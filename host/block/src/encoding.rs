//! The primitive encodings every block file is made of: big-endian fixed integers, Go's
//! varints (LEB128, zig-zag for signed), length-prefixed strings, and CRC32-Castagnoli.
//!
//! Writers append to a plain `Vec<u8>` through [`Encode`]; readers walk a borrowed slice with
//! [`Decbuf`], which never panics on short or malformed input: every read returns a
//! [`DecodeError`] that the file's reader turns into a corruption error naming the file and
//! the section.

use std::fmt;

/// CRC32-Castagnoli, the checksum of every section, series entry, chunk and tombstone file.
pub fn crc32(bytes: &[u8]) -> u32 {
    crc32c::crc32c(bytes)
}

/// Why a slice could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// Fewer bytes than the encoding needs.
    Short,
    /// A varint longer than 10 bytes or overflowing 64 bits.
    Varint,
    /// A string that is not UTF-8.
    Utf8,
    /// The stored checksum does not match the bytes.
    Checksum { stored: u32, computed: u32 },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Short => f.write_str("unexpected end of data"),
            DecodeError::Varint => f.write_str("invalid varint"),
            DecodeError::Utf8 => f.write_str("string is not valid UTF-8"),
            DecodeError::Checksum { stored, computed } => write!(
                f,
                "checksum mismatch: stored {stored:#010x}, computed {computed:#010x}"
            ),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Appending the encodings to a byte vector.
pub trait Encode {
    fn put_be32(&mut self, v: u32);
    fn put_be64(&mut self, v: u64);
    fn put_uvarint(&mut self, v: u64);
    /// Go's `PutVarint`: zig-zag, then LEB128.
    fn put_varint(&mut self, v: i64);
    /// A uvarint length, then the bytes.
    fn put_uvarint_str(&mut self, s: &str);
}

impl Encode for Vec<u8> {
    fn put_be32(&mut self, v: u32) {
        self.extend_from_slice(&v.to_be_bytes());
    }

    fn put_be64(&mut self, v: u64) {
        self.extend_from_slice(&v.to_be_bytes());
    }

    fn put_uvarint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.push(v as u8 | 0x80);
            v >>= 7;
        }
        self.push(v as u8);
    }

    fn put_varint(&mut self, v: i64) {
        self.put_uvarint(((v << 1) ^ (v >> 63)) as u64);
    }

    fn put_uvarint_str(&mut self, s: &str) {
        self.put_uvarint(s.len() as u64);
        self.extend_from_slice(s.as_bytes());
    }
}

/// A cursor over a borrowed slice.
#[derive(Clone, Copy, Debug)]
pub struct Decbuf<'a> {
    b: &'a [u8],
}

impl<'a> Decbuf<'a> {
    pub fn new(b: &'a [u8]) -> Self {
        Decbuf { b }
    }

    /// The section at `off` in `file` that starts with a 4-byte length and ends with a CRC32
    /// of the `len` bytes after the length: checked, and returned without length and checksum.
    pub fn section_be32(file: &'a [u8], off: usize) -> Result<Self, DecodeError> {
        Self::section(file, off, |d| d.be32().map(u64::from))
    }

    /// Like [`Decbuf::section_be32`] for sections whose length is a uvarint (series entries).
    pub fn section_uvarint(file: &'a [u8], off: usize) -> Result<Self, DecodeError> {
        Self::section(file, off, Decbuf::uvarint)
    }

    fn section(
        file: &'a [u8],
        off: usize,
        read_len: impl FnOnce(&mut Decbuf<'a>) -> Result<u64, DecodeError>,
    ) -> Result<Self, DecodeError> {
        let mut head = Decbuf::new(file.get(off..).ok_or(DecodeError::Short)?);
        let len = read_len(&mut head)? as usize;
        let body = head.bytes(len)?;
        let stored = head.be32()?;
        check(body, stored)?;
        Ok(Decbuf::new(body))
    }

    pub fn remaining(&self) -> &'a [u8] {
        self.b
    }

    pub fn len(&self) -> usize {
        self.b.len()
    }

    pub fn is_empty(&self) -> bool {
        self.b.is_empty()
    }

    pub fn skip(&mut self, n: usize) -> Result<(), DecodeError> {
        self.bytes(n).map(|_| ())
    }

    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.b.len() < n {
            return Err(DecodeError::Short);
        }
        let (head, tail) = self.b.split_at(n);
        self.b = tail;
        Ok(head)
    }

    pub fn byte(&mut self) -> Result<u8, DecodeError> {
        Ok(self.bytes(1)?[0])
    }

    pub fn be32(&mut self) -> Result<u32, DecodeError> {
        let b = self.bytes(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn be64(&mut self) -> Result<u64, DecodeError> {
        let b = self.bytes(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }

    pub fn uvarint(&mut self) -> Result<u64, DecodeError> {
        let mut v = 0u64;
        for (i, &byte) in self.b.iter().enumerate().take(10) {
            if i == 9 && byte > 1 {
                return Err(DecodeError::Varint);
            }
            v |= u64::from(byte & 0x7f) << (7 * i);
            if byte < 0x80 {
                self.b = &self.b[i + 1..];
                return Ok(v);
            }
        }
        Err(if self.b.len() < 10 {
            DecodeError::Short
        } else {
            DecodeError::Varint
        })
    }

    pub fn uvarint32(&mut self) -> Result<u32, DecodeError> {
        u32::try_from(self.uvarint()?).map_err(|_| DecodeError::Varint)
    }

    pub fn varint(&mut self) -> Result<i64, DecodeError> {
        let u = self.uvarint()?;
        Ok(((u >> 1) as i64) ^ -((u & 1) as i64))
    }

    pub fn uvarint_bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let n = self.uvarint()? as usize;
        self.bytes(n)
    }

    pub fn uvarint_str(&mut self) -> Result<&'a str, DecodeError> {
        std::str::from_utf8(self.uvarint_bytes()?).map_err(|_| DecodeError::Utf8)
    }
}

/// Compares a stored checksum with the bytes'.
pub fn check(bytes: &[u8], stored: u32) -> Result<(), DecodeError> {
    let computed = crc32(bytes);
    if computed == stored {
        Ok(())
    } else {
        Err(DecodeError::Checksum { stored, computed })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn varints_match_go() {
        // Go: binary.PutUvarint / PutVarint.
        let cases: [(i64, &[u8]); 6] = [
            (0, &[0x00]),
            (-1, &[0x01]),
            (1, &[0x02]),
            (63, &[0x7e]),
            (-64, &[0x7f]),
            (64, &[0x80, 0x01]),
        ];
        for (v, want) in cases {
            let mut b = Vec::new();
            b.put_varint(v);
            assert_eq!(b, want, "varint {v}");
        }
        let mut b = Vec::new();
        b.put_uvarint(300);
        assert_eq!(b, [0xac, 0x02]);
    }

    #[test]
    fn castagnoli_check_value() {
        // The CRC-32C check value of "123456789" (RFC 3720).
        assert_eq!(crc32(b"123456789"), 0xe306_9283);
    }

    #[test]
    fn truncated_and_overlong_varints_are_errors() {
        assert_eq!(Decbuf::new(&[0x80]).uvarint(), Err(DecodeError::Short));
        assert_eq!(Decbuf::new(&[0xff; 11]).uvarint(), Err(DecodeError::Varint));
        assert_eq!(Decbuf::new(&[0x01, 0x02]).be32(), Err(DecodeError::Short));
    }

    #[test]
    fn sections_are_checked() {
        let mut file = vec![0xaa];
        let body = b"hello";
        file.put_be32(body.len() as u32);
        file.extend_from_slice(body);
        file.put_be32(crc32(body));
        assert_eq!(
            Decbuf::section_be32(&file, 1).unwrap().remaining(),
            b"hello"
        );
        *file.last_mut().unwrap() ^= 1;
        assert!(matches!(
            Decbuf::section_be32(&file, 1),
            Err(DecodeError::Checksum { .. })
        ));
    }

    proptest! {
        #[test]
        fn round_trip(u in any::<u64>(), i in any::<i64>(), s in ".{0,40}") {
            let mut b = Vec::new();
            b.put_uvarint(u);
            b.put_varint(i);
            b.put_uvarint_str(&s);
            b.put_be64(u);
            let mut d = Decbuf::new(&b);
            prop_assert_eq!(d.uvarint().unwrap(), u);
            prop_assert_eq!(d.varint().unwrap(), i);
            prop_assert_eq!(d.uvarint_str().unwrap(), s.as_str());
            prop_assert_eq!(d.be64().unwrap(), u);
            prop_assert!(d.is_empty());
        }
    }
}
