//! ringloop-fs against std::fs: a property test of random operation
//! sequences compared with std on a twin file, error kinds and messages,
//! metadata, links, directories, O_DIRECT where the filesystem allows it,
//! and reads and writes dropped in flight. Under `RINGLOOP_DRIVER=epoll`
//! the same tests cover the blocking-pool fallbacks.

use proptest::prelude::*;
use ringloop_fs::{self as fs, AlignedBuf, File, OpenOptions};
use ringloop_runtime::run;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::time::Duration;

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "ringloop-fs-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[derive(Debug, Clone)]
enum FsOp {
    Write { offset: u64, data: Vec<u8> },
    Read { offset: u64, len: usize },
    SetLen(u64),
    Rename,
    Len,
}

fn fs_op() -> impl Strategy<Value = FsOp> {
    prop_oneof![
        (
            0u64..20_000,
            proptest::collection::vec(any::<u8>(), 0..5000)
        )
            .prop_map(|(offset, data)| FsOp::Write { offset, data }),
        (0u64..25_000, 0usize..6000).prop_map(|(offset, len)| FsOp::Read { offset, len }),
        (0u64..25_000).prop_map(FsOp::SetLen),
        Just(FsOp::Rename),
        Just(FsOp::Len),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Every op gives what std gives on a twin file, and the contents end
    /// equal.
    #[test]
    fn random_sequences_match_std(ops in proptest::collection::vec(fs_op(), 1..25)) {
        let dir = TempDir::new("prop");
        run(async {
            let (mut ours, mut theirs) = (dir.join("a"), dir.join("std-a"));
            let file = File::create(&ours).await.unwrap();
            drop(file);
            std::fs::File::create(&theirs).unwrap();
            let open = |p: PathBuf| async move {
                OpenOptions::new().read(true).write(true).open(p).await.unwrap()
            };
            let mut file = open(ours.clone()).await;
            let mut model = std::fs::OpenOptions::new().read(true).write(true).open(&theirs).unwrap();
            for op in &ops {
                use std::os::unix::fs::FileExt;
                match op {
                    FsOp::Write { offset, data } => {
                        let (res, _) = file.write_all_at(data.clone(), *offset).await;
                        res.unwrap();
                        model.write_all_at(data, *offset).unwrap();
                    }
                    FsOp::Read { offset, len } => {
                        let (res, buf) = file.read_at(Vec::with_capacity(*len), *offset).await;
                        let n = res.unwrap();
                        let mut want = vec![0u8; *len];
                        let m = model.read_at(&mut want, *offset).unwrap();
                        prop_assert_eq!(&buf[..n], &want[..m]);
                    }
                    FsOp::SetLen(len) => {
                        file.set_len(*len).await.unwrap();
                        model.set_len(*len).unwrap();
                    }
                    FsOp::Rename => {
                        let (a, b) = (dir.join("b"), dir.join("std-b"));
                        let (a, b) = if ours == a { (dir.join("a"), dir.join("std-a")) } else { (a, b) };
                        fs::rename(&ours, &a).await.unwrap();
                        std::fs::rename(&theirs, &b).unwrap();
                        ours = a;
                        theirs = b;
                        file.close().await.unwrap();
                        file = open(ours.clone()).await;
                        model = std::fs::OpenOptions::new().read(true).write(true).open(&theirs).unwrap();
                    }
                    FsOp::Len => {
                        prop_assert_eq!(file.metadata().await.unwrap().len(), model.metadata().unwrap().len());
                        prop_assert_eq!(fs::metadata(&ours).await.unwrap().len(), std::fs::metadata(&theirs).unwrap().len());
                    }
                }
            }
            file.close().await.unwrap();
            prop_assert_eq!(fs::read(&ours).await.unwrap(), std::fs::read(&theirs).unwrap());
            Ok(())
        })?;
    }
}

fn expect_kind<T: std::fmt::Debug>(
    res: io::Result<T>,
    kind: io::ErrorKind,
    path: &std::path::Path,
) {
    let e = res.expect_err("expected an error");
    assert_eq!(e.kind(), kind, "{e}");
    assert!(
        e.to_string().contains(&path.display().to_string()),
        "{e} does not name {}",
        path.display()
    );
}

#[test]
fn errors_have_std_kinds_and_name_the_path() {
    let dir = TempDir::new("errors");
    run(async {
        let missing = dir.join("missing/file");
        expect_kind(
            File::open(&missing).await,
            io::ErrorKind::NotFound,
            &missing,
        );
        expect_kind(fs::read(&missing).await, io::ErrorKind::NotFound, &missing);
        expect_kind(
            fs::metadata(&missing).await,
            io::ErrorKind::NotFound,
            &missing,
        );
        expect_kind(
            fs::remove_file(&missing).await,
            io::ErrorKind::NotFound,
            &missing,
        );
        expect_kind(
            fs::create_dir(&missing).await,
            io::ErrorKind::NotFound,
            &missing,
        );
        let f = dir.join("f");
        fs::write(&f, "x").await.unwrap();
        let res = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&f)
            .await;
        expect_kind(res, io::ErrorKind::AlreadyExists, &f);
        expect_kind(fs::create_dir(&f).await, io::ErrorKind::AlreadyExists, &f);
        let d = dir.join("d");
        fs::create_dir(&d).await.unwrap();
        fs::write(d.join("inside"), "y").await.unwrap();
        let std_kind = std::fs::remove_dir(&d).unwrap_err().kind();
        expect_kind(fs::remove_dir(&d).await, std_kind, &d);
        let std_kind = std::fs::remove_file(&d).unwrap_err().kind();
        expect_kind(fs::remove_file(&d).await, std_kind, &d);
        let bad = dir.join("bad\0name");
        assert_eq!(
            fs::read(&bad).await.unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
        // Read-only file: writing fails as with std.
        let ro = File::open(&f).await.unwrap();
        let (res, _) = ro.write_at(b"z".to_vec(), 0).await;
        assert!(res.is_err());
        expect_kind(
            ro.set_len(0).await,
            std::fs::File::open(&f)
                .unwrap()
                .set_len(0)
                .unwrap_err()
                .kind(),
            &f,
        );
        // Bad option combinations.
        assert_eq!(
            OpenOptions::new().open(&f).await.unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
        // Not UTF-8.
        fs::write(&f, vec![0xff, 0xfe]).await.unwrap();
        assert_eq!(
            fs::read_to_string(&f).await.unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
    });
}

#[test]
fn metadata_links_and_directories_match_std() {
    let dir = TempDir::new("meta");
    run(async {
        let f = dir.join("file");
        fs::write(&f, vec![7u8; 12345]).await.unwrap();
        let ours = fs::metadata(&f).await.unwrap();
        let theirs = std::fs::metadata(&f).unwrap();
        assert_eq!(ours.len(), theirs.len());
        assert_eq!(ours.ino(), theirs.ino());
        assert_eq!(ours.dev(), theirs.dev());
        assert_eq!(ours.mode(), theirs.mode());
        assert_eq!(ours.permissions(), theirs.permissions());
        assert_eq!(ours.modified().unwrap(), theirs.modified().unwrap());
        assert!(ours.is_file() && !ours.is_dir() && !ours.is_symlink());
        assert!(ours.file_type().same_as(theirs.file_type()));
        let file = File::open(&f).await.unwrap();
        assert_eq!(file.metadata().await.unwrap().ino(), theirs.ino());
        file.close().await.unwrap();

        let hard = dir.join("hard");
        fs::hard_link(&f, &hard).await.unwrap();
        assert_eq!(fs::metadata(&f).await.unwrap().nlink(), 2);
        let soft = dir.join("soft");
        fs::symlink(&f, &soft).await.unwrap();
        assert!(fs::symlink_metadata(&soft).await.unwrap().is_symlink());
        assert!(fs::metadata(&soft).await.unwrap().is_file());
        assert_eq!(std::fs::read_link(&soft).unwrap(), f);

        let deep = dir.join("a/b/c/d");
        fs::create_dir_all(&deep).await.unwrap();
        fs::create_dir_all(&deep).await.unwrap();
        assert!(std::fs::metadata(&deep).unwrap().is_dir());
        expect_kind(
            fs::create_dir_all(f.join("x")).await,
            std::fs::create_dir_all(f.join("x")).unwrap_err().kind(),
            &f.join("x"),
        );
        fs::remove_dir(&deep).await.unwrap();
        assert!(!deep.exists());
        fs::remove_file(&hard).await.unwrap();
        fs::remove_file(&soft).await.unwrap();
        assert_eq!(fs::metadata(&f).await.unwrap().nlink(), 1);

        // sync, read_exact_at past the end, append.
        let file = OpenOptions::new().append(true).open(&f).await.unwrap();
        file.sync_all().await.unwrap();
        file.sync_data().await.unwrap();
        file.close().await.unwrap();
        let file = File::open(&f).await.unwrap();
        let (res, _) = file.read_exact_at(vec![0u8; 100], 12300).await;
        assert_eq!(res.unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
        let (res, buf) = file.read_exact_at(vec![0u8; 45], 12300).await;
        res.unwrap();
        assert_eq!(buf, vec![7u8; 45]);
    });
}

#[test]
fn o_direct_where_the_filesystem_allows_it() {
    // The temp dir first, then the build directory (often a real disk).
    let candidates = [
        std::env::temp_dir(),
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")),
    ];
    run(async move {
        for base in candidates {
            let path = base.join(format!("ringloop-direct-{}", std::process::id()));
            let file = match OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .direct(true)
                .open(&path)
                .await
            {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::InvalidInput => {
                    eprintln!(
                        "note: {} refuses O_DIRECT ({e}); trying the next place",
                        base.display()
                    );
                    let _ = std::fs::remove_file(&path);
                    continue;
                }
                Err(e) => panic!("{e}"),
            };
            let mut buf = AlignedBuf::new(8192, 4096);
            for (i, b) in buf.iter_mut().enumerate() {
                *b = (i % 253) as u8;
            }
            let expect = buf.to_vec();
            let (res, _) = file.write_all_at(buf, 4096).await;
            res.unwrap();
            let (res, back) = file.read_exact_at(AlignedBuf::new(8192, 4096), 4096).await;
            res.unwrap();
            assert_eq!(&back[..], &expect[..]);
            file.close().await.unwrap();
            std::fs::remove_file(&path).unwrap();
            return;
        }
        eprintln!("skipping: no filesystem here accepts O_DIRECT (tmpfs does not)");
    });
}

#[test]
fn ops_dropped_in_flight_keep_their_buffers() {
    let dir = TempDir::new("drop");
    run(async {
        let f = dir.join("big");
        fs::write(&f, vec![3u8; 4 << 20]).await.unwrap();
        let file = File::open(&f).await.unwrap();
        for i in 0..200u64 {
            // Polled once (submitted), then dropped: the op keeps the buffer.
            let read = file.read_at(vec![0u8; 64 << 10], (i * 4096) % (4 << 20));
            let _ = ringloop_timer::timeout(Duration::from_nanos(1), read).await;
            let w = File::create(dir.join(&format!("w{}", i % 4)))
                .await
                .unwrap();
            let write = w.write_at(vec![1u8; 32 << 10], 0);
            let _ = ringloop_timer::timeout(Duration::from_nanos(1), write).await;
        }
        let (res, buf) = file.read_at(vec![0u8; 10], 0).await;
        assert_eq!(res.unwrap(), 10);
        assert_eq!(buf, vec![3u8; 10]);
    });
}
