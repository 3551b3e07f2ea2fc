//! The orders a [`super::queue::GenericQueue`] can keep its items in.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::fmt;

/// How a queue stores its items and which one `get` returns next.
pub trait Store<T>: Default {
    /// Adds a new item.
    fn push(&mut self, item: T);
    /// Removes the next item to hand out.
    fn pop(&mut self) -> Option<T>;
    /// Puts back an item that was handed out before every item stored now
    /// (a getter was cancelled before it observed it), so it is next again
    /// in this store's order.
    fn push_returned(&mut self, item: T);
    /// Number of items stored.
    fn len(&self) -> usize;
    /// Whether no item is stored.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// First in, first out (asyncio's `Queue`).
pub struct Fifo<T>(VecDeque<T>);

/// Last in, first out (asyncio's `LifoQueue`).
pub struct Lifo<T>(Vec<T>);

/// Smallest item first (asyncio's `PriorityQueue`); equal items in no
/// particular order. Wrap items in `std::cmp::Reverse` for largest first.
pub struct Priority<T>(BinaryHeap<Reverse<T>>);

macro_rules! impl_common {
    ($name:ident, $($bound:tt)*) => {
        impl<T $($bound)*> Default for $name<T> {
            fn default() -> Self {
                $name(Default::default())
            }
        }
        impl<T $($bound)*> fmt::Debug for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({} items)"), self.0.len())
            }
        }
    };
}
impl_common!(Fifo,);
impl_common!(Lifo,);
impl_common!(Priority, : Ord);

impl<T> Store<T> for Fifo<T> {
    fn push(&mut self, item: T) {
        self.0.push_back(item);
    }
    fn pop(&mut self) -> Option<T> {
        self.0.pop_front()
    }
    fn push_returned(&mut self, item: T) {
        self.0.push_front(item);
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

impl<T> Store<T> for Lifo<T> {
    fn push(&mut self, item: T) {
        self.0.push(item);
    }
    fn pop(&mut self) -> Option<T> {
        self.0.pop()
    }
    fn push_returned(&mut self, item: T) {
        // It is older than everything stored now: it goes to the bottom.
        self.0.insert(0, item);
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

impl<T: Ord> Store<T> for Priority<T> {
    fn push(&mut self, item: T) {
        self.0.push(Reverse(item));
    }
    fn pop(&mut self) -> Option<T> {
        self.0.pop().map(|Reverse(t)| t)
    }
    fn push_returned(&mut self, item: T) {
        self.push(item);
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}
