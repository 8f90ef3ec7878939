//! One conformance suite for both runtimes.
//!
//! Each scenario is written once, in `conformance/chat.rs` or `conformance/upload.rs`, as a
//! function of what it runs against, and instantiated here for every combination:
//!
//! - `per_pair!`: scenarios that use a client library run for each (server, client) pair,
//!   `std` and `smol` servers with `std` and `smol` clients, mixed pairs included. A test is
//!   named `<scenario>::<server>_server_<client>_client`.
//! - `per_server!`: scenarios whose client is a seed-style client written by hand (`nc`
//!   lines, the seed's chat and upload programs, native frames the libraries would refuse to
//!   send); they involve no client library, so they run once per server:
//!   `<scenario>::<server>_server`.
//!
//! `cargo test -p unstuck-tests --test conformance smol_server_std_client` runs one pair;
//! `cargo test -p unstuck-tests --test conformance resume` one scenario on every pair.

#[path = "conformance/chat.rs"]
mod chat;
#[path = "conformance/upload.rs"]
mod upload;

macro_rules! per_server {
    ($($module:ident::$scenario:ident),* $(,)?) => {$(
        mod $scenario {
            use unstuck_tests::conformance::Runtime;

            #[test]
            fn std_server() {
                super::$module::$scenario(Runtime::Std);
            }

            #[test]
            fn smol_server() {
                super::$module::$scenario(Runtime::Smol);
            }
        }
    )*};
}

macro_rules! per_pair {
    ($($module:ident::$scenario:ident),* $(,)?) => {$(
        mod $scenario {
            use unstuck_tests::conformance::{Client, Pair, Runtime};

            #[test]
            fn std_server_std_client() {
                super::$module::$scenario(Pair::new(Runtime::Std, Client::Std));
            }

            #[test]
            fn std_server_smol_client() {
                super::$module::$scenario(Pair::new(Runtime::Std, Client::Smol));
            }

            #[test]
            fn smol_server_std_client() {
                super::$module::$scenario(Pair::new(Runtime::Smol, Client::Std));
            }

            #[test]
            fn smol_server_smol_client() {
                super::$module::$scenario(Pair::new(Runtime::Smol, Client::Smol));
            }
        }
    )*};
}

per_server! {
    chat::nc_line_chat,
    chat::sticky_and_split_messages,
    chat::seed_classic_chat,
    chat::client_that_does_not_read_does_not_block_others,
    upload::seed_upload_arrives_identical,
    upload::digest_mismatch_discards,
    upload::restart_while_a_stopper_lives,
}

per_pair! {
    chat::native_bot_chat,
    chat::classic_chat_client,
    chat::room_across_runtimes,
    chat::shutdown_during_chat,
    chat::connection_limit,
    chat::garbage_does_not_stop_good_clients,
    chat::slow_room_reader_is_dropped,
    chat::message_too_large,
    upload::native_upload_digests,
    upload::classic_upload_client,
    upload::bad_names_refused,
    upload::name_taken,
    upload::file_too_large,
    upload::cut_upload_resumes,
    upload::upload_resumes_after_shutdown,
}
