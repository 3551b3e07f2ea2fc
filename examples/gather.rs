//! The seed program: two tasks sleeping 4 s and 2 s run concurrently, so
//! gathering both takes about 4 s, not 6 s.
//!
//! ```text
//! cargo run --example gather
//! ```

use std::time::{Duration, Instant};

async fn nap(name: &str, secs: u64) -> String {
    println!("{name}: sleeping {secs} s");
    ringloop::time::sleep(Duration::from_secs(secs)).await;
    println!("{name}: woke up");
    format!("{name} slept {secs} s")
}

fn main() {
    ringloop::run(async {
        let start = Instant::now();
        let tasks = vec![
            ringloop::spawn(nap("first", 4)),
            ringloop::spawn(nap("second", 2)),
        ];
        for result in ringloop::gather(tasks).await {
            match result {
                Ok(report) => println!("{report}"),
                Err(e) => eprintln!("a task failed: {e}"),
            }
        }
        println!("total elapsed: {:.2} s", start.elapsed().as_secs_f64());
    });
}
