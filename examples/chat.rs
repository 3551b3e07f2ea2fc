//! A line-based chat server: every line a client sends is broadcast to all
//! the other clients, prefixed with the sender's address.
//!
//! ```text
//! cargo run --example chat -- [ADDR]      # then: nc 127.0.0.1 8889 (twice)
//! ```
//!
//! ADDR defaults to 127.0.0.1:8889.
//!
//! Memory stays bounded whatever the clients do:
//! - Each member has an outbox of at most [`OUTBOX`] messages, drained by a
//!   task of its own that writes them to the member's socket. A full outbox
//!   holds the sender back: the server stops reading from that client, so
//!   a flooding client is slowed to the pace of the room instead of
//!   filling the server's memory. A member whose outbox stays full for
//!   [`SLOW_CLIENT`], or that takes that long to accept one message, has
//!   fallen behind and is **disconnected**: the rest of its outbox is
//!   dropped and its socket shut down, so a client that stops reading
//!   stalls the room for at most that long.
//! - A line longer than the reader's limit (64 KiB) is dropped whole: its
//!   sender is told, and the rest of that line is skipped up to its newline
//!   instead of being broadcast as lines of its own.
//!
//! Each member's writer is shut down exactly once, by its outbox task.

use ringloop::net::{start_server, LimitOverrun, Reader, Writer};
use ringloop::sync::{Queue, TryPutError};
use ringloop::time::timeout;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

/// A member's pending messages, oldest first.
type Outbox = Rc<Queue<Rc<str>>>;

/// Connected members by id.
type Room = Rc<RefCell<HashMap<u64, Outbox>>>;

/// How many messages may wait for one member before senders are held back.
const OUTBOX: usize = 256;

/// How long a member may take to accept one message before it is
/// disconnected.
const SLOW_CLIENT: Duration = Duration::from_secs(5);

/// Takes `id` out of the room and closes its outbox, dropping what was
/// still queued; its outbox task then shuts the socket down.
fn disconnect(room: &Room, id: u64) {
    if let Some(outbox) = room.borrow_mut().remove(&id) {
        outbox.close();
        while outbox.try_get().is_ok() {}
    }
}

/// Queues `msg` for every member but `from`. A full outbox holds the sender
/// back (and so, through TCP, the client it reads from) for up to
/// [`SLOW_CLIENT`]; a member whose outbox stays full that long is
/// disconnected.
async fn broadcast(room: &Room, from: u64, msg: String) {
    let msg: Rc<str> = msg.into();
    let recipients: Vec<(u64, Outbox)> = room
        .borrow()
        .iter()
        .filter(|(&id, _)| id != from)
        .map(|(&id, outbox)| (id, outbox.clone()))
        .collect();
    for (id, outbox) in recipients {
        if let Err(TryPutError::Full(msg)) = outbox.try_put(msg.clone()) {
            if timeout(SLOW_CLIENT, outbox.put(msg)).await.is_err() {
                disconnect(room, id);
            }
        }
    }
}

/// Writes a member's outbox to its socket until the outbox is closed and
/// drained or a write fails or stalls; then shuts the socket down, once.
async fn deliver(room: Room, id: u64, outbox: Outbox, writer: Writer) {
    while let Ok(msg) = outbox.get().await {
        let bytes = msg.as_bytes().to_vec();
        if !matches!(timeout(SLOW_CLIENT, writer.write(bytes)).await, Ok(Ok(()))) {
            break;
        }
    }
    disconnect(&room, id);
    let _ = writer.close().await;
}

async fn client(room: Room, id: u64, mut reader: Reader, writer: Writer) {
    let name = writer
        .peer_addr()
        .map_or_else(|| format!("client{id}"), |a| a.to_string());
    let outbox: Outbox = Rc::new(Queue::bounded(OUTBOX));
    let others = room.borrow().len();
    let _ = outbox.try_put(format!("welcome, {name}; {others} other(s) here\n").into());
    room.borrow_mut().insert(id, outbox.clone());
    let delivery = ringloop::spawn(deliver(room.clone(), id, outbox.clone(), writer));
    broadcast(&room, id, format!("* {name} joined\n")).await;
    println!("{name} joined");
    // Set while the rest of an over-long line is being skipped.
    let mut skipping = false;
    loop {
        // read_until keeps an over-long line buffered, so what to drop of it
        // is decided here.
        match reader.read_until(b"\n").await {
            Ok(line) if skipping => skipping = !line.ends_with(b"\n"),
            Ok(line) => {
                let text = String::from_utf8_lossy(&line);
                broadcast(&room, id, format!("[{name}] {}\n", text.trim_end())).await;
            }
            Err(e) if LimitOverrun::of(&e).is_some() => {
                // Drop the line up to its newline if it has arrived, else
                // what is buffered, and skip the rest as it comes.
                let buffered = reader.buffered();
                let newline = buffered.iter().position(|&b| b == b'\n');
                let n = newline.map_or(buffered.len(), |pos| pos + 1);
                let _ = reader.read(n).await;
                if !skipping {
                    let _ = outbox.try_put("* line too long, dropped\n".into());
                }
                skipping = newline.is_none();
            }
            // End of stream (an unterminated last line is dropped), or an error.
            Err(_) => break,
        }
        if outbox.is_closed() {
            break; // disconnected for falling behind
        }
    }
    // Leaving: what is still queued for this member is delivered, then its
    // socket is shut down by `deliver`.
    if let Some(outbox) = room.borrow_mut().remove(&id) {
        outbox.close();
    }
    broadcast(&room, id, format!("* {name} left\n")).await;
    println!("{name} left");
    let _ = delivery.await;
}

fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8889".to_string());
    ringloop::run(async move {
        let room: Room = Rc::default();
        let next_id = Rc::new(Cell::new(0u64));
        let server = start_server(addr.as_str(), move |reader, writer| {
            let id = next_id.get();
            next_id.set(id + 1);
            client(room.clone(), id, reader, writer)
        })
        .await;
        let server = match server {
            Ok(server) => server,
            Err(e) => {
                eprintln!("chat: {e}");
                std::process::exit(1);
            }
        };
        println!("Serving on {}", server.local_addr().expect("a TCP server"));
        server.serve_forever().await;
    });
}
