//! The reader of `spec/vectors/digest.txt` (its format is described in its header).

use unstuck_core::digest::Algorithm;

/// One line of `digest.txt`: the digest of `input` under `algorithm` is `digest`.
#[derive(Clone, Debug)]
pub struct DigestVector {
    /// Line number in the file, for messages.
    pub line: usize,
    /// The algorithm, by its name in the file.
    pub algorithm: Algorithm,
    /// The input spec as written (`text:abc`, `pattern:64`).
    pub spec: String,
    /// The input bytes the spec describes.
    pub input: Vec<u8>,
    /// The expected digest.
    pub digest: Vec<u8>,
}

/// Parses `digest.txt`.
pub fn parse_digests(text: &str) -> Result<Vec<DigestVector>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split(' ').collect();
        let [alg, spec, hex] = fields[..] else {
            return Err(format!("digest.txt:{n}: three fields expected"));
        };
        let algorithm =
            Algorithm::from_name(alg).ok_or(format!("digest.txt:{n}: unknown algorithm {alg}"))?;
        let input = if let Some(t) = spec.strip_prefix("text:") {
            t.as_bytes().to_vec()
        } else if let Some(len) = spec.strip_prefix("pattern:") {
            let len: usize = len
                .parse()
                .map_err(|_| format!("digest.txt:{n}: bad length"))?;
            (0..len).map(|i| (i % 251) as u8).collect()
        } else {
            return Err(format!("digest.txt:{n}: unknown input spec {spec}"));
        };
        let digest = super::lex::hex(hex).ok_or(format!("digest.txt:{n}: bad hex"))?;
        if hex.bytes().any(|b| b.is_ascii_uppercase()) || digest.len() != algorithm.digest_len() {
            return Err(format!(
                "digest.txt:{n}: digest is not lowercase hex of the right length"
            ));
        }
        out.push(DigestVector {
            line: n,
            algorithm,
            spec: spec.into(),
            input,
            digest,
        });
    }
    Ok(out)
}
