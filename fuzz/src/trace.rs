//! The trace reader, on arbitrary files: it reads a trace up to its last complete block and says
//! how it ends, never panics, and allocates no more than the input holds; every entry it returns
//! is then shown as `trace show` shows it (values decoded by the header's types, handles named,
//! HTTP exchanges followed), and what it read writes back to a trace that reads the same.

use recorder_host::functions::FunctionTable;
use recorder_host::http::HttpObserver;
use recorder_host::names::HandleNamer;
use recorder_host::trace::{
    Compression, Entry, EntryRef, TraceError, TraceReader, TraceWriter, MAGIC,
};

/// Most entries a target reads of one input: inputs are small, so this only bounds a reader
/// that would not stop.
const MAX_ENTRIES: usize = 1 << 16;

/// The target on the file as it is: most mutations break the header's or a block's CRC-32, so
/// this one mostly checks the framing (lengths, torn and corrupt blocks, the header).
pub fn trace_file(data: &[u8]) {
    read_both_ways(data);
}

/// The target with the header's and every block's CRC-32 made right first, so that mutations
/// of lengths, codecs, compressed data, tags, function ids and values reach the decompressor,
/// the entry decoder, the value decoder and the printers.
pub fn trace_entries(data: &[u8]) {
    read_both_ways(&with_valid_checksums(data));
}

/// Length of a block's head: `stored_len:u32le raw_len:u32le codec:u8 crc32:u32le`.
const BLOCK_HEAD: usize = 13;

/// `data` with the checksum of the header frame set to the CRC-32 of its payload, and the
/// checksum of each block after it (as its `stored_len` delimits it, the last one cut at the end
/// of the input) set to the CRC-32 of its first 9 bytes and its stored bytes.
pub fn with_valid_checksums(data: &[u8]) -> Vec<u8> {
    let mut out = data.to_vec();
    let mut at = MAGIC.len();
    if at + 8 > out.len() {
        return out;
    }
    let len = u32::from_le_bytes([out[at], out[at + 1], out[at + 2], out[at + 3]]) as usize;
    let end = (at + 8).saturating_add(len).min(out.len());
    let crc = crc32fast::hash(&out[at + 8..end]);
    out[at + 4..at + 8].copy_from_slice(&crc.to_le_bytes());
    at = end;
    while at + BLOCK_HEAD <= out.len() {
        let stored = u32::from_le_bytes([out[at], out[at + 1], out[at + 2], out[at + 3]]) as usize;
        let end = (at + BLOCK_HEAD).saturating_add(stored).min(out.len());
        let mut crc = crc32fast::Hasher::new();
        crc.update(&out[at..at + 9]);
        crc.update(&out[at + BLOCK_HEAD..end]);
        out[at + 9..at + BLOCK_HEAD].copy_from_slice(&crc.finalize().to_le_bytes());
        at = end;
    }
    out
}

/// Reads `data` as a file (length known) and as a stream (length unknown): the two must agree
/// on every entry and on how the trace ends.
fn read_both_ways(data: &[u8]) {
    let file = read(TraceReader::from_slice(data));
    let stream = read(TraceReader::new(data));
    match (&file, &stream) {
        (Ok(a), Ok(b)) => {
            assert_eq!(
                a.entries, b.entries,
                "file and stream read different entries"
            );
            assert_eq!(
                a.ending.as_ref().map(kind),
                b.ending.as_ref().map(kind),
                "file and stream end differently"
            );
        }
        (Err(a), Err(b)) => assert_eq!(kind(a), kind(b), "{a} vs {b}"),
        (a, b) => panic!(
            "the header reads one way only: {:?} / {:?}",
            a.as_ref().err(),
            b.as_ref().err()
        ),
    }
    if let Ok(read) = file {
        rewrite(&read);
    }
}

/// What a reader made of a trace.
struct Read {
    header: recorder_host::trace::Header,
    entries: Vec<Entry>,
    /// Why reading stopped before an end marker (`None`: the trace is complete).
    ending: Option<TraceError>,
}

fn read<R: std::io::Read>(reader: Result<TraceReader<R>, TraceError>) -> Result<Read, TraceError> {
    let mut reader = reader?;
    let header = reader.header().clone();
    let table = FunctionTable::new(&header.component);
    let mut names = HandleNamer::new(&table);
    let mut http = HttpObserver::new(&table);
    // The calls not yet returned, innermost last (a blocking call is recorded as its call, the
    // calls the guest makes meanwhile, then its return).
    let mut open: Vec<(u32, Vec<u8>)> = Vec::new();
    let mut entries = Vec::new();
    let mut ending = None;
    while entries.len() < MAX_ENTRIES {
        let entry = match reader.next_entry_ref() {
            Ok(Some(entry)) => entry,
            Ok(None) => break,
            Err(e) => {
                ending = Some(e);
                break;
            }
        };
        match entry {
            EntryRef::Call { func, args } => {
                if let Some(f) = table.import(func) {
                    let _ = f.show_args(args, None);
                    let _ = f.readable_args(args, Some(1 << 10), &names);
                }
                open.push((func, args.to_vec()));
            }
            EntryRef::Return { results } => {
                if let Some((func, args)) = open.pop() {
                    if let Some(f) = table.import(func) {
                        let _ = f.show_results(results, None);
                        let _ = f.readable_results(results, None, &names);
                    }
                    names.observe(func, &args, results);
                    http.observe(func, &args, results);
                }
            }
            EntryRef::ExportCall { func, args } => {
                if let Some(f) = table.export(func) {
                    let _ = f.show_args(args, None);
                }
            }
            EntryRef::ExportReturn { results } => {
                let _ = recorder_host::value::show_bytes(results);
            }
            EntryRef::Trap { .. } | EntryRef::Exit { .. } | EntryRef::End { .. } => {}
        }
        entries.push(entry.to_entry());
    }
    let _ = http.exchange().summary();
    Ok(Read {
        header,
        entries,
        ending,
    })
}

/// The header and entries read, written as a new trace (compressed and not), read back the same
/// and complete.
fn rewrite(read: &Read) {
    for compression in [Compression::Zstd, Compression::None] {
        rewrite_with(read, compression);
    }
}

fn rewrite_with(read: &Read, compression: Compression) {
    let mut w = TraceWriter::new(Vec::new(), &read.header)
        .expect("writing to memory")
        .with_compression(compression);
    for entry in &read.entries {
        w.append(entry).expect("an entry that was read writes back");
    }
    let bytes = w.finish().expect("writing to memory");
    let mut again = TraceReader::from_slice(&bytes).expect("a written trace reads back");
    assert_eq!(again.header(), &read.header);
    for entry in &read.entries {
        let back = again.next_entry().expect("a written entry reads back");
        assert_eq!(back.as_ref(), Some(entry));
    }
    assert!(matches!(again.next_entry(), Ok(None)), "the end marker");
}

/// A trace error's kind, without the details that depend on how the bytes arrived.
fn kind(e: &TraceError) -> String {
    match e {
        TraceError::Io(_) => "io".into(),
        TraceError::Cut { complete, .. } => format!("cut after {complete}"),
        other => other.to_string(),
    }
}
