//! Tokens of a vector line, and byte expressions built from them.

use super::pattern::Piece;

/// One token of a vector line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Tok {
    /// A quoted string (escapes resolved), repeated `rep` times (`"ab"*3`).
    Str(Vec<u8>, usize),
    /// Anything else up to whitespace, a quote or a brace.
    Word(String),
    /// `{`: a frame starts.
    Open,
    /// `}`: the frame ends.
    Close,
}

/// Splits a line into tokens; `#` outside a string starts a comment.
pub(crate) fn tokens(line: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '#' => break,
            '{' | '}' => {
                chars.next();
                out.push(if c == '{' { Tok::Open } else { Tok::Close });
            }
            '"' => {
                chars.next();
                let s = string(&mut chars)?;
                let mut rep = 1;
                if chars.peek() == Some(&'*') {
                    chars.next();
                    let mut n = String::new();
                    while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                        n.push(*d);
                        chars.next();
                    }
                    rep = n
                        .parse()
                        .map_err(|_| "bad repeat count after string".to_string())?;
                }
                out.push(Tok::Str(s, rep));
            }
            _ => {
                let mut w = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || matches!(c, '"' | '{' | '}') {
                        break;
                    }
                    w.push(c);
                    chars.next();
                }
                out.push(Tok::Word(w));
            }
        }
    }
    Ok(out)
}

/// Reads a string body after its opening quote, resolving escapes.
fn string(chars: &mut impl Iterator<Item = char>) -> Result<Vec<u8>, String> {
    let mut s = Vec::new();
    loop {
        match chars.next().ok_or("unterminated string")? {
            '"' => return Ok(s),
            '\\' => match chars.next().ok_or("unterminated escape")? {
                'n' => s.push(b'\n'),
                'r' => s.push(b'\r'),
                't' => s.push(b'\t'),
                '0' => s.push(0),
                '\\' => s.push(b'\\'),
                '"' => s.push(b'"'),
                'x' => {
                    let hex: String = chars.take(2).collect();
                    let b = u8::from_str_radix(&hex, 16).map_err(|_| format!("bad \\x{hex}"))?;
                    s.push(b);
                }
                e => return Err(format!("unknown escape \\{e}")),
            },
            c => s.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
        }
    }
}

/// Decodes an even-length hex run.
pub(crate) fn hex(w: &str) -> Option<Vec<u8>> {
    if w.is_empty() || w.len() % 2 != 0 || !w.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..w.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&w[i..i + 2], 16).ok())
        .collect()
}

/// Frame type names of section 5.5.
pub(crate) const FRAME_TYPES: [(&str, u8); 14] = [
    ("HELLO", 0x01),
    ("SAY", 0x10),
    ("BYE", 0x12),
    ("REPLY", 0x21),
    ("MESSAGE", 0x22),
    ("NOTICE", 0x23),
    ("ERROR", 0x2E),
    ("CLOSE", 0x2F),
    ("OFFER", 0x30),
    ("DIGEST", 0x31),
    ("ACCEPT", 0x40),
    ("REJECT", 0x41),
    ("VERIFIED", 0x42),
    ("MISMATCH", 0x43),
];

/// The frame type for a name or a two-digit hex value.
fn frame_type(w: &str) -> Option<u8> {
    match FRAME_TYPES.iter().find(|(name, _)| *name == w) {
        Some((_, kind)) => Some(*kind),
        None if w.len() == 2 => hex(w).map(|v| v[0]),
        None => None,
    }
}

/// `u8:N` .. `u64:N`: a big-endian integer.
fn integer(w: &str) -> Option<Result<Vec<u8>, String>> {
    let (width, n) = w.split_once(':')?;
    let bytes = match width {
        "u8" => 1,
        "u16" => 2,
        "u32" => 4,
        "u64" => 8,
        _ => return None,
    };
    Some(match n.parse::<u64>() {
        Ok(v) if bytes == 8 || v < 1 << (8 * bytes) => Ok(v.to_be_bytes()[8 - bytes..].to_vec()),
        _ => Err(format!("{w} does not fit")),
    })
}

/// A byte expression: strings, hex runs, `MAGIC`, `uN:V`, `{TYPE ...}` frames and, where
/// `wild` is allowed, the wildcard `*`.
pub(crate) fn bytes_expr(toks: &[Tok], wild: bool) -> Result<Vec<Piece>, String> {
    let mut pos = 0;
    let pieces = items(toks, &mut pos, wild, false)?;
    if pos != toks.len() {
        return Err("unbalanced '}'".into());
    }
    Ok(pieces)
}

fn items(toks: &[Tok], pos: &mut usize, wild: bool, in_frame: bool) -> Result<Vec<Piece>, String> {
    let mut out = Vec::new();
    while let Some(t) = toks.get(*pos) {
        *pos += 1;
        match t {
            Tok::Str(s, rep) => out.push(Piece::Lit(s.repeat(*rep))),
            Tok::Close if in_frame => return Ok(out),
            Tok::Close => {
                *pos -= 1;
                return Ok(out);
            }
            Tok::Open => {
                let Some(Tok::Word(w)) = toks.get(*pos) else {
                    return Err("a frame starts with its type".into());
                };
                let kind = frame_type(w).ok_or_else(|| format!("unknown frame type {w}"))?;
                *pos += 1;
                let payload = items(toks, pos, wild, true)?;
                out.push(Piece::Frame(kind, payload));
            }
            Tok::Word(w) if w == "*" && wild => out.push(Piece::Wild),
            Tok::Word(w) if w == "MAGIC" => out.push(Piece::Lit(vec![0xFF, b'U', b'S', b'K'])),
            Tok::Word(w) => {
                if let Some(v) = integer(w) {
                    out.push(Piece::Lit(v?));
                    continue;
                }
                let (h, rep) = match w.split_once('*') {
                    Some((h, n)) => (h, n.parse().map_err(|_| format!("bad repeat in {w}"))?),
                    None => (w.as_str(), 1),
                };
                let v = hex(h).ok_or_else(|| format!("not a byte expression: {w}"))?;
                out.push(Piece::Lit(v.repeat(rep)));
            }
        }
    }
    if in_frame {
        return Err("unterminated frame".into());
    }
    Ok(out)
}
