//! A variant of the floor (`uring-multi`, `uring-multi-defer`): the same
//! hand-written loop, but each connection receives with one multishot RECV
//! from a provided-buffer ring instead of a RECV per message, and echoes
//! straight out of the ring's buffer. It answers one question: does the
//! kernel side get cheaper than the plain floor when the receive poll stays
//! armed? No executor, no wakers, no allocation per op.

use super::floor::{self, floor_ring, push_unchecked, submit_and_wait, Acceptor, ACCEPT};
use io_uring::types::BufRingEntry;
use io_uring::{cqueue, opcode, squeue, types, SubmissionQueue, Submitter};
use std::alloc::Layout;
use std::collections::VecDeque;
use std::net::TcpListener;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicU16, Ordering};

/// Low bit of a connection op's user_data: set for a send, clear for a recv.
const SEND: u64 = 1;
/// Buffers in the ring: more than the connections that can hold one at once.
const ENTRIES: u16 = 4096;
/// One message of the largest scenario fits one buffer.
const BUF_SIZE: usize = 4096;
const BGID: u16 = 7;

struct Conn {
    fd: OwnedFd,
    /// Received buffers not yet echoed: (buffer id, length, bytes sent).
    queue: VecDeque<(u16, usize, usize)>,
    sending: bool,
    /// Whether a RECV is armed (a multishot one's final CQE not seen).
    receiving: bool,
    /// Whether this connection receives with multishot RECV (always, or in
    /// adaptive mode once its receives kept waiting).
    multishot: bool,
    /// Adaptive mode: the loop turn the pending single-shot RECV was pushed
    /// in, and how many receives in a row waited for data (their CQE came
    /// after the turn that submitted them).
    pushed_in: u64,
    waited: u8,
}

/// Adaptive mode switches a connection to multishot RECV after this many
/// single-shot receives in a row waited for data.
const WAITS_BEFORE_MULTISHOT: u8 = 4;

/// The provided-buffer ring: entries and buffers, never freed (the process
/// exits when the server is done).
struct Ring {
    entries: *mut BufRingEntry,
    bufs: *mut u8,
    tail: u16,
}

impl Ring {
    fn new(submitter: &Submitter<'_>) -> Ring {
        let ring_layout =
            Layout::from_size_align(ENTRIES as usize * std::mem::size_of::<BufRingEntry>(), 4096)
                .unwrap();
        let bufs_layout = Layout::from_size_align(ENTRIES as usize * BUF_SIZE, 4096).unwrap();
        // SAFETY: both layouts have a non-zero size; the memory is leaked,
        // so it outlives the registration.
        let (entries, bufs) = unsafe {
            (
                std::alloc::alloc_zeroed(ring_layout).cast::<BufRingEntry>(),
                std::alloc::alloc_zeroed(bufs_layout),
            )
        };
        assert!(!entries.is_null() && !bufs.is_null(), "out of memory");
        // SAFETY: page-aligned zeroed memory for ENTRIES entries, never freed.
        unsafe { submitter.register_buf_ring_with_flags(entries as u64, ENTRIES, BGID, 0) }
            .expect("IORING_REGISTER_PBUF_RING (Linux 5.19)");
        let mut ring = Ring {
            entries,
            bufs,
            tail: 0,
        };
        for bid in 0..ENTRIES {
            ring.give_back(bid);
        }
        ring
    }

    fn buf(&self, bid: u16) -> *mut u8 {
        // SAFETY: bid < ENTRIES, so the offset stays inside the allocation.
        unsafe { self.bufs.add(bid as usize * BUF_SIZE) }
    }

    /// Puts buffer `bid` back at the ring's tail.
    fn give_back(&mut self, bid: u16) {
        let slot = self.tail & (ENTRIES - 1);
        // SAFETY: the slot at our tail is outside what the kernel may read
        // (it reads from its head up to the published tail).
        unsafe {
            let entry = &mut *self.entries.add(slot as usize);
            entry.set_addr(self.buf(bid) as u64);
            entry.set_len(BUF_SIZE as u32);
            entry.set_bid(bid);
        }
        self.tail = self.tail.wrapping_add(1);
        // SAFETY: the tail field overlays the first entry's `resv`, which
        // the kernel reads and we alone write, atomically.
        let tail = unsafe { &*(BufRingEntry::tail(self.entries) as *const AtomicU16) };
        tail.store(self.tail, Ordering::Release);
    }
}

/// Serves until killed, or until `conns` connections were accepted and closed.
///
/// `adaptive`: each connection starts with single-shot RECVs (from the same
/// buffer ring) and switches to one multishot RECV once its receives keep
/// waiting for data, i.e. when a RECV would arm a poll each time anyway.
pub fn serve(listener: TcpListener, conns: Option<usize>, defer_taskrun: bool, adaptive: bool) {
    let mut ring = floor_ring(defer_taskrun);
    let mut bufs = Ring::new(&ring.submitter());
    let mut acceptor = Acceptor::new(&listener, conns);
    let mut table: slab::Slab<Conn> = slab::Slab::with_capacity(1024);
    let mut turn: u64 = 0;
    loop {
        turn += 1;
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
                        queue: VecDeque::with_capacity(4),
                        sending: false,
                        receiving: true,
                        multishot: !adaptive,
                        pushed_in: turn,
                        waited: 0,
                    });
                    push(&submitter, &mut sq, &recv_sqe(conn, key));
                }
                continue;
            }
            on_conn_cqe(&submitter, &mut sq, &mut table, &mut bufs, &cqe, turn);
        }
    }
}

fn on_conn_cqe(
    submitter: &Submitter<'_>,
    sq: &mut SubmissionQueue<'_>,
    table: &mut slab::Slab<Conn>,
    bufs: &mut Ring,
    cqe: &cqueue::Entry,
    turn: u64,
) {
    let key = cqe.user_data() >> 1;
    let conn = &mut table[key as usize];
    let res = cqe.result();
    if cqe.user_data() & SEND != 0 {
        conn.sending = false;
        if res <= 0 {
            conn.queue.clear();
        } else {
            let front = conn.queue.front_mut().expect("a send has its buffer");
            front.2 += res as usize;
            if front.2 == front.1 {
                bufs.give_back(front.0);
                conn.queue.pop_front();
            }
        }
    } else {
        if let Some(bid) = cqueue::buffer_select(cqe.flags()) {
            if res > 0 {
                conn.queue.push_back((bid, res as usize, 0));
            } else {
                bufs.give_back(bid);
            }
        }
        if !cqueue::more(cqe.flags()) {
            if !conn.multishot {
                // Pushed while handling turn N's CQEs, a RECV is submitted
                // by turn N+1's enter; data already there completes it in
                // that enter, so a CQE after turn N+1 means it waited.
                conn.waited = if turn > conn.pushed_in + 1 {
                    conn.waited + 1
                } else {
                    0
                };
                conn.multishot = conn.waited >= WAITS_BEFORE_MULTISHOT;
                conn.pushed_in = turn;
            }
            conn.receiving = res > 0 || res == -libc::ENOBUFS;
            if conn.receiving {
                push(submitter, sq, &recv_sqe(conn, key));
            }
        }
    }
    if !conn.sending {
        if let Some(&(bid, len, sent)) = conn.queue.front() {
            // SAFETY: inside buffer `bid`, which the queue holds.
            let rest = unsafe { bufs.buf(bid).add(sent) };
            let sqe = floor::send_raw_sqe(&conn.fd, rest, len - sent, key << 1 | SEND);
            push(submitter, sq, &sqe);
            conn.sending = true;
        } else if !conn.receiving {
            table.remove(key as usize);
        }
    }
}

fn recv_sqe(conn: &Conn, key: u64) -> squeue::Entry {
    let fd = types::Fd(conn.fd.as_raw_fd());
    if conn.multishot {
        return opcode::RecvMulti::new(fd, BGID).build().user_data(key << 1);
    }
    opcode::Recv::new(fd, std::ptr::null_mut(), BUF_SIZE as u32)
        .buf_group(BGID)
        .build()
        .flags(squeue::Flags::BUFFER_SELECT)
        .user_data(key << 1)
}

/// Pushes one SQE of this loop.
fn push(submitter: &Submitter<'_>, sq: &mut SubmissionQueue<'_>, sqe: &squeue::Entry) {
    // SAFETY: the SQEs point into the buffer ring's memory, which is leaked.
    unsafe { push_unchecked(submitter, sq, sqe) }
}
