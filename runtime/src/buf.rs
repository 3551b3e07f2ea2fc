//! Owned buffers for completion I/O.
//!
//! The kernel reads or writes a buffer after the call that submitted the op
//! has returned, so ops take buffers by value and hand them back with the
//! result: `read(buf) -> (io::Result<usize>, buf)`.
//!
//! A read fills a buffer from its start up to its capacity
//! ([`IoBuf::bytes_total`]) and returns the count `n`: the data is
//! `buf[..n]`. A buffer's initialized length (a `Vec`'s `len`) grows to `n`
//! if it was shorter and never shrinks, so use the returned count. Slice a
//! buffer (`buf.slice(n..)`) to read into or write from part of it.

use std::ops::{Bound, RangeBounds};

/// A buffer the kernel may read from.
///
/// # Safety
/// `stable_ptr()` must point to `bytes_init()` initialized bytes that stay
/// valid, at the same address, while the value lives and when it is moved
/// (heap memory or `'static` data), and `bytes_init() <= bytes_total()`.
pub unsafe trait IoBuf: 'static {
    /// Pointer to the start of the buffer.
    fn stable_ptr(&self) -> *const u8;
    /// Number of initialized bytes (what a write sends).
    fn bytes_init(&self) -> usize;
    /// Total capacity in bytes (what a read may fill).
    fn bytes_total(&self) -> usize;

    /// The initialized bytes, as a slice (what a write would send).
    fn init_bytes(&self) -> &[u8] {
        let len = self.bytes_init();
        if len == 0 {
            return &[];
        }
        // SAFETY: the IoBuf contract: `stable_ptr()` points to `bytes_init()`
        // initialized bytes that stay valid while `self` is borrowed.
        unsafe { std::slice::from_raw_parts(self.stable_ptr(), len) }
    }

    /// A view of part of the buffer; the range is within `0..bytes_total()`.
    ///
    /// # Panics
    /// If the range is out of bounds or decreasing.
    fn slice(self, range: impl RangeBounds<usize>) -> Slice<Self>
    where
        Self: Sized,
    {
        let begin = match range.start_bound() {
            Bound::Included(&n) => n,
            Bound::Excluded(&n) => n.checked_add(1).expect("range start overflows"),
            Bound::Unbounded => 0,
        };
        let end = match range.end_bound() {
            Bound::Included(&n) => n.checked_add(1).expect("range end overflows"),
            Bound::Excluded(&n) => n,
            Bound::Unbounded => self.bytes_total(),
        };
        assert!(
            begin <= end,
            "slice range starts at {begin} but ends at {end}"
        );
        assert!(
            end <= self.bytes_total(),
            "slice range end {end} exceeds the buffer's capacity {}",
            self.bytes_total()
        );
        Slice {
            buf: self,
            begin,
            end,
            init: 0,
        }
    }
}

/// A buffer the kernel may write into.
///
/// # Safety
/// As for [`IoBuf`], and `stable_mut_ptr()` must be valid for writes of
/// `bytes_total()` bytes.
pub unsafe trait IoBufMut: IoBuf {
    /// Pointer to the start of the buffer, for writing.
    fn stable_mut_ptr(&mut self) -> *mut u8;
    /// Marks the first `pos` bytes as initialized (never shrinks).
    ///
    /// # Safety
    /// The first `pos` bytes must have been initialized (by the kernel).
    unsafe fn set_init(&mut self, pos: usize);

    /// Copies as much of `src` as fits into the start of the buffer, marks
    /// it initialized and returns the number of bytes copied — what a read
    /// of those bytes would have done. Lets safe code hand data that was
    /// already received (a stash, a cancelled read) to a caller's buffer.
    fn put_init(&mut self, src: &[u8]) -> usize {
        let n = src.len().min(self.bytes_total());
        if n == 0 {
            return 0;
        }
        // SAFETY: the IoBufMut contract: `stable_mut_ptr()` is valid for
        // writes of `bytes_total()` bytes, and `src` (a shared borrow) cannot
        // overlap the buffer we hold mutably.
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), self.stable_mut_ptr(), n) };
        // SAFETY: the first `n` bytes were just written.
        unsafe { self.set_init(n) };
        n
    }
}

// SAFETY: a Vec's buffer is heap memory that moving the Vec does not move;
// len <= capacity.
unsafe impl IoBuf for Vec<u8> {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.len()
    }
    fn bytes_total(&self) -> usize {
        self.capacity()
    }
}

// SAFETY: as above; the whole capacity is writable.
unsafe impl IoBufMut for Vec<u8> {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.as_mut_ptr()
    }
    unsafe fn set_init(&mut self, pos: usize) {
        if self.len() < pos {
            // SAFETY: the caller guarantees the first `pos` bytes are
            // initialized, and `pos <= capacity` since the kernel wrote them.
            unsafe { self.set_len(pos) };
        }
    }
}

// SAFETY: a boxed slice is heap memory (or dangling and empty), all initialized.
unsafe impl IoBuf for Box<[u8]> {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.len()
    }
    fn bytes_total(&self) -> usize {
        self.len()
    }
}

// SAFETY: as above; every byte is writable and already initialized.
unsafe impl IoBufMut for Box<[u8]> {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.as_mut_ptr()
    }
    unsafe fn set_init(&mut self, _pos: usize) {}
}

// SAFETY: `'static` data never moves or goes away.
unsafe impl IoBuf for &'static [u8] {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.len()
    }
    fn bytes_total(&self) -> usize {
        self.len()
    }
}

// SAFETY: as above.
unsafe impl IoBuf for &'static str {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.len()
    }
    fn bytes_total(&self) -> usize {
        self.len()
    }
}

// SAFETY: a String's buffer is heap memory; len <= capacity. (Not IoBufMut:
// the kernel could write invalid UTF-8.)
unsafe impl IoBuf for String {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.len()
    }
    fn bytes_total(&self) -> usize {
        self.capacity()
    }
}

// SAFETY: `Bytes` is an immutable view of reference-counted heap (or static)
// memory that does not move while any handle to it lives.
unsafe impl IoBuf for bytes::Bytes {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.len()
    }
    fn bytes_total(&self) -> usize {
        self.len()
    }
}

// SAFETY: `BytesMut` owns its heap region uniquely; moving the handle does
// not move the region; len <= capacity.
unsafe impl IoBuf for bytes::BytesMut {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.len()
    }
    fn bytes_total(&self) -> usize {
        self.capacity()
    }
}

// SAFETY: as above; the region up to capacity is writable.
unsafe impl IoBufMut for bytes::BytesMut {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.as_mut_ptr()
    }
    unsafe fn set_init(&mut self, pos: usize) {
        if self.len() < pos {
            // SAFETY: the caller guarantees the first `pos` bytes are initialized.
            unsafe { self.set_len(pos) };
        }
    }
}

/// A view of the bytes `begin..end` of a buffer, itself a buffer.
///
/// A read into a view that begins past the buffer's initialized length (a
/// `Vec`'s `len`) cannot extend the buffer over the uninitialized gap; the
/// view still records what was read, so [`IoBuf::init_bytes`] on the view
/// shows it, but [`Slice::into_inner`] gives back the buffer without it.
#[derive(Debug)]
pub struct Slice<T> {
    buf: T,
    begin: usize,
    end: usize,
    /// Bytes at the start of the view known to be initialized because a
    /// read into the view wrote them.
    init: usize,
}

impl<T: IoBuf> Slice<T> {
    /// Offset of the view in the underlying buffer.
    pub fn begin(&self) -> usize {
        self.begin
    }
    /// End offset (exclusive) of the view in the underlying buffer.
    pub fn end(&self) -> usize {
        self.end
    }
    /// The underlying buffer. (There is deliberately no `get_mut`: resizing
    /// the buffer under the view would invalidate the bounds the view was
    /// checked against when the kernel or [`IoBufMut::put_init`] writes
    /// through it. Take the buffer back with [`Slice::into_inner`] instead.)
    pub fn get_ref(&self) -> &T {
        &self.buf
    }
    /// Gives the underlying buffer back.
    pub fn into_inner(self) -> T {
        self.buf
    }
}

// SAFETY: the view stays within the underlying buffer, whose guarantees it inherits.
unsafe impl<T: IoBuf> IoBuf for Slice<T> {
    fn stable_ptr(&self) -> *const u8 {
        self.buf.stable_ptr().wrapping_add(self.begin)
    }
    fn bytes_init(&self) -> usize {
        let underlying = self.buf.bytes_init().clamp(self.begin, self.end) - self.begin;
        underlying.max(self.init)
    }
    fn bytes_total(&self) -> usize {
        self.end - self.begin
    }
}

// SAFETY: as above.
unsafe impl<T: IoBufMut> IoBufMut for Slice<T> {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.buf.stable_mut_ptr().wrapping_add(self.begin)
    }
    unsafe fn set_init(&mut self, pos: usize) {
        self.init = self.init.max(pos);
        // The underlying buffer may only grow over initialized bytes: those
        // before `begin` must already be, and `begin..begin + pos` are now.
        if self.begin <= self.buf.bytes_init() {
            // SAFETY: bytes `..begin` are initialized (checked above) and
            // bytes `begin..begin + pos` per this function's caller.
            unsafe { self.buf.set_init(self.begin + pos) };
        }
    }
}

/// A zeroed heap buffer whose start (and capacity) is a multiple of an
/// alignment, for `O_DIRECT` file I/O, which wants the memory, the offset
/// and the length aligned to the device's logical block size (512 or 4096
/// bytes; 4096 is always enough).
///
/// It is initialized (zeroed) from the start: its length is its capacity
/// unless set shorter with [`AlignedBuf::truncate`]. It derefs to its
/// initialized bytes.
pub struct AlignedBuf {
    ptr: std::ptr::NonNull<u8>,
    layout: std::alloc::Layout,
    len: usize,
}

impl AlignedBuf {
    /// A zeroed buffer of `capacity` bytes (rounded up to a multiple of
    /// `align`) starting at a multiple of `align`.
    ///
    /// # Panics
    /// If `align` is not a power of two, or the size overflows.
    pub fn new(capacity: usize, align: usize) -> AlignedBuf {
        let size = capacity
            .checked_next_multiple_of(align)
            .expect("AlignedBuf size overflows")
            .max(align);
        let layout = std::alloc::Layout::from_size_align(size, align)
            .expect("AlignedBuf: align must be a power of two and the size must fit");
        // SAFETY: `layout` has a non-zero size (at least `align` >= 1).
        let raw = unsafe { std::alloc::alloc_zeroed(layout) };
        let Some(ptr) = std::ptr::NonNull::new(raw) else {
            std::alloc::handle_alloc_error(layout)
        };
        AlignedBuf {
            ptr,
            layout,
            len: size,
        }
    }

    /// The alignment of its start.
    pub fn align(&self) -> usize {
        self.layout.align()
    }

    /// Its capacity in bytes.
    pub fn capacity(&self) -> usize {
        self.layout.size()
    }

    /// Shortens the initialized length (what a write sends) to `len`.
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }
}

impl std::ops::Deref for AlignedBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: `ptr` is valid for `capacity()` initialized (zeroed or
        // written) bytes, and `len <= capacity()`.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl std::ops::DerefMut for AlignedBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as for `deref`, and `&mut self` makes the borrow unique.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this very layout.
        unsafe { std::alloc::dealloc(self.ptr.as_ptr(), self.layout) }
    }
}

impl std::fmt::Debug for AlignedBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlignedBuf")
            .field("len", &self.len)
            .field("capacity", &self.capacity())
            .field("align", &self.align())
            .finish()
    }
}

// SAFETY: the buffer is owned heap memory; sending it to another thread
// moves its only owner.
unsafe impl Send for AlignedBuf {}
// SAFETY: shared access only reads.
unsafe impl Sync for AlignedBuf {}

// SAFETY: heap memory that does not move with the value; it is all
// initialized (zeroed at allocation) and `len <= capacity`.
unsafe impl IoBuf for AlignedBuf {
    fn stable_ptr(&self) -> *const u8 {
        self.ptr.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.len
    }
    fn bytes_total(&self) -> usize {
        self.capacity()
    }
}

// SAFETY: valid for writes of its whole capacity.
unsafe impl IoBufMut for AlignedBuf {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.ptr.as_ptr()
    }
    unsafe fn set_init(&mut self, pos: usize) {
        // Every byte is initialized already; a read's count is returned to
        // the caller, and the length stays what it was (never shrinks).
        let _ = pos;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slice_bounds_and_init() {
        let mut v = Vec::with_capacity(16);
        v.extend_from_slice(b"hello");
        let s = v.slice(2..10);
        assert_eq!(s.bytes_total(), 8);
        assert_eq!(s.bytes_init(), 3);
        let s = s.into_inner().slice(8..);
        assert_eq!(s.bytes_init(), 0);
        assert_eq!(s.bytes_total(), 8);
    }

    #[test]
    fn init_bytes_and_put_init() {
        let mut v = Vec::with_capacity(4);
        assert_eq!(v.put_init(b"hello"), 4);
        assert_eq!(v.init_bytes(), b"hell");
        let mut s = vec![0u8; 8].slice(2..5);
        assert_eq!(s.put_init(b"xyz!"), 3);
        assert_eq!(s.init_bytes(), b"xyz");
        assert_eq!(s.into_inner(), b"\0\0xyz\0\0\0");
        let mut b = bytes::BytesMut::with_capacity(3);
        assert_eq!(b.put_init(b"ab"), 2);
        assert_eq!(&b[..], b"ab");
        assert_eq!(Vec::new().put_init(b"a"), 0);
        assert_eq!(bytes::Bytes::new().init_bytes(), b"");
    }

    #[test]
    fn a_read_past_the_initialized_length_stays_visible_in_the_view() {
        let mut s = Vec::with_capacity(16).slice(8..);
        assert_eq!(s.put_init(b"abc"), 3);
        assert_eq!(s.bytes_init(), 3);
        assert_eq!(s.init_bytes(), b"abc");
        // The Vec cannot grow over its uninitialized bytes 0..8.
        assert!(s.into_inner().is_empty());
    }

    #[test]
    #[should_panic(expected = "exceeds the buffer's capacity")]
    fn slice_out_of_bounds_panics() {
        let _ = vec![0u8; 4].slice(..5);
    }
}
