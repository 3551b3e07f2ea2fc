//! The seed program: asyncio's "Hello ... World!".
//!
//! ```text
//! cargo run --example hello
//! ```

use std::time::Duration;

fn main() {
    ringloop::run(async {
        println!("Hello ...");
        ringloop::time::sleep(Duration::from_secs(1)).await;
        println!("... World!");
    });
}
