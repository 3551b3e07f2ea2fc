//! The floor: a minimal hand-written io_uring echo loop (io-uring crate,
//! IORING_SETUP_COOP_TASKRUN), with no executor, no wakers and no allocation
//! per op. One recv or send in flight per connection, one accept in flight.

use super::floor::{self, floor_ring, push_unchecked, submit_and_wait, Acceptor, ACCEPT};
use io_uring::{cqueue, squeue, SubmissionQueue, Submitter};
use std::net::TcpListener;
use std::os::fd::OwnedFd;

/// Low bit of a connection op's user_data: set for a send, clear for a recv.
const SEND: u64 = 1;

struct Conn {
    fd: OwnedFd,
    /// Heap memory the kernel reads and writes; a connection is removed from
    /// the table (freeing it) only after its last op completed.
    buf: Box<[u8]>,
    /// Bytes received in `buf`, and how many of them were echoed.
    len: usize,
    sent: usize,
}

/// Serves until killed, or until `conns` connections were accepted and closed.
/// `defer_taskrun` adds SINGLE_ISSUER + DEFER_TASKRUN, as ringloop uses.
/// With `direct_send`, a received batch is echoed at once by a non-blocking
/// `send(2)` (a SEND op only for what the socket did not take), so the copy
/// into the socket reads bytes still in cache (A/B kind `uring-directsend`).
pub fn serve(listener: TcpListener, conns: Option<usize>, defer_taskrun: bool, direct_send: bool) {
    let mut ring = floor_ring(defer_taskrun);
    let mut acceptor = Acceptor::new(&listener, conns);
    let mut table: slab::Slab<Conn> = slab::Slab::with_capacity(1024);
    loop {
        let (submitter, mut sq, mut cq) = ring.split();
        if !acceptor.arm(&submitter, &mut sq) && table.is_empty() {
            return;
        }
        submit_and_wait(&submitter, &mut sq, &mut cq);
        for cqe in &mut cq {
            if cqe.user_data() == ACCEPT {
                if let Some(fd) = acceptor.complete(cqe.result()) {
                    let entry = table.vacant_entry();
                    let key = entry.key() as u64;
                    let conn = entry.insert(Conn {
                        fd,
                        buf: vec![0; super::server_ringloop::BUF_SIZE].into_boxed_slice(),
                        len: 0,
                        sent: 0,
                    });
                    push(&submitter, &mut sq, &recv_sqe(conn, key));
                }
                continue;
            }
            on_conn_cqe(&submitter, &mut sq, &mut table, &cqe, direct_send);
        }
    }
}

/// Advances one connection: recv done -> send; send done -> rest or recv.
fn on_conn_cqe(
    submitter: &Submitter<'_>,
    sq: &mut SubmissionQueue<'_>,
    table: &mut slab::Slab<Conn>,
    cqe: &cqueue::Entry,
    direct_send: bool,
) {
    let key = cqe.user_data() >> 1;
    let is_send = cqe.user_data() & SEND != 0;
    let conn = &mut table[key as usize];
    let res = cqe.result();
    if res <= 0 {
        // Peer closed or failed; no other op of this connection is in flight.
        table.remove(key as usize);
        return;
    }
    if is_send {
        conn.sent += res as usize;
    } else {
        conn.len = res as usize;
        conn.sent = 0;
        if direct_send {
            let sock = socket2::SockRef::from(&conn.fd);
            match sock.send_with_flags(&conn.buf[..conn.len], libc::MSG_DONTWAIT) {
                Ok(n) => conn.sent = n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => {
                    table.remove(key as usize);
                    return;
                }
            }
        }
    }
    let sqe = if conn.sent < conn.len {
        send_sqe(conn, key)
    } else {
        recv_sqe(conn, key)
    };
    push(submitter, sq, &sqe);
}

fn recv_sqe(conn: &mut Conn, key: u64) -> squeue::Entry {
    floor::recv_sqe(&conn.fd, &mut conn.buf, key << 1)
}

fn send_sqe(conn: &mut Conn, key: u64) -> squeue::Entry {
    floor::send_sqe(&conn.fd, &conn.buf[conn.sent..conn.len], key << 1 | SEND)
}

/// Pushes one SQE of this loop.
fn push(submitter: &Submitter<'_>, sq: &mut SubmissionQueue<'_>, sqe: &squeue::Entry) {
    // SAFETY: every SQE points into a connection's boxed buffer, which
    // stays in the table until that connection's last CQE (see `Conn`).
    unsafe { push_unchecked(submitter, sq, sqe) }
}
