//! Sockets for ringloop, built on io_uring ops (see issue: networking).
//! Nothing is exported yet.
#![forbid(unsafe_code)]
