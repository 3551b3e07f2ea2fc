//! Steering a SO_REUSEPORT group's connections by CPU: the socket helpers
//! behind `ringloop_net::ListenOptions::steer_by_cpu` (the net crate
//! makes no raw syscalls of its own).

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// The CPU the calling thread runs on now (`sched_getcpu`).
pub fn current_cpu() -> io::Result<usize> {
    // sched_getcpu takes no arguments.
    let cpu = crate::sys::syscall!(sched_getcpu())?;
    Ok(cpu as usize)
}

/// Attaches to `socket`'s SO_REUSEPORT group a classic BPF program that
/// sends each new connection to the socket at index `table[i].1` of the
/// group when the CPU that handled its SYN is `table[i].0`; any other CPU
/// falls back to the kernel's hash. The index is the socket's place in
/// the group, in the order the sockets started listening.
///
/// # Errors
/// The kernel's: not a SO_REUSEPORT socket, a table too long for one
/// program (over 2000 entries), or no CBPF support.
pub fn attach_cpu_steering(socket: BorrowedFd<'_>, table: &[(u32, u32)]) -> io::Result<()> {
    // BPF_LD | BPF_W | BPF_ABS, BPF_JMP | BPF_JEQ | BPF_K, BPF_RET | BPF_K.
    const LD_W_ABS: u16 = 0x20;
    const JEQ_K: u16 = 0x15;
    const RET_K: u16 = 0x06;
    // SKF_AD_OFF + SKF_AD_CPU: the CPU number, as a load.
    const AD_CPU: u32 = (-0x1000i32 + 36) as u32;
    if table.len() > 2000 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "ringloop: more than 2000 CPUs to steer by in one program",
        ));
    }
    let insn = |code, jt, jf, k| libc::sock_filter { code, jt, jf, k };
    let mut prog = vec![insn(LD_W_ABS, 0, 0, AD_CPU)];
    for &(cpu, index) in table {
        // if A == cpu: return index (the next instruction), else skip it.
        prog.push(insn(JEQ_K, 0, 1, cpu));
        prog.push(insn(RET_K, 0, 0, index));
    }
    // No match: an index past the group, so the kernel hashes instead.
    prog.push(insn(RET_K, 0, 0, u32::MAX));
    let fprog = libc::sock_fprog {
        len: prog.len() as u16,
        filter: prog.as_mut_ptr(),
    };
    // `fprog` points into `prog`, both alive across the call; the kernel
    // copies the program.
    crate::sys::syscall!(setsockopt(
        socket.as_raw_fd(),
        libc::SOL_SOCKET,
        libc::SO_ATTACH_REUSEPORT_CBPF,
        (&fprog as *const libc::sock_fprog).cast(),
        std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t
    ))?;
    Ok(())
}
