//! Expected bytes with wildcards, and how actual output is matched against them.

use std::fmt::Write as _;

use super::lex::FRAME_TYPES;

/// One part of a byte pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Piece {
    /// Exactly these bytes.
    Lit(Vec<u8>),
    /// `*`: any bytes. At top level the shortest run without LF that lets the rest match;
    /// inside a frame, any bytes (the frame's length bounds it).
    Wild,
    /// A native frame: the type, then a u32 length taken from the data, then the payload.
    Frame(u8, Vec<Piece>),
}

/// Concrete bytes of a pattern without wildcards (input, driver data).
pub(crate) fn concrete(pieces: &[Piece]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    for p in pieces {
        match p {
            Piece::Lit(b) => out.extend_from_slice(b),
            Piece::Wild => return Err("'*' is only allowed in expectations".into()),
            Piece::Frame(kind, payload) => {
                let payload = concrete(payload)?;
                out.push(*kind);
                let len = u32::try_from(payload.len()).map_err(|_| "frame too long")?;
                out.extend_from_slice(&len.to_be_bytes());
                out.extend_from_slice(&payload);
            }
        }
    }
    Ok(out)
}

/// Whether `data` is exactly what `pieces` describe.
pub(crate) fn matches(pieces: &[Piece], data: &[u8]) -> bool {
    matches_in(pieces, data, false)
}

fn matches_in(pieces: &[Piece], data: &[u8], in_frame: bool) -> bool {
    let Some((first, rest)) = pieces.split_first() else {
        return data.is_empty();
    };
    match first {
        Piece::Lit(l) => data.starts_with(l) && matches_in(rest, &data[l.len()..], in_frame),
        Piece::Wild => (0..=data.len())
            .take_while(|&i| in_frame || i == 0 || data[i - 1] != b'\n')
            .any(|i| matches_in(rest, &data[i..], in_frame)),
        Piece::Frame(kind, payload) => {
            let [k, a, b, c, d, tail @ ..] = data else {
                return false;
            };
            let len = u32::from_be_bytes([*a, *b, *c, *d]) as usize;
            k == kind
                && tail.len() >= len
                && matches_in(payload, &tail[..len], true)
                && matches_in(rest, &tail[len..], in_frame)
        }
    }
}

/// Shows bytes as a vector would write them: printable UTF-8 in quotes, the rest in hex.
pub(crate) fn show(data: &[u8]) -> String {
    if data.is_empty() {
        return "\"\"".into();
    }
    let mut out = String::new();
    let mut text = String::new();
    let flush = |out: &mut String, text: &mut String| {
        if !text.is_empty() {
            let _ = write!(out, "\"{text}\" ");
            text.clear();
        }
    };
    for chunk in data.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\n' => text.push_str("\\n"),
                '\r' => text.push_str("\\r"),
                '\t' => text.push_str("\\t"),
                '"' => text.push_str("\\\""),
                '\\' => text.push_str("\\\\"),
                c if c.is_control() => {
                    flush(&mut out, &mut text);
                    for b in c.encode_utf8(&mut [0; 4]).bytes() {
                        let _ = write!(out, "{b:02X} ");
                    }
                }
                c => text.push(c),
            }
        }
        if !chunk.invalid().is_empty() {
            flush(&mut out, &mut text);
            for b in chunk.invalid() {
                let _ = write!(out, "{b:02X} ");
            }
        }
    }
    flush(&mut out, &mut text);
    if out.len() > 600 {
        let cut = (0..=600)
            .rev()
            .find(|&i| out.is_char_boundary(i))
            .unwrap_or(0);
        out.truncate(cut);
        out.push_str("...");
    }
    out.trim_end().to_string()
}

/// Shows a pattern for failure messages.
pub(crate) fn show_pattern(pieces: &[Piece]) -> String {
    let parts: Vec<String> = pieces
        .iter()
        .map(|p| match p {
            Piece::Lit(b) => show(b),
            Piece::Wild => "*".into(),
            Piece::Frame(k, payload) => {
                let name = FRAME_TYPES
                    .iter()
                    .find(|(_, t)| t == k)
                    .map(|(n, _)| n.to_string());
                let name = name.unwrap_or_else(|| format!("{k:02X}"));
                format!("{{{name} {}}}", show_pattern(payload))
            }
        })
        .collect();
    parts.join(" ")
}
