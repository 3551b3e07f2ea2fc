//! Timers for ringloop, built on io_uring TIMEOUT ops (see issue: timers and
//! scheduler semantics). Nothing is exported yet.
#![forbid(unsafe_code)]
