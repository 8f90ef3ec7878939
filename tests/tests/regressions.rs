//! Bugs found by review or by the property suites, each pinned by the smallest input that
//! showed it.

use unstuck_core::upload::{UploadConfig, UploadEvent, UploadServer};
use unstuck_core::{ErrorCode, Instant, Output};

/// The seed's upload client closes right after its last byte. That EOF must not preempt the
/// driver storing the file: the upload completes and the connection ends normally.
#[test]
fn classic_upload_eof_right_after_body_still_completes() {
    let now = Instant::ZERO;
    let mut conn = UploadServer::new(UploadConfig::default(), now);
    assert_eq!(conn.handle_input(now, b"3\n"), 2);
    let mut acked = Vec::new();
    let mut body = Vec::new();
    let mut completes = 0;
    let mut fed_body = false;
    let mut to_confirm = false;
    let closed = loop {
        match conn.poll_output() {
            Output::Event(UploadEvent::Offer(_)) => conn.accept(None).unwrap(),
            Output::Event(UploadEvent::Body(b)) => body.extend_from_slice(b),
            Output::Event(UploadEvent::Complete(c)) => {
                assert_eq!(c.digest, None);
                completes += 1;
                // Like an async driver storing in a blocking pool, it polls on meanwhile and
                // confirms later.
                to_confirm = true;
            }
            Output::Event(_) => {}
            Output::Transmit(b) => {
                acked.extend_from_slice(b);
                let n = b.len();
                conn.handle_sent(n).unwrap();
            }
            Output::Wait(_) if !fed_body => {
                fed_body = true;
                conn.handle_input(now, b"abc");
                conn.handle_eof(now);
            }
            Output::Wait(_) if to_confirm => {
                to_confirm = false;
                conn.confirm_stored().unwrap();
            }
            Output::Wait(w) => panic!("stuck waiting: {w:?}"),
            Output::Done(closed) => break closed,
        }
    };
    assert_eq!(acked, b"1001");
    assert_eq!(body, b"abc");
    assert_eq!(completes, 1);
    assert_eq!(closed.code, ErrorCode::Bye);
}
