//! Room mode: who is in the room, under which nickname, and who receives what.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use super::ServerMessage;
use crate::ErrorCode;

/// Longest nickname, in characters.
pub const MAX_NICK_CHARS: usize = 32;

/// Checks a nickname: 1 to 32 ASCII letters, digits, `_` or `-`. ASCII only, so that names
/// that look alike are alike (no homoglyphs); uniqueness ignores ASCII case.
pub fn validate_nick(nick: &str) -> Result<(), &'static str> {
    if nick.is_empty() || nick.len() > MAX_NICK_CHARS {
        return Err("a nickname has 1 to 32 characters");
    }
    if !nick
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
    {
        return Err("a nickname has only ASCII letters, digits, _ and -");
    }
    Ok(())
}

/// Who receives a [`Delivery`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target<K> {
    /// One member.
    One(K),
    /// Every member but one (the sender).
    AllBut(K),
}

/// A message the room produced, shared by all its recipients.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RoomMessage {
    /// `from` said `text`.
    Message {
        /// The sender's nickname at the time.
        from: Arc<str>,
        /// What they said.
        text: Arc<str>,
    },
    /// A notice.
    Notice(Arc<str>),
    /// An error for one member; their connection stays open.
    Error {
        /// Why.
        code: ErrorCode,
        /// Details.
        text: &'static str,
    },
}

impl RoomMessage {
    /// The message as [`super::ChatServer::send`] takes it.
    pub fn as_server_message(&self) -> ServerMessage<'_> {
        match self {
            RoomMessage::Message { from, text } => ServerMessage::Message { from, text },
            RoomMessage::Notice(t) => ServerMessage::Notice(t),
            RoomMessage::Error { code, text } => ServerMessage::Error { code: *code, text },
        }
    }
}

/// One message and who receives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery<K> {
    /// The recipients.
    pub to: Target<K>,
    /// The message.
    pub message: RoomMessage,
}

/// The membership of one chat room, keyed by the driver's connection ids.
///
/// It decides; the driver delivers. Every method returns the deliveries it caused, which the
/// driver passes to each recipient's [`super::ChatServer::send`].
///
/// ```
/// use unstuck_core::chat::{Room, Target};
///
/// let mut room = Room::new();
/// room.join(1);
/// room.join(2);
/// let out = room.say(1, "hi");
/// assert_eq!(out[0].to, Target::AllBut(1));
/// assert_eq!(out[0].message.as_server_message(),
///     unstuck_core::chat::ServerMessage::Message { from: "guest-1", text: "hi" });
/// ```
#[derive(Debug)]
pub struct Room<K> {
    members: BTreeMap<K, Arc<str>>,
    next_guest: u64,
}

impl<K: Ord + Copy> Default for Room<K> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Ord + Copy> Room<K> {
    /// An empty room.
    pub fn new() -> Self {
        Room {
            members: BTreeMap::new(),
            next_guest: 1,
        }
    }

    /// How many members there are.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether the room is empty.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The members' ids, in order.
    pub fn members(&self) -> impl Iterator<Item = K> + '_ {
        self.members.keys().copied()
    }

    /// A member's nickname.
    pub fn nick(&self, id: K) -> Option<&str> {
        self.members.get(&id).map(|n| &**n)
    }

    fn taken(&self, nick: &str) -> bool {
        self.members.values().any(|n| n.eq_ignore_ascii_case(nick))
    }

    /// Adds `id` under a fresh `guest-N` name. Joining twice changes nothing.
    pub fn join(&mut self, id: K) -> Vec<Delivery<K>> {
        if self.members.contains_key(&id) {
            return Vec::new();
        }
        let nick = loop {
            let candidate = format!("guest-{}", self.next_guest);
            self.next_guest += 1;
            if !self.taken(&candidate) {
                break candidate;
            }
        };
        let you = notice(format!("you are {nick}"));
        let joined = notice(format!("{nick} joined"));
        self.members.insert(id, nick.into());
        alloc::vec![
            Delivery {
                to: Target::One(id),
                message: you
            },
            Delivery {
                to: Target::AllBut(id),
                message: joined
            },
        ]
    }

    /// Removes `id`; the others are told.
    pub fn leave(&mut self, id: K) -> Vec<Delivery<K>> {
        match self.members.remove(&id) {
            Some(nick) => alloc::vec![Delivery {
                to: Target::AllBut(id),
                message: notice(format!("{nick} left")),
            }],
            None => Vec::new(),
        }
    }

    /// `id` said `text`: a `/nick NAME` command, or a message for everyone else.
    pub fn say(&mut self, id: K, text: &str) -> Vec<Delivery<K>> {
        let Some(nick) = self.members.get(&id).cloned() else {
            return Vec::new();
        };
        if let Some(arg) = text
            .strip_prefix("/nick")
            .filter(|a| a.is_empty() || a.starts_with(' '))
        {
            // The rest is the name, taken exactly (spec 6.7): "/nick  bob" is not "bob".
            return self.rename(id, &nick, arg.strip_prefix(' ').unwrap_or(arg));
        }
        alloc::vec![Delivery {
            to: Target::AllBut(id),
            message: RoomMessage::Message {
                from: nick,
                text: text.into()
            },
        }]
    }

    fn rename(&mut self, id: K, old: &str, new: &str) -> Vec<Delivery<K>> {
        let error = |code, text| {
            alloc::vec![Delivery {
                to: Target::One(id),
                message: RoomMessage::Error { code, text }
            }]
        };
        if let Err(why) = validate_nick(new) {
            return error(ErrorCode::BadName, why);
        }
        if new == old {
            return Vec::new();
        }
        if self.taken(new) && !new.eq_ignore_ascii_case(old) {
            return error(ErrorCode::Taken, "nickname already taken");
        }
        self.members.insert(id, new.into());
        let renamed = notice(format!("{old} is now {new}"));
        alloc::vec![
            Delivery {
                to: Target::One(id),
                message: renamed.clone()
            },
            Delivery {
                to: Target::AllBut(id),
                message: renamed
            },
        ]
    }
}

fn notice(text: String) -> RoomMessage {
    RoomMessage::Notice(text.into())
}
