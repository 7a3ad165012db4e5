//! SHA-256 digests computed while bytes stream through a writer or reader.

use std::io::{self, Read, Write};

use sha2::{Digest as _, Sha256};

/// Wraps a writer, hashing and counting every byte written through it.
pub(crate) struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    count: u64,
}

impl<W: Write> HashingWriter<W> {
    pub(crate) fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    /// The wrapped writer, the `sha256:<hex>` digest and the byte count.
    pub(crate) fn finish(self) -> (W, String, u64) {
        (self.inner, format_digest(self.hasher), self.count)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Wraps a reader, hashing and counting every byte read through it.
pub(crate) struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    count: u64,
}

impl<R: Read> HashingReader<R> {
    pub(crate) fn new(inner: R) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    /// Reads what is left (a tar reader stops before the end-of-archive
    /// padding, which still belongs to the hashed stream), then returns the
    /// digest and the byte count.
    pub(crate) fn finish(mut self) -> io::Result<(String, u64)> {
        io::copy(&mut self, &mut io::sink())?;
        Ok((format_digest(self.hasher), self.count))
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

fn format_digest(hasher: Sha256) -> String {
    format!("sha256:{}", hex::encode(hasher.finalize()))
}

/// The `sha256:<hex>` digest of a byte slice.
pub(crate) fn sha256(bytes: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(bytes);
    format_digest(hasher)
}

/// The `sha256:<hex>` digest and length of everything `reader` yields.
pub(crate) fn sha256_reader(reader: impl Read) -> io::Result<(String, u64)> {
    HashingReader::new(reader).finish()
}

/// The hex part of a `sha256:<hex>` digest.
pub(crate) fn hex_part(digest: &str) -> &str {
    digest.strip_prefix("sha256:").unwrap_or(digest)
}

/// Incrementally builds a cache key from labelled fields, so that two
/// different field sequences can never produce the same bytes.
pub(crate) struct KeyHasher(Sha256);

impl KeyHasher {
    pub(crate) fn new(domain: &str) -> Self {
        let mut key = Self(Sha256::new());
        key.field(domain.as_bytes());
        key
    }

    pub(crate) fn field(&mut self, bytes: &[u8]) -> &mut Self {
        self.0.update((bytes.len() as u64).to_le_bytes());
        self.0.update(bytes);
        self
    }

    pub(crate) fn finish(self) -> String {
        hex::encode(self.0.finalize())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writer_and_reader_agree_with_the_one_shot_digest() {
        let data = b"hello layers";
        let mut writer = HashingWriter::new(Vec::new());
        writer.write_all(data).unwrap();
        let (bytes, digest, count) = writer.finish();
        assert_eq!(bytes, data);
        assert_eq!(count, 12);
        assert_eq!(digest, sha256(data));
        assert_eq!(
            digest,
            "sha256:eba15cf954991012cd4a72d9152b5cedbb6b403b7f094d4597be8dc1ad1cf005"
        );
        assert_eq!(sha256_reader(&data[..]).unwrap(), (digest, 12));
    }

    #[test]
    fn key_fields_are_length_prefixed() {
        let mut a = KeyHasher::new("t");
        a.field(b"ab").field(b"c");
        let mut b = KeyHasher::new("t");
        b.field(b"a").field(b"bc");
        assert_ne!(a.finish(), b.finish());
    }
}
