//! Response compression, negotiated from `Accept-Encoding` the way Prometheus' web handlers do:
//! gzip first, then deflate (zlib-wrapped, as Go's `compress/zlib`), else identity.

use std::io::Write;

use flate2::write::{GzEncoder, ZlibEncoder};
use flate2::Compression;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContentEncoding {
    Identity,
    Gzip,
    Deflate,
}

impl ContentEncoding {
    /// Picks an encoding from an `Accept-Encoding` header value.
    pub fn negotiate(accept_encoding: Option<&str>) -> Self {
        let Some(header) = accept_encoding else {
            return ContentEncoding::Identity;
        };
        let offered = |name: &str| {
            header.split(',').any(|part| {
                let mut fields = part.split(';');
                let coding = fields.next().unwrap_or("").trim();
                let refused =
                    fields.any(|p| matches!(p.trim(), "q=0" | "q=0.0" | "q=0.00" | "q=0.000"));
                coding.eq_ignore_ascii_case(name) && !refused
            })
        };
        if offered("gzip") {
            ContentEncoding::Gzip
        } else if offered("deflate") {
            ContentEncoding::Deflate
        } else {
            ContentEncoding::Identity
        }
    }

    /// The `Content-Encoding` header value, or None for identity.
    pub fn header_value(self) -> Option<&'static str> {
        match self {
            ContentEncoding::Identity => None,
            ContentEncoding::Gzip => Some("gzip"),
            ContentEncoding::Deflate => Some("deflate"),
        }
    }
}

/// Turns plain text written in pieces into the bytes to send, compressing if negotiated.
/// `take` hands out what is ready so far; `finish` flushes the compressor's tail.
pub enum Encoder {
    Identity(Vec<u8>),
    Gzip(GzEncoder<Vec<u8>>),
    Deflate(ZlibEncoder<Vec<u8>>),
}

impl Encoder {
    pub fn new(encoding: ContentEncoding) -> Self {
        let level = Compression::fast();
        match encoding {
            ContentEncoding::Identity => Encoder::Identity(Vec::new()),
            ContentEncoding::Gzip => Encoder::Gzip(GzEncoder::new(Vec::new(), level)),
            ContentEncoding::Deflate => Encoder::Deflate(ZlibEncoder::new(Vec::new(), level)),
        }
    }

    pub fn write(&mut self, text: &[u8]) {
        // Writing into a Vec cannot fail.
        let _ = match self {
            Encoder::Identity(out) => {
                out.extend_from_slice(text);
                Ok(())
            }
            Encoder::Gzip(e) => e.write_all(text),
            Encoder::Deflate(e) => e.write_all(text),
        };
    }

    /// Encodes the text gathered in `text`, leaving it empty, and returns the bytes ready to
    /// send (possibly none while a compressor buffers). Identity hands over the text buffer
    /// itself instead of copying it.
    pub fn encode(&mut self, text: &mut Vec<u8>) -> Vec<u8> {
        if let Encoder::Identity(out) = self {
            if out.is_empty() {
                return std::mem::replace(text, Vec::with_capacity(text.capacity()));
            }
        }
        self.write(text);
        text.clear();
        self.take()
    }

    /// The encoded bytes produced so far (possibly empty while a compressor buffers).
    pub fn take(&mut self) -> Vec<u8> {
        std::mem::take(match self {
            Encoder::Identity(out) => out,
            Encoder::Gzip(e) => e.get_mut(),
            Encoder::Deflate(e) => e.get_mut(),
        })
    }

    pub fn finish(self) -> Vec<u8> {
        match self {
            Encoder::Identity(out) => out,
            Encoder::Gzip(e) => e.finish().unwrap_or_default(),
            Encoder::Deflate(e) => e.finish().unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn negotiation() {
        for (header, want) in [
            (None, ContentEncoding::Identity),
            (Some(""), ContentEncoding::Identity),
            (Some("gzip"), ContentEncoding::Gzip),
            (Some("deflate, gzip;q=1.0, *;q=0.5"), ContentEncoding::Gzip),
            (Some("deflate"), ContentEncoding::Deflate),
            (Some("gzip;q=0, deflate"), ContentEncoding::Deflate),
            (Some("br"), ContentEncoding::Identity),
        ] {
            assert_eq!(ContentEncoding::negotiate(header), want, "{header:?}");
        }
    }

    #[test]
    fn gzip_round_trip_across_takes() {
        let mut enc = Encoder::new(ContentEncoding::Gzip);
        let mut wire = Vec::new();
        for i in 0..1000 {
            enc.write(format!("line {i}\n").as_bytes());
            wire.extend(enc.take());
        }
        wire.extend(enc.finish());
        let mut text = String::new();
        flate2::read::GzDecoder::new(&wire[..])
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text.lines().count(), 1000);
        assert_eq!(text.lines().last(), Some("line 999"));
    }
}
