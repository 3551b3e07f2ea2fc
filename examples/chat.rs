//! A line-based chat server: every line a client sends is broadcast to all
//! the other clients, prefixed with the sender's address.
//!
//! ```text
//! cargo run --example chat -- [ADDR]      # then: nc 127.0.0.1 8889 (twice)
//! ```
//!
//! ADDR defaults to 127.0.0.1:8889. Each delivery runs in a task of its own
//! with a timeout, so one client that stops reading cannot stall the room:
//! it is disconnected instead.

use ringloop::net::{start_server, Reader, Writer};
use ringloop::time::timeout;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

/// Connected clients by id.
type Room = Rc<RefCell<HashMap<u64, Writer>>>;

/// How long a client may take to accept a message before it is dropped.
const SLOW_CLIENT: Duration = Duration::from_secs(5);

fn broadcast(room: &Room, from: u64, msg: String) {
    let recipients: Vec<(u64, Writer)> = room
        .borrow()
        .iter()
        .filter(|(&id, _)| id != from)
        .map(|(&id, w)| (id, w.clone()))
        .collect();
    for (id, writer) in recipients {
        let room = room.clone();
        let msg = msg.clone();
        drop(ringloop::spawn(async move {
            match timeout(SLOW_CLIENT, writer.write(msg)).await {
                Ok(Ok(())) => {}
                // A failed or stalled client leaves the room.
                _ => {
                    room.borrow_mut().remove(&id);
                    let _ = writer.close().await;
                }
            }
        }));
    }
}

async fn client(room: Room, id: u64, mut reader: Reader, writer: Writer) {
    let name = writer
        .peer_addr()
        .map_or_else(|| format!("client{id}"), |a| a.to_string());
    room.borrow_mut().insert(id, writer.clone());
    let _ = writer
        .write(format!(
            "welcome, {name}; {} other(s) here\n",
            room.borrow().len() - 1
        ))
        .await;
    broadcast(&room, id, format!("* {name} joined\n"));
    println!("{name} joined");
    loop {
        match reader.read_line().await {
            Ok(line) if line.is_empty() => break,
            Ok(line) => {
                let text = String::from_utf8_lossy(&line);
                broadcast(&room, id, format!("[{name}] {}\n", text.trim_end()));
            }
            // Over-long lines are dropped; the client stays.
            Err(e) if ringloop::net::LimitOverrun::of(&e).is_some() => {
                let _ = writer.write("* line too long, dropped\n").await;
            }
            Err(_) => break,
        }
    }
    room.borrow_mut().remove(&id);
    broadcast(&room, id, format!("* {name} left\n"));
    println!("{name} left");
}

fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8889".to_string());
    ringloop::run(async move {
        let room: Room = Rc::default();
        let next_id = Rc::new(std::cell::Cell::new(0u64));
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
