//! The program shown in the README.

use ringloop::net::{open_connection, start_server};
use std::time::Duration;

fn main() -> std::io::Result<()> {
    ringloop::run(async {
        // asyncio's start_server: one task per connection.
        let server = start_server("127.0.0.1:0", |mut reader, writer| async move {
            while let Ok(line) = reader.read_line().await {
                if line.is_empty() || writer.write(line).await.is_err() {
                    break; // EOF or the peer went away
                }
            }
        })
        .await?;
        let addr = server.local_addr().expect("a TCP server has an address");

        // Three clients at once; gather keeps their results in order.
        let clients = (0..3).map(|i| async move {
            let (mut reader, writer) = open_connection(addr).await?;
            writer.write(format!("hello {i}\n").into_bytes()).await?;
            let echo =
                ringloop::time::timeout(Duration::from_secs(5), reader.read_line()).await??;
            Ok::<_, std::io::Error>(String::from_utf8_lossy(&echo).into_owned())
        });
        for echo in ringloop::gather(clients).await {
            print!("{}", echo?);
        }
        server.close();
        Ok(())
    })
}
