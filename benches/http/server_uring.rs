//! The HTTP floor: a minimal hand-written io_uring keep-alive responder
//! (io-uring crate, IORING_SETUP_COOP_TASKRUN) with the same framing and
//! response as the other servers, and no executor, wakers or allocation per
//! request. One RECV or SEND in flight per connection, one ACCEPT in flight.

use super::floor::{self, floor_ring, push_unchecked, submit_and_wait, Acceptor, ACCEPT};
use super::servers::{take_requests, BUF_SIZE, RESPONSE};
use io_uring::{squeue, SubmissionQueue, Submitter};
use std::net::TcpListener;
use std::os::fd::OwnedFd;

/// Low bit of a connection op's user_data: set for a send, clear for a recv.
const SEND: u64 = 1;

struct Conn {
    fd: OwnedFd,
    /// Heap memory the kernel writes into; a connection leaves the table
    /// (freeing it) only when its one op in flight has completed.
    buf: Box<[u8]>,
    /// Bytes of `buf` holding a partial request.
    filled: usize,
    /// Responses still to send, and how much of the current one went out.
    responses: usize,
    sent: usize,
}

/// Serves until killed.
pub fn serve(listener: TcpListener) {
    let mut ring = floor_ring(false);
    let mut acceptor = Acceptor::new(&listener, None);
    let mut table: slab::Slab<Conn> = slab::Slab::with_capacity(1024);
    loop {
        let (submitter, mut sq, mut cq) = ring.split();
        acceptor.arm(&submitter, &mut sq);
        submit_and_wait(&submitter, &mut sq, &mut cq);
        for cqe in &mut cq {
            if cqe.user_data() == ACCEPT {
                if let Some(fd) = acceptor.complete(cqe.result()) {
                    let entry = table.vacant_entry();
                    let key = entry.key() as u64;
                    let conn = entry.insert(Conn {
                        fd,
                        buf: vec![0; BUF_SIZE].into_boxed_slice(),
                        filled: 0,
                        responses: 0,
                        sent: 0,
                    });
                    push(&submitter, &mut sq, &recv_sqe(conn, key));
                }
                continue;
            }
            let key = cqe.user_data() >> 1;
            let conn = &mut table[key as usize];
            let res = cqe.result();
            // Peer closed, failed, or sent a request larger than the buffer.
            let next = if res <= 0 {
                None
            } else if cqe.user_data() & SEND != 0 {
                Some(on_sent(conn, res as usize))
            } else {
                conn.filled += res as usize;
                take_requests(&mut conn.buf, &mut conn.filled).map(|count| {
                    conn.responses = count;
                    conn.sent = 0;
                    count > 0
                })
            };
            match next {
                Some(true) => push(&submitter, &mut sq, &send_sqe(conn, key)),
                Some(false) => push(&submitter, &mut sq, &recv_sqe(conn, key)),
                None => drop(table.remove(key as usize)),
            }
        }
    }
}

/// Accounts `n` sent bytes; true while a response is left to send.
fn on_sent(conn: &mut Conn, n: usize) -> bool {
    conn.sent += n;
    if conn.sent == RESPONSE.len() {
        conn.responses -= 1;
        conn.sent = 0;
    }
    conn.responses > 0
}

fn recv_sqe(conn: &mut Conn, key: u64) -> squeue::Entry {
    floor::recv_sqe(&conn.fd, &mut conn.buf[conn.filled..], key << 1)
}

fn send_sqe(conn: &mut Conn, key: u64) -> squeue::Entry {
    floor::send_sqe(&conn.fd, &RESPONSE[conn.sent..], key << 1 | SEND)
}

/// Pushes one SQE of this loop.
fn push(submitter: &Submitter<'_>, sq: &mut SubmissionQueue<'_>, sqe: &squeue::Entry) {
    // SAFETY: RECVs point into a connection's boxed buffer, which stays in
    // the table until that connection's last CQE; SENDs into a static.
    unsafe { push_unchecked(submitter, sq, sqe) }
}
