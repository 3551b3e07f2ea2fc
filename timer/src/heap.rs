//! The deadline heap: every pending sleep of one runtime, ordered by
//! deadline, with O(log n) insert and remove and O(1) access to the nearest.
//!
//! Deadlines are nanoseconds since the heap's `epoch`. Each entry records its
//! position in the heap so a dropped sleep is removed at once (a server
//! whose request timeouts are almost always cancelled must not accumulate
//! dead entries).

use slab::Slab;
use std::task::Waker;
use std::time::{Duration, Instant};

/// `Entry::pos` of an entry no longer in the heap: its deadline has passed
/// and it was fired.
const FIRED: usize = usize::MAX;

/// One pending (or fired, not yet observed) sleep.
#[derive(Debug)]
struct Entry {
    /// Index in `Heap::heap`, or `FIRED`.
    pos: usize,
    /// Woken when the entry fires.
    waker: Option<Waker>,
}

/// A min-heap of deadlines over a slab of entries.
#[derive(Debug)]
pub(crate) struct Heap {
    epoch: Instant,
    entries: Slab<Entry>,
    /// `(when, key)`, a binary min-heap on `when`. `when` is copied here so
    /// sifting compares without touching the entries.
    heap: Vec<(u64, usize)>,
}

impl Heap {
    pub(crate) fn new() -> Heap {
        Heap {
            epoch: Instant::now(),
            entries: Slab::new(),
            heap: Vec::new(),
        }
    }

    /// `instant` in nanoseconds since the epoch, rounded up (so that firing
    /// at `now_ns() >= when` can never be early), clamped to the epoch.
    pub(crate) fn to_ns(&self, instant: Instant) -> u64 {
        let ns = instant.saturating_duration_since(self.epoch).as_nanos();
        u64::try_from(ns).unwrap_or(u64::MAX / 2).min(u64::MAX / 2)
    }

    /// The instant `ns` nanoseconds after the epoch.
    pub(crate) fn to_instant(&self, ns: u64) -> Instant {
        self.epoch + Duration::from_nanos(ns)
    }

    /// The current time in nanoseconds since the epoch, rounded down.
    pub(crate) fn now_ns(&self) -> u64 {
        self.to_ns(Instant::now())
    }

    /// Adds an entry for `when`; returns its key.
    pub(crate) fn insert(&mut self, when: u64, waker: Waker) -> usize {
        let pos = self.heap.len();
        let key = self.entries.insert(Entry {
            pos,
            waker: Some(waker),
        });
        self.heap.push((when, key));
        self.sift_up(pos);
        key
    }

    /// Removes the entry `key`, fired or not.
    pub(crate) fn remove(&mut self, key: usize) {
        let entry = self.entries.remove(key);
        if entry.pos != FIRED {
            self.remove_at(entry.pos);
        }
    }

    /// Whether `key` has fired; if not, `waker` is stored to be woken when it does.
    pub(crate) fn poll(&mut self, key: usize, waker: &Waker) -> bool {
        let entry = &mut self.entries[key];
        if entry.pos == FIRED {
            return true;
        }
        match &mut entry.waker {
            Some(w) if w.will_wake(waker) => {}
            slot => *slot = Some(waker.clone()),
        }
        false
    }

    /// The nearest deadline, if any entry is pending.
    pub(crate) fn next(&self) -> Option<u64> {
        self.heap.first().map(|&(when, _)| when)
    }

    /// Fires every entry whose deadline is at or before `now`, moving their
    /// wakers into `wakers`.
    pub(crate) fn fire(&mut self, now: u64, wakers: &mut Vec<Waker>) {
        while let Some(&(when, key)) = self.heap.first() {
            if when > now {
                return;
            }
            self.remove_at(0);
            let entry = &mut self.entries[key];
            entry.pos = FIRED;
            wakers.extend(entry.waker.take());
        }
    }

    /// Number of entries not fired yet.
    pub(crate) fn pending(&self) -> usize {
        self.heap.len()
    }

    fn remove_at(&mut self, pos: usize) {
        let last = self.heap.len() - 1;
        self.heap.swap(pos, last);
        self.heap.pop();
        if pos < last {
            self.entries[self.heap[pos].1].pos = pos;
            self.sift_down(pos);
            self.sift_up(pos);
        }
    }

    fn sift_up(&mut self, mut pos: usize) {
        let item = self.heap[pos];
        while pos > 0 {
            let parent = (pos - 1) / 2;
            if self.heap[parent].0 <= item.0 {
                break;
            }
            self.heap[pos] = self.heap[parent];
            self.entries[self.heap[pos].1].pos = pos;
            pos = parent;
        }
        self.heap[pos] = item;
        self.entries[item.1].pos = pos;
    }

    fn sift_down(&mut self, mut pos: usize) {
        let item = self.heap[pos];
        let len = self.heap.len();
        loop {
            let left = 2 * pos + 1;
            if left >= len {
                break;
            }
            let right = left + 1;
            let child = if right < len && self.heap[right].0 < self.heap[left].0 {
                right
            } else {
                left
            };
            if self.heap[child].0 >= item.0 {
                break;
            }
            self.heap[pos] = self.heap[child];
            self.entries[self.heap[pos].1].pos = pos;
            pos = child;
        }
        self.heap[pos] = item;
        self.entries[item.1].pos = pos;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::task::noop_waker;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Any mix of inserts and removes fires exactly the remaining
        /// entries, in deadline order, and only once their deadline is reached.
        #[test]
        fn fires_remaining_entries_in_order(
            whens in proptest::collection::vec(0u64..1000, 1..200),
            removes in proptest::collection::vec(any::<prop::sample::Index>(), 0..100),
        ) {
            let mut heap = Heap::new();
            let mut live: Vec<(usize, u64)> = whens
                .iter()
                .map(|&w| (heap.insert(w, noop_waker()), w))
                .collect();
            for r in removes {
                if live.is_empty() { break; }
                let (key, _) = live.swap_remove(r.index(live.len()));
                heap.remove(key);
            }
            prop_assert_eq!(heap.pending(), live.len());
            let mut fired_at = Vec::new();
            let mut wakers = Vec::new();
            // Every instant where something changes: each deadline and just before it.
            let mut nows: Vec<u64> = whens.iter().flat_map(|&w| [w.saturating_sub(1), w]).collect();
            nows.sort_unstable();
            nows.dedup();
            for now in nows {
                heap.fire(now, &mut wakers);
                for &(key, when) in &live {
                    let fired = heap.entries[key].pos == FIRED;
                    prop_assert_eq!(fired, when <= now, "entry due {} at now {}", when, now);
                    if fired && !fired_at.contains(&key) { fired_at.push(key); }
                }
            }
            prop_assert_eq!(heap.pending(), 0);
            prop_assert_eq!(wakers.len(), live.len());
        }
    }
}
