//! Runtime-local singletons for crates built on the public op API.

use std::any::{Any, TypeId};
use std::cell::RefCell;
use std::rc::Rc;

/// Values of [`runtime_local`], one per type, owned by the runtime and
/// dropped with it.
#[derive(Default)]
pub(crate) struct Locals {
    values: RefCell<Vec<(TypeId, Rc<dyn Any>)>>,
}

impl Locals {
    fn get_or_init<T: Default + 'static>(&self) -> Rc<T> {
        let id = TypeId::of::<T>();
        if let Some((_, v)) = self.values.borrow().iter().find(|(t, _)| *t == id) {
            return v.clone().downcast().expect("stored under T's TypeId");
        }
        // Built outside the borrow: `T::default` may itself ask for a local.
        let value = Rc::new(T::default());
        self.values.borrow_mut().push((id, value.clone()));
        value
    }

    /// Drops every value (at shutdown, after the tasks, before the ring).
    pub(crate) fn clear(&self) {
        let values = std::mem::take(&mut *self.values.borrow_mut());
        drop(values);
    }
}

/// The current runtime's single value of type `T`, created with
/// `T::default()` on first use and dropped when the runtime shuts down.
///
/// This is how a crate layered on the op API keeps per-runtime state (the
/// timer crate's deadline heap, for instance) without a thread-local that
/// would be shared by two runtimes on one thread. Use a private type as `T`
/// so no other crate can reach the value.
///
/// # Panics
/// Outside a ringloop runtime.
///
/// ```
/// use std::cell::Cell;
/// #[derive(Default)]
/// struct Counter(Cell<u32>);
///
/// ringloop_runtime::run(async {
///     ringloop_runtime::runtime_local::<Counter>().0.set(7);
///     assert_eq!(ringloop_runtime::runtime_local::<Counter>().0.get(), 7);
/// });
/// ```
#[track_caller]
pub fn runtime_local<T: Default + 'static>() -> Rc<T> {
    crate::context::core("ringloop::runtime_local")
        .locals
        .get_or_init()
}
