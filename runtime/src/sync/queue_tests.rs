use super::*;
use crate::sync::poll_once;
use crate::sync::run_task as run;
use crate::{spawn, yield_now};
use std::rc::Rc;

#[test]
fn fifo_lifo_priority_orders() {
    let q = Queue::new();
    let l = LifoQueue::new();
    let p = PriorityQueue::new();
    for n in [3, 1, 2] {
        q.try_put(n).unwrap();
        l.try_put(n).unwrap();
        p.try_put(n).unwrap();
    }
    let drain =
        |f: &dyn Fn() -> Result<i32, TryGetError>| (0..3).map(|_| f().unwrap()).collect::<Vec<_>>();
    assert_eq!(drain(&|| q.try_get()), vec![3, 1, 2]);
    assert_eq!(drain(&|| l.try_get()), vec![2, 1, 3]);
    assert_eq!(drain(&|| p.try_get()), vec![1, 2, 3]);
    assert_eq!(q.try_get(), Err(TryGetError::Empty));
}

#[test]
fn bounded_put_waits_for_room_and_keeps_order() {
    run(async {
        let q = Rc::new(Queue::bounded(1));
        assert_eq!(q.maxsize(), Some(1));
        q.put(1).await.unwrap();
        assert!(q.full());
        assert!(matches!(q.try_put(9), Err(TryPutError::Full(9))));
        let q2 = q.clone();
        let putter = spawn(async move {
            q2.put(2).await.unwrap();
            q2.put(3).await.unwrap();
        });
        yield_now().await;
        assert_eq!(q.get().await, Ok(1));
        assert_eq!(q.get().await, Ok(2));
        assert_eq!(q.get().await, Ok(3));
        putter.await.unwrap();
        assert!(q.is_empty());
        assert_eq!(Queue::<u8>::bounded(0).maxsize(), None);
    });
}

#[test]
fn get_on_a_closed_queue_drains_then_fails_and_wakes_waiters() {
    run(async {
        let q = Rc::new(Queue::new());
        let q2 = q.clone();
        let getter = spawn(async move { q2.get().await });
        yield_now().await;
        q.close();
        assert_eq!(getter.await.unwrap(), Err(QueueClosed(())));
        assert!(q.is_closed());
        assert_eq!(q.put(1).await, Err(PutError(1)));
        assert!(matches!(q.try_put(1), Err(TryPutError::Closed(1))));

        let q = Queue::new();
        q.put(7).await.unwrap();
        q.close();
        assert_eq!(q.get().await, Ok(7));
        assert_eq!(q.try_get(), Err(TryGetError::Closed));
        assert!(q.get().await.is_err());
    });
}

#[test]
fn close_returns_items_to_waiting_putters() {
    run(async {
        let q = Rc::new(Queue::bounded(1));
        q.put("kept").await.unwrap();
        let q2 = q.clone();
        let putter = spawn(async move { q2.put("refused").await });
        yield_now().await;
        q.close();
        assert_eq!(putter.await.unwrap(), Err(PutError("refused")));
        assert_eq!(q.get().await, Ok("kept"));
    });
}

#[test]
fn task_done_too_often_is_an_error_and_join_waits() {
    run(async {
        let q = Rc::new(Queue::new());
        assert_eq!(q.task_done(), Err(TaskDoneError(())));
        q.put(1).await.unwrap();
        q.put(2).await.unwrap();
        let mut join = Box::pin(q.join());
        assert!(poll_once(join.as_mut()).await.is_pending());
        q.get().await.unwrap();
        q.task_done().unwrap();
        assert!(poll_once(join.as_mut()).await.is_pending());
        q.get().await.unwrap();
        q.task_done().unwrap();
        join.await;
        assert!(q.task_done().is_err());
        q.join().await; // nothing unfinished: immediate
    });
}

#[test]
fn a_getter_cancelled_after_being_handed_an_item_puts_it_back_in_front() {
    run(async {
        let q = Queue::new();
        let mut g1 = Box::pin(q.get());
        assert!(poll_once(g1.as_mut()).await.is_pending());
        q.put(1).await.unwrap(); // handed straight to g1
        q.put(2).await.unwrap(); // stored
        drop(g1);
        assert_eq!(q.qsize(), 2);
        assert_eq!(q.get().await, Ok(1));
        assert_eq!(q.get().await, Ok(2));

        // With another getter queued, the item goes to it instead.
        let mut g1 = Box::pin(q.get());
        let mut g2 = Box::pin(q.get());
        assert!(poll_once(g1.as_mut()).await.is_pending());
        assert!(poll_once(g2.as_mut()).await.is_pending());
        q.put(5).await.unwrap();
        drop(g1);
        assert_eq!(g2.await, Ok(5));
        assert!(q.is_empty());
    });
}

#[test]
fn a_cancelled_putter_leaves_without_its_item() {
    run(async {
        let q = Queue::bounded(1);
        q.put(1).await.unwrap();
        let mut p2 = Box::pin(q.put(2));
        let mut p3 = Box::pin(q.put(3));
        assert!(poll_once(p2.as_mut()).await.is_pending());
        assert!(poll_once(p3.as_mut()).await.is_pending());
        drop(p2);
        assert_eq!(q.get().await, Ok(1)); // admits 3
        assert_eq!(p3.await, Ok(()));
        assert_eq!(q.get().await, Ok(3));
        assert!(q.is_empty());
    });
}
