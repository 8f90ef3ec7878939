//! How server messages look on the wire in each form.

use alloc::vec::Vec;

use super::Form;
use crate::ErrorCode;
use crate::frame::{self, kind};

/// A message from the server to one client, borrowed so that a room can render one shared
/// message into many connections without copying it first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerMessage<'a> {
    /// The bot's answer.
    Reply(&'a str),
    /// A room message from `from`.
    Message {
        /// The sender's nickname.
        from: &'a str,
        /// What they said.
        text: &'a str,
    },
    /// A room notice (joins, leaves, renames, the member's own nickname).
    Notice(&'a str),
    /// A non-fatal error: the connection stays open.
    Error {
        /// Why.
        code: ErrorCode,
        /// Details for people.
        text: &'a str,
    },
}

/// Text is echoed exactly (spec 6.6). No LF can reach a line-form client inside a message:
/// a line cannot hold one, and a room refuses control characters before it delivers.
fn push_text(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(text.as_bytes());
}

fn end_text(out: &mut Vec<u8>, form: Form) {
    if form != Form::Classic {
        out.push(b'\n');
    }
}

fn push_code(out: &mut Vec<u8>, code: ErrorCode, text: &str) {
    out.extend_from_slice(b"! ");
    out.extend_from_slice(alloc::format!("{}", code.to_u16()).as_bytes());
    out.push(b' ');
    push_text(out, text);
}

/// Appends `msg` as `form` frames it. `Form::Line` is also used while the form is unknown.
pub(crate) fn render(out: &mut Vec<u8>, form: Form, msg: &ServerMessage<'_>) {
    if form == Form::Native {
        match *msg {
            ServerMessage::Reply(t) => frame::write(out, kind::REPLY, &[t.as_bytes()]),
            ServerMessage::Message { from, text } => {
                let from = &from.as_bytes()[..from.len().min(255)];
                frame::write(
                    out,
                    kind::MESSAGE,
                    &[&[from.len() as u8], from, text.as_bytes()],
                );
            }
            ServerMessage::Notice(t) => frame::write(out, kind::NOTICE, &[t.as_bytes()]),
            ServerMessage::Error { code, text } => {
                frame::write_coded(out, kind::ERROR, code.to_u16(), text);
            }
        }
        return;
    }
    match *msg {
        ServerMessage::Reply(t) => push_text(out, t),
        ServerMessage::Message { from, text } => {
            push_text(out, from);
            out.extend_from_slice(b": ");
            push_text(out, text);
        }
        ServerMessage::Notice(t) => {
            out.extend_from_slice(b"* ");
            push_text(out, t);
        }
        ServerMessage::Error { code, text } => push_code(out, code, text),
    }
    end_text(out, form);
}

/// Appends the last words before the server closes. Text forms say nothing for a normal end.
pub(crate) fn render_close(out: &mut Vec<u8>, form: Form, code: ErrorCode, text: &str) {
    if form == Form::Native {
        frame::write_coded(out, kind::CLOSE, code.to_u16(), text);
    } else if code != ErrorCode::Bye {
        push_code(out, code, text);
        end_text(out, form);
    }
}
