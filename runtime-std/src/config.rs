//! The `serve` flags, shared by every server binary, and their conversion to core settings.
//!
//! A binary flattens [`ServeArgs`] into its own clap command, so all runtimes take the same
//! flags with the same defaults (those of `spec/PROTOCOL.md`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use unstuck_core::chat::{ChatConfig, Mode};
use unstuck_core::upload::UploadConfig;

/// The most `--max-message` may be, so that the largest MESSAGE frame fits the frame bound.
pub const MAX_MESSAGE_LIMIT: u64 = 65_519;

/// What the chat port does with messages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum ChatMode {
    /// Answer each message with `<message>,你好`, like the 2017 tutorial.
    #[default]
    Bot,
    /// Broadcast each message to everyone else connected, as `<nick>: <text>`.
    Room,
}

/// Flags of `unstuck serve`.
#[derive(Args, Clone, Debug)]
pub struct ServeArgs {
    /// Address of the chat service.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8888")]
    pub chat: SocketAddr,
    /// Address of the upload service.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9998")]
    pub upload: SocketAddr,
    /// Directory that receives uploads (created if missing).
    #[arg(long, value_name = "DIR", default_value = "./uploads")]
    pub dir: PathBuf,
    /// Chat behaviour: `bot` answers each message, `room` broadcasts it to the others.
    #[arg(long, value_enum, value_name = "MODE", default_value_t = ChatMode::Bot)]
    pub chat_mode: ChatMode,
    /// Longest chat message in bytes (at most 65519).
    #[arg(long, value_name = "BYTES", default_value_t = 4096,
          value_parser = clap::value_parser!(u64).range(1..=MAX_MESSAGE_LIMIT))]
    pub max_message: u64,
    /// Largest file accepted; suffixes K, M, G, T (powers of 1024), e.g. 8G.
    #[arg(long, value_name = "SIZE", default_value = "8G", value_parser = parse_size)]
    pub max_file_size: u64,
    /// A chat client silent this long is disconnected; units ms, s, m, h (e.g. 300s, 5m).
    #[arg(long, value_name = "TIME", default_value = "300s", value_parser = parse_duration)]
    pub idle_timeout: Duration,
    /// An upload client that sends nothing this long while expected to is disconnected.
    #[arg(long, value_name = "TIME", default_value = "60s", value_parser = parse_duration)]
    pub stall_timeout: Duration,
    /// Connections per service; more are answered `! 503` and closed.
    #[arg(long, value_name = "N", default_value_t = 256)]
    pub max_conns: usize,
    /// Bytes that may wait to be sent to one chat client; past it the client is closed (450).
    #[arg(long, value_name = "SIZE", default_value = "64K", value_parser = parse_size)]
    pub send_queue: u64,
    /// Chat messages a client may send at once before the rate limit applies.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub flood_burst: u32,
    /// Chat messages per second a client may send in the long run.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub flood_rate: u32,
}

impl ServeArgs {
    /// The chat server settings these flags describe.
    pub fn chat_config(&self) -> ChatConfig {
        let mode = match self.chat_mode {
            ChatMode::Bot => Mode::Bot,
            ChatMode::Room => Mode::Room,
        };
        ChatConfig {
            max_message: usize::try_from(self.max_message).unwrap_or(usize::MAX),
            idle_timeout: self.idle_timeout,
            flood_burst: self.flood_burst,
            flood_rate: self.flood_rate,
            send_queue: usize::try_from(self.send_queue).unwrap_or(usize::MAX),
            ..ChatConfig::new(mode)
        }
    }

    /// The upload server settings these flags describe. `recv_buffer` is the runtime's
    /// choice: larger means fewer system calls per body byte.
    pub fn upload_config(&self, recv_buffer: usize) -> UploadConfig {
        UploadConfig {
            max_file_size: self.max_file_size,
            stall_timeout: self.stall_timeout,
            recv_buffer,
            ..UploadConfig::default()
        }
    }
}

/// The line a server prints on stdout once both services are bound, for people and for
/// scripts that start it on port 0: `listening chat=ADDR upload=ADDR`.
pub fn listening_line(chat: SocketAddr, upload: SocketAddr) -> String {
    format!("listening chat={chat} upload={upload}")
}

/// Parses a byte size: digits with an optional suffix K, M, G or T (powers of 1024), which may
/// be followed by `iB` or `B`: `4096`, `64K`, `8G`, `1GiB`.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let value: u64 = digits
        .parse()
        .map_err(|_| format!("`{text}` is not a size (try 4096, 64K or 8G)"))?;
    let shift = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => return Err(format!("unknown size unit in `{text}` (use K, M, G or T)")),
    };
    value
        .checked_mul(1 << shift)
        .ok_or_else(|| format!("`{text}` is too large"))
}

/// Parses a duration: digits with an optional unit `ms`, `s`, `m` or `h` (bare digits are
/// seconds): `150ms`, `60`, `5m`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let value: u64 = digits
        .parse()
        .map_err(|_| format!("`{text}` is not a duration (try 150ms, 60s or 5m)"))?;
    let millis = match unit {
        "ms" => Some(value),
        "" | "s" => value.checked_mul(1000),
        "m" => value.checked_mul(60_000),
        "h" => value.checked_mul(3_600_000),
        _ => return Err(format!("unknown time unit in `{text}` (use ms, s, m or h)")),
    };
    millis
        .map(Duration::from_millis)
        .ok_or_else(|| format!("`{text}` is too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("64K"), Ok(64 << 10));
        assert_eq!(parse_size("8G"), Ok(8 << 30));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("2mb"), Ok(2 << 20));
        assert!(parse_size("8X").is_err());
        assert!(parse_size("G").is_err());
        assert!(parse_size("99999999999T").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("150ms"), Ok(Duration::from_millis(150)));
        assert_eq!(parse_duration("60"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert!(parse_duration("5 days").is_err());
    }
}
